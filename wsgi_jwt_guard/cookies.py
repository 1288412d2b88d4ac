"""The token cookie: how ``<img>`` and CSS loads authenticate (DESIGN §2 steps 5-6).

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

Reading: :func:`cookie_values` is the one place the guard reads the ``Cookie``
header -- for the token, for the CSRF double-submit cookie and to decide
whether the browser holds the token already. It reads the header the way
browsers write it (RFC 6265 §5.4: ``name=value`` pairs joined by ``"; "``,
no quoting, no escapes). Parsers written for the older RFC 2109 grammar, such
as ``werkzeug.http.parse_cookie``, treat ``a="; token=x; b="`` as one quoted
value; a browser sends those as three cookies, and a sibling subdomain can
make it send exactly that to hide a second ``token`` from such a parser.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Literal

from werkzeug.datastructures import ResponseCacheControl
from werkzeug.http import dump_cookie, parse_cache_control_header

from .errors import ConfigError

__all__ = ["CookieSettings", "cookie_values", "shared_cacheable"]

_COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 6265 token
# Browsers drop cookies over 4096 bytes; a longer token is only sent as a header.
_MAX_COOKIE_TOKEN = 4000
# Browsers cap cookie lifetimes at 400 days; it also keeps a huge `exp` printable.
_MAX_LIFETIME = 400 * 86400


@dataclass(frozen=True)
class CookieSettings:
    """Name and attributes of the token cookie."""

    name: str = "token"
    #: ``False`` turns the cookie off everywhere: never read, never set.
    enabled: bool = True
    #: ``Domain`` attribute; ``None`` (the default) scopes the cookie to this host.
    domain: str | None = None
    #: ``None``: ``Secure`` on https requests; ``True``: always.
    secure: bool | None = None
    samesite: Literal["Lax", "Strict", "None"] = "Lax"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _COOKIE_NAME.fullmatch(self.name):
            raise ConfigError("name", "expected a cookie name (letters, digits, -_.)")
        if not isinstance(self.enabled, bool):
            raise ConfigError("enabled", "expected true or false")
        if self.samesite not in ("Lax", "Strict", "None"):
            raise ConfigError("samesite", "expected 'Lax', 'Strict' or 'None'")
        if self.domain is not None and (not isinstance(self.domain, str) or not self.domain):
            raise ConfigError("domain", "expected a domain name")
        # Browsers match the prefixes case-insensitively (RFC 6265bis §4.1.3).
        prefixed = self.name.lower().startswith(("__host-", "__secure-"))
        if self.name.lower().startswith("__host-") and self.domain is not None:
            raise ConfigError("domain", "a __Host- cookie cannot have a domain")
        if self.secure not in (None, True, False):
            raise ConfigError("secure", "expected true or false")
        if self.secure is False and (prefixed or self.samesite == "None"):
            # Browsers drop such a cookie: every login would silently fail.
            raise ConfigError("secure", "__Host-, __Secure- and SameSite=None cookies are Secure")
        if prefixed or self.samesite == "None":
            object.__setattr__(self, "secure", True)  # browsers reject them otherwise

    def issue(self, token: str, expires: float, *, https: bool) -> str | None:
        """The ``Set-Cookie`` value carrying ``token`` until ``expires``, if it fits."""
        if len(token) > _MAX_COOKIE_TOKEN:
            return None
        return self._dump(token, min(expires, time.time() + _MAX_LIFETIME), https)

    def clear(self, *, https: bool) -> str:
        """The ``Set-Cookie`` value that deletes the cookie."""
        return self._dump("", 0, https)

    def _dump(self, value: str, expires: float, https: bool) -> str:
        return dump_cookie(
            self.name,
            value,
            expires=int(expires),
            path="/",
            domain=self.domain,
            secure=self.secure or (self.secure is None and https),
            httponly=True,
            samesite=self.samesite,
        )


def cookie_values(header: str, name: str) -> list[str]:
    """Every value of the cookie ``name`` in a ``Cookie`` header, in order.

    The header is split as browsers join it (RFC 6265 §5.4): on ``;``, each
    pair at its first ``=``, blanks around names and values trimmed. Quotes
    never group anything, so no value can swallow the pairs after it; a value
    wholly wrapped in a pair of quotes (RFC 6265 §4.1.1 allows that form) is
    unwrapped, as Go's ``net/http`` does. The strings keep the header's bytes
    as PEP 3333 gives them (latin-1 text). Linear in the header's length.
    """
    if name not in header:  # most requests: no need to split
        return []
    values = []
    for pair in header.split(";"):
        key, equals, value = pair.partition("=")
        if equals and key.strip(" \t") == name:
            value = value.strip(" \t")
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            values.append(value)
    return values


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
