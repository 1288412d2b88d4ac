"""Cross-site request forgery checks for requests authenticated by ambient credentials.

Browsers attach the token cookie to every request to this site, including the
ones another site makes them send (a hidden ``<form method=post>``, a
``fetch`` with ``credentials: "include"``). ``SameSite=Lax`` stops most of
them, not all: same-site sibling domains, browsers without it, methods sent as
top-level navigations. An identity-aware proxy (Google IAP, Cloudflare Access)
does the same with its header: it adds ``X-Goog-IAP-JWT-Assertion`` to every
request that carries its own session cookie, whichever site caused it. So by
default the guard refuses, with ``403``, an *unsafe* request (anything but
``GET``/``HEAD``/``OPTIONS``/``TRACE``, counting ``X-HTTP-Method-Override``
and its kin) whose token came from the cookie or a ``token_headers`` header,
unless the request shows it was made by this site::

    JWTGuard(app, ..., csrf=CSRFSettings(allowed_origins=["https://app.example.com"]))

A request passes when

1. its ``Origin`` is this site's own (``wsgi.url_scheme`` + ``Host``) or one of
   ``allowed_origins``; or
2. it has no ``Origin`` (or ``Origin: null``) and ``Sec-Fetch-Site: same-origin``; or
3. double-submit is configured and the ``header`` equals the ``cookie`` -- a
   header another site cannot set without this site's CORS consent.

Tokens from the ``Authorization`` header are not checked: a browser never
adds it on its own, and another site cannot make it send one. ``403`` rather than ``401``:
the credential is fine and re-authenticating would not help; the request's
provenance is what is refused (as Django's CSRF check and Go's
``CrossOriginProtection`` answer). Behind a proxy that rewrites ``Host``, use
``ProxyFix(x_host=1)`` in front of the guard or list the public origin.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .errors import ConfigError, CrossSiteRequest
from .request import normalize_origin
from .validation import Settings, cookie_name, flag, header_key, optional_text, origins

if TYPE_CHECKING:
    from .request import RequestView

__all__ = ["SAFE_METHODS", "CSRFSettings", "check_request"]

#: RFC 9110 §9.2.1: methods that must not change state; never checked.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


@dataclass(frozen=True)
class CSRFSettings(Settings):
    """How unsafe requests authenticated by ambient credentials prove they are same-site."""

    #: ``False`` turns the check off (the app then owns CSRF protection entirely).
    enabled: bool = True
    #: Other origins trusted to send unsafe requests (``https://app.example.com``).
    allowed_origins: Sequence[str] = ()
    #: Double-submit: a request header (``X-CSRF-Token``) that must equal ...
    header: str | None = None
    #: ... this cookie, set by the app and readable by its scripts (``__Host-csrf``).
    cookie: str | None = None
    _origins: frozenset[str] = field(init=False, repr=False, compare=False)
    _header_key: str | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        if (self.header is None) != (self.cookie is None):
            missing = "cookie" if self.cookie is None else "header"
            raise ConfigError(missing, "double-submit needs both a header and a cookie")
        header = optional_text(self.header, "header", "a request header name (X-CSRF-Token)")
        key = header_key(header, "header") if header is not None else None
        if key in ("HTTP_AUTHORIZATION", "HTTP_COOKIE"):
            raise ConfigError("header", "expected a request header name (X-CSRF-Token)")
        self._settle(
            enabled=flag(self.enabled, "enabled"),
            _origins=origins(self.allowed_origins, "allowed_origins"),
            allowed_origins=tuple(self.allowed_origins),
            _header_key=key,
            cookie=None if self.cookie is None else cookie_name(self.cookie, "cookie"),
        )

    def allows(self, origin: str) -> bool:
        """Whether ``origin`` (an ``Origin`` header value) is in ``allowed_origins``."""
        normalized = normalize_origin(origin)
        return normalized is not None and normalized in self._origins

    def double_submitted(self, request: RequestView) -> bool:
        """Whether the double-submit header equals the double-submit cookie."""
        if self._header_key is None or self.cookie is None:
            return False
        sent = request.environ.get(self._header_key, "")
        values = set(request.cookie(self.cookie))
        if not sent or len(values) != 1:  # absent, or tossed twice: proves nothing
            return False
        expected = values.pop()
        if not expected:
            return False
        # PEP 3333 strings carry the bytes as latin-1; compare the bytes.
        return hmac.compare_digest(
            str(sent).encode("latin-1", "replace"), expected.encode("latin-1", "replace")
        )


def check_request(request: RequestView, settings: CSRFSettings, credential: str) -> None:
    """Raise :class:`~wsgi_jwt_guard.errors.CrossSiteRequest` unless this request,
    authenticated by an ambient ``credential`` (``"the token cookie"``, a
    header's name), is safe or shown to come from this site."""
    if not settings.enabled:
        return
    methods = request.methods
    if methods <= SAFE_METHODS:
        return
    unsafe = min(methods - SAFE_METHODS)
    # Named in the answer and the log only if it is a plain method name.
    plain = unsafe.isascii() and unsafe.isalpha() and len(unsafe) <= 16
    method = unsafe if plain else "unsafe request"
    origin = request.origin
    if origin is not None and origin.strip() != "null":
        own = request.own_origin()
        if (own is not None and normalize_origin(origin) == own) or settings.allows(origin):
            return
        if settings.double_submitted(request):
            return
        raise CrossSiteRequest(
            f"a cross-site {method} with {credential} is refused: Origin is not this site"
        )
    fetch_site = request.environ.get("HTTP_SEC_FETCH_SITE")
    if fetch_site == "same-origin" or settings.double_submitted(request):
        return
    proof = "an Origin or Sec-Fetch-Site: same-origin header"
    if settings.header is not None:
        proof += f", or the {settings.header} header"
    raise CrossSiteRequest(f"a {method} with {credential} needs {proof}")
