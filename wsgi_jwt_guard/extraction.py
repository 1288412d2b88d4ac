"""Where the token comes from: the Authorization header, a proxy header or the cookie.

Sources, in order:

1. ``Authorization: Bearer <token>``, or ``Authorization: DPoP <token>`` for a
   DPoP-bound token (RFC 9449 §7.1; its proof is checked after the token, see
   :mod:`wsgi_jwt_guard.binding`). The scheme is case-insensitive; the value
   must be exactly one token68 and nothing else. A header that is
   present but malformed, of another scheme, or duplicated (servers join
   repeated headers with a comma) is refused -- never a fall-back to the
   cookie, or a forged header could be papered over by a victim's cookie.
2. Custom headers configured as ``token_headers``, in order, each carrying a
   bare JWT (``X-Goog-IAP-JWT-Assertion``, ``Cf-Access-Jwt-Assertion``). Only
   configure one that your proxy always sets or strips, or clients could send it.
   Then the headers of the issuers' edge presets (:mod:`wsgi_jwt_guard.presets`),
   and their cookies (Cloudflare Access's ``CF_Authorization``). Only AWS ALB's
   ``x-amzn-oidc-data`` may carry base64 padding.
3. The token cookie, on routes that accept it, read as browsers write it
   (:meth:`~wsgi_jwt_guard.request.RequestView.cookie`). The same name sent
   twice with different values (cookie tossing from a sibling domain) is refused.
4. Backstage's ``backstage-auth`` cookie, in Backstage mode on routes with
   ``user_cookie`` (:mod:`wsgi_jwt_guard.backstage`), read the same way.

The ``Authorization`` header is the caller's explicit choice: a browser never
adds it on its own, and no other site can make it. The other two are
*ambient* (:data:`AMBIENT_SOURCES`): an identity-aware proxy adds its header
from its own session cookie, and a browser sends the cookie, on requests any
site can trigger. Both are therefore subject to the CSRF check
(:mod:`wsgi_jwt_guard.csrf`), and the proxy's header comes before the cookie:
the proxy strips and sets it, while a cookie can be planted by a sibling
subdomain, so a planted cookie never overrides the identity the proxy asserts.

Tokens longer than ``max_size`` characters are refused before any parsing.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Container, Sequence
from typing import TYPE_CHECKING

from .errors import ConfigError, InvalidRequest, InvalidToken
from .identity import TokenSource
from .validation import header_key

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

    from .issuers import Issuer
    from .request import RequestView

__all__ = [
    "AMBIENT_SOURCES",
    "TokenHeaders",
    "authorization_token",
    "bearer_token",
    "cookie_token",
    "custom_header_token",
    "extract_token",
    "is_dpop_scheme",
]

#: Sources a browser or a proxy attaches without the caller's code asking.
AMBIENT_SOURCES: frozenset[TokenSource] = frozenset(
    {"cookie", "custom-header", "backstage-cookie", "edge-cookie"}
)

# RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_BEARER = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr] +([A-Za-z0-9\-._~+/]+=*)")
_BARE_JWT = re.compile(r"([A-Za-z0-9\-._]+)")
_MALFORMED_BEARER = "the Authorization header must be 'Bearer <token>'"
# RFC 9449 §7.1: the DPoP scheme takes a token68 as Bearer does.
_DPOP = re.compile(r"[Dd][Pp][Oo][Pp] +([A-Za-z0-9\-._~+/]+=*)")
# AWS ALB pads each segment (the verifier accepts that from ALB issuers only).
_PADDED_JWT = re.compile(r"([A-Za-z0-9\-_]+={0,2}\.[A-Za-z0-9\-_]+={0,2}\.[A-Za-z0-9\-_]+={0,2})")
_PADDED_HEADERS = frozenset({"HTTP_X_AMZN_OIDC_DATA"})
# "Bearer " in every case, the start of _BEARER as a set: one lookup.
_BEARER_SCHEMES = frozenset(
    map("".join, itertools.product(*zip("bearer ", "BEARER ", strict=True)))
)


class TokenHeaders:
    """The ``token_headers`` setting: header names and their environ keys, in order."""

    __slots__ = ("cookies", "keys", "names")

    def __init__(self, names: Sequence[str] = (), issuers: Sequence[Issuer] = ()) -> None:
        if isinstance(names, str) or not isinstance(names, Sequence):
            raise ConfigError("token_headers", "expected a list of header names")
        keys = [header_key(name, "token_headers") for name in names]
        names = list(names)
        # Then the issuers' own (edge presets'), each once.
        for issuer in issuers:  # not Issuers: refused by the verifier, named there
            name = getattr(issuer, "token_header", None)
            if isinstance(name, str):
                key = header_key(name, "token_header")
                if key not in keys:
                    keys.append(key)
                    names.append(name)
        #: The WSGI environ keys, in the order they are tried.
        self.keys = tuple(keys)
        self.names = tuple(names)
        #: The issuers' token cookies (Cloudflare Access's ``CF_Authorization``).
        cookies = (getattr(issuer, "token_cookie", None) for issuer in issuers)
        self.cookies = tuple(dict.fromkeys(c for c in cookies if isinstance(c, str)))
        if {"HTTP_AUTHORIZATION", "HTTP_COOKIE"}.intersection(self.keys):
            raise ConfigError("token_headers", "Authorization and Cookie are read already")

    def credential(self, request: RequestView, source: TokenSource) -> str:
        """How a refusal names the ambient credential a token from ``source`` is:
        the first token header present, the edge's or Backstage's cookie, or the
        token cookie."""
        if source == "custom-header":
            for key, name in zip(self.keys, self.names, strict=True):
                if key in request.environ:
                    return f"the {name} header"
        if source == "edge-cookie" and self.cookies:
            return f"the {' or '.join(self.cookies)} cookie"
        if source == "backstage-cookie":
            return "the backstage-auth cookie"  # backstage.BACKSTAGE_COOKIE (imports us)
        return "the token cookie"


def bearer_token(
    environ: WSGIEnvironment, max_size: int, verified: Container[str] = ()
) -> str | None:
    """The token of ``Authorization: Bearer``; ``None`` if there is no header.

    Any other scheme, ``DPoP`` included, is refused (see :func:`authorization_token`).
    """
    found = authorization_token(environ, max_size, verified)
    if found is not None and found[1] == "dpop":
        raise InvalidRequest(_MALFORMED_BEARER)
    return None if found is None else found[0]


def authorization_token(
    environ: WSGIEnvironment, max_size: int, verified: Container[str] = ()
) -> tuple[str, TokenSource] | None:
    """The ``Authorization`` header's token and scheme: ``"header"`` for
    ``Bearer``, ``"dpop"`` for ``DPoP``; ``None`` if there is no header.

    ``verified`` holds tokens that verified before (the verifier's token cache),
    so passed :func:`~wsgi_jwt_guard.jws.parse`: three base64url segments, one
    token68 already. A value that is exactly ``Bearer``, spaces and one of them
    needs no character-by-character check; anything else takes the full one.
    The answer is the same either way.
    """
    value: str | None = environ.get("HTTP_AUTHORIZATION")
    if value is None:
        return None
    if len(value) <= max_size + 32:
        value = value.strip(" \t")
        if value[:7] in _BEARER_SCHEMES:
            token = value[7:].lstrip(" ")
            if token in verified and len(token) <= max_size:
                return token, "header"
        elif is_dpop_scheme(value):
            malformed = "the Authorization header must be 'DPoP <token>'"
            return _header_token(value, _DPOP, malformed, max_size, "dpop"), "dpop"
    return _header_token(value, _BEARER, _MALFORMED_BEARER, max_size, "header"), "header"


def is_dpop_scheme(authorization: str) -> bool:
    """Whether an ``Authorization`` value is of the ``DPoP`` scheme (case-insensitive)."""
    value = authorization.lstrip(" \t")
    return value[:4].lower() == "dpop" and value[4:5] in ("", " ")


def _header_token(
    value: str, shape: re.Pattern[str], malformed: str, max_size: int, source: TokenSource
) -> str:
    """The token that group 1 of ``shape`` finds in a header ``value``, checked for size."""
    # Length first, so a huge header costs nothing more than this comparison.
    if len(value) > max_size + 32:
        raise _too_long(max_size, source)
    match = shape.fullmatch(value.strip(" \t"))
    if match is None:
        raise InvalidRequest(malformed)
    token = match.group(1)
    if len(token) > max_size:
        raise _too_long(max_size, source)
    return token


def _too_long(max_size: int, source: TokenSource) -> InvalidToken:
    return InvalidToken(f"the token is longer than {max_size} characters", source=source)


def cookie_token(
    request: RequestView, name: str, max_size: int, source: TokenSource = "cookie"
) -> str | None:
    """The value of the token cookie, ``None`` if absent or empty."""
    values = set(request.cookie(name))
    values.discard("")
    if not values:
        return None
    if len(values) > 1:
        raise InvalidRequest(f"the {name!r} cookie was sent more than once")
    token = values.pop()
    if len(token) > max_size:
        raise _too_long(max_size, source)
    return token


def custom_header_token(environ: WSGIEnvironment, key: str, max_size: int) -> str | None:
    """The bare JWT in the request header whose environ key is ``key``, if sent."""
    value: str | None = environ.get(key)
    if value is None:
        return None
    # The shape also refuses repeated headers, which servers join with ",".
    malformed = "a token header must carry exactly one bare JWT"
    shape = _PADDED_JWT if key in _PADDED_HEADERS else _BARE_JWT
    return _header_token(value, shape, malformed, max_size, "custom-header")


def extract_token(
    request: RequestView,
    *,
    cookie_name: str | None,
    max_size: int,
    header_keys: Sequence[str] = (),
    verified: Container[str] = (),
    user_cookie: str | None = None,
    edge_cookies: Sequence[str] = (),
    headers: TokenHeaders | None = None,
) -> tuple[str, TokenSource] | None:
    """The request's token and where it came from, or ``None`` if it carries none.

    ``cookie_name`` is ``None`` on routes (or guards) that do not accept the
    cookie; ``header_keys`` are the environ keys of the custom token headers;
    ``verified``, tokens known to be well-formed (see :func:`bearer_token`);
    ``user_cookie``, Backstage's ``backstage-auth`` cookie on routes that accept
    it (``user_cookie = true``), tried after the token cookie; ``edge_cookies``,
    the issuers' own cookies (:attr:`TokenHeaders.cookies`), tried after the
    token headers and before the token cookie. ``headers`` gives both at once.
    """
    if headers is not None:
        header_keys, edge_cookies = headers.keys, headers.cookies
    environ = request.environ
    found = authorization_token(environ, max_size, verified)
    if found is not None:
        return found
    for key in header_keys:
        token = custom_header_token(environ, key, max_size)
        if token is not None:
            return token, "custom-header"
    for name in edge_cookies:
        token = cookie_token(request, name, max_size, "edge-cookie")
        if token is not None:
            return token, "edge-cookie"
    if cookie_name is not None:
        token = cookie_token(request, cookie_name, max_size)
        if token is not None:
            return token, "cookie"
    if user_cookie is not None:
        token = cookie_token(request, user_cookie, max_size, "backstage-cookie")
        if token is not None:
            return token, "backstage-cookie"
    return None
