"""An issuer's keys, fetched from its JWKS URL and kept fresh.

:class:`JWKSClient` holds an issuer's :class:`~wsgi_jwt_guard.keys.KeySet` in
process and answers :meth:`JWKSClient.find` from it with one comparison and one
dictionary lookup. What it takes to keep that set right is split by job:

* :mod:`wsgi_jwt_guard.fetch` downloads (timeouts, a deadline, a size cap,
  same-origin redirects, TLS);
* :mod:`wsgi_jwt_guard.discovery` finds the JWKS URL by OIDC discovery;
* :mod:`wsgi_jwt_guard.refresh` says when to fetch again (TTL, refresh ahead,
  cooldown, staleness, retries): a :class:`~wsgi_jwt_guard.refresh.RefreshPolicy`;
* :mod:`wsgi_jwt_guard.fleet` makes workers sharing a cache fetch once between them;
* :mod:`wsgi_jwt_guard.fetched` is what a fetch gives, and its shared-cache entry.

What this module adds is the order of things, so that no valid token is
refused while keys rotate, the cache server restarts or the issuer is down:

* **Keys warm before they are needed.** Past ``refresh_ahead`` of the TTL a
  request starts a refresh in the background and carries on; with
  ``prefetch`` a background thread fetches at start and keeps the keys fresh.
* **A miss waits for the answer.** A token whose ``kid`` is not held waits
  (at most ``wait``) for a fetch: the one already running in this process, a
  peer's (through the shared cache), or a new one. A copy in the shared cache
  settles the question only if it holds that ``kid``; otherwise the worker
  fetches. A refetch that comes back without its ``kid`` starts the
  ``cooldown``, fleet-wide: until it ends, unknown kids are refused with no
  fetch, so random kids cost one fetch per cooldown.
* **Honest failures.** A failed fetch never evicts good keys (stale-if-error,
  its own or another worker's copy, up to ``max_stale``), never leaves a claim
  behind, and is retried after ``retry_min`` seconds, doubling up to
  ``retry_max``. A token whose ``kid`` is unknown while the keys cannot be
  refreshed gets :class:`~wsgi_jwt_guard.errors.KeysUnavailable` (503 with
  ``Retry-After``) -- "cannot check", not "invalid".

Fetched documents are stored as JSON text in the shared ``cachelib`` cache
(:class:`~wsgi_jwt_guard.caches.SharedCache`) and validated again when read,
like a fresh download. :meth:`JWKSClient.status` reports what a health check
needs (see :mod:`wsgi_jwt_guard.health`).
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cachelib import BaseCache

from . import forks
from .caches import SharedCache
from .clock import Clock, system_clock
from .discovery import Discovery
from .errors import ConfigError, KeysUnavailable, UnknownKey
from .fetch import Downloader
from .fetched import NEVER, FetchedKeys, holds, read_entry
from .fleet import Answered, Busy, FetchClaim
from .keys import KeySet, PinnedKey
from .refresh import RefreshPolicy

if TYPE_CHECKING:
    from .metrics import Metrics

__all__ = ["JWKSClient", "KeysStatus"]

log = logging.getLogger("wsgi_jwt_guard")

# Hosts' clocks differ: a document another host fetched may look this far
# ahead of ours and still be adopted.
_CLOCK_SKEW = 60.0
# An unknown kid looks in the shared cache at most this often (seconds), so a
# flood of random kids costs a cache read per second, not one per request.
_PEEK_INTERVAL = 1.0
# The background thread looks at the clock at least this often (seconds).
_LONGEST_SLEEP = 30.0


@dataclass
class _Flight:
    """One refresh running in this process; other threads wait for it."""

    started_at: float
    #: The ``(kid, alg)`` of the token with an unknown kid that started it;
    #: ``None`` for a refresh (TTL, cold start, prefetch).
    question: tuple[str | None, str] | None
    pid: int = field(default_factory=os.getpid)
    done: threading.Event = field(default_factory=threading.Event)
    #: fetched | adopted | cooldown | failed | busy
    outcome: str = "running"


@dataclass(frozen=True)
class KeysStatus:
    """What an issuer's key source can do right now, for health checks and logs."""

    #: The JWKS URL (``discovery:<issuer>`` before discovery), or ``static``.
    source: str
    #: Whether a token signed by a held key can be verified now (stale-if-error counts).
    usable: bool
    #: Whether the keys are within their TTL.
    fresh: bool
    #: The ``kid`` values held (a kid-less key is not listed).
    kids: tuple[str, ...] = ()
    #: How many keys are held.
    keys: int = 0
    #: When the held keys were fetched (epoch seconds), and how old they are.
    fetched_at: float | None = None
    age: float | None = None
    #: The TTL of the held keys, and the seconds until it runs out (negative: stale).
    ttl: float | None = None
    expires_in: float | None = None
    #: The last fetch this process tried: when, and its error (``None``: it worked).
    last_attempt_at: float | None = None
    last_error: str | None = None
    #: Failed fetches in a row, and seconds until the next may be tried.
    failures: int = 0
    retry_in: float | None = None
    #: A refresh is running now.
    refreshing: bool = False


