"""Opaque access tokens, by asking their issuer: token introspection (RFC 7662).

An opaque token (any token that is not a compact JWS: not three dot-separated
segments) says nothing about itself -- not even who issued it. An issuer
configured with ``introspect`` has the guard POST such tokens to its
introspection endpoint, authenticated as a client of that issuer
(``client_secret_basic``), and trusts the answer::

    [[issuers]]
    issuer = "https://auth.example.com"
    discovery = true                        # introspection_endpoint from discovery
    audience = "https://api.example.com"
    introspect = "opaque"                   # "opaque" | "always"; default "off"
    introspection = { client_id = "orders-api", client_secret = "<32+ characters>" }

The rules:

* **One issuer introspects.** An opaque token names no issuer, so whichever
  issuer is asked learns the token. Only one issuer may set ``introspect``,
  and every opaque token goes to it; with none, an opaque token is refused
  (401) with no network I/O. ``introspect = "always"`` also sends that
  issuer's JWTs (by their unverified ``iss``) to its endpoint instead of
  checking their signature: each one then costs a request, but a revoked JWT
  is refused as soon as the cache allows.
* **Only configured endpoints.** ``introspection.endpoint``, or with
  ``discovery = true`` the document's ``introspection_endpoint`` on the
  issuer's own host (or a ``jwks_allowed_hosts`` one). Never a URL from a
  token; no redirect is followed.
* **The answer is checked like a JWT's claims.** ``active`` must be ``true``
  (else 401); ``iss``, when present, must be the issuer; ``exp`` (when
  present), ``nbf`` and ``iat`` against the clock and ``leeway``; ``aud``
  against the issuer's ``audience`` (required when one is configured);
  ``required_claims`` as for JWTs. ``token_type``, when present, must be
  ``Bearer`` or ``DPoP``; a binding in ``cnf`` (``jkt``, RFC 9449 §6.2, or
  ``x5t#S256``, RFC 8705) is checked on every request as a JWT's is
  (:mod:`wsgi_jwt_guard.binding`): a bound token is never a bearer token.
* **The identity** is a ``user`` identity, like a JWT access token's: its
  subject is ``sub``, or ``client_id`` for a client's own token (client
  credentials: RFC 7662 gives no ``sub``), or ``remote_user_claim``; scopes
  from ``scope`` (and the issuer's ``scope_claims``); ``claims`` is the whole
  answer; ``expires_at`` is ``exp`` (infinite when the answer has none).
* **Cached, bounded.** An answer is kept in the guard's cache -- shared across
  workers and hosts with ``[cache]``, HMAC-authenticated with its ``secrets``
  -- under a SHA-256 of the issuer and token (never the token), until the
  token's ``exp`` or ``max_cache_age`` seconds (default 60), whichever is
  first; ``active: false`` for ``inactive_cache_age`` seconds (default 10).
  A token revoked at the issuer is refused at the latest ``max_cache_age``
  seconds later. ``max_cache_age = 0`` asks on every request. Concurrent
  requests with one token share one request in each process (a page's burst
  of API calls costs the endpoint one request, its failure is each one's 503).
* **Failures are 503.** An endpoint that cannot be reached, times out
  (``timeout``, default 5 s in all), answers other than 200 (5xx, or 401 for
  wrong client credentials), or with anything but a JSON object holding a
  boolean ``active`` (at most 64 KiB): ``503`` with ``Retry-After: 5``, and a
  warning in the log that never holds the token or the secret. For those 5
  seconds the process does not ask again: new tokens get their 503 at once
  (counted in ``introspection.skipped``) instead of each holding a worker for
  the timeout; cached answers keep working.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from cachelib import BaseCache

from . import forks
from .claims import check_audience, check_subject, check_times, granted_scopes
from .clock import Clock, system_clock
from .errors import ConfigError, IntrospectionUnavailable, InvalidToken
from .fetch import Downloader
from .identity import Identity, TokenSource
from .jws import parse_unverified
from .validation import MIN_SECRET_CHARACTERS, Settings, optional_text, seconds, text

if TYPE_CHECKING:
    from .discovery import Discovery
    from .issuers import Issuer
    from .metrics import Metrics

__all__ = [
    "INTROSPECT_MODES",
    "IntrospectionSettings",
    "Introspector",
    "identity_from_answer",
    "is_jws_shaped",
]

log = logging.getLogger("wsgi_jwt_guard")

#: ``introspect`` values: never, tokens that are not JWTs, or the issuer's JWTs too.
INTROSPECT_MODES = ("off", "opaque", "always")
_CACHE_PREFIX = "wsgi_jwt_guard:introspection:"
# An introspection answer is a small JSON object; anything bigger is not one.
_MAX_BYTES = 64 * 1024
# Seconds a client is told to wait after the endpoint failed.
_RETRY_AFTER = 5
_ANSWER_KEYS = re.compile(r"[\x20-\x7e]{1,256}")


def is_jws_shaped(token: str) -> bool:
    """Whether ``token`` has a compact JWS's three dot-separated segments.

    Anything else (no dot, a five-part JWE) is opaque. Counting dots rather
    than checking the alphabet keeps every would-be JWT -- padded, malformed,
    another issuer's -- away from the introspection endpoint.
    """
    return token.count(".") == 2


@dataclass(frozen=True)
class IntrospectionSettings(Settings):
    """Where an issuer's introspection endpoint is and how the guard uses it."""

    #: The client the guard authenticates as (``client_secret_basic``).
    client_id: str = ""
    #: Its secret (32+ characters); never logged, never in ``repr``.
    client_secret: str = field(default="", repr=False)
    #: The endpoint URL; with the issuer's ``discovery = true`` it may be left
    #: out and is read from the discovery document.
    endpoint: str | None = None
    #: The longest an active answer is trusted, in seconds (never past ``exp``);
    #: how late a revocation at the issuer may be noticed. ``0``: no caching.
    max_cache_age: float = 60.0
    #: How long ``active: false`` is remembered, so a refused token repeated
    #: does not reach the endpoint each time.
    inactive_cache_age: float = 10.0
    #: Seconds an introspection request may take in all (connect, answer, body).
    timeout: float = 5.0

    def __post_init__(self) -> None:
        self._settle(
            client_id=text(self.client_id, "client_id", "the guard's client ID at the issuer"),
            client_secret=_secret(self.client_secret),
            endpoint=optional_text(self.endpoint, "endpoint", "the introspection endpoint URL"),
            max_cache_age=seconds(self.max_cache_age, "max_cache_age", maximum=86400),
            inactive_cache_age=seconds(self.inactive_cache_age, "inactive_cache_age", maximum=3600),
            timeout=seconds(self.timeout, "timeout", minimum=0.1, maximum=60),
        )


