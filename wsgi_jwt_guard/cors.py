"""CORS, answered by the guard: preflights never reach the app anonymously.

A browser asks before a cross-origin request that is not "simple" (one with
``Authorization``, a JSON body, a ``PUT``...): it sends an ``OPTIONS``
preflight with ``Origin`` and ``Access-Control-Request-Method``, and no
credentials. Letting that preflight through to the app anonymously is not
safe: Django function views and Pyramid views without a method predicate run
their normal body for ``OPTIONS``, so an anonymous "preflight" would get the
protected page. With ``cors`` configured, the guard answers every preflight
itself, on every route, and the app never sees one::

    JWTGuard(app, ..., cors=CORSSettings(allowed_origins=["https://app.example.com"]))

    [cors]
    allowed_origins = ["https://app.example.com"]
    allowed_headers = ["Authorization", "Content-Type"]

A preflight from an allowed origin, for an allowed method and headers, gets
``204`` with the ``Access-Control-Allow-*`` headers; any other gets ``403``
with the reason. To the answers of actual requests from an allowed origin the
guard adds ``Access-Control-Allow-Origin`` (and ``-Credentials``,
``-Expose-Headers``) unless the app set its own -- including to its own
401/403, so the page's script can read why it was refused and sign in again.

Without ``cors`` an ``OPTIONS`` request is routed like any other: on a
protected route it needs a token. ``unless_methods = ["OPTIONS"]`` on a route
needs ``cors`` (the guard refuses to start without it): a preflight is
answered by the guard, never passed to the app.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from werkzeug.http import parse_list_header

from .errors import ConfigError, PreflightRefused
from .request import normalize_origin
from .validation import Settings, flag, origins, strings, whole

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse

    from .metrics import Metrics
    from .request import RequestView

__all__ = ["CORSSettings", "Preflights", "is_preflight"]

_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _tokens(value: object, key: str) -> tuple[str, ...]:
    """A list of method or header names (RFC 9110 tokens)."""
    items = strings(value, key)
    for item in items:
        if not set(item) <= _TOKEN:
            raise ConfigError(key, f"{item!r} is not a method or header name")
    return items


@dataclass(frozen=True)
class CORSSettings(Settings):
    """Which cross-origin callers may use the service from a browser."""

    #: Origins allowed to call (``https://app.example.com``), or ``["*"]`` for
    #: any origin (then without credentials).
    allowed_origins: Sequence[str] = ()
    #: Methods a preflight may ask for.
    allowed_methods: Sequence[str] = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
    #: Request headers a preflight may ask for (compared case-insensitively).
    allowed_headers: Sequence[str] = ("Authorization", "Content-Type")
    #: Response headers the page's script may read, beyond the CORS-safelisted ones.
    expose_headers: Sequence[str] = ()
    #: Whether the browser may send cookies (the token cookie) cross-origin.
    allow_credentials: bool = False
    #: Seconds a browser may reuse a preflight's answer.
    max_age: int = 600
    _origins: frozenset[str] = field(init=False, repr=False, compare=False)
    _headers: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        allowed = origins(self.allowed_origins, "allowed_origins", wildcard=True)
        credentials = flag(self.allow_credentials, "allow_credentials")
        if "*" in allowed and credentials:
            raise ConfigError(
                "allow_credentials", "browsers refuse credentials with allowed_origins = ['*']"
            )
        headers = _tokens(self.allowed_headers, "allowed_headers")
        self._settle(
            _origins=allowed,
            allowed_origins=tuple(self.allowed_origins),
            allowed_methods=_tokens(self.allowed_methods, "allowed_methods"),
            allowed_headers=headers,
            _headers=frozenset(h.lower() for h in headers),
            expose_headers=_tokens(self.expose_headers, "expose_headers"),
            max_age=whole(self.max_age, "max_age", maximum=86400),
        )

    def origin_allowed(self, origin: str) -> bool:
        """Whether ``origin`` (an ``Origin`` header value) may call."""
        if "*" in self._origins:
            return True
        normalized = normalize_origin(origin)
        return normalized is not None and normalized in self._origins

    def preflight(self, request: RequestView) -> list[tuple[str, str]]:
        """The headers of the ``204`` answer to a preflight.

        Raises :class:`~wsgi_jwt_guard.errors.PreflightRefused` if it is not allowed.
        """
        environ = request.environ
        origin = str(request.origin or "")
        if not self.origin_allowed(origin):
            raise PreflightRefused("CORS: this origin may not call this service")
        method = str(environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD", "")).strip()
        if method not in self.allowed_methods:
            raise PreflightRefused("CORS: this method is not allowed")
        asked = str(environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", ""))
        names = {name.lower() for name in parse_list_header(asked)}
        if not names <= self._headers:
            raise PreflightRefused("CORS: a requested header is not allowed")
        headers = [
            *self.response_headers(origin),
            ("Access-Control-Allow-Methods", ", ".join(self.allowed_methods)),
            ("Access-Control-Allow-Headers", ", ".join(self.allowed_headers)),
            ("Access-Control-Max-Age", str(self.max_age)),
            ("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"),
            ("Content-Length", "0"),
        ]
        return headers

    def answer_headers(self, origin: str | None) -> list[tuple[str, str]] | None:
        """The CORS headers for the answer to a request from ``origin`` (its ``Origin``
        header), ``None`` for a same-origin request (no ``Origin`` at all)."""
        if origin is None:
            return None
        if not self.origin_allowed(origin):
            return [("Vary", "Origin")]
        return [*self.response_headers(origin), ("Vary", "Origin")]

    def response_headers(self, origin: str) -> list[tuple[str, str]]:
        """The ``Access-Control-*`` headers of an answer to an allowed ``origin``."""
        wildcard = "*" in self._origins
        headers = [("Access-Control-Allow-Origin", "*" if wildcard else origin.strip())]
        if self.allow_credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        if self.expose_headers:
            headers.append(("Access-Control-Expose-Headers", ", ".join(self.expose_headers)))
        return headers


def is_preflight(request: RequestView) -> bool:
    """Whether the request is a CORS preflight as browsers send it (Fetch §3.2.2)."""
    environ = request.environ
    return (
        request.method == "OPTIONS"
        and "HTTP_ORIGIN" in environ
        and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in environ
    )


class Preflights:
    """Every CORS preflight, answered in the guard (an endpoint, see
    :class:`~wsgi_jwt_guard.responses.Endpoint`): ``204`` with the
    ``Access-Control-Allow-*`` headers, or the
    :class:`~wsgi_jwt_guard.errors.PreflightRefused` saying why."""

    def __init__(self, settings: CORSSettings, metrics: Metrics) -> None:
        self.settings = settings
        self._metrics = metrics

    def handles(self, request: RequestView) -> bool:
        """Whether the request is a preflight, on any path."""
        return is_preflight(request)

    def __call__(self, request: RequestView, start_response: StartResponse) -> Iterable[bytes]:
        """The ``204``; the app never sees a preflight."""
        headers = self.settings.preflight(request)
        self._metrics.increment("requests.preflight")
        start_response("204 No Content", headers)
        return []
