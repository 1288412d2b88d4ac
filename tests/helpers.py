"""Small, named helpers the tests share: real keys, real signatures, certificates,
an echo app, the one fake clock and the one guard factory."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import ipaddress
import json
import secrets
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID
from jwt.algorithms import get_default_algorithms

from wsgi_jwt_guard import Issuer, JWTGuard, ServiceTokens, get_identity

ISSUER = "https://auth.example.test/api/auth"
AUDIENCE = "backstage"
SERVICE_SECRET = base64.urlsafe_b64encode(b"s" * 32).decode().rstrip("=")
SERVICE_SECRET_OLD = base64.urlsafe_b64encode(b"o" * 32).decode().rstrip("=")
#: The origin of werkzeug's test client's requests (``http``, ``Host: localhost``).
TEST_CLIENT_ORIGIN = "http://localhost"
#: A proxy header carrying a bare JWT (Google IAP): an ambient credential, like the cookie.
PROXY_HEADER = "X-Goog-IAP-JWT-Assertion"
#: The proof algorithms the guard accepts by default (the ``algs`` of its DPoP challenge).
DPOP_ALGS = "ES256 ES384 ES512 PS256 PS384 PS512 RS256 EdDSA"
#: The challenge of a request that sent no token, where Bearer and DPoP tokens are accepted.
NO_TOKEN_CHALLENGE = f'Bearer realm="wsgi-jwt-guard", DPoP realm="wsgi-jwt-guard", algs="{DPOP_ALGS}"'
#: The route table most tests guard: one route per kind of rule.
ROUTES: dict[str, Any] = {
    "/api/auth": "public",
    "/api/catalog": "protected",
    "/api/search": "optional",
}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def b64url_json(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return b64url(bytes(value))
    return b64url(json.dumps(value, separators=(",", ":")).encode())


_HASHES = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}
_HASHLIB = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}


@dataclass
class SigningKey:
    """A private key with the kid and algorithm it signs with."""

    private: Any
    alg: str
    kid: str | None = "key-1"

    @classmethod
    def ec(cls, alg: str = "ES256", kid: str | None = "ec-1") -> SigningKey:
        curve = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}[alg]
        return cls(ec.generate_private_key(curve), alg, kid)

    @classmethod
    def rsa(cls, alg: str = "RS256", kid: str | None = "rsa-1", bits: int = 2048) -> SigningKey:
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=bits), alg, kid)

    def sign(self, signing_input: bytes) -> bytes:
        digest = _HASHES[self.alg[2:]]
        if self.alg.startswith("ES"):
            der = self.private.sign(signing_input, ec.ECDSA(digest))
            r, s = decode_dss_signature(der)
            size = (self.private.curve.key_size + 7) // 8
            return r.to_bytes(size, "big") + s.to_bytes(size, "big")
        return self.private.sign(signing_input, padding.PKCS1v15(), digest)

    def public_jwk(self, **extra: Any) -> dict[str, Any]:
        numbers = self.private.public_key().public_numbers()
        if self.alg.startswith("ES"):
            size = (self.private.curve.key_size + 7) // 8
            jwk = {
                "kty": "EC",
                "crv": {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}[self.alg],
                "x": b64url(numbers.x.to_bytes(size, "big")),
                "y": b64url(numbers.y.to_bytes(size, "big")),
            }
        else:
            n = numbers.n
            jwk = {
                "kty": "RSA",
                "n": b64url(n.to_bytes((n.bit_length() + 7) // 8, "big")),
                "e": b64url(numbers.e.to_bytes(3, "big")),
            }
        jwk.update({"alg": self.alg, "use": "sig"})
        if self.kid is not None:
            jwk["kid"] = self.kid
        jwk.update(extra)
        return jwk

    def certificate(self) -> x509.Certificate:
        """A self-signed certificate for this key (``x5c``, PEM-certificate pins)."""
        return self_signed_certificate(self.private)

    def public_pem(self) -> str:
        return (
            self.private.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def token(
        self,
        claims: Mapping[str, Any] | None = None,
        *,
        header: Mapping[str, Any] | None = None,
        drop: Iterable[str] = (),
        **overrides: Any,
    ) -> str:
        """A valid user token by default; ``overrides`` replace claims, ``drop`` removes them."""
        payload = user_claims(**overrides) if claims is None else dict(claims)
        for name in drop:
            payload.pop(name, None)
        head: dict[str, Any] = {"alg": self.alg, "typ": "JWT"}
        if self.kid is not None:
            head["kid"] = self.kid
        head.update(header or {})
        return compact(head, payload, self.sign)


def user_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "user:default/alice",
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 600,
        "ent": ["user:default/alice", "group:default/team-a"],
    }
    claims.update(overrides)
    return claims


def compact(header: Any, payload: Any, signer: Any) -> str:
    """``header.payload.signature`` with ``signer(signing_input) -> bytes``."""
    signing_input = f"{b64url_json(header)}.{b64url_json(payload)}"
    return f"{signing_input}.{b64url(signer(signing_input.encode()))}"


def hs256(secret: bytes | str) -> Any:
    key = secret.encode() if isinstance(secret, str) else secret
    return lambda data: hmac.new(key, data, hashlib.sha256).digest()


def service_token(secret: str = SERVICE_SECRET, **overrides: Any) -> str:
    now = int(time.time())
    payload = {"sub": "backstage-server", "iat": now, "exp": now + 600}
    payload.update(overrides)
    key = base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))
    return compact({"alg": "HS256"}, payload, hs256(key))


def echo_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Answers with what the guard told it, as JSON."""
    identity = get_identity(environ)
    body = {
        "remote_user": environ.get("REMOTE_USER"),
        "auth_type": environ.get("AUTH_TYPE"),
        "authorization": environ.get("HTTP_AUTHORIZATION"),
        "path": environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""),
        "identity": None
        if identity is None
        else {
            "subject": identity.subject,
            "issuer": identity.issuer,
            "kind": identity.kind,
            "source": identity.source,
            "expires_at": identity.expires_at,
            "ownership_refs": identity.ownership_refs,
        },
    }
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]


