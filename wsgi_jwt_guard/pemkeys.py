"""Keys published one PEM per ``kid``, as AWS ALB publishes them.

ALB keeps no JWKS: the key of a token whose header says ``kid: <kid>`` is the
PEM at ``https://public-keys.auth.elb.<region>.amazonaws.com/<kid>``.
:class:`PEMKeysByKid` fetches such a key the first time a ``kid`` is seen and
keeps it -- a ``kid``'s key never changes, a new key gets a new ``kid``::

    keys = PEMKeysByKid("https://public-keys.auth.elb.eu-west-1.amazonaws.com/{kid}", ["ES256"])
    keys.find("0e1f4cfe-9e2a-4c9b-8b0c-3d5e0f1a2b3c", "ES256")

The ``kid`` comes from a token, so anyone can send any: only a ``kid`` of
safe characters (letters, digits, ``-`` and ``_``, at most 128) is ever put
in a URL; a ``kid`` whose fetch found no key is refused with no fetch until
the ``cooldown`` of ``policy`` has passed; at most :data:`MAX_KIDS` keys are
held. A fetched PEM is stored in the shared cache, so workers fetch each key
once between them, and the threads of one worker asking for the same new
``kid`` share one fetch. After a ``kid`` with no key, no other unknown ``kid``
is fetched within the cooldown either, so random kids cost one fetch per
cooldown.

It keeps the contract of a :class:`~wsgi_jwt_guard.jwks.JWKSClient`:

* **Honest failures.** A failed download (the network, a 5xx; not a 4xx,
  which says the ``kid`` has no key) is a 503, "cannot check": never a 401.
  Keys held keep verifying; a new ``kid`` is refused with 503 and no fetch
  until ``retry_min`` seconds have passed, doubling per failure up to
  ``retry_max`` (``Retry-After`` says how long), so a key server that is down
  is not asked once per request.
* **Health.** :meth:`PEMKeysByKid.status` reports the kids held, the last
  download and its error, failures in a row and when the next may be tried
  (see :mod:`wsgi_jwt_guard.health`). There is no list of keys to fetch ahead:
  a source holding none is usable (it fetches on the first token), one whose
  last download failed is usable only for the kids it holds, and fresh only
  when it is not failing.
* **Fork safety.** Before a fork (gunicorn ``--preload``) the downloads
  running in this process are let finish (for up to 10 s) and none starts
  until the fork is done; a child starts with a lock and a connection pool of
  its own, never its parent's.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cachelib import BaseCache

from . import forks
from .caches import SharedCache
from .clock import Clock, system_clock
from .errors import ConfigError, KeysUnavailable, UnknownKey
from .fetch import Downloader
from .jwks import KeysStatus
from .keys import PinnedKey, pin_pem
from .refresh import RefreshPolicy

if TYPE_CHECKING:
    from .metrics import Metrics

__all__ = ["MAX_KIDS", "PEMKeysByKid"]

log = logging.getLogger("wsgi_jwt_guard")

#: Keys held at most; the oldest used goes first. ALB rotates rarely.
MAX_KIDS = 64
# Kids remembered as having no key; past this the memory starts over.
_MAX_MISSES = 1024
# A kid goes into a URL path: nothing that could leave that path segment.
_KID = re.compile(r"[A-Za-z0-9_-]{1,128}")
# How long the shared cache keeps a fetched PEM (seconds): a kid's key is fixed.
_SHARED_TTL = 24 * 3600


@dataclass
class _Flight:
    """One ``kid``'s fetch running in this process; other threads asking for it wait."""

    pid: int = field(default_factory=os.getpid)
    done: threading.Event = field(default_factory=threading.Event)


