"""Keys as fetched, and as workers share them: :class:`FetchedKeys`.

A JWKS download becomes a :class:`FetchedKeys`: the validated
:class:`~wsgi_jwt_guard.keys.KeySet`, when the fetch started, its TTL, and the
moments the :class:`~wsgi_jwt_guard.refresh.RefreshPolicy` derives from them
(refresh ahead, expiry, staleness), computed once so that a request compares
one number. Workers share it through the cache as JSON text::

    {"fetched_at": 1714557600.0, "ttl": 600, "uri": "https://.../jwks",
     "jwks": {"keys": [...]}, "kid_missed_at": 1714557590.0}

``kid_missed_at`` is the fleet's last refetch for an unknown kid that came
back without it: the cooldown counts from there. :func:`read_entry` validates
an entry like a fresh download (and its URL like a configured one); anything
absent, corrupt or poisoned reads as ``None``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from .errors import UnknownKey
from .keys import KeySet
from .refresh import RefreshPolicy

__all__ = ["FetchedKeys", "holds", "read_entry"]

#: A refetch for an unknown kid that never happened.
NEVER = float("-inf")
# A longer TTL read from the shared cache is not believed.
_LONGEST_TTL = 86400.0


def holds(keys: KeySet, question: tuple[str | None, str]) -> bool:
    """Whether ``keys`` has a key for a token's ``(kid, alg)``."""
    try:
        keys.find(*question)
    except UnknownKey:
        return False
    return True


@dataclass(frozen=True)
class FetchedKeys:
    """A JWKS in hand: the keys, when they were fetched and for how long."""

    keys: KeySet
    kids: frozenset[str]
    #: When the fetch that got them started (the fetching host's clock).
    fetched_at: float
    ttl: float
    uri: str
    #: The last refetch for an unknown kid that did not find it, fleet-wide:
    #: what the cooldown counts from.
    kid_missed_at: float
    #: Before this, a request needs nothing but a lookup.
    quiet_until: float
    refresh_at: float
    expires_at: float
    stale_at: float

    @classmethod
    def of(
        cls,
        keys: KeySet,
        *,
        fetched_at: float,
        ttl: float,
        uri: str,
        kid_missed_at: float,
        policy: RefreshPolicy,
    ) -> FetchedKeys:
        refresh_at = fetched_at + ttl * policy.refresh_ahead
        expires_at = fetched_at + ttl
        stale_at = fetched_at + policy.max_stale
        return cls(
            keys,
            frozenset(key.kid for key in keys if key.kid is not None),
            fetched_at,
            ttl,
            uri,
            kid_missed_at,
            min(refresh_at, stale_at),
            refresh_at,
            expires_at,
            stale_at,
        )

    def entry(self, document: Any) -> str:
        """The shared cache's JSON text for these keys, fetched as ``document``."""
        entry: dict[str, Any] = {
            "fetched_at": self.fetched_at,
            "ttl": self.ttl,
            "uri": self.uri,
            "jwks": document,
        }
        if math.isfinite(self.kid_missed_at):
            entry["kid_missed_at"] = self.kid_missed_at
        return json.dumps(entry)


def read_entry(
    text: str,
    *,
    algorithms: Collection[str],
    policy: RefreshPolicy,
    check_uri: Callable[[object], str],
) -> FetchedKeys | None:
    """The keys a shared cache entry holds, validated; ``None`` if it holds none usable.

    ``check_uri`` returns the entry's URL if keys may come from it, or raises.
    """
    try:
        entry = json.loads(text)
        fetched_at = float(entry["fetched_at"])
        ttl = float(entry.get("ttl", policy.default_ttl))
        kid_missed_at = min(float(entry.get("kid_missed_at", NEVER)), fetched_at)
        if not (math.isfinite(fetched_at) and 0 <= ttl <= _LONGEST_TTL):
            return None
        uri = check_uri(entry.get("uri"))
        keys = KeySet.from_jwks(entry["jwks"], algorithms, strict=False)
    except Exception:  # absent, corrupt or poisoned: fetch instead
        return None
    if not keys:
        return None
    return FetchedKeys.of(
        keys, fetched_at=fetched_at, ttl=ttl, uri=uri, kid_missed_at=kid_missed_at, policy=policy
    )
