"""The token cookie: how ``<img>`` and CSS loads authenticate.

Browsers cannot add an ``Authorization`` header to an image or a stylesheet.
Like Backstage's backend, the guard therefore copies a user token that arrived
in the header into a cookie, and accepts that cookie on routes that allow it::

    Set-Cookie: token=<jwt>; Expires=<the token's exp>; HttpOnly; Path=/; SameSite=Lax

``Secure`` is added when the request came over https (put Werkzeug's
``ProxyFix`` in front of the guard behind a TLS-terminating proxy), or always
with ``secure=True``. A ``__Host-`` or ``__Secure-`` name forces ``Secure``, as
browsers require; ``__Host-`` also forbids a ``domain``. Prefer ``__Host-token``
where the site allows it: a sibling subdomain cannot set a ``__Host-`` cookie,
so it cannot toss one next to the user's.

The guard never adds the cookie to a response the app lets shared caches
store (``Cache-Control: public``, ``s-maxage`` or ``must-revalidate``, the
directives that let a CDN keep an answer to an authenticated request, RFC 9111
§3.5): a CDN storing that response would hand the user's token to everyone.

Only browsers need the cookie, so by default (``set_for = "browsers"``) an
https request without fetch metadata -- an API client -- gets no
``Set-Cookie`` it would never send back (see :attr:`CookieSettings.set_for`).
Every value is built from a template made once, at construction.

Reading the ``Cookie`` header is the request view's job
(:meth:`wsgi_jwt_guard.request.RequestView.cookie`): one reader, with browser
semantics, for the token, the CSRF double-submit cookie and the decision
whether the browser holds the token already.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from werkzeug.datastructures import ResponseCacheControl
from werkzeug.http import http_date, parse_cache_control_header

from .clock import Clock, system_clock
from .errors import ConfigError
from .validation import Settings, cookie_name, flag, one_of, optional_flag, optional_text

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

    from .identity import Identity
    from .request import RequestView

__all__ = ["CookieSettings", "TokenCookie", "shared_cacheable"]

# Browsers drop cookies over 4096 bytes; a longer token is only sent as a header.
_MAX_COOKIE_TOKEN = 4000
# Browsers cap cookie lifetimes at 400 days; it also keeps a huge `exp` printable.
_MAX_LIFETIME = 400 * 86400
_DOMAIN = re.compile(r"\.?[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
# Set-Cookie values kept for reuse (one per recent token); past it, start over.
_MEMORY = 4096


@dataclass(frozen=True)
class CookieSettings(Settings):
    """Name and attributes of the token cookie, and which requests set it."""

    name: str = "token"
    #: ``False`` turns the cookie off everywhere: never read, never set.
    enabled: bool = True
    #: ``Domain`` attribute; ``None`` (the default) scopes the cookie to this host.
    domain: str | None = None
    #: ``None``: ``Secure`` on https requests; ``True``: always.
    secure: bool | None = None
    samesite: Literal["Lax", "Strict", "None"] = "Lax"
    #: Which answers to a header token carry ``Set-Cookie``. ``"browsers"``:
    #: requests with fetch metadata (``Sec-Fetch-*``, sent by every current
    #: browser to https and localhost origins) and, on plain http, where
    #: browsers send none, requests whose ``User-Agent`` starts with
    #: ``Mozilla/`` as every browser's does; API clients get no ~1 KB header
    #: they would never send back. ``"all"``: every one (browsers older than
    #: 2023 behind https). ``"none"``: never (the app sets the cookie itself).
    set_for: Literal["browsers", "all", "none"] = "browsers"
    _head: str = field(init=False, repr=False, compare=False, default="")
    _tails: tuple[str, str] = field(init=False, repr=False, compare=False, default=("", ""))

    def __post_init__(self) -> None:
        name = cookie_name(self.name, "name")
        samesite = one_of(self.samesite, "samesite", ("Lax", "Strict", "None"))
        domain = optional_text(self.domain, "domain", "a domain name")
        if domain is not None:
            if not _DOMAIN.fullmatch(domain):
                raise ConfigError("domain", "expected a domain name")
            domain = domain.removeprefix(".")  # browsers ignore it (RFC 6265 §5.2.3)
        secure = optional_flag(self.secure, "secure")
        # Browsers match the prefixes case-insensitively (RFC 6265bis §4.1.3).
        prefixed = name.lower().startswith(("__host-", "__secure-"))
        if name.lower().startswith("__host-") and domain is not None:
            raise ConfigError("domain", "a __Host- cookie cannot have a domain")
        if secure is False and (prefixed or samesite == "None"):
            # Browsers drop such a cookie: every login would silently fail.
            raise ConfigError("secure", "__Host-, __Secure- and SameSite=None cookies are Secure")
        if prefixed or samesite == "None":
            secure = True  # browsers reject them otherwise
        # Every Set-Cookie is head + value + expiry + tail: built here, once.
        tail = f"; HttpOnly; Path=/; SameSite={samesite}"
        self._settle(
            enabled=flag(self.enabled, "enabled"),
            domain=domain,
            secure=secure,
            set_for=one_of(self.set_for, "set_for", ("browsers", "all", "none")),
            _head=f"{name}=",
            _tails=(
                ("; Secure" if secure else "") + tail,  # plain http
                "; Secure" + tail if secure is not False else tail,  # https
            ),
        )

    def wanted(self, environ: WSGIEnvironment) -> bool:
        """Whether the answer to this request should carry the cookie (``set_for``)."""
        if self.set_for == "browsers":
            # Fetch metadata: every request of a modern browser to an https (or
            # localhost) origin carries it; API clients send none. Spelled out:
            # a generator over the names costs more than the rest of the check.
            if (
                "HTTP_SEC_FETCH_SITE" in environ
                or "HTTP_SEC_FETCH_MODE" in environ
                or "HTTP_SEC_FETCH_DEST" in environ
            ):
                return True
            # Browsers send no fetch metadata to plain-http origins (other than
            # localhost); there, every browser's User-Agent still starts so.
            return environ.get("wsgi.url_scheme") != "https" and str(
                environ.get("HTTP_USER_AGENT", "")
            ).startswith("Mozilla/")
        return self.set_for == "all"

    def issue(self, token: str, expires: float, *, https: bool, now: float) -> str | None:
        """The ``Set-Cookie`` value carrying ``token`` until ``expires``, if it fits."""
        if len(token) > _MAX_COOKIE_TOKEN:
            return None
        return self._dump(token, min(expires, now + _MAX_LIFETIME), https)

    def clear(self, *, https: bool) -> str:
        """The ``Set-Cookie`` value that deletes the cookie."""
        return self._dump("", 0, https)

    def _dump(self, value: str, expires: float, https: bool) -> str:
        domain = f"; Domain={self.domain}" if self.domain is not None else ""
        expiry = http_date(int(expires))
        return f"{self._head}{value}{domain}; Expires={expiry}{self._tails[https]}"


class TokenCookie:
    """The cookie step: the ``Set-Cookie`` a header token earns, and the one that clears it."""

    def __init__(self, settings: CookieSettings, clock: Clock = system_clock) -> None:
        self.settings = settings
        self.clock = clock
        # (token, https) -> Set-Cookie value ("" when the token does not fit).
        self._issued: dict[tuple[str, bool], str] = {}

    def to_set(self, request: RequestView, identity: Identity) -> str | None:
        """The ``Set-Cookie`` for a header user token that the browser does not hold yet."""
        settings = self.settings
        if identity.source != "header" or identity.kind != "user" or not settings.enabled:
            return None
        environ = request.environ
        if not settings.wanted(environ):
            return None  # an API client would never send it back
        token = identity.token
        # Compared whole, never searched for: a substring search for a ~1 KB
        # token costs more than reading the header.
        held = len(environ.get("HTTP_COOKIE", "")) > len(token) and request.cookie(settings.name)
        if held and held.count(token) == len(held):
            return None  # held already (with a tossed copy beside it: set again)
        # The value depends on the token and the scheme only: build it once per token.
        key = (token, environ.get("wsgi.url_scheme") == "https")
        header = self._issued.get(key)
        if header is None:
            issued = settings.issue(token, identity.expires_at, https=key[1], now=self.clock())
            header = issued or ""
            if len(self._issued) >= _MEMORY:
                self._issued.clear()
            self._issued[key] = header
        return header or None

    def clearing(self, environ: WSGIEnvironment) -> str:
        """The ``Set-Cookie`` that makes the browser drop a refused cookie."""
        return self.settings.clear(https=environ.get("wsgi.url_scheme") == "https")


def shared_cacheable(headers: list[tuple[str, str]]) -> bool:
    """Whether a shared cache (a CDN) may store this answer to an authenticated request.

    RFC 9111 §3.5: a request with ``Authorization`` is stored by a shared cache
    only if the response says ``public``, ``s-maxage`` or ``must-revalidate``.
    """
    for key, value in headers:
        if len(key) == 13 and key.lower() == "cache-control":
            # Directive names are case-insensitive (RFC 9111 §5.2); werkzeug's are not.
            control = parse_cache_control_header(value.lower(), cls=ResponseCacheControl)
            if control.public or control.s_maxage is not None or control.must_revalidate:
                return True
    return False