class PEMKeysByKid:
    """The key of each ``kid`` at ``url_template`` (``{kid}`` replaced), fetched once.

    :param url_template: the key URL, with ``{kid}`` where the token's ``kid`` goes.
    :param algorithms: the algorithms a key may be pinned to.
    :param cache: the cache shared with other workers (default: this process only).
    :param policy: its ``cooldown`` is how long a ``kid`` with no key stays refused,
        ``retry_min``/``retry_max`` how long after a failed download the next is
        tried, and ``wait`` how long a thread waits for another's fetch.
    :param downloader: downloads the PEMs (timeouts, size cap, TLS, redirects).
    :param clock: the time; tests replace it.
    :param metrics: counts ``keys.fetch.ok`` / ``keys.fetch.failed``.
    """

    def __init__(
        self,
        url_template: str,
        algorithms: Collection[str],
        *,
        cache: BaseCache | None = None,
        policy: RefreshPolicy | None = None,
        downloader: Downloader | None = None,
        clock: Clock = system_clock,
        metrics: Metrics | None = None,
    ) -> None:
        if url_template.count("{kid}") != 1:
            raise ConfigError("pem_url", "expected a URL with '{kid}' once")
        self.url_template = url_template
        self.algorithms = tuple(algorithms)
        self.cache = cache if isinstance(cache, SharedCache) else SharedCache(cache, clock=clock)
        self.policy = policy or RefreshPolicy()
        self.downloader = downloader or Downloader(max_bytes=16 * 1024)
        self.clock = clock
        self.metrics = metrics
        self._keys: OrderedDict[str, PinnedKey] = OrderedDict()
        self._misses: dict[str, float] = {}
        self._last_miss = -math.inf
        self._flights: dict[str, _Flight] = {}
        # What status() reports: when a key was last taken in, the last
        # download and its error, failed downloads in a row and the next try.
        self._taken_at: float | None = None
        self._last_attempt_at: float | None = None
        self._last_error: str | None = None
        self._failures = 0
        self._retry_at = -math.inf
        self._lock = threading.Lock()
        forks.track(self)

    def find(self, kid: str | None, algorithm: str) -> PinnedKey:
        """The key of ``kid`` pinned to ``algorithm``; fetched the first time.

        Raises :class:`~wsgi_jwt_guard.errors.UnknownKey` (401) when no key is
        published for ``kid``, and :class:`~wsgi_jwt_guard.errors.KeysUnavailable`
        (503) when that cannot be told now.
        """
        key = self._keys.get(kid) if kid is not None else None
        if key is None:
            key = self._load(kid)
        if key.algorithm != algorithm:
            raise UnknownKey("the token's algorithm does not match its key")
        return key

    def _load(self, kid: str | None) -> PinnedKey:
        if kid is None or not _KID.fullmatch(kid):
            raise UnknownKey("the token's 'kid' is missing or not a key ID")
        now = self.clock()
        # Within the cooldown of a kid with no key, no unknown kid is fetched:
        # random kids cost one fetch per cooldown, as with a JWKS.
        missed = self._misses.get(kid, self._last_miss)
        if now - missed < self.policy.cooldown:
            raise UnknownKey("no key is published for the token's 'kid'")
        with self._lock:
            key = self._keys.get(kid)
            if key is not None:  # another thread's fetch has just ended
                return key
            flight = self._flights.get(kid)
            mine = flight is None
            if flight is None:
                flight = self._flights[kid] = _Flight()
        if not mine:
            return self._await(kid, flight)
        try:
            return self._fetch(kid, now)
        finally:
            with self._lock:
                self._flights.pop(kid, None)
            flight.done.set()

    def _await(self, kid: str, flight: _Flight) -> PinnedKey:
        """The key another thread is fetching, or why there is none."""
        finished = flight.done.wait(self.policy.wait)
        key = self._keys.get(kid)
        if key is not None:
            return key
        now = self.clock()
        if not finished:
            raise self._unavailable(now, "the token's key is still being fetched; try again")
        if self._failures:
            raise self._unavailable(now, "the token's key could not be fetched")
        raise UnknownKey("no key is published for the token's 'kid'")

    def _fetch(self, kid: str, now: float) -> PinnedKey:
        url = self.url_template.replace("{kid}", kid)
        cache_key = "wsgi_jwt_guard:pem:" + hashlib.sha256(url.encode()).hexdigest()
        pem = self.cache.get(cache_key)
        key = self._pinned(pem, kid) if isinstance(pem, str) else None
        if key is None:
            if self._failures and now < self._retry_at:
                raise self._unavailable(now, "the token's key cannot be fetched now")
            pem = self._download(url, kid, now)
            key = self._pinned(pem, kid)
            if key is None:
                self._miss(kid, now, "the key published for a 'kid' is not a usable PEM")
                raise UnknownKey("the key published for the token's 'kid' is not usable")
            self.cache.set(cache_key, pem, timeout=_SHARED_TTL)
        with self._lock:
            self._keys[kid] = key
            self._keys.move_to_end(kid)
            while len(self._keys) > MAX_KIDS:
                self._keys.popitem(last=False)
            self._taken_at = now
        return key

    def _download(self, url: str, kid: str, now: float) -> str:
        try:
            text = self.downloader.get_text(url).document
        except ValueError as exc:  # an answer, but no key
            self._count("keys.fetch.failed")
            if str(exc).startswith("HTTP 4"):  # the server says: no such key
                self._miss(kid, now, f"no key is published for a 'kid' ({exc})")
                raise UnknownKey("no key is published for the token's 'kid'") from None
            self._failed(now, str(exc))
            log.warning("fetching %s failed: %s", url, exc)
            raise self._unavailable(now, "the token's key could not be fetched") from None
        except Exception as exc:  # the network: cannot check, not invalid
            self._count("keys.fetch.failed")
            self._failed(now, str(exc) or type(exc).__name__)
            log.warning("fetching %s failed: %s", url, exc)
            raise self._unavailable(now, "the token's key could not be fetched") from None
        self._count("keys.fetch.ok")
        with self._lock:
            self._last_attempt_at = now
            self._last_error = None
            self._failures = 0
        return str(text)

    def _pinned(self, pem: str, kid: str) -> PinnedKey | None:
        try:
            return pin_pem(pem, self.algorithms, kid)
        except (ConfigError, UnicodeError):
            return None

    def _miss(self, kid: str, now: float, error: str) -> None:
        # The key server answered: it is up, and this kid has no key.
        with self._lock:
            if len(self._misses) >= _MAX_MISSES:
                self._misses.clear()
            self._misses[kid] = now
            self._last_miss = now
            self._last_attempt_at = now
            self._last_error = error
            self._failures = 0

    def _failed(self, now: float, error: str) -> None:
        with self._lock:
            self._last_attempt_at = now
            self._last_error = error
            self._failures += 1
            self._retry_at = now + self.policy.retry_delay(self._failures)

    def _unavailable(self, now: float, message: str) -> KeysUnavailable:
        wait = self._retry_at - now if self._failures else self.policy.retry_min
        return KeysUnavailable(message, retry_after=max(1, math.ceil(wait)))

    # --- reporting -----------------------------------------------------------------

    def status(self) -> KeysStatus:
        """What the keys are like now (no I/O); see the module docs for ``usable``/``fresh``."""
        now = self.clock()
        with self._lock:  # a consistent picture, and no dict changing under iteration
            kids = tuple(sorted(self._keys))
            failures = self._failures
            retry_at = self._retry_at
            taken_at = self._taken_at
            last_attempt_at = self._last_attempt_at
            last_error = self._last_error
            refreshing = any(flight.pid == os.getpid() for flight in self._flights.values())
        return KeysStatus(
            self.url_template,
            usable=bool(kids) or not failures,
            fresh=not failures,
            kids=kids,
            keys=len(kids),
            fetched_at=taken_at,
            age=None if taken_at is None else max(0.0, now - taken_at),
            last_attempt_at=last_attempt_at,
            last_error=last_error,
            failures=failures,
            retry_in=max(0.0, retry_at - now) if failures else None,
            refreshing=refreshing,
        )

    # --- forks ---------------------------------------------------------------------

    def hold_for_fork(self, deadline: float) -> None:
        """Take the lock with no fetch of this process running (waiting until ``deadline``)."""
        while True:
            self._lock.acquire()
            running = [f for f in self._flights.values() if f.pid == os.getpid()]
            remaining = deadline - time.monotonic()
            if not running or remaining <= 0:
                return  # none, or one hung: fork anyway
            self._lock.release()
            running[0].done.wait(remaining)

    def release_after_fork(self) -> None:
        """In the parent: the fork is done (see :mod:`wsgi_jwt_guard.forks`)."""
        self._lock.release()

    def restart_after_fork(self) -> None:
        self._lock = threading.Lock()
        self._flights = {}  # their threads are not in the child
        # The parent's keep-alive connections would be shared with it and its other children.
        self.downloader.after_fork()

    def _count(self, name: str) -> None:
        if self.metrics is not None:
            self.metrics.increment(name)
