"""Small, named helpers the tests share: real keys, real signatures, an echo app."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from wsgi_jwt_guard import get_identity

ISSUER = "https://auth.example.test/api/auth"
AUDIENCE = "backstage"
SERVICE_SECRET = base64.urlsafe_b64encode(b"s" * 32).decode().rstrip("=")
SERVICE_SECRET_OLD = base64.urlsafe_b64encode(b"o" * 32).decode().rstrip("=")


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
