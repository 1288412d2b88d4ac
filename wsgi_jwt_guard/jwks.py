"""Keys fetched from an issuer's JWKS URL, or found by OIDC discovery (DESIGN §4, §5).

:class:`JWKSClient` keeps an issuer's :class:`~wsgi_jwt_guard.keys.KeySet` in
process and refreshes it when:

* its TTL has passed -- ``ttl`` if configured, else the response's
  ``Cache-Control: max-age`` clamped to ``[min_ttl, max_ttl]``, else 10 minutes;
* a token names a ``kid`` it does not know (the issuer rotated its keys) --
  at most once per ``cooldown`` (default 30 s) per issuer, so a flood of tokens
  with random kids costs one fetch, not one per request. Concurrent misses
  wait for one fetch (a lock; gevent's monkey-patching makes it a greenlet lock).

With ``discovery``, the JWKS URL comes from
``<issuer>/.well-known/openid-configuration``, whose ``issuer`` must equal the
configured one exactly and whose ``jwks_uri`` must be on the issuer's own
scheme and host unless that host is listed in ``allowed_hosts`` (Google's
``accounts.google.com`` publishes keys on ``www.googleapis.com``).

Fetched documents are stored, as JSON text, in a shared ``cachelib`` cache
(:class:`~wsgi_jwt_guard.caches.SharedCache`). Workers on every host that
shares it adopt a fresh document instead of fetching their own, and an atomic
claim in the cache (``add``) lets one of them fetch while the others wait for
its result: N workers cost one fetch per TTL, and one refetch per cooldown for
unknown kids. What is read back is validated again like a fresh download.

A failed refresh never evicts good keys: the last good set -- this worker's or
another's from the cache -- keeps serving for up to ``max_stale`` (default
24 h). After a failure the issuer is left alone for ``cooldown``. With no usable
keys at all, requests for that issuer get
:class:`~wsgi_jwt_guard.errors.KeysUnavailable` (503 with ``Retry-After``).

Fetches use one ``requests`` session per issuer with connect/read timeouts, an
overall deadline, TLS verification (``ca_bundle`` for a private CA), a size
cap, and redirects only within the same scheme, host and port. URLs come from
configuration, never from a token.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Collection, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import requests
from cachelib import BaseCache

from .caches import SharedCache
from .errors import KeysUnavailable, UnknownKey
from .keys import KeySet, PinnedKey

if TYPE_CHECKING:
    from .metrics import Metrics

__all__ = ["JWKSClient", "check_fetch_url"]

log = logging.getLogger("wsgi_jwt_guard")

_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_MAX_REDIRECTS = 3
# Hosts' clocks differ: a document another host fetched may look this far
# ahead of ours and still be adopted.
_CLOCK_SKEW = 60.0
# A discovered JWKS URL is used this long (or until a fetch from it fails).
_DISCOVERY_TTL = 86400.0
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)
_NO_CACHE = re.compile(r"(?:^|,)\s*(?:no-store|no-cache)\s*(?:,|$)", re.IGNORECASE)


def check_fetch_url(url: object, *, insecure_http: bool = False) -> str:
    """``url`` if keys may be fetched from it; ``ValueError`` saying why not.

    ``https://`` always; ``http://`` only on a loopback host (local rigs) or
    with ``insecure_http``.
    """
    if not isinstance(url, str):
        raise ValueError("expected a URL")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("expected an absolute https:// URL")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS and not insecure_http:
        raise ValueError("keys must be fetched over https (insecure_http = true to override)")
    return url


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


class JWKSClient:
    """The keys published at ``uri`` (or found by discovery), cached and refreshed safely.

    :param uri: the JWKS URL; ``None`` with ``discovery``.
    :param discovery: the issuer URL whose OIDC discovery document names the JWKS URL.
    :param allowed_hosts: other hosts a discovered ``jwks_uri`` may point to.
    :param ttl: seconds a document is used; ``None`` follows ``Cache-Control``.
    :param metrics: counts ``keys.fetch.ok`` / ``keys.fetch.failed``.
    """

    def __init__(
        self,
        uri: str | None = None,
        *,
        algorithms: Collection[str],
        discovery: str | None = None,
        allowed_hosts: Collection[str] = (),
        insecure_http: bool = False,
        cache: BaseCache | None = None,
        ttl: float | None = None,
        min_ttl: float = 60.0,
        max_ttl: float = 3600.0,
        default_ttl: float = 600.0,
        cooldown: float = 30.0,
        max_stale: float = 86400.0,
        timeout: tuple[float, float] = (3.05, 5.0),
        total_timeout: float = 10.0,
        max_bytes: int = 512 * 1024,
        ca_bundle: str | None = None,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
        metrics: Metrics | None = None,
        claim_wait: float = 3.0,
    ) -> None:
        if (uri is None) == (discovery is None):
            raise ValueError("give exactly one of uri and discovery")
        self.uri = uri
        self.discovery = discovery
        self.allowed_hosts = frozenset(host.lower() for host in allowed_hosts)
        self.insecure_http = insecure_http
        self.algorithms = frozenset(algorithms)
        self.cache = cache if isinstance(cache, SharedCache) else SharedCache(cache)
        self.ttl = ttl
        self.min_ttl = min_ttl
        self.max_ttl = max_ttl
        self.default_ttl = default_ttl
        self.cooldown = cooldown
        self.max_stale = max_stale
        self.timeout = timeout
        self.total_timeout = total_timeout
        self.max_bytes = max_bytes
        self.session = session or requests.Session()
        # Passed per request: a session's own `verify` loses to REQUESTS_CA_BUNDLE.
        self.ca_bundle = ca_bundle
        self.clock = clock
        self.metrics = metrics
        self.claim_wait = claim_wait
        source = uri if uri is not None else f"discovery:{discovery}"
        self._cache_key = "wsgi_jwt_guard:jwks:" + hashlib.sha256(source.encode()).hexdigest()
        self._lock = threading.Lock()
        self._keys = KeySet()
        self._fetched_at = float("-inf")  # when the keys in hand were fetched
        self._expires_at = float("-inf")  # ... and when they are due for a refresh
        self._forced_at = float("-inf")  # the last refetch for an unknown kid
        self._failed_at = float("-inf")  # the last failed fetch
        self._jwks_uri = uri  # the URL in use (discovered, with discovery)
        self._discovered_at = float("-inf")

    def find(self, kid: str | None, algorithm: str) -> PinnedKey:
        """The key for a token's ``kid`` and ``alg``, refreshing if needed."""
        now = self.clock()
        if now >= self._expires_at:
            self._refresh(now, force=False)
        try:
            return self._usable_keys(now).find(kid, algorithm)
        except UnknownKey:
            if now - self._forced_at < self.cooldown:
                raise
            self._refresh(now, force=True)
            return self._usable_keys(now).find(kid, algorithm)

    def _usable_keys(self, now: float) -> KeySet:
        if not self._keys or now - self._fetched_at > self.max_stale:
            wait = self.cooldown - (now - self._failed_at)
            raise KeysUnavailable(
                "the issuer's signing keys are unavailable",
                retry_after=max(1, int(min(wait, self.cooldown) + 0.999)),
            )
        return self._keys

    # --- refreshing ------------------------------------------------------------

    def _refresh(self, now: float, *, force: bool) -> None:
        with self._lock:
            # Another thread may have refreshed while this one waited.
            if force:
                if now - self._forced_at < self.cooldown:
                    return
                self._forced_at = now
            elif now < self._expires_at:
                return
            if self._adopt_shared(now, fresh_only=True):
                return
            if now - self._failed_at < self.cooldown:
                return  # failed recently: spare the issuer, keep what we have
            claim = self._claim(now, force=force)
            if claim is False:
                return
            try:
                self._fetch(now)
            finally:
                if isinstance(claim, str):
                    self.cache.delete(claim)

    def _claim(self, now: float, *, force: bool) -> str | bool:
        """Claim the fetch for this worker among all sharing the cache.

        ``False``: another worker fetched or is fetching (its result, if any,
        has been adopted). Otherwise fetch; a ``str`` is a claim to release after.
        For an unknown kid the claim is kept for the cooldown, so the whole fleet
        refetches at most once per cooldown.
        """
        claim_ttl = self.cooldown if force else self.claim_wait
        if not self.cache.is_shared or claim_ttl < 1:
            return True  # threads of one process already take turns (the lock)
        key = self._cache_key + (":refetch" if force else ":fetch")
        if self.cache.add(key, repr(now), timeout=int(claim_ttl)):
            return True if force else key
        try:
            claimed_at = float(self.cache.get(key) or "-inf")
        except ValueError:
            claimed_at = float("-inf")
        if now - claimed_at < self.claim_wait and self._wait_for_shared():
            return False
        return not force

    def _fetch(self, now: float) -> None:
        try:
            uri = self._resolve_uri(now)
            document, max_age = self._download(uri)
            keys = KeySet.from_jwks(document, self.algorithms, strict=False)
            if not keys:
                raise ValueError("the document holds no usable keys")
        except Exception as exc:
            self._discovered_at = float("-inf")  # the URL may have moved: discover again
            self._failed_at = now
            self._expires_at = now + self.cooldown  # spare the issuer until then
            self._count("keys.fetch.failed")
            log.warning("JWKS %s: fetch failed (%s); keeping the last good keys", self._name, exc)
            # Stale-if-error: a copy another worker stored beats having none
            # (a worker restarted during an issuer outage).
            self._adopt_shared(now, fresh_only=False)
            return
        ttl = self._ttl_for(max_age)
        self._keys, self._fetched_at, self._expires_at = keys, now, now + ttl
        self._count("keys.fetch.ok")
        log.debug("JWKS %s: fetched %d keys, next refresh in %ss", uri, len(keys), ttl)
        entry = {"fetched_at": now, "ttl": ttl, "uri": uri, "jwks": document}
        if not self.cache.set(self._cache_key, json.dumps(entry), timeout=int(self.max_stale)):
            log.debug("JWKS %s: kept in process memory only", uri)

    def _ttl_for(self, max_age: int | None) -> float:
        if self.ttl is not None:
            return self.ttl
        if max_age is None:
            return min(max(self.default_ttl, self.min_ttl), self.max_ttl)
        return min(max(float(max_age), self.min_ttl), self.max_ttl)

    def _wait_for_shared(self) -> bool:
        """Wait for the worker holding the fetch claim to store its result."""
        deadline = time.monotonic() + self.claim_wait
        while time.monotonic() < deadline:
            time.sleep(0.05)
            if self._adopt_shared(self.clock(), fresh_only=True):
                return True
        return False

    def _adopt_shared(self, now: float, *, fresh_only: bool) -> bool:
        """Adopt a newer document a worker stored: within its TTL, or ``max_stale`` old."""
        try:
            entry = json.loads(self.cache.get(self._cache_key) or "null")
            fetched_at = float(entry["fetched_at"])
            ttl = float(entry.get("ttl", self.default_ttl))
            uri = entry.get("uri", self._jwks_uri)
            if not (self._fetched_at < fetched_at <= now + _CLOCK_SKEW and 0 < ttl <= 86400):
                return False
            age = max(now - fetched_at, 0.0)
            if age >= (ttl if fresh_only else self.max_stale):
                return False
            if self.discovery is not None:
                self._check_discovered(uri)
            keys = KeySet.from_jwks(entry["jwks"], self.algorithms, strict=False)
        except Exception:  # absent, corrupt or poisoned: fetch instead
            return False
        if not keys:
            return False
        self._keys, self._fetched_at = keys, min(fetched_at, now)
        self._expires_at = self._fetched_at + ttl if fresh_only else now + self.cooldown
        if uri != self._jwks_uri:
            self._jwks_uri, self._discovered_at = uri, self._fetched_at
        return True

    # --- discovery and downloads --------------------------------------------------

    @property
    def _name(self) -> str:
        return self._jwks_uri or f"discovery of {self.discovery}"

    def _resolve_uri(self, now: float) -> str:
        if self.discovery is None:
            assert self.uri is not None
            return self.uri
        if self._jwks_uri is not None and now - self._discovered_at < _DISCOVERY_TTL:
            return self._jwks_uri
        url = self.discovery.rstrip("/") + "/.well-known/openid-configuration"
        document, _ = self._download(url)
        if not isinstance(document, dict):
            raise ValueError("the discovery document is not a JSON object")
        if document.get("issuer") != self.discovery:
            raise ValueError(
                f"the discovery document names issuer {document.get('issuer')!r},"
                f" not {self.discovery!r}"
            )
        uri = document.get("jwks_uri")
        self._check_discovered(uri)
        assert isinstance(uri, str)
        self._jwks_uri, self._discovered_at = uri, now
        return uri

    def _check_discovered(self, uri: object) -> None:
        assert self.discovery is not None
        check_fetch_url(uri, insecure_http=self.insecure_http)
        assert isinstance(uri, str)
        scheme, host, port = _origin(uri)
        if (scheme, host, port) == _origin(self.discovery):
            return
        if scheme == "https" and host in self.allowed_hosts:
            return
        raise ValueError(
            f"the discovered jwks_uri {uri!r} is not on the issuer's host"
            " (list its host in jwks_allowed_hosts to trust it)"
        )

    def _download(self, url: str) -> tuple[Any, int | None]:
        """The JSON document at ``url`` and its ``Cache-Control`` max-age."""
        for _ in range(_MAX_REDIRECTS + 1):
            with self.session.get(
                url,
                timeout=self.timeout,
                allow_redirects=False,
                stream=True,
                headers={"Accept": "application/json"},
                verify=self.ca_bundle if self.ca_bundle is not None else True,
            ) as response:
                if response.is_redirect:
                    target = urljoin(url, response.headers.get("Location", ""))
                    if _origin(target) != _origin(url):
                        raise ValueError(f"refused a redirect to another host: {target!r}")
                    url = target
                    continue
                if response.status_code != 200:
                    raise ValueError(f"HTTP {response.status_code}")
                body = self._read(response)
                return json.loads(body), _max_age(response.headers.get("Cache-Control", ""))
        raise ValueError(f"more than {_MAX_REDIRECTS} redirects")

    def _read(self, response: requests.Response) -> bytes:
        body = bytearray()
        deadline = time.monotonic() + self.total_timeout
        for chunk in _arriving_chunks(response):
            body += chunk
            if len(body) > self.max_bytes:
                raise ValueError(f"the document is larger than {self.max_bytes} bytes")
            if time.monotonic() > deadline:  # a server trickling bytes
                raise ValueError(f"the download took over {self.total_timeout} seconds")
        return bytes(body)

    def _count(self, name: str) -> None:
        if self.metrics is not None:
            self.metrics.increment(name)


def _max_age(cache_control: str) -> int | None:
    """``max-age`` of a ``Cache-Control`` header; 0 for ``no-store``/``no-cache``."""
    if _NO_CACHE.search(cache_control):
        return 0
    match = _MAX_AGE.search(cache_control)
    return int(match.group(1)) if match else None


def _arriving_chunks(response: requests.Response) -> Iterator[bytes]:
    """The body as it arrives, so a deadline between chunks can cut a trickle short."""
    read1 = getattr(response.raw, "read1", None)  # urllib3 2; 1.x blocks per full chunk
    if read1 is None:
        yield from response.iter_content(65536)
        return
    while chunk := read1(65536, decode_content=True):
        yield chunk
