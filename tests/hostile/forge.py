"""An attacker's workbench: forged tokens built at test time from real keys.

Every token the suite sends is made here, from keys generated for the test
session (``tests.helpers.SigningKey``): the issuer's real keys when the attack
needs a genuine signature over hostile content, an attacker's own keys when it
needs a signature the guard must not trust.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from tests.helpers import ISSUER, SigningKey, b64url, user_claims

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def b64(data: bytes | str) -> str:
    return b64url(data.encode() if isinstance(data, str) else data)


def js(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def public_key_encodings(key: SigningKey) -> dict[str, bytes]:
    """Every spelling of ``key``'s public half an HMAC-confusion attacker would try."""
    public = key.private.public_key()
    enc, fmt = serialization.Encoding, serialization.PublicFormat
    pem = public.public_bytes(enc.PEM, fmt.SubjectPublicKeyInfo)
    certificate = key.certificate()
    jwk = key.public_jwk()
    spellings = {
        "spki-pem": pem,
        "spki-pem-no-newline": pem.rstrip(b"\n"),
        "spki-der": public.public_bytes(enc.DER, fmt.SubjectPublicKeyInfo),
        "openssh": public.public_bytes(enc.OpenSSH, fmt.OpenSSH),
        "x509-pem": certificate.public_bytes(enc.PEM),
        "x509-der": certificate.public_bytes(enc.DER),
        "jwk-json": js(jwk).encode(),
        "jwk-json-pretty": json.dumps(jwk, indent=2, sort_keys=True).encode(),
    }
    if key.alg.startswith("RS"):
        spellings["pkcs1-pem"] = public.public_bytes(enc.PEM, fmt.PKCS1)
        spellings["pkcs1-der"] = public.public_bytes(enc.DER, fmt.PKCS1)
        spellings["modulus"] = public.public_numbers().n.to_bytes(256, "big")
    else:
        spellings["x962-uncompressed"] = public.public_bytes(enc.X962, fmt.UncompressedPoint)
        spellings["x962-compressed"] = public.public_bytes(enc.X962, fmt.CompressedPoint)
    return spellings


