"""Fixtures: keys generated once per session, a real JWKS server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from werkzeug.test import Client

from tests.helpers import AUDIENCE, ISSUER, SERVICE_SECRET, SigningKey, echo_app
from wsgi_jwt_guard import Issuer, JWTGuard, ServiceTokens


@pytest.fixture(scope="session")
def ec_key() -> SigningKey:
    return SigningKey.ec("ES256", kid="ec-1")


@pytest.fixture(scope="session")
def rsa_key() -> SigningKey:
    return SigningKey.rsa("RS256", kid="rsa-1")


@pytest.fixture(scope="session")
def other_ec_key() -> SigningKey:
    """A key nobody trusts, with the same kid as ``ec_key``."""
    return SigningKey.ec("ES256", kid="ec-1")


@dataclass
class JWKSServer:
    """A real HTTP server publishing a JWKS that tests can change, counting fetches."""

    document: dict[str, Any] = field(default_factory=lambda: {"keys": []})
    status: int = 200
    fetches: int = 0
    url: str = ""
    headers: list[dict[str, str]] = field(default_factory=list)

    def publish(self, *keys: SigningKey) -> None:
        self.document = {"keys": [key.public_jwk() for key in keys]}


@pytest.fixture
def jwks_server() -> Iterator[JWKSServer]:
    state = JWKSServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.fetches += 1
            state.headers.append(dict(self.headers))
            body = json.dumps(state.document).encode()
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def static_issuer(ec_key: SigningKey, rsa_key: SigningKey) -> Issuer:
    return Issuer(
        ISSUER,
        keys=[ec_key.public_jwk(), rsa_key.public_jwk()],
        audience=AUDIENCE,
        algorithms=["ES256", "RS256"],
    )


@pytest.fixture
def make_guard(static_issuer: Issuer) -> Callable[..., JWTGuard]:
    """``make_guard(**options)``: the echo app behind a guard with sensible test defaults."""

    def build(app: Any = echo_app, **options: Any) -> JWTGuard:
        options.setdefault("issuers", [static_issuer])
        options.setdefault("service_tokens", ServiceTokens([SERVICE_SECRET]))
        options.setdefault(
            "routes",
            {
                "/api/auth": "public",
                "/api/catalog": "protected",
                "/api/search": "optional",
            },
        )
        return JWTGuard(app, **options)

    return build


@pytest.fixture
def client(make_guard: Callable[..., JWTGuard]) -> Client:
    return Client(make_guard(), use_cookies=False)