def self_signed_certificate(
    private: Any, *, name: str = "auth.example.test", ip: str | None = None
) -> x509.Certificate:
    """A certificate for ``private``'s public half, signed by itself, valid from yesterday.

    With ``ip`` it is a CA certificate for that address, for a TLS server on
    127.0.0.1 that a client trusts through a CA bundle holding this certificate.
    """
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ip or name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
    )
    if ip is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False
        ).add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    return builder.sign(private, hashes.SHA256())


def tls_server(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context for 127.0.0.1 with a self-signed certificate, and that certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = self_signed_certificate(key, ip="127.0.0.1")
    cert_path = directory / "cert.pem"
    key_path = directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context, cert_path


class FakeClock:
    """The suite's one fake clock, a :data:`wsgi_jwt_guard.clock.Clock`: time stands
    still (at ``now``, the real time by default) until the test moves it."""

    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def cookie(token: str, name: str = "token") -> dict[str, str]:
    """The headers of a browser sending ``token`` in the cookie ``name``."""
    return {"Cookie": f"{name}={token}"}


def run_together(work: Callable[[int], object], count: int) -> None:
    """``work(0)`` ... ``work(count - 1)`` in as many threads, released at once by a
    barrier; returns when all are done, raising the first exception one raised."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        barrier.wait()
        try:
            work(index)
        except BaseException as error:  # re-raised below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


class DPoPClient:
    """A DPoP client (RFC 9449 §4) built on PyJWT, an implementation independent
    of the guard's: its proofs, its public JWK, its RFC 7638 thumbprint.

    An end-to-end test needs only what a real client holds -- an access token
    and the private JWK its authorization server bound it to::

        client = DPoPClient.from_private_jwk(private_jwk)
        response = Client(guard).get(path, headers=client.headers("GET", url, access_token))
    """

    def __init__(self, private: Any = None, alg: str = "ES256") -> None:
        self.private = ec.generate_private_key(ec.SECP256R1()) if private is None else private
        self.alg = alg

    @classmethod
    def from_private_jwk(cls, jwk: Mapping[str, Any], alg: str | None = None) -> DPoPClient:
        """The client of a private JWK (an authorization server's test client)."""
        key = jwt.PyJWK(dict(jwk), algorithm=alg or jwk.get("alg"))
        return cls(key.key, alg or key.algorithm_name)

    @property
    def public_jwk(self) -> dict[str, Any]:
        return dict(get_default_algorithms()[self.alg].to_jwk(self.private.public_key(), as_dict=True))

    @property
    def private_jwk(self) -> dict[str, Any]:
        return dict(get_default_algorithms()[self.alg].to_jwk(self.private, as_dict=True))

    @property
    def jkt(self) -> str:
        """RFC 7638 §3: the required members, sorted, no whitespace, SHA-256, base64url."""
        jwk = self.public_jwk
        required = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"), "OKP": ("crv", "kty", "x")}
        members = {name: jwk[name] for name in required[jwk["kty"]]}
        text = json.dumps(members, sort_keys=True, separators=(",", ":"))
        return b64url(hashlib.sha256(text.encode()).digest())

    def proof(
        self,
        method: str,
        url: str,
        token: str | None = None,
        *,
        header: Mapping[str, Any] | None = None,
        drop: Iterable[str] = (),
        key: Any = None,
        alg: str | None = None,
        **claims: Any,
    ) -> str:
        """A fresh proof for ``method url`` (``ath`` of ``token``); ``claims`` replace
        or add claims, ``drop`` removes them, ``header`` replaces header members."""
        payload: dict[str, Any] = {"jti": secrets.token_urlsafe(16), "htm": method, "htu": url, "iat": int(time.time())}
        if token is not None:
            payload["ath"] = b64url(hashlib.sha256(token.encode("ascii")).digest())
        payload.update(claims)
        head: dict[str, Any] = {"typ": "dpop+jwt", "jwk": self.public_jwk}
        head.update(header or {})
        for name in drop:
            payload.pop(name, None)
            head.pop(name, None)
        return jwt.encode(payload, self.private if key is None else key, algorithm=alg or self.alg, headers=head)

    def headers(self, method: str, url: str, token: str, **proof: Any) -> dict[str, str]:
        """``Authorization: DPoP <token>`` and a fresh ``DPoP`` proof for ``method url``."""
        return {"Authorization": f"DPoP {token}", "DPoP": self.proof(method, url, token, **proof)}


def issuer_of(keys: Iterable[SigningKey | Mapping[str, Any]] | None = None, **options: Any) -> Issuer:
    """The tests' issuer (``ISSUER``, ``AUDIENCE``, ES256 and RS256) trusting ``keys``;
    ``options`` replace or add any :class:`Issuer` setting (``jwks_uri=...``)."""
    if keys is not None:
        options["keys"] = [key.public_jwk() if isinstance(key, SigningKey) else dict(key) for key in keys]
    options.setdefault("audience", AUDIENCE)
    options.setdefault("algorithms", ["ES256", "RS256"])
    return Issuer(options.pop("issuer", ISSUER), **options)


def build_guard(app: Any = echo_app, **options: Any) -> JWTGuard:
    """The suite's one guard factory: ``app`` behind a guard with the tests' defaults
    (``ROUTES``, service tokens with ``SERVICE_SECRET``); ``options`` are
    :class:`JWTGuard` settings and replace the defaults. ``issuers`` is required."""
    options.setdefault("service_tokens", ServiceTokens([SERVICE_SECRET]))
    options.setdefault("routes", ROUTES)
    return JWTGuard(app, **options)