def _secret(value: object) -> str:
    """The client secret, as long as the guard's other secrets; messages never show it."""
    if not isinstance(value, str) or len(value) < MIN_SECRET_CHARACTERS:
        raise ConfigError(
            "client_secret",
            f"expected the client's secret, at least {MIN_SECRET_CHARACTERS} characters"
            "; from_config also reads WSGI_JWT_GUARD_INTROSPECTION_SECRET",
        )
    return value


@dataclass
class _Flight:
    """One introspection request running; threads with the same token wait for it."""

    done: threading.Event = field(default_factory=threading.Event)
    #: ``(answer, until, arrived)``; ``None`` if the request failed.
    result: tuple[dict[str, Any], float, float] | None = None


def _unavailable() -> IntrospectionUnavailable:
    return IntrospectionUnavailable(
        "the token's issuer could not be asked about it; try again shortly",
        retry_after=_RETRY_AFTER,
    )


class Introspector:
    """Asks one issuer's introspection endpoint about tokens, and caches the answers.

    Built by the :class:`~wsgi_jwt_guard.verification.Verifier` for the one
    issuer whose ``introspect`` is on. ``discovery`` finds the endpoint when
    it is not configured; ``cache`` is the guard's (shared) cache.
    """

    def __init__(
        self,
        issuer: Issuer,
        *,
        cache: BaseCache | None = None,
        discovery: Discovery | None = None,
        ca_bundle: str | None = None,
        remote_user_claim: str = "sub",
        metrics: Metrics | None = None,
        clock: Clock = system_clock,
    ) -> None:
        settings = issuer.introspection
        if settings is None or issuer.introspect == "off":
            raise ConfigError("introspect", "this issuer does not introspect tokens")
        if settings.endpoint is None and discovery is None:
            raise ConfigError("introspection.endpoint", "required unless discovery = true")
        self.issuer = issuer
        self.settings = settings
        self.always = issuer.introspect == "always"
        self.cache = cache
        self.discovery = discovery
        self.remote_user_claim = remote_user_claim
        self.metrics = metrics
        self.clock = clock
        connect = min(2.0, settings.timeout)
        self.downloader = Downloader(
            timeout=(connect, settings.timeout),
            total_timeout=settings.timeout,
            max_bytes=_MAX_BYTES,
            ca_bundle=ca_bundle,
        )
        self._lock = threading.Lock()
        #: The requests running in this process, by cache key.
        self._flights: dict[str, _Flight] = {}
        # After a failure the endpoint is not asked again before this time.
        self._failed_until = -math.inf
        forks.track(self)

    def handles(self, token: str) -> bool:
        """Whether ``token`` goes to this endpoint: opaque, or (``always``) a JWT
        whose unverified ``iss`` is this issuer's. No I/O."""
        if not is_jws_shaped(token):
            return True
        if not self.always:
            return False
        try:
            return parse_unverified(token).claims.get("iss") == self.issuer.issuer
        except InvalidToken:
            return False

    def verify(self, token: str, source: TokenSource, now: float) -> tuple[Identity, float]:
        """The identity ``token`` stands for, and until when that answer may be used.

        Raises :class:`~wsgi_jwt_guard.errors.InvalidToken` (401) for a token the
        issuer does not vouch for, :class:`~wsgi_jwt_guard.errors.IntrospectionUnavailable`
        (503) when it cannot be asked.
        """
        key = self._cache_key(token)
        answer, until = self._cached(key, now)
        if answer is None:
            answer, until, now = self._ask_once(key, token, now)
        if answer.get("active") is not True:
            raise InvalidToken("the token is not active (its issuer's introspection says so)")
        identity = identity_from_answer(
            self.issuer, answer, token, source, now, self.remote_user_claim
        )
        return identity, until

    # -- the cache ---------------------------------------------------------------------

    def _cache_key(self, token: str) -> str:
        digest = hashlib.sha256(f"{self.issuer.issuer}\n{token}".encode("utf-8", "surrogatepass"))
        return _CACHE_PREFIX + digest.hexdigest()

    def _cached(self, key: str, now: float) -> tuple[dict[str, Any] | None, float]:
        """A remembered answer and until when it holds; ``(None, 0)`` if none usable."""
        if self.cache is None:
            return None, 0.0
        try:
            entry = json.loads(self.cache.get(key) or "null")
        except (ValueError, TypeError):
            return None, 0.0
        if not isinstance(entry, dict):
            return None, 0.0
        answer, until, had = entry.get("answer"), entry.get("until"), entry.get("at")
        if not isinstance(answer, dict) or not isinstance(until, (int, float)):
            return None, 0.0
        if not isinstance(had, (int, float)) or not (_is_number(until) and _is_number(had)):
            return None, 0.0
        # A worker configured for longer (or whose clock is ahead) does not stretch ours.
        limit = self.settings.max_cache_age if answer.get("active") is True else None
        until = float(until) if limit is None else min(float(until), float(had) + limit)
        if not had <= now < until:
            return None, 0.0
        if self.metrics is not None:
            self.metrics.increment("introspection.cached")
        return answer, until

    def _keep(self, key: str, answer: dict[str, Any], now: float) -> float:
        """Remember ``answer`` as long as the rules allow; until when (``now``: not kept)."""
        settings = self.settings
        if answer.get("active") is True:
            until = now + settings.max_cache_age
            exp = answer.get("exp")
            if isinstance(exp, (int, float)) and _is_number(exp):
                until = min(until, float(exp))
        else:
            until = now + settings.inactive_cache_age
        if self.cache is not None and until - now >= 1:
            entry = json.dumps({"at": now, "until": until, "answer": answer}, separators=(",", ":"))
            self.cache.set(key, entry, timeout=math.ceil(until - now))
        return until

    # -- the request: one per token at a time in this process ---------------------------

    def _ask_once(self, key: str, token: str, now: float) -> tuple[dict[str, Any], float, float]:
        """The endpoint's answer, until when it holds, and when it arrived.

        Concurrent requests with one token (a page's burst of API calls) share
        one request: the first asks, the rest wait for its answer or its failure.
        """
        with self._lock:
            flight = self._flights.get(key)
            mine = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
        if not mine:
            # The asker's request ends within the timeout, answered or failed.
            if not flight.done.wait(self.settings.timeout + 1) or flight.result is None:
                raise _unavailable()
            return flight.result
        try:
            if now < self._failed_until:
                # Down a moment ago: a request per new token would each hold a
                # worker for the timeout, and could keep a recovering endpoint down.
                if self.metrics is not None:
                    self.metrics.increment("introspection.skipped")
                raise _unavailable()
            answer = self._ask(token, now)
            # Dated by the endpoint as it answered, after ``now`` was read: an
            # 'iat' of the endpoint's "now" is not in the future.
            now = max(now, self.clock())
            flight.result = (answer, self._keep(key, answer, now), now)
            return flight.result
        finally:
            with self._lock:
                self._flights.pop(key, None)
            flight.done.set()

    # -- the request -------------------------------------------------------------------

    def _endpoint(self, now: float) -> str:
        endpoint = self.settings.endpoint
        if endpoint is not None:
            return endpoint
        assert self.discovery is not None
        return self.discovery.introspection_endpoint(now=now)

    def _ask(self, token: str, now: float) -> dict[str, Any]:
        """The endpoint's answer for ``token``, or 503 saying why there is none."""
        settings = self.settings
        try:
            endpoint = self._endpoint(now)
            answer = self.downloader.post_form(
                endpoint,
                {"token": token, "token_type_hint": "access_token"},
                auth=(settings.client_id, settings.client_secret),
            ).document
            if not isinstance(answer, dict) or not isinstance(answer.get("active"), bool):
                raise ValueError("the answer is not a JSON object with a boolean 'active'")
            if not all(isinstance(name, str) and _ANSWER_KEYS.fullmatch(name) for name in answer):
                raise ValueError("the answer has an unusable member name")
        except Exception as exc:  # the network, a bad answer: never the token's fault
            self._failed_until = self.clock() + _RETRY_AFTER  # as clients are told
            if self.metrics is not None:
                self.metrics.increment("introspection.failed")
            # The exception's text names the URL and status, never the form or credentials.
            log.warning("token introspection at %s failed: %s", self.issuer.issuer, _why(exc))
            raise _unavailable() from None
        if self.metrics is not None:
            self.metrics.increment("introspection.ok")
        return answer

    # -- forks: requests are made on request threads only; the child needs its own pool --

    def hold_for_fork(self, deadline: float) -> None:
        """Nothing to wait for: no background fetch."""

    def release_after_fork(self) -> None:
        """Nothing held."""

    def restart_after_fork(self) -> None:
        """In the child: connections of its own; the parent's requests are not its own."""
        self.downloader.after_fork()
        self._lock = threading.Lock()
        self._flights = {}


