"""Keys fetched from an issuer's JWKS URL (DESIGN §5).

:class:`JWKSClient` keeps the issuer's :class:`~wsgi_jwt_guard.keys.KeySet` in
process and refreshes it when:

* its TTL has passed (``ttl``, default 10 minutes), or
* a token names a ``kid`` it does not know -- at most once per ``cooldown``
  (default 30 s), so a flood of tokens with random kids costs one fetch, not
  one per request. Concurrent refreshes share one fetch (a lock).

Fetched documents are also stored, as JSON text and never pickled, in a
``cachelib`` cache, so every worker that shares the cache shares the fetch;
what is read back is validated again like a fresh download. A failed refresh
never evicts good keys: the last good set keeps serving for up to
``max_stale`` (default 24 h). With no usable keys at all, requests for that
issuer get :class:`~wsgi_jwt_guard.errors.KeysUnavailable` (503).

Fetches use ``requests`` with connect/read timeouts and an overall deadline,
TLS verification on, no redirects and a size cap. The URL comes from
configuration, never from a token.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterator

import requests
from cachelib import BaseCache, SimpleCache

from .errors import KeysUnavailable, UnknownKey
from .keys import KeySet, PinnedKey

__all__ = ["JWKSClient"]

log = logging.getLogger("wsgi_jwt_guard")


class JWKSClient:
    """The keys published at ``uri``, cached and refreshed safely."""

    def __init__(
        self,
        uri: str,
        *,
        algorithms: Collection[str],
        cache: BaseCache | None = None,
        ttl: float = 600.0,
        cooldown: float = 30.0,
        max_stale: float = 86400.0,
        timeout: tuple[float, float] = (3.05, 5.0),
        total_timeout: float = 10.0,
        max_bytes: int = 512 * 1024,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.uri = uri
        self.algorithms = frozenset(algorithms)
        self.cache = cache if cache is not None else SimpleCache()
        self.ttl = ttl
        self.cooldown = cooldown
        self.max_stale = max_stale
        self.timeout = timeout
        self.total_timeout = total_timeout
        self.max_bytes = max_bytes
        self.session = session or requests.Session()
        self.clock = clock
        self._cache_key = "wsgi_jwt_guard:jwks:" + hashlib.sha256(uri.encode()).hexdigest()
        self._lock = threading.Lock()
        self._keys = KeySet()
        self._fetched_at = float("-inf")  # when the keys in hand were fetched
        self._tried_at = float("-inf")  # last network attempt, for the cooldown

    def find(self, kid: str | None, algorithm: str) -> PinnedKey:
        """The key for a token's ``kid`` and ``alg``, refreshing if needed."""
        now = self.clock()
        if now - self._fetched_at >= self.ttl:
            self._refresh(now, force=False)
        try:
            return self._usable_keys(now).find(kid, algorithm)
        except UnknownKey:
            if now - self._tried_at < self.cooldown:
                raise
            self._refresh(now, force=True)
            return self._usable_keys(now).find(kid, algorithm)

    def _usable_keys(self, now: float) -> KeySet:
        if not self._keys or now - self._fetched_at > self.max_stale:
            raise KeysUnavailable(
                "the issuer's signing keys are unavailable", retry_after=int(self.cooldown) or 1
            )
        return self._keys

    def _refresh(self, now: float, *, force: bool) -> None:
        with self._lock:
            # Another thread may have refreshed while this one waited.
            if force:
                if now - self._tried_at < self.cooldown:
                    return
            elif now - self._fetched_at < self.ttl:
                return
            if self._load_shared(now, max_age=self.ttl):
                return
            if not force and now - self._tried_at < self.cooldown:
                return  # failed recently: keep serving what we have until the cooldown ends
            self._tried_at = now
            try:
                document = self._fetch()
                keys = KeySet.from_jwks(document, self.algorithms, strict=False)
                if not keys:
                    raise ValueError("the document holds no usable keys")
            except Exception as exc:
                log.warning("JWKS %s: fetch failed (%s); keeping the last good keys", self.uri, exc)
                # Stale-if-error: a copy another worker stored beats having none
                # (a worker restarted during an issuer outage).
                self._load_shared(now, max_age=self.max_stale)
                return
            self._keys, self._fetched_at = keys, now
            self._store_shared(document, now)

    def _fetch(self) -> object:
        with self.session.get(
            self.uri,
            timeout=self.timeout,
            allow_redirects=False,
            stream=True,
            headers={"Accept": "application/json"},
        ) as response:
            if response.status_code != 200:
                raise ValueError(f"HTTP {response.status_code}")
            body = bytearray()
            deadline = time.monotonic() + self.total_timeout
            for chunk in _arriving_chunks(response):
                body += chunk
                if len(body) > self.max_bytes:
                    raise ValueError(f"the document is larger than {self.max_bytes} bytes")
                if time.monotonic() > deadline:  # a server trickling bytes
                    raise ValueError(f"the download took over {self.total_timeout} seconds")
        return json.loads(body)

    def _load_shared(self, now: float, *, max_age: float) -> bool:
        """Adopt a newer document, at most ``max_age`` old, that a worker stored in the cache."""
        try:
            entry = json.loads(self.cache.get(self._cache_key) or "null")
            fetched_at = float(entry["fetched_at"])
            if not (self._fetched_at < fetched_at <= now and now - fetched_at < max_age):
                return False
            keys = KeySet.from_jwks(entry["jwks"], self.algorithms, strict=False)
        except Exception:  # absent, corrupt or poisoned: fetch instead
            return False
        if not keys:
            return False
        self._keys, self._fetched_at = keys, fetched_at
        return True

    def _store_shared(self, document: object, now: float) -> None:
        entry = json.dumps({"fetched_at": now, "jwks": document})
        try:
            self.cache.set(self._cache_key, entry, timeout=int(self.max_stale))
        except Exception as exc:
            log.warning("storing JWKS %s in the cache failed: %s", self.uri, exc)


def _arriving_chunks(response: requests.Response) -> Iterator[bytes]:
    """The body as it arrives, so a deadline between chunks can cut a trickle short."""
    read1 = getattr(response.raw, "read1", None)  # urllib3 2; 1.x blocks per full chunk
    if read1 is None:
        yield from response.iter_content(65536)
        return
    while chunk := read1(65536, decode_content=True):
        yield chunk
