"""Can this worker verify tokens? A health view for readiness probes.

A worker whose issuers' keys are not loaded answers protected requests with
503 until they are. A load balancer or Kubernetes should not send it traffic
before then, nor after it has lost them. :class:`KeysHealth` is a small WSGI
application that says so, per issuer::

    from werkzeug.middleware.dispatcher import DispatcherMiddleware
    from wsgi_jwt_guard import from_config
    from wsgi_jwt_guard.health import KeysHealth

    guard = from_config(app, "guard.toml")
    application = DispatcherMiddleware(guard, {"/healthz/keys": KeysHealth(guard)})

``GET /healthz/keys`` answers ``200`` when every issuer's keys are usable and
``503`` with ``Retry-After`` when one issuer's are not, with a JSON body::

    {"status": "ok",
     "issuers": {"https://auth.example.com": {
         "source": "https://auth.example.com/.well-known/jwks.json",
         "usable": true, "fresh": true, "keys": 2, "kids": ["k1", "k2"],
         "fetched_at": "2024-05-01T10:00:00Z", "age": 12.5, "ttl": 600,
         "expires_in": 587.5,
         "last_fetch": {"at": "2024-05-01T10:00:00Z", "error": null},
         "failures": 0, "retry_in": null, "refreshing": false}}}

Keys served stale while the issuer is down (stale-if-error) count as usable:
tokens still verify. ``require_fresh=True`` makes the view stricter. An AWS
ALB issuer's keys (one PEM per ``kid``, :mod:`wsgi_jwt_guard.pemkeys`) report
``source`` with ``{kid}`` in it, the kids held and the last download; there
is no key list to fetch ahead, so they are usable until a download fails
while no key is held, and fresh while no download is failing. A probe
that finds an issuer's keys missing starts a fetch in the background (it never
waits for one), so a readiness-gated worker without ``prefetch`` still warms
up; with ``jwks_refresh = { prefetch = true }`` it is warm before the first probe.

.. warning::
    Use it for readiness, never for liveness: an issuer outage would then
    restart every worker, and the new ones would have no keys at all. Mount it
    outside the guard (as above) or on a ``public`` route, on a path only your
    infrastructure reaches: it names the issuers and their fetch errors.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .jwks import JWKSClient, KeysStatus
from .keys import KeySet
from .pemkeys import PEMKeysByKid
from .verification import Verifier

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from .middleware import JWTGuard

__all__ = ["KeysHealth", "keys_status"]


def keys_status(guard: JWTGuard | Verifier) -> dict[str, KeysStatus]:
    """Each issuer's :class:`~wsgi_jwt_guard.jwks.KeysStatus`, by issuer URL (no I/O)."""
    statuses: dict[str, KeysStatus] = {}
    for issuer, source in _verifier(guard).key_sources.items():
        if isinstance(source, (JWKSClient, PEMKeysByKid)):
            statuses[issuer] = source.status()
        elif isinstance(source, KeySet):
            kids = tuple(sorted(key.kid for key in source if key.kid is not None))
            statuses[issuer] = KeysStatus(
                "static", usable=True, fresh=True, kids=kids, keys=len(source)
            )
        else:  # a key source of the application's own: nothing to report
            statuses[issuer] = KeysStatus(type(source).__name__, usable=True, fresh=True)
    return statuses


class KeysHealth:
    """WSGI app: 200 when every issuer's keys are usable, else 503 (see the module docs).

    :param guard: the guard (or its :class:`~wsgi_jwt_guard.verification.Verifier`).
    :param require_fresh: also 503 when keys are only served stale-if-error.
    """

    def __init__(self, guard: JWTGuard | Verifier, *, require_fresh: bool = False) -> None:
        self.guard = guard
        self.require_fresh = require_fresh

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
            body = b'{"error": "method not allowed"}'
            start_response(
                "405 Method Not Allowed",
                [("Allow", "GET, HEAD"), *_headers(body)],
            )
            return [body]
        statuses = keys_status(self.guard)
        ready = all(
            status.fresh if self.require_fresh else status.usable for status in statuses.values()
        )
        if not ready:
            self._warm_up()
        document = {
            "status": "ok" if ready else "unavailable",
            "issuers": {issuer: _describe(status) for issuer, status in statuses.items()},
        }
        body = json.dumps(document, indent=1).encode()
        headers = _headers(body)
        if ready:
            start_response("200 OK", headers)
        else:
            waits = [s.retry_in for s in statuses.values() if s.retry_in is not None]
            retry_after = max(1, math.ceil(min(waits))) if waits else 1
            start_response("503 Service Unavailable", [("Retry-After", str(retry_after)), *headers])
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [body]

    def _warm_up(self) -> None:
        for source in _verifier(self.guard).key_sources.values():
            if isinstance(source, JWKSClient) and not source.status().fresh:
                source.refresh(timeout=0)  # in the background: a probe never waits


def _verifier(guard: JWTGuard | Verifier) -> Verifier:
    return guard if isinstance(guard, Verifier) else guard.verifier


def _headers(body: bytes) -> list[tuple[str, str]]:
    return [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
    ]


def _describe(status: KeysStatus) -> dict[str, Any]:
    return {
        "source": status.source,
        "usable": status.usable,
        "fresh": status.fresh,
        "keys": status.keys,
        "kids": list(status.kids),
        "fetched_at": _iso(status.fetched_at),
        "age": _rounded(status.age),
        "ttl": _rounded(status.ttl),
        "expires_in": _rounded(status.expires_in),
        "last_fetch": {"at": _iso(status.last_attempt_at), "error": status.last_error},
        "failures": status.failures,
        "retry_in": _rounded(status.retry_in),
        "refreshing": status.refreshing,
    }


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    moment = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 3)