def identity_from_answer(
    issuer: Issuer,
    answer: Mapping[str, Any],
    token: str,
    source: TokenSource,
    now: float,
    remote_user_claim: str = "sub",
) -> Identity:
    """The identity an active introspection ``answer`` vouches for, checked as a
    JWT's claims are for ``issuer``; :class:`~wsgi_jwt_guard.errors.InvalidToken`
    saying why not."""
    iss = answer.get("iss", issuer.issuer)
    if iss != issuer.issuer:
        raise InvalidToken("the introspection answer names another issuer")
    token_type = answer.get("token_type", "Bearer")
    if not isinstance(token_type, str) or token_type.lower() not in ("bearer", "dpop"):
        raise InvalidToken("the token is neither a bearer nor a DPoP token (its 'token_type')")
    cnf = answer.get("cnf")
    if token_type.lower() == "dpop" and not (isinstance(cnf, Mapping) and cnf.get("jkt")):
        raise InvalidToken("the token is a DPoP token bound to no key ('cnf.jkt')")
    # A 'cnf' binding is checked by the binding step on every request, as a JWT's is.
    if "exp" in answer:
        exp = check_times(answer, now=now, leeway=issuer.leeway)
    else:  # RFC 7662 makes it optional: nbf and iat still count
        check_times({**answer, "exp": now + 1}, now=now, leeway=issuer.leeway)
        exp = math.inf
    if issuer.audience:
        check_audience(answer, issuer.audience)
    issuer.check_required_claims(answer)
    if remote_user_claim != "sub":
        subject = check_subject(answer, remote_user_claim)
    elif "sub" in answer:
        subject = check_subject(answer, "sub")
    else:  # a client's own token (client credentials): the client is the subject
        subject = check_subject(answer, "client_id")
    return Identity(
        subject,
        MappingProxyType(dict(answer)),
        issuer.issuer,
        "user",
        source,
        exp,
        token,
        granted_scopes(answer, issuer.scope_paths),
    )


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _why(exc: BaseException) -> str:
    """A short reason for the log: the exception's kind and first line, at most 200 characters."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__
