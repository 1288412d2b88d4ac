"""The suite's one JWKS server: a real HTTP(S) server on 127.0.0.1.

It publishes ``document`` (a JWKS by default) at every path, or the entry of
``documents`` for its path (an OIDC provider's discovery document and keys);
a test that needs another answer -- slow, redirecting, gzipped, cut short --
swaps in ``respond``. It counts what reached it: connections, GETs, their
paths and headers, so a test can say "fetched once" or "never contacted"::

    with serving(JWKSServer()) as server:
        server.publish(ec_key)
        JWKSClient(server.url).find("ec-1", "ES256")
        assert server.fetches == 1

The ``jwks_server`` and ``jwks_servers`` fixtures (``tests/conftest.py``)
start these for a test and stop them afterwards.
"""

from __future__ import annotations

import contextlib
import json
import ssl
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.helpers import SigningKey

#: Writes one whole answer to a request.
Responder = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class JWKSServer:
    """What the server publishes and what it saw; tests change the first and read the second."""

    #: Served at every path not in ``documents``; ``None``: 404 there.
    document: Any = field(default_factory=lambda: {"keys": []})
    #: Path -> document, for a server publishing several (OIDC discovery).
    documents: dict[str, Any] = field(default_factory=dict)
    status: int = 200
    #: Answers every GET instead of the documents when set.
    respond: Responder | None = None
    #: The path ``url`` names.
    path: str = "/.well-known/jwks.json"
    #: ``scheme://127.0.0.1:port``, set once serving.
    base: str = ""
    connections: int = 0
    fetches: int = 0
    requests: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    #: Set when the server stops: responders that wait should wait on this.
    stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return self.base + self.path

    def publish(self, *keys: SigningKey) -> None:
        self.document = {"keys": [key.public_jwk() for key in keys]}

    def answer_documents(self, handler: BaseHTTPRequestHandler) -> None:
        document = self.documents.get(handler.path.split("?")[0], self.document)
        if document is None:
            handler.send_error(404)
            return
        answer(self.status, json.dumps(document).encode())(handler)


def answer(status: int, body: bytes, headers: Mapping[str, str] | None = None) -> Responder:
    """A responder sending ``body`` as JSON with ``status`` and extra ``headers``."""

    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        all_headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
        all_headers.update(headers or {})
        for name, value in all_headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)

    return respond


def jwks_bytes(*keys: SigningKey, **extra: Any) -> bytes:
    """A JWKS document publishing ``keys``, as the bytes a server sends."""
    return json.dumps({"keys": [key.public_jwk() for key in keys], **extra}).encode()


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hanging up mid-answer (size caps, timeouts, killed workers) are the point


@contextlib.contextmanager
def serving(
    state: JWKSServer, *, tls: ssl.SSLContext | None = None, protocol: str = "HTTP/1.0"
) -> Iterator[JWKSServer]:
    """Serve ``state`` on 127.0.0.1 until the block ends; ``tls`` makes it HTTPS."""
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = protocol

        def handle(self) -> None:
            with lock:
                state.connections += 1
            super().handle()

        def do_GET(self) -> None:
            with lock:
                state.fetches += 1
                state.requests.append(self.path)
                state.headers.append(dict(self.headers))
            with contextlib.suppress(OSError):  # the client may go away first
                (state.respond or state.answer_documents)(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = _QuietServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    scheme = "https" if tls is not None else "http"
    state.base = f"{scheme}://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        state.stopping.set()  # wakes sleeping responders before the shutdown waits for them
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class JWKSServers:
    """Starts servers for one test (``jwks_servers(respond, tls=...)``) and stops them all."""

    def __init__(self) -> None:
        self._stack = contextlib.ExitStack()
        #: Set when the test ends, for responders shared between servers.
        self.stopping = threading.Event()

    def __call__(
        self, respond: Responder | None = None, *, tls: ssl.SSLContext | None = None, **fields: Any
    ) -> JWKSServer:
        state = JWKSServer(respond=respond, stopping=self.stopping, **fields)
        return self._stack.enter_context(serving(state, tls=tls))

    def close(self) -> None:
        self.stopping.set()
        self._stack.close()
