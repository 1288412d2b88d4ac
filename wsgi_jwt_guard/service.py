"""Service-to-service tokens, as Backstage's ``ServerTokenManager`` makes them.

Backends that share a secret call each other with short-lived HS256 tokens
whose subject is fixed (``backstage-server`` by default)::

    tokens = ServiceTokens(secrets=[os.environ["BACKEND_SECRET"]])
    requests.get(url, headers={"Authorization": f"Bearer {tokens.mint()}"})

Secrets are base64 (url-safe or standard, padded or not, as Backstage's
``backend.auth.keys[].secret``), at least 32 characters each. The first secret
signs; every secret verifies, so a secret is rotated by putting the new one
first, deploying everywhere, then dropping the old one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .claims import check_times
from .errors import ConfigError, InvalidToken
from .jws import CompactJWS, b64url_encode

__all__ = ["ServiceTokens", "mint_service_token"]

#: HS256 keys shorter than this are refused (Backstage's documented secrets
#: are 24 random bytes, 32 base64 characters).
MIN_SECRET_CHARACTERS = 32
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")


def _decode_secret(secret: object, key: str) -> bytes:
    if not isinstance(secret, str) or not _BASE64.fullmatch(secret):
        raise ConfigError(key, "a secret must be a base64 string")
    if len(secret) < MIN_SECRET_CHARACTERS:
        raise ConfigError(key, f"a secret must be at least {MIN_SECRET_CHARACTERS} characters long")
    data = secret.rstrip("=").replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(data + "=" * (-len(data) % 4), validate=True)
    except binascii.Error:
        raise ConfigError(key, "a secret must be a base64 string") from None


@dataclass(frozen=True)
class ServiceTokens:
    """Verifies (and mints) HS256 service tokens over shared secrets."""

    #: base64 secrets; the first signs, all verify.
    secrets: Sequence[str]
    #: The ``sub`` every service token carries, and the ``REMOTE_USER`` it gets.
    subject: str = "backstage-server"
    #: Lifetime of minted tokens in seconds (Backstage: one hour).
    lifetime: float = 3600.0
    #: Clock skew tolerated on ``exp``/``nbf``/``iat``, in seconds.
    leeway: float = 0.0
    _keys: tuple[bytes, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.secrets, str) or not self.secrets:
            raise ConfigError("secrets", "expected a non-empty list of secrets")
        keys = tuple(_decode_secret(s, f"secrets[{i}]") for i, s in enumerate(self.secrets))
        object.__setattr__(self, "_keys", keys)
        object.__setattr__(self, "secrets", tuple(self.secrets))
        if not isinstance(self.subject, str) or not self.subject:
            raise ConfigError("subject", "expected a non-empty string")
        for name in ("lifetime", "leeway"):
            value = getattr(self, name)
            if type(value) not in (int, float) or value < 0 or (name == "lifetime" and not value):
                raise ConfigError(name, "expected a positive number of seconds")

    def mint(self, *, now: float | None = None, claims: Mapping[str, Any] | None = None) -> str:
        """A fresh token signed with the first secret, valid for ``lifetime`` seconds."""
        issued = int(time.time() if now is None else now)
        payload = {"sub": self.subject, "iat": issued, "exp": issued + int(self.lifetime)}
        payload.update(claims or {})
        header = b64url_encode(b'{"alg":"HS256","typ":"JWT"}')
        body = b64url_encode(json.dumps(payload, separators=(",", ":")).encode())
        signing_input = f"{header}.{body}".encode("ascii")
        return f"{header}.{body}.{b64url_encode(self._sign(self._keys[0], signing_input))}"

    def verify(self, jws: CompactJWS, *, now: float) -> float:
        """Check a parsed HS256 token; return its ``exp``. Raises :class:`InvalidToken`."""
        if jws.alg != "HS256":
            raise InvalidToken("service tokens must be HS256")
        # Compare against every secret so timing does not tell which one matched.
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(self._sign(key, jws.signing_input), jws.signature)
        if not matched:
            raise InvalidToken("the token signature does not verify")
        exp = check_times(jws.claims, now=now, leeway=self.leeway)
        if jws.claims.get("sub") != self.subject:
            raise InvalidToken("the service token has the wrong subject")
        return exp

    @staticmethod
    def _sign(key: bytes, signing_input: bytes) -> bytes:
        return hmac.new(key, signing_input, hashlib.sha256).digest()


def mint_service_token(
    secret: str, *, subject: str = "backstage-server", lifetime: float = 3600.0
) -> str:
    """Mint one service token for an outgoing call (see :meth:`ServiceTokens.mint`)."""
    return ServiceTokens([secret], subject=subject, lifetime=lifetime).mint()
