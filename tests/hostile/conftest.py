"""Fixtures of the hostile suite: the attacker's keys, a listener that must stay silent."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.helpers import SERVICE_SECRET, SigningKey
from tests.hostile.forge import Forge, service_secret_bytes


@dataclass
class Listener:
    """A real server on 127.0.0.1 that a guard must never contact (``jku``/``x5u`` targets)."""

    url: str = ""
    connections: int = 0
    requests: list[str] = field(default_factory=list)
    document: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="session")
def listener(attacker_ec: SigningKey) -> Iterator[Listener]:
    state = Listener(document={"keys": [attacker_ec.public_jwk(), attacker_ec.public_jwk(kid="attacker-1")]})
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def handle(self) -> None:
            with lock:
                state.connections += 1
            super().handle()

        def do_GET(self) -> None:
            state.requests.append(self.path)
            body = json.dumps(state.document).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def attacker_ec() -> SigningKey:
    return SigningKey.ec("ES256", kid="ec-1")


@pytest.fixture(scope="session")
def forge(ec_key: SigningKey, rsa_key: SigningKey, attacker_ec: SigningKey, listener: Listener) -> Forge:
    return Forge(
        issuer_ec=ec_key,
        issuer_rsa=rsa_key,
        attacker_ec=attacker_ec,
        attacker_p384=SigningKey.ec("ES384", kid="ec-1"),
        listener=listener.url,
        service_secret=service_secret_bytes(SERVICE_SECRET),
    )