class JWKSClient:
    """The keys published at ``uri`` (or found by ``discovery``), kept fresh safely.

    :param uri: the JWKS URL; ``None`` with ``discovery``.
    :param discovery: finds the JWKS URL by OIDC discovery instead.
    :param algorithms: the algorithms the issuer may use; each key is pinned to one.
    :param cache: the cache shared with other workers (default: this process only).
    :param policy: TTL, refresh ahead, cooldown, staleness, retries, waiting, prefetch.
    :param downloader: downloads documents (timeouts, size cap, TLS, redirects).
    :param clock: the time (epoch seconds); tests replace it.
    :param metrics: counts ``keys.fetch.ok`` / ``keys.fetch.failed``.
    """

    def __init__(
        self,
        uri: str | None = None,
        *,
        algorithms: Collection[str],
        discovery: Discovery | None = None,
        cache: BaseCache | None = None,
        policy: RefreshPolicy | None = None,
        downloader: Downloader | None = None,
        clock: Clock = system_clock,
        metrics: Metrics | None = None,
    ) -> None:
        if (uri is None) == (discovery is None):
            raise ConfigError("jwks_uri", "give exactly one of uri and discovery")
        self.uri = uri
        self.discovery = discovery
        self.algorithms = frozenset(algorithms)
        self.cache = cache if isinstance(cache, SharedCache) else SharedCache(cache)
        self.policy = policy if policy is not None else RefreshPolicy()
        if downloader is None:
            downloader = discovery.downloader if discovery is not None else Downloader()
        self.downloader = downloader
        self.clock = clock
        self.metrics = metrics
        #: The JWKS URL, or ``discovery:<issuer>``.
        self.source = f"discovery:{discovery.issuer}" if discovery is not None else str(uri)
        #: Where the JSON document is stored in the shared cache.
        self.cache_key = "wsgi_jwt_guard:jwks:" + hashlib.sha256(self.source.encode()).hexdigest()
        # A claim outlives a killed holder by at most the longest fetch (discovery too).
        self._claim = FetchClaim(
            self.cache, self.cache_key + ":fetch", hold=2 * self.downloader.longest, clock=clock
        )
        self._lock = threading.Lock()
        self._held: FetchedKeys | None = None
        self._flight: _Flight | None = None
        self._kid_missed_at = NEVER  # the last refetch that did not find its kid
        self._failures = 0
        self._failed_at = NEVER
        self._retry_at = NEVER
        self._last_attempt_at: float | None = None
        self._last_error: str | None = None
        self._peeked_at = NEVER
        # The last entry read and what it parsed to, as one tuple: threads share it.
        self._shared_memo: tuple[str, FetchedKeys | None] = ("", None)
        self._background: threading.Thread | None = None
        self._stopping = threading.Event()
        forks.track(self)
        if self.policy.prefetch:
            self.start()

    # --- the request path -------------------------------------------------------

    def find(self, kid: str | None, algorithm: str) -> PinnedKey:
        """The key for a token's ``kid`` and ``alg``.

        Raises :class:`~wsgi_jwt_guard.errors.UnknownKey` (401) when the issuer
        does not publish that ``kid``, and
        :class:`~wsgi_jwt_guard.errors.KeysUnavailable` (503) when it cannot
        be told: no usable keys, or an unknown ``kid`` while keys cannot be refreshed.
        """
        now = self.clock()
        held = self._held
        keys = self._keys_at(now, held) if held is None or now >= held.quiet_until else held.keys
        try:
            return keys.find(kid, algorithm)
        except UnknownKey:
            return self._find_unknown(kid, algorithm, now)

    def _keys_at(self, now: float, held: FetchedKeys | None) -> KeySet:
        """The keys to use at ``now``, refreshing ahead (no wait) or when due (waiting)."""
        if held is not None and now < held.expires_at and now <= held.stale_at:
            self._kick(now)
            return held.keys
        self._refresh_and_wait(self.policy.wait)
        held = self._held
        now = self.clock()
        if held is None or now > held.stale_at:
            raise self._unavailable(now, "the issuer's signing keys are unavailable")
        return held.keys  # fresh, or stale-if-error

    def _find_unknown(self, kid: str | None, algorithm: str, asked: float) -> PinnedKey:
        """Wait for a fetch that can tell whether the issuer publishes ``kid``."""
        deadline = time.monotonic() + self.policy.wait
        while True:
            key = self._lookup(kid, algorithm)
            if key is not None:
                return key
            now = self.clock()
            if self._peek(now):
                key = self._lookup(kid, algorithm)
                if key is not None:
                    return key
            flight = self._current_flight()
            mine = False
            if flight is None:
                if self._failures and now < self._retry_at:
                    raise self._unknown_while_failing(now)
                if self._failures == 0 and now - self._kid_missed_at < self.policy.cooldown:
                    raise UnknownKey("no key of the issuer matches the token's 'kid'")
                flight, mine = self._start((kid, algorithm))
            if mine:
                self._fly(flight)
            else:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not flight.done.wait(remaining):
                    raise self._unavailable(now, "the issuer's keys are being fetched; try again")
            key = self._lookup(kid, algorithm)
            if key is not None:
                return key
            if flight.outcome in ("failed", "busy"):
                raise self._unknown_while_failing(self.clock())
            if mine or flight.question is not None or flight.started_at >= asked:
                raise UnknownKey("no key of the issuer matches the token's 'kid'")
            # A refresh that started before this token was seen: ask again.

    def _lookup(self, kid: str | None, algorithm: str) -> PinnedKey | None:
        held = self._held
        if held is None:
            return None
        try:
            return held.keys.find(kid, algorithm)
        except UnknownKey:
            return None

    def _unknown_while_failing(self, now: float) -> KeysUnavailable:
        return self._unavailable(
            now, "the token's key is not known and the issuer's keys cannot be refreshed now"
        )

    def _unavailable(self, now: float, message: str) -> KeysUnavailable:
        wait = self._retry_at - now if self._failures else self.policy.retry_min
        return KeysUnavailable(message, retry_after=max(1, math.ceil(wait)))

    # --- refreshing -------------------------------------------------------------------

    def refresh(self, *, timeout: float | None = None) -> bool:
        """Bring the keys up to date unless they are fresh; whether usable keys are held.

        Joins a refresh already running, or starts one (unless the last fetch
        failed less than the retry delay ago), and waits up to ``timeout``
        seconds (default: the policy's ``wait``); ``0`` starts it in the
        background and returns at once. A worker may warm up before serving::

            if not client.refresh(timeout=10):
                log.warning("no keys yet for %s", client.source)
        """
        held = self._held
        now = self.clock()
        if held is None or now >= held.refresh_at or self._current_flight() is not None:
            if timeout == 0:
                self._kick(now)
            else:
                self._refresh_and_wait(self.policy.wait if timeout is None else timeout)
        held = self._held
        return held is not None and self.clock() <= held.stale_at

    def _refresh_and_wait(self, timeout: float) -> None:
        flight = self._current_flight()
        if flight is None:
            if self._failures and self.clock() < self._retry_at:
                return
            flight, mine = self._start(None)
            if mine:
                self._fly(flight)
                return
        flight.done.wait(timeout)

    def _kick(self, now: float) -> None:
        """Start a refresh in the background, unless one runs or the last failed just now."""
        if self._flight is not None or (self._failures and now < self._retry_at):
            return
        flight, mine = self._start(None)
        if mine:
            threading.Thread(
                target=self._fly, args=(flight,), name="wsgi_jwt_guard JWKS refresh", daemon=True
            ).start()

    def _current_flight(self) -> _Flight | None:
        flight = self._flight
        if flight is not None and flight.pid != os.getpid():
            return None  # started before a fork: nobody here will finish it
        return flight

    def _start(self, question: tuple[str | None, str] | None) -> tuple[_Flight, bool]:
        """The refresh running in this process, and whether the caller must run it."""
        with self._lock:
            flight = self._current_flight()
            if flight is not None:
                return flight, False
            flight = self._flight = _Flight(self.clock(), question)
            return flight, True

    def _fly(self, flight: _Flight) -> None:
        try:
            flight.outcome = self._refresh_once(flight)
        except Exception as exc:  # a bug must not leave waiters hanging
            log.exception("JWKS %s: refresh failed unexpectedly", self.source)
            self._failed(flight.started_at, exc)
            flight.outcome = "failed"
        finally:
            with self._lock:
                if self._flight is flight:
                    self._flight = None
            flight.done.set()

    def _refresh_once(self, flight: _Flight) -> str:
        """Adopt a peer's copy that answers the flight's question, or fetch (once per fleet)."""
        now = flight.started_at
        shared = self._read_shared(now)
        if shared is not None:
            self._adopt(shared)
            if self._answers(shared, flight, now):
                return "adopted"
            if (
                flight.question is not None
                and self._failures == 0
                and now - shared.kid_missed_at < self.policy.cooldown
            ):
                # A peer refetched for an unknown kid moments ago: its answer stands.
                with self._lock:
                    self._kid_missed_at = max(self._kid_missed_at, shared.kid_missed_at)
                return "cooldown"

        def answered() -> FetchedKeys | None:
            at = self.clock()
            entry = self._read_shared(at)
            return entry if entry is not None and self._answers(entry, flight, at) else None

        claim = self._claim.acquire(answered, wait=self.policy.wait)
        if isinstance(claim, Answered):
            self._adopt(claim.answer)
            return "adopted"
        if isinstance(claim, Busy):
            return "busy"
        try:
            # A peer may have stored its result between our look and our claim.
            entry = answered()
            if entry is not None:
                self._adopt(entry)
                return "adopted"
            return self._fetch(flight)
        finally:
            self._claim.release(claim)

    def _answers(self, entry: FetchedKeys, flight: _Flight, now: float) -> bool:
        """Whether a shared copy settles what the flight was started for."""
        held = self._held
        if held is not None and entry.fetched_at < held.fetched_at:
            return False
        if flight.question is not None:
            return holds(entry.keys, flight.question)
        return now < entry.refresh_at

    def _fetch(self, flight: _Flight) -> str:
        start = self.clock()
        self._last_attempt_at = start
        try:
            if self.discovery is not None:
                uri = self.discovery.jwks_uri(now=start)
            else:
                assert self.uri is not None
                uri = self.uri
            downloaded = self.downloader.get_json(uri)
            keys = KeySet.from_jwks(downloaded.document, self.algorithms, strict=False)
            if not keys:
                raise ValueError("the document holds no usable keys")
        except Exception as exc:
            self._failed(start, exc)
            # Stale-if-error: a copy another worker stored beats having none
            # (a worker restarted during an issuer outage).
            shared = self._read_shared(self.clock())
            if shared is not None:
                self._adopt(shared)
            return "failed"
        # The cooldown counts refetches that came back without their kid (junk
        # kids, dropped keys); one that found it was a rotation, and the next
        # rotation may refetch at once.
        missed = flight.question is not None and not holds(keys, flight.question)
        kid_missed_at = start if missed else self._kid_missed_at
        held = FetchedKeys.of(
            keys,
            fetched_at=start,
            ttl=self.policy.ttl_for(downloaded.max_age),
            uri=uri,
            kid_missed_at=kid_missed_at,
            policy=self.policy,
        )
        with self._lock:
            if self._failures:
                log.info("JWKS %s: fetched again after %d failures", uri, self._failures)
            self._failures, self._last_error = 0, None
            self._kid_missed_at = max(self._kid_missed_at, kid_missed_at)
            self._install(held)
        self._count("keys.fetch.ok")
        log.debug("JWKS %s: fetched %d keys, TTL %ss", uri, len(keys), held.ttl)
        entry = held.entry(downloaded.document)
        if not self.cache.set(self.cache_key, entry, timeout=_timeout(self.policy.max_stale)):
            log.debug("JWKS %s: kept in process memory only", uri)
        return "fetched"

    def _failed(self, at: float, exc: BaseException) -> None:
        if self.discovery is not None:
            self.discovery.forget()  # the URL may have moved: discover again
        with self._lock:
            self._failures += 1
            self._failed_at = at
            self._retry_at = at + self.policy.retry_delay(self._failures)
            self._last_error = f"{type(exc).__name__}: {exc}"[:300]
            failures, retry_at = self._failures, self._retry_at
        self._count("keys.fetch.failed")
        log.warning(
            "JWKS %s: fetch failed (%s); keeping the last good keys, next try in %.0fs",
            self.source,
            exc,
            max(0.0, retry_at - at),
        )
        log.debug("JWKS %s: %d failures in a row", self.source, failures)

    # --- the shared cache ----------------------------------------------------------

    def _peek(self, now: float) -> bool:
        """Adopt a newer shared copy, looking at most once per second; whether one was."""
        if not self.cache.is_shared or now - self._peeked_at < _PEEK_INTERVAL:
            return False
        self._peeked_at = now
        shared = self._read_shared(now)
        return shared is not None and self._adopt(shared)

    def _read_shared(self, now: float) -> FetchedKeys | None:
        """The copy in the shared cache, validated like a download; ``None`` if none is usable."""
        text = self.cache.get(self.cache_key)
        if text is None:
            return None
        memo_text, entry = self._shared_memo
        if text != memo_text:
            entry = self._parse(text)
            self._shared_memo = (text, entry)
        if entry is None or entry.fetched_at > now + _CLOCK_SKEW or now > entry.stale_at:
            return None
        return entry

    def _parse(self, text: str) -> FetchedKeys | None:
        return read_entry(
            text, algorithms=self.algorithms, policy=self.policy, check_uri=self._check_uri
        )

    def _check_uri(self, uri: object) -> str:
        """``uri`` if a shared entry may say keys came from there."""
        if self.discovery is not None:
            return self.discovery.check(uri)
        if self.uri is None or uri != self.uri:
            raise ValueError("the entry is for another JWKS URL")
        return self.uri

    def _adopt(self, entry: FetchedKeys) -> bool:
        """Use a copy another worker fetched, if it is newer than the keys in hand."""
        with self._lock:
            held = self._held
            if held is not None and entry.fetched_at <= held.fetched_at:
                return False
            self._kid_missed_at = max(self._kid_missed_at, entry.kid_missed_at)
            if self._failures and entry.fetched_at > self._failed_at:
                self._failures = 0  # a peer reached the issuer after our failure
                self._last_error = None
            self._install(entry)
        if self.discovery is not None:
            self.discovery.remember(entry.uri, now=entry.fetched_at)
        return True

    def _install(self, held: FetchedKeys) -> None:
        current = self._held
        if current is None or held.fetched_at >= current.fetched_at:
            self._held = held

    # --- keeping warm in the background ----------------------------------------------

    def start(self) -> None:
        """Fetch now and keep the keys fresh from a daemon thread (``prefetch``).

        Idempotent; after a fork (gunicorn ``--preload``) the child starts its own.
        """
        with self._lock:
            thread = self._background
            if thread is not None and thread.is_alive():
                return
            self._stopping = threading.Event()
            thread = self._background = threading.Thread(
                target=self._keep_fresh,
                args=(weakref.ref(self), self._stopping),
                name=f"wsgi_jwt_guard JWKS {self.source}",
                daemon=True,
            )
        thread.start()

    def close(self) -> None:
        """Stop the background thread, if any."""
        self._stopping.set()

    @staticmethod
    def _keep_fresh(ref: weakref.ref[JWKSClient], stopping: threading.Event) -> None:
        # A weak reference, so that a client nobody uses any more can be collected.
        while not stopping.is_set():
            client = ref()
            if client is None:
                return
            delay = client._background_step()
            del client
            stopping.wait(delay)

    def _background_step(self) -> float:
        """Refresh if due; the seconds to sleep before looking again."""
        now = self.clock()
        held = self._held
        if self._failures:
            due = self._retry_at
        elif held is None:
            due = now
        else:
            due = held.refresh_at
        if now < due:
            return min(due - now, _LONGEST_SLEEP)
        flight, mine = self._start(None)
        if mine:
            self._fly(flight)
        else:
            flight.done.wait(self.policy.wait)
        # Never more often than once a second (a TTL of 0), nor in a tight
        # loop while a peer is busy fetching.
        return max(0.05, min(1.0, self.policy.retry_min))

    def hold_for_fork(self, deadline: float) -> None:
        """Take the lock with no refresh running (waiting until ``deadline`` for one to end)."""
        while True:
            self._lock.acquire()
            flight = self._flight
            if flight is None or flight.pid != os.getpid():
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return  # a fetch hung: fork anyway, as before
            self._lock.release()
            flight.done.wait(remaining)

    def release_after_fork(self) -> None:
        """In the parent: the fork is done (see :mod:`wsgi_jwt_guard.forks`)."""
        self._lock.release()

    def restart_after_fork(self) -> None:
        self._lock = threading.Lock()
        self._flight = None
        # A keep-alive connection opened before the fork (a prefetch in
        # gunicorn's master) would be shared with the parent and the siblings.
        self.downloader.after_fork()
        if self.policy.prefetch and not self._stopping.is_set():
            self._background = None
            self.start()

    # --- reporting -----------------------------------------------------------------

    def status(self) -> KeysStatus:
        """What the keys are like now (no I/O)."""
        now = self.clock()
        held = self._held
        source = self.source
        if self.discovery is not None and self.discovery.known_uri is not None:
            source = self.discovery.known_uri
        retry_in = max(0.0, self._retry_at - now) if self._failures else None
        common: dict[str, Any] = {
            "last_attempt_at": self._last_attempt_at,
            "last_error": self._last_error,
            "failures": self._failures,
            "retry_in": retry_in,
            "refreshing": self._current_flight() is not None,
        }
        if held is None:
            return KeysStatus(source, usable=False, fresh=False, **common)
        return KeysStatus(
            source,
            usable=now <= held.stale_at,
            fresh=now < held.expires_at,
            kids=tuple(sorted(held.kids)),
            keys=len(held.keys),
            fetched_at=held.fetched_at,
            age=max(0.0, now - held.fetched_at),
            ttl=held.ttl,
            expires_in=held.expires_at - now,
            **common,
        )

    def _count(self, name: str) -> None:
        if self.metrics is not None:
            self.metrics.increment(name)


def _timeout(seconds: float) -> int:
    return max(1, math.ceil(seconds))
