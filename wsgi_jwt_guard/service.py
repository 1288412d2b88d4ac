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

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .algorithms import HMACKey
from .claims import check_times
from .clock import Clock, system_clock
from .errors import ConfigError, InvalidToken
from .jws import CompactJWS, b64url_encode
from .validation import Settings, base64_secret, seconds, secrets, text

__all__ = ["ServiceTokens", "mint_service_token"]

_HEADER = b64url_encode(b'{"alg":"HS256","typ":"JWT"}')


@dataclass(frozen=True)
class ServiceTokens(Settings):
    """Verifies (and mints) HS256 service tokens over shared secrets."""

    #: base64 secrets; the first signs, all verify.
    secrets: Sequence[str]
    #: The ``sub`` every service token carries, and the ``REMOTE_USER`` it gets.
    subject: str = "backstage-server"
    #: Lifetime of minted tokens in seconds (Backstage: one hour).
    lifetime: float = 3600.0
    #: Clock skew tolerated on ``exp``/``nbf``/``iat``, in seconds.
    leeway: float = 0.0
    #: Where :meth:`mint` takes the time from (verifying takes the verifier's).
    clock: Clock = field(default=system_clock, repr=False, compare=False)
    _keys: tuple[HMACKey, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        listed = secrets(self.secrets, "secrets")
        keys = tuple(
            HMACKey(base64_secret(secret, f"secrets[{index}]"), "HS256")
            for index, secret in enumerate(listed)
        )
        if not callable(self.clock):
            raise ConfigError("clock", "expected a callable returning seconds since the epoch")
        self._settle(
            secrets=listed,
            subject=text(self.subject, "subject"),
            # Whole seconds: exp and iat are written as integers.
            lifetime=seconds(self.lifetime, "lifetime", minimum=1),
            leeway=seconds(self.leeway, "leeway"),
            _keys=keys,
        )

    def mint(self, *, now: float | None = None, claims: Mapping[str, Any] | None = None) -> str:
        """A fresh token signed with the first secret, valid for ``lifetime`` seconds.

        ``now`` (seconds since the epoch) defaults to :attr:`clock`; ``claims``
        add to or replace ``sub``/``iat``/``exp``.
        """
        issued = int(self.clock() if now is None else now)
        payload = {"sub": self.subject, "iat": issued, "exp": issued + int(self.lifetime)}
        payload.update(claims or {})
        body = b64url_encode(json.dumps(payload, separators=(",", ":")).encode())
        signing_input = f"{_HEADER}.{body}"
        signature = self._keys[0].sign(signing_input.encode("ascii"))
        return f"{signing_input}.{b64url_encode(signature)}"

    def verify(self, jws: CompactJWS, *, now: float) -> float:
        """Check a parsed HS256 token; return its ``exp``. Raises :class:`InvalidToken`."""
        if jws.alg != "HS256":
            raise InvalidToken("service tokens must be HS256")
        # Check against every secret so timing does not tell which one matched.
        matched = False
        for key in self._keys:
            matched |= key.verify(jws.signing_input, jws.signature)
        if not matched:
            raise InvalidToken("the token signature does not verify")
        exp = check_times(jws.claims, now=now, leeway=self.leeway)
        if jws.claims.get("sub") != self.subject:
            raise InvalidToken("the service token has the wrong subject")
        return exp


def mint_service_token(
    secret: str,
    *,
    subject: str = "backstage-server",
    lifetime: float = 3600.0,
    clock: Clock = system_clock,
) -> str:
    """Mint one service token for an outgoing call (see :meth:`ServiceTokens.mint`)."""
    return ServiceTokens([secret], subject=subject, lifetime=lifetime, clock=clock).mint()
