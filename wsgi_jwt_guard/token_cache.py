"""The verified-token cache: a repeat token costs a lookup, not a signature check.

:class:`~wsgi_jwt_guard.verification.Verifier` keeps the
:class:`~wsgi_jwt_guard.identity.Identity` of every token that verified, keyed
on the *full* token string, and answers the same token from here until the
entry runs out::

    cache = TokenCache(maxsize=10_000, max_age=300)
    identity = cache.get(token, "header", now)      # None: verify it the long way
    ...
    cache.put(identity, now)                          # only after it verified

The rules that make it safe:

* **The key is the whole token.** Two different strings are two different
  entries; nothing (a prefix, a hash, the signature alone) can make one token
  match another's entry.
* **Only successes are stored.** A refused token leaves no trace, so garbage --
  however much of it -- can neither grow the cache nor evict good entries.
  Valid tokens can only be minted by the issuers, so only they can fill it.
* **Entries never outlive the token.** An entry serves from the time its token
  verified until the token's ``exp`` (leeway is not extended: past ``exp`` the
  token goes through full verification again) or ``max_age`` seconds, whichever
  comes first. ``max_age`` bounds how long a token keeps working after its
  signing key has been withdrawn from the issuer's JWKS. Times come from the
  caller (the verifier's clock, which tests replace).
* **Bounded.** At most ``maxsize`` entries, least recently used evicted first;
  ``maxsize=0`` turns the cache off.
* **Thread-safe.** One lock around every read and write of the table.

Revocation is not checked here: the middleware checks it after every
verification, cached or not, so a revoked token is refused on its next request.

The identity is shared by every request that presents the same token: its
``claims`` mapping is read-only, and the lists and objects inside it must be
treated as read-only too.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections import OrderedDict
from collections.abc import KeysView
from typing import Any

from .errors import ConfigError
from .identity import Identity, TokenSource
from .validation import seconds, whole

__all__ = ["TokenCache"]


# An entry is a list, cheaper to build than an object on every first-seen token:
# [not_before, not_after, identity, other sources' identities or None].
_OTHERS = 3


class TokenCache:
    """Identities of verified tokens, by the full token string; bounded, LRU, thread-safe.

    :param maxsize: the most entries kept; the least recently used goes first.
        ``0`` disables the cache.
    :param max_age: the longest an entry serves, in seconds, even if the token's
        ``exp`` is later; ``None`` for no limit beyond ``exp``.

    Bad arguments raise :class:`~wsgi_jwt_guard.errors.ConfigError` naming them.

    ``hits`` and ``misses`` count lookups (a miss is any lookup that did not
    return an identity, including expired entries and a disabled cache).
    """

    def __init__(self, maxsize: int = 10_000, *, max_age: float | None = 300.0) -> None:
        self.maxsize = whole(maxsize, "maxsize")
        self.max_age = math.inf
        if max_age is not None:
            self.max_age = seconds(max_age, "max_age")
            if not self.max_age:
                raise ConfigError("max_age", "expected more than 0 seconds, or None")
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[str, list[Any]] = OrderedDict()
        self._lock = threading.Lock()
        #: The tokens held, a live read-only view: ``token in cache.tokens`` is
        #: one lookup in C, where ``token in cache`` also runs a Python method.
        self.tokens: KeysView[str] = self._entries.keys()

    def get(self, token: str, source: TokenSource, now: float) -> Identity | None:
        """The cached identity of ``token`` as seen from ``source``, or ``None``."""
        with self._lock:
            entry = self._entries.get(token)
            if entry is None:
                self.misses += 1
                return None
            # Outside [verified at, expiry): drop it and verify again. A clock
            # that went backwards lands here too, which fails safe.
            identity: Identity
            others: dict[TokenSource, Identity] | None
            not_before, not_after, identity, others = entry
            if not not_before <= now < not_after:
                del self._entries[token]
                self.misses += 1
                return None
            self._entries.move_to_end(token)
            self.hits += 1
            if identity.source == source:
                return identity
            # The same token from another place (a header token that came back
            # in the cookie): same claims, the right ``source``.
            if others is None:
                others = entry[_OTHERS] = {}
            if source not in others:
                others[source] = dataclasses.replace(identity, source=source)
            return others[source]

    def put(self, identity: Identity, now: float, *, until: float | None = None) -> None:
        """Remember ``identity``, which verified at ``now``, until its ``exp`` or
        ``max_age`` -- or ``until``, if earlier (an introspection answer's limit)."""
        if not self.maxsize:
            return
        not_after = identity.expires_at
        if now + self.max_age < not_after:
            not_after = now + self.max_age
        if until is not None and until < not_after:
            not_after = until
        if not now < not_after:
            return
        token = identity.token
        entry = [now, not_after, identity, None]
        with self._lock:
            entries = self._entries
            if token in entries:
                entries.move_to_end(token)
            entries[token] = entry
            if len(entries) > self.maxsize:
                entries.popitem(last=False)

    def counters(self) -> dict[str, int]:
        """The counters by their :mod:`~wsgi_jwt_guard.metrics` names."""
        return {"token_cache.hit": self.hits, "token_cache.miss": self.misses}

    def clear(self) -> None:
        """Forget every entry (the counters are kept)."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, token: object) -> bool:
        return token in self._entries
