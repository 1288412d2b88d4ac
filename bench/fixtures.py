"""What every row shares: keys, tokens, a JWKS server on 127.0.0.1, a hello-world app.

Tokens look like Backstage user tokens (``iss``, ``sub``, ``aud``, ``iat``,
``exp``, ``ent``), plus ``jti`` to make each one distinct. Every peer gets the
same tokens and the same key material.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from werkzeug.test import EnvironBuilder

ISSUER = "https://auth.bench.test/api/auth"
AUDIENCE = "backstage"
PATH = "/api/hello"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass
class Key:
    """A signing key, its public JWK and PEM, and a token factory."""

    alg: str
    kid: str
    private: Any

    @classmethod
    def es256(cls) -> Key:
        return cls("ES256", "bench-ec", ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def rs256(cls) -> Key:
        return cls("RS256", "bench-rsa", rsa.generate_private_key(65537, 2048))

    @property
    def public(self) -> Any:
        return self.private.public_key()

    def jwk(self) -> dict[str, str]:
        numbers = self.public.public_numbers()
        if self.alg == "ES256":
            fields = {
                "kty": "EC",
                "crv": "P-256",
                "x": b64url(numbers.x.to_bytes(32, "big")),
                "y": b64url(numbers.y.to_bytes(32, "big")),
            }
        else:
            fields = {
                "kty": "RSA",
                "n": b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
                "e": b64url(numbers.e.to_bytes(3, "big")),
            }
        return {**fields, "kid": self.kid, "alg": self.alg, "use": "sig"}

    def pem(self) -> str:
        return self.public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")

    def sign(self, data: bytes) -> bytes:
        if self.alg == "ES256":
            r, s = decode_dss_signature(self.private.sign(data, ec.ECDSA(hashes.SHA256())))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return self.private.sign(data, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[no-any-return]

    def token(
        self, serial: int | str = 0, *, lifetime: int = 3600, cnf: dict[str, str] | None = None
    ) -> str:
        """A user token; with ``cnf``, bound to a client (``{"jkt": ...}``: DPoP)."""
        now = int(time.time())
        header = {"alg": self.alg, "kid": self.kid, "typ": "JWT"}
        claims = {
            "iss": ISSUER,
            "sub": "user:default/alice",
            "aud": AUDIENCE,
            "iat": now - 1,
            "exp": now + lifetime,
            "ent": ["user:default/alice", "group:default/team-a"],
            "jti": f"bench-{serial}",
            **({} if cnf is None else {"cnf": cnf}),
        }
        signing_input = ".".join(
            b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )
        return f"{signing_input}.{b64url(self.sign(signing_input.encode('ascii')))}"

    def tokens(self, count: int, *, prefix: str = "") -> list[str]:
        return [self.token(f"{prefix}{i}") for i in range(count)]


@dataclass
class DPoPKey:
    """A DPoP client's key and its proofs (RFC 9449 §4.2), made here, not by the guard."""

    signer: Key

    @classmethod
    def es256(cls) -> DPoPKey:
        return cls(Key("ES256", "dpop-client", ec.generate_private_key(ec.SECP256R1())))

    def public_jwk(self) -> dict[str, str]:
        return {name: self.signer.jwk()[name] for name in ("kty", "crv", "x", "y")}

    @property
    def jkt(self) -> str:
        """RFC 7638: the required members in order, no whitespace, SHA-256."""
        text = json.dumps(self.public_jwk(), sort_keys=True, separators=(",", ":"))
        return b64url(hashlib.sha256(text.encode()).digest())

    def proof(self, token: str, url: str, serial: int | str, method: str = "GET") -> str:
        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": self.public_jwk()}
        claims = {
            "jti": f"proof-{serial}-{time.monotonic_ns()}",
            "htm": method,
            "htu": url,
            "iat": int(time.time()),
            "ath": b64url(hashlib.sha256(token.encode("ascii")).digest()),
        }
        signing_input = ".".join(
            b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )
        return f"{signing_input}.{b64url(self.signer.sign(signing_input.encode('ascii')))}"