@dataclass
class Forge:
    """Makes tokens: ``issuer_ec``/``issuer_rsa`` are trusted, the rest are the attacker's."""

    issuer_ec: SigningKey
    issuer_rsa: SigningKey
    attacker_ec: SigningKey  # same kid as issuer_ec
    attacker_p384: SigningKey  # same kid as issuer_ec, another curve
    listener: str  # a URL that must never be fetched
    service_secret: bytes

    # -- building blocks ---------------------------------------------------------------

    def claims(self, drop: tuple[str, ...] = (), **overrides: Any) -> dict[str, Any]:
        payload = user_claims(**{"jti": f"{time.monotonic_ns()}", **overrides})
        for name in drop:
            payload.pop(name, None)
        return payload

    def header(self, key: SigningKey | None = None, drop: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
        key = key or self.issuer_ec
        head: dict[str, Any] = {"alg": key.alg, "typ": "JWT", "kid": key.kid}
        head.update(extra)
        for name in drop:
            head.pop(name, None)
        return head

    def raw(self, header: str | bytes, payload: str | bytes, sign: Callable[[bytes], bytes] | None = None) -> str:
        """Signs exactly these header and payload bytes (the issuer's ES256 key by default)."""
        signing_input = f"{b64(header)}.{b64(payload)}"
        signer = sign or self.issuer_ec.sign
        return f"{signing_input}.{b64url(signer(signing_input.encode()))}"

    def signed(
        self,
        header: Mapping[str, Any] | None = None,
        claims: Mapping[str, Any] | None = None,
        key: SigningKey | None = None,
    ) -> str:
        """A token genuinely signed by ``key`` (the issuer's ES256 key by default)."""
        key = key or self.issuer_ec
        head = dict(header) if header is not None else self.header(key)
        return self.raw(js(head), js(dict(claims) if claims is not None else self.claims()), key.sign)

    def with_claims(self, **overrides: Any) -> str:
        return self.signed(claims=self.claims(**overrides))

    def without_claim(self, name: str) -> str:
        return self.signed(claims=self.claims(drop=(name,)))

    def raw_claims(self, replace: str, by: str) -> str:
        """A genuine signature over a payload whose JSON text has ``replace`` swapped for ``by``."""
        text = js(self.claims())
        assert replace in text
        return self.raw(js(self.header()), text.replace(replace, by, 1))

    def unsigned(self, header: Mapping[str, Any], signature: bytes = b"") -> str:
        return f"{b64(js(dict(header)))}.{b64(js(self.claims()))}.{b64url(signature)}"

    def hmac(self, secret: bytes, alg: str = "HS256", **header: Any) -> str:
        digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
        head = {"alg": alg, "typ": "JWT", **header}
        return self.raw(js(head), js(self.claims()), lambda data: hmac.new(secret, data, digest).digest())

    def with_signature(self, signature: bytes, key: SigningKey | None = None) -> str:
        key = key or self.issuer_ec
        return f"{b64(js(self.header(key)))}.{b64(js(self.claims()))}.{b64url(signature)}"

    def valid(self, key: SigningKey | None = None) -> str:
        return self.signed(key=key)

    def valid_containing(self, characters: str) -> str:
        """A valid token whose text contains one of ``characters`` (for alphabet swaps)."""
        for _ in range(200):
            token = self.valid()
            if any(c in token for c in characters):
                return token
        raise AssertionError("no such token")

    # -- signatures ----------------------------------------------------------------------

    def es256_signature_parts(self) -> tuple[str, int, int]:
        signing_input = f"{b64(js(self.header()))}.{b64(js(self.claims()))}"
        der = self.issuer_ec.private.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return signing_input, r, s

    def es256_der(self) -> str:
        signing_input = f"{b64(js(self.header()))}.{b64(js(self.claims()))}"
        der = self.issuer_ec.private.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        return f"{signing_input}.{b64url(der)}"

    def es256_rs(self, transform: Callable[[int, int], bytes]) -> str:
        signing_input, r, s = self.es256_signature_parts()
        return f"{signing_input}.{b64url(transform(r, s))}"

    def es256_mangled(self, mangle: Callable[[bytes], bytes]) -> str:
        signing_input, r, s = self.es256_signature_parts()
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return f"{signing_input}.{b64url(mangle(signature))}"

    def rs256_mangled(self, mangle: Callable[[bytes], bytes]) -> str:
        key = self.issuer_rsa
        signing_input = f"{b64(js(self.header(key)))}.{b64(js(self.claims()))}"
        return f"{signing_input}.{b64url(mangle(key.sign(signing_input.encode())))}"

    def pss(self) -> str:
        key = self.issuer_rsa
        signing_input = f"{b64(js(self.header(key, alg='PS256')))}.{b64(js(self.claims()))}"
        signature = key.private.sign(
            signing_input.encode(),
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
            hashes.SHA256(),
        )
        return f"{signing_input}.{b64url(signature)}"

    def mangle(self, change: Callable[[str], str]) -> str:
        return change(self.valid())

    def nested(self, depth: int) -> str:
        """A ~``2*depth`` character header of nested arrays, genuinely signed."""
        header = '{"alg":"ES256","kid":"ec-1","x":' + "[" * depth + "]" * depth + "}"
        return self.raw(header, js(self.claims()))

    def service(self, **overrides: Any) -> str:
        now = int(time.time())
        payload = {"sub": "backstage-server", "iat": now, "exp": now + 600, **overrides}
        return self.raw(
            js({"alg": "HS256"}),
            js(payload),
            lambda data: hmac.new(self.service_secret, data, hashlib.sha256).digest(),
        )


def service_secret_bytes(secret: str) -> bytes:
    return base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))


__all__ = ["ISSUER", "P256_ORDER", "Forge", "public_key_encodings", "service_secret_bytes"]
