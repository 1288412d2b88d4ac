"""Revoking tokens before they expire: logout, stolen tokens.

A JWT stays valid until its ``exp``. :class:`Revocations` lets the service cut
that short, in two ways:

* :meth:`~Revocations.revoke_token` -- one token, by its ``jti``;
* :meth:`~Revocations.revoke_subject` -- every token a subject holds that was
  issued (``iat``) before a moment: "log out everywhere".

::

    guard = from_config(app, {..., "cache": {"type": "redis", "url": "redis://..."},
                              "revocation": {"check_interval": 5}})
    guard.revocations.revoke_subject("user:default/mallory")

Both apply to every identity the guard accepts: user tokens, service tokens
and static API keys. Without ``issuer=`` they match the ``jti`` or subject
whatever the issuer; with it, only tokens of that issuer. An API key has no
``iat``, so ``revoke_subject`` blocks it for ``max_token_lifetime``; to retire
a key for good, remove it from the configuration.

Entries are JSON text in the guard's shared cache, so a revocation made by any
worker on any host reaches all of them; each lives as long as a token it could
affect (``exp`` for a ``jti``, ``max_token_lifetime`` for a subject).

Every protected request is checked, including tokens served from the
verified-token cache. To keep a network round trip off each request, each
worker remembers what it read for ``check_interval`` seconds (default 5): a
revocation made on another worker takes effect everywhere within that delay,
and at once on the worker that made it. A token without ``iat`` counts as
issued before any subject revocation.

If the shared cache is down, revocations already seen stay in force and new
ones reach only the worker that made them (``revoke_*`` return ``False``).
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from typing import TYPE_CHECKING

from .caches import SharedCache
from .clock import Clock, system_clock
from .errors import RevokedToken
from .validation import seconds, text

if TYPE_CHECKING:
    from cachelib import BaseCache

    from .identity import Identity

__all__ = ["Revocations"]

_PREFIX = "wsgi_jwt_guard:revoked:"
#: An entry's name: ``("jti" | "sub", issuer or None for any, value)``.
_Name = tuple[str, "str | None", str]
# Bounds the per-worker memory of what was read; past it the memory starts over.
_LOCAL_ENTRIES = 100_000


class Revocations:
    """Revoked ``jti`` values and subjects, shared through a cache.

    :param cache: the shared cache (the guard's own, usually).
    :param check_interval: seconds a worker reuses what it read; the
        propagation delay of a revocation made elsewhere.
    :param max_token_lifetime: the longest lifetime of any accepted token; a
        subject revocation is kept this long.
    """

    def __init__(
        self,
        cache: BaseCache | None = None,
        *,
        check_interval: float = 5.0,
        max_token_lifetime: float = 86400.0,
        clock: Clock = system_clock,
    ) -> None:
        self.check_interval = seconds(check_interval, "check_interval")
        self.max_token_lifetime = seconds(max_token_lifetime, "max_token_lifetime")
        self.cache = cache if isinstance(cache, SharedCache) else SharedCache(cache, clock=clock)
        self.clock = clock
        # (kind, issuer or None, value) -> (what the shared cache said, when it
        # was read). Keyed by the entry's name, not its hashed cache key, so a
        # request whose answers are fresh here costs no hashing at all.
        self._seen: dict[_Name, tuple[float | None, float]] = {}
        self._lock = threading.Lock()

    # --- revoking ---------------------------------------------------------------

    def revoke_token(self, jti: str, *, expires_at: float, issuer: str | None = None) -> bool:
        """Revoke the token with this ``jti`` until ``expires_at``.

        ``issuer``: only that issuer's token with this ``jti``; ``None``: any.

        Returns ``False`` if only this worker knows (the shared cache is down).
        """
        text(jti, "jti", "the token's 'jti'")
        ttl = expires_at - self.clock()
        if ttl <= 0:
            return True  # expired already: nothing to do
        return self._store(("jti", issuer, jti), expires_at, ttl)

    def revoke_subject(
        self, subject: str, *, before: float | None = None, issuer: str | None = None
    ) -> bool:
        """Revoke every token of ``subject`` issued before ``before`` (default: now).

        ``issuer``: only tokens of that issuer; ``None``: every token and API
        key whose subject is ``subject``, whoever issued it.

        Returns ``False`` if only this worker knows (the shared cache is down).
        """
        text(subject, "subject", "a subject")
        moment = self.clock() if before is None else before
        return self._store(("sub", issuer, subject), moment, self.max_token_lifetime)

    def _store(self, name: _Name, value: float, ttl: float) -> bool:
        shared = self.cache.set(_key(*name), json.dumps(value), timeout=max(1, math.ceil(ttl)))
        self._remember(name, value, self.clock())
        return shared

    # --- checking -----------------------------------------------------------------

    def check(self, identity: Identity) -> None:
        """Raise :class:`RevokedToken` if ``identity``'s token has been revoked."""
        claims = identity.claims
        # Entries for any issuer, and for the token's own issuer if it has one.
        scopes = (None,) if identity.issuer is None else (None, identity.issuer)
        subject = str(claims.get("sub", identity.subject))
        names: list[_Name] = [("sub", scope, subject) for scope in scopes]
        jti = claims.get("jti")
        if isinstance(jti, str):
            names += [("jti", scope, jti) for scope in scopes]
        values = self._lookup(names)
        if any(value is not None for value in values[len(scopes) :]):
            raise RevokedToken("the token has been revoked", source=identity.source)
        before = max((value for value in values[: len(scopes)] if value is not None), default=None)
        if before is not None:
            iat: object = claims.get("iat")
            issued = float(iat) if isinstance(iat, (int, float)) and iat is not True else -math.inf
            if issued < before:
                raise RevokedToken(
                    "the token has been revoked (its subject was logged out)",
                    source=identity.source,
                )

    def _lookup(self, names: list[_Name]) -> list[float | None]:
        """The value of each entry: from this worker's memory while it is fresh,
        else from the shared cache, all stale ones in one round trip."""
        now = self.clock()
        values: list[float | None] = []
        stale: list[int] = []
        for index, name in enumerate(names):
            entry = self._seen.get(name)
            if entry is not None and now - entry[1] < self.check_interval:
                values.append(entry[0])
            else:
                values.append(None)
                stale.append(index)
        if stale:
            texts = self.cache.get_many(*(_key(*names[index]) for index in stale))
            for index, text in zip(stale, texts, strict=True):
                value, entry = _parse(text), self._seen.get(names[index])
                if entry is not None and entry[0] is not None:
                    # What was revoked stays revoked, even if the shared cache is down.
                    value = entry[0] if value is None else max(value, entry[0])
                self._remember(names[index], value, now)
                values[index] = value
        return values

    def _remember(self, name: _Name, value: float | None, now: float) -> None:
        with self._lock:
            if len(self._seen) >= _LOCAL_ENTRIES:
                # Forget absences first: revocations must stay known.
                self._seen = {k: v for k, v in self._seen.items() if v[0] is not None}
            self._seen[name] = (value, now)


def _key(kind: str, issuer: str | None, value: str) -> str:
    """The cache key of a revocation; ``issuer=None`` is the any-issuer entry."""
    # Hashed: subjects and jti values are attacker-influenced text, and cache
    # keys must stay short and free of separators. "\0" cannot be in an issuer.
    scope = "\0*" if issuer is None else issuer
    digest = hashlib.sha256(f"{scope}\0{value}".encode("utf-8", "surrogatepass"))
    return f"{_PREFIX}{kind}:{digest.hexdigest()}"


def _parse(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None  # corrupt: treated as absent, as an unreadable cache would be
    return float(value) if type(value) in (int, float) and math.isfinite(value) else None