class _LocalServer:
    """A JSON answer served over HTTP on 127.0.0.1 at ``path``; ``calls`` counts requests.

    ``answer()`` makes the body of each answer; ``headers`` go with every one.
    """

    def __init__(self, path: str, headers: dict[str, str] | None = None) -> None:
        self.calls = 0
        server_state = self
        extra = headers or {}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._answer()

            def _answer(self) -> None:
                server_state.calls += 1
                body = server_state.answer()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}{path}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def answer(self) -> bytes:
        raise NotImplementedError

    def __enter__(self: _Server) -> _Server:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


_Server = TypeVar("_Server", bound=_LocalServer)


class JWKSServer(_LocalServer):
    """A JWKS document served over HTTP on 127.0.0.1, for every peer that fetches keys."""

    def __init__(self, *keys: Key) -> None:
        self._body = json.dumps({"keys": [key.jwk() for key in keys]}).encode()
        super().__init__("/.well-known/jwks.json", {"Cache-Control": "max-age=600"})

    def answer(self) -> bytes:
        return self._body


def hello_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """The hello-world app every stack wraps."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]


def environ_for(
    token: str | None,
    *,
    cookie: str | None = None,
    scheme: str = "http",
    proof: str | None = None,
) -> dict[str, Any]:
    """A GET of ``PATH`` as a WSGI server would hand it over (``DPoP`` with a ``proof``)."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    if proof is not None:
        headers = {"Authorization": f"DPoP {token}", "DPoP": proof}
    if cookie is not None:
        headers["Cookie"] = f"token={cookie}"
    builder = EnvironBuilder(path=PATH, headers=headers, base_url=f"{scheme}://localhost/")
    environ: dict[str, Any] = builder.get_environ()
    return environ


class Caller:
    """Calls a WSGI app as a server does: fresh environ copy, body drained, ``close()``."""

    def __init__(self) -> None:
        self.statuses: dict[str, int] = {}

    def start_response(self, status: str, headers: list[Any], exc_info: Any = None) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def call(self, app: Callable[..., Iterable[bytes]], environ: dict[str, Any]) -> None:
        body = app(dict(environ), self.start_response)
        for _ in body:
            pass
        close = getattr(body, "close", None)
        if close is not None:
            close()

    def expect_ok(self) -> None:
        """Every measured request must have been a 200: a fast 401 would be a lie."""
        wrong = {status: n for status, n in self.statuses.items() if not status.startswith("200")}
        if wrong:
            raise AssertionError(f"requests that did not succeed: {wrong}")
        self.statuses.clear()


def environs(tokens: Iterable[str]) -> list[dict[str, Any]]:
    base = environ_for("x")
    return [{**base, "HTTP_AUTHORIZATION": f"Bearer {token}"} for token in tokens]


@contextmanager
def jwks_server(*keys: Key) -> Iterator[JWKSServer]:
    with JWKSServer(*keys) as server:
        yield server


#: The opaque token the introspection rows present, and the client the guard is.
OPAQUE_TOKEN = "bench-opaque-" + "t" * 30
INTROSPECTION_CLIENT = ("bench-api", "bench-introspection-secret-" + "s" * 16)


class IntrospectionServer(_LocalServer):
    """An RFC 7662 endpoint on 127.0.0.1 saying :data:`OPAQUE_TOKEN` is active for an hour."""

    def __init__(self) -> None:
        super().__init__("/introspect")

    def answer(self) -> bytes:
        now = int(time.time())
        return json.dumps({
            "active": True, "iss": ISSUER, "aud": AUDIENCE, "sub": "user:default/bench",
            "client_id": "bench-web", "scope": "read write", "token_type": "Bearer",
            "iat": now, "exp": now + 3600,
        }).encode()  # fmt: skip
