"""JWT authentication in front of any WSGI application.

Wrap the application; the guard decides per path whether a token is needed,
verifies it, and only then calls the app, with ``REMOTE_USER`` set and the
:class:`~wsgi_jwt_guard.identity.Identity` in the environ::

    from wsgi_jwt_guard import Issuer, JWTGuard

    app.wsgi_app = JWTGuard(                 # Flask; any WSGI app works the same
        app.wsgi_app,
        issuers=[Issuer("https://auth.example.com", jwks_uri="https://auth.example.com/jwks")],
        routes={"/api/auth": "public", "/api/catalog": "protected"},
    )

A request goes through DESIGN §2 in one pass, in the order of ``__call__``:
scrub, route, extract, verify, inject, respond. Refusals are answered by the
guard (400/401/403/414/503, see :mod:`wsgi_jwt_guard.responses`) and the app
never runs.

The guard decides on the request the app will act on: routes match
``PATH_INFO`` (below the configured ``mount``), as every WSGI router does, and
a ``SCRIPT_NAME`` other than the ``mount`` is refused -- some servers let a
client set it. Mounted inside a ``DispatcherMiddleware`` at ``/api``::

    DispatcherMiddleware(frontend, {"/api": JWTGuard(api, mount="/api", ...)})

.. warning::
    The guard trusts ``wsgi.url_scheme`` to decide the cookie's ``Secure``
    flag. Behind a TLS-terminating proxy, wrap the guard in Werkzeug's
    ``ProxyFix`` (configured for exactly your proxies), never the other way round.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cachelib import BaseCache

from .apikeys import APIKey, APIKeys
from .caches import SharedCache
from .clock import Clock, system_clock
from .cookies import CookieSettings, shared_cacheable
from .cors import CORSSettings, is_preflight
from .csrf import CSRFSettings, check_request
from .errors import ConfigError, InvalidToken, MissingToken, PreflightRefused, RequestRefused
from .extraction import AMBIENT_SOURCES, extract_token, token_header_keys
from .identity import ENVIRON_KEY, Identity
from .issuers import Issuer
from .metrics import EventHook, Metrics, reason_of
from .request import RequestView
from .responses import refuse
from .revocation import Revocations
from .routing import Policy, RouteTable, Rule, check_mount
from .service import ServiceTokens
from .validation import text, whole
from .verification import Verifier

if TYPE_CHECKING:
    from types import TracebackType

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    #: What ``start_response`` may be given as its third argument (PEP 3333).
    ExcInfo = (
        tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None] | None
    )

__all__ = ["JWTGuard"]

log = logging.getLogger("wsgi_jwt_guard")

# Removed from every request: only the guard may say who the user is. A server,
# a proxy's forwarded headers or a client could otherwise set them.
# Set-Cookie values kept for reuse (one per recent token); past it, start over.
_SET_COOKIE_MEMORY = 4096
_SCRUBBED = ("REMOTE_USER", "AUTH_TYPE", ENVIRON_KEY, "HTTP_REMOTE_USER")


class JWTGuard:
    """WSGI middleware that authenticates requests with JWTs.

    :param app: the WSGI application to protect.
    :param issuers: trusted issuers of user tokens.
    :param service_tokens: shared secrets for HS256 service-to-service tokens.
    :param routes: path prefix -> policy name or :class:`~wsgi_jwt_guard.routing.Rule`.
    :param default: the policy of paths no route matches; ``protected`` fails closed.
    :param cookie: the token cookie's name and attributes.
    :param csrf: how unsafe requests authenticated by the cookie prove they come
        from this site (default: same-origin ``Origin``/``Sec-Fetch-Site``, else 403).
    :param token_headers: request headers that carry a bare JWT, tried after the
        ``Authorization`` header and before the cookie (``X-Goog-IAP-JWT-Assertion``).
        Only name headers that your proxy always sets or strips. Like the
        cookie, they are ambient credentials: unsafe requests get the CSRF check.
    :param mount: the ``SCRIPT_NAME`` the guard runs under (``/api`` inside a
        ``DispatcherMiddleware`` mount or behind a server's configured prefix);
        a request with any other ``SCRIPT_NAME`` is refused with 400. Routes
        are matched on ``mount + PATH_INFO``.
    :param max_path_length: longer ``PATH_INFO`` values are refused with 414
        before any other work; 8 KiB is twice gunicorn's whole request line.
    :param cors: answer CORS preflights in the guard (:mod:`wsgi_jwt_guard.cors`);
        required by ``unless_methods = ["OPTIONS"]``.
    :param max_token_size: longer tokens are refused unparsed; 8 KiB fits any
        real JWT and bounds the work an attacker can cause.
    :param remote_user_claim: the claim copied to ``REMOTE_USER``.
    :param realm: the ``realm`` of ``WWW-Authenticate`` challenges.
    :param cache: a ``cachelib`` cache shared by JWKS clients and revocations
        (default: per process); wrap it in a
        :class:`~wsgi_jwt_guard.caches.SharedCache` with ``secrets`` so that
        nobody who can write to the cache server can plant keys.
    :param api_keys: static API keys (:mod:`wsgi_jwt_guard.apikeys`), accepted
        from the ``Authorization`` header and custom token headers, never the cookie.
    :param revocations: revoked tokens and subjects to refuse
        (:mod:`wsgi_jwt_guard.revocation`); also at ``guard.revocations``.
    :param on_event: called with a counter's name on every increment of
        :attr:`metrics` (see :mod:`wsgi_jwt_guard.metrics`), e.g. to feed statsd.
    :param token_cache_size: verified tokens remembered per process, so a repeat
        token skips the signature check (:mod:`wsgi_jwt_guard.token_cache`); ``0``
        turns it off. 10,000 entries is a few tens of MB at most.
    :param token_cache_max_age: seconds a remembered token is served before it is
        verified again (never past its ``exp``); bounds how long a token outlives
        its signing key's removal from the JWKS. ``None``: until ``exp``.
    """

    def __init__(
        self,
        app: WSGIApplication,
        *,
        issuers: Sequence[Issuer] = (),
        service_tokens: ServiceTokens | None = None,
        routes: Mapping[str, Rule | Policy] | RouteTable | None = None,
        default: Rule | Policy = "protected",
        cookie: CookieSettings | None = None,
        csrf: CSRFSettings | None = None,
        token_headers: Sequence[str] = (),
        mount: str = "",
        max_path_length: int = 8192,
        cors: CORSSettings | None = None,
        max_token_size: int = 8192,
        remote_user_claim: str = "sub",
        realm: str = "wsgi-jwt-guard",
        cache: BaseCache | None = None,
        api_keys: Sequence[APIKey] = (),
        revocations: Revocations | None = None,
        on_event: EventHook | None = None,
        token_cache_size: int = 10_000,
        token_cache_max_age: float | None = 300.0,
        clock: Clock = system_clock,
    ) -> None:
        self.max_token_size = whole(max_token_size, "max_token_size", minimum=256)
        text(remote_user_claim, "remote_user_claim", "a claim name")
        if not isinstance(realm, str):
            raise ConfigError("realm", "expected a string")
        self.realm = realm
        self.mount = check_mount(mount)
        self.max_path_length = whole(
            max_path_length, "max_path_length", minimum=256, maximum=1 << 20
        )
        if not callable(clock):
            raise ConfigError("clock", "expected a callable returning the time")
        #: The guard's time, handed to everything it builds (see :mod:`wsgi_jwt_guard.clock`).
        self.clock = clock
        if cors is not None and not isinstance(cors, CORSSettings):
            raise ConfigError("cors", "expected a CORSSettings object")
        self.cors = cors
        self.token_header_keys = token_header_keys(token_headers)
        # How a refusal names the ambient credential the CSRF check saw.
        self._header_names = {
            key: name for key, name in zip(self.token_header_keys, token_headers, strict=True)
        }
        self.app = app
        #: Counters of requests allowed and refused; see :mod:`wsgi_jwt_guard.metrics`.
        self.metrics = Metrics(on_event)
        #: State shared between workers: JWKS documents, revocations.
        self.cache = cache if isinstance(cache, SharedCache) else SharedCache(cache, clock=clock)
        self.verifier = Verifier(
            issuers,
            service_tokens,
            remote_user_claim=remote_user_claim,
            cache=self.cache,
            metrics=self.metrics,
            token_cache_size=token_cache_size,
            token_cache_max_age=token_cache_max_age,
        )
        token_cache = self.verifier.token_cache
        self.metrics.add_source(
            lambda: {"token_cache.hit": token_cache.hits, "token_cache.miss": token_cache.misses}
        )
        if not isinstance(routes, RouteTable):
            routes = RouteTable(routes, default=default)
        self.routes = routes
        if cors is None:
            for prefix, rule in [*routes.rules.items(), ("default", routes.default)]:
                if rule.answers_preflight:
                    key = "default" if prefix == "default" else f"routes.{prefix!r}"
                    raise ConfigError(
                        f"{key}.unless_methods",
                        "OPTIONS: the guard answers CORS preflights itself and never passes an"
                        " anonymous OPTIONS to the app; configure cors (allowed origins)",
                    )
        if cookie is not None and not isinstance(cookie, CookieSettings):
            raise ConfigError("cookie", "expected a CookieSettings object")
        self.cookie = cookie if cookie is not None else CookieSettings()
        self._set_cookies: dict[tuple[str, bool], str] = {}
        if csrf is not None and not isinstance(csrf, CSRFSettings):
            raise ConfigError("csrf", "expected a CSRFSettings object")
        self.csrf = csrf if csrf is not None else CSRFSettings()
        if isinstance(api_keys, (str, APIKey)) or not isinstance(api_keys, Sequence):
            raise ConfigError("api_keys", "expected a list of APIKey objects")
        self.api_keys = APIKeys(api_keys)
        self._has_api_keys = bool(self.api_keys)
        if revocations is not None and not isinstance(revocations, Revocations):
            raise ConfigError("revocations", "expected a Revocations object")
        self.revocations = revocations

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        # 1. Scrub.
        for key in _SCRUBBED:
            environ.pop(key, None)
        # 2-4. Route, extract, verify.
        try:
            request = RequestView.of(environ, self.mount, self.max_path_length)
            if self.cors is not None and is_preflight(request):
                headers = self.cors.preflight(request)  # the app never sees a preflight
                self.metrics.increment("requests.preflight")
                start_response("204 No Content", headers)
                return []
            identity = self._authenticate(request)
        except RequestRefused as refusal:
            return self._refuse(refusal, environ, start_response)
        cors = self._cors_headers(environ) if self.cors is not None else None
        if identity is None:  # a public route, or anonymous on an optional one
            self.metrics.increment("requests.public")
            if cors is not None:
                start_response = _finishing(start_response, None, cors)
            return self.app(environ, start_response)
        self.metrics.increment("requests.allowed")
        # 5. Inject.
        environ["REMOTE_USER"] = identity.subject
        environ["AUTH_TYPE"] = "Bearer"
        environ[ENVIRON_KEY] = identity
        if identity.source == "cookie":
            # Let proxied calls forward the credential, as the seed middleware does.
            environ["HTTP_AUTHORIZATION"] = f"Bearer {identity.token}"
        # 6. Respond.
        set_cookie = self._cookie_to_set(request, identity)
        if cors is not None:
            start_response = _finishing(start_response, set_cookie, cors)
        elif set_cookie is not None:  # the common case, kept cheap: one header
            start_response = _adding_cookie(start_response, set_cookie)
        return self.app(environ, start_response)

    def _authenticate(self, request: RequestView) -> Identity | None:
        """The request's verified identity, ``None`` if none is needed or sent."""
        rule, policy = self.routes.resolve(request)
        if policy == "public":
            return None
        cookie_name = self.cookie.name if self.cookie.enabled and rule.cookie else None
        found = extract_token(
            request,
            cookie_name=cookie_name,
            max_size=self.max_token_size,
            header_keys=self.token_header_keys,
        )
        if found is None:
            if policy == "optional":
                return None
            raise MissingToken("this route requires a token")
        token, source = found
        if source in AMBIENT_SOURCES:  # sent on their own, cross-site too
            credential = "the token cookie"
            if source == "custom-header":
                credential = "the " + next(
                    self._header_names[key]
                    for key in self.token_header_keys
                    if key in request.environ
                ) + " header"
            check_request(request, self.csrf, credential)
        try:
            identity = None
            if self._has_api_keys and source != "cookie":
                identity = self.api_keys.identify(token, source, request.path)
            if identity is None:
                identity = self.verifier.verify(token, source)
            if self.revocations is not None:  # every kind: user, service, API key
                self.revocations.check(identity)
            rule.authorize(identity)
        except RequestRefused as refusal:
            refusal.fingerprint = fingerprint(token)
            raise
        return identity

    def _refuse(
        self, refusal: RequestRefused, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        reason = reason_of(type(refusal))
        self.metrics.increment(f"requests.refused.{reason}")
        if log.isEnabledFor(logging.INFO):
            # Everything request-derived is escaped: one line, no terminal escapes.
            log.info(
                "refused %s %s: %s (%s), token %s",
                loggable(environ.get("REQUEST_METHOD", ""), 32),
                loggable(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")),
                reason,
                loggable(refusal.description),
                refusal.fingerprint or "-",
            )
        # A refused preflight grants nothing; other refusals stay readable cross-origin.
        cors = None if isinstance(refusal, PreflightRefused) else self._cors_headers(environ)
        extra = cors or []
        if isinstance(refusal, InvalidToken) and refusal.source == "cookie":
            # Clear it so the browser stops sending it (an expired cookie would
            # otherwise fail on every request until the browser drops it).
            extra.append(("Set-Cookie", self.cookie.clear(https=_is_https(environ))))
        return refuse(refusal, environ, start_response, realm=self.realm, extra_headers=extra)

    def _cors_headers(self, environ: WSGIEnvironment) -> list[tuple[str, str]] | None:
        """CORS headers for the answer to an allowed cross-origin request, else ``None``."""
        if self.cors is None:
            return None
        origin = environ.get("HTTP_ORIGIN")
        if origin is None:
            return None
        if not self.cors.origin_allowed(origin):
            return [("Vary", "Origin")]
        return [*self.cors.response_headers(origin), ("Vary", "Origin")]

    def _cookie_to_set(self, request: RequestView, identity: Identity) -> str | None:
        """A ``Set-Cookie`` for a header user token that the cookie does not hold yet."""
        cookie = self.cookie
        if identity.source != "header" or identity.kind != "user" or not cookie.enabled:
            return None
        environ = request.environ
        if not cookie.wanted(environ):
            return None  # an API client would never send it back
        token = identity.token
        if token in environ.get("HTTP_COOKIE", "") and set(request.cookie(cookie.name)) == {
            token
        }:
            return None  # the browser has it already (tossed copies beside it: set again)
        # The value depends on the token and the scheme only: build it once per token.
        https = environ.get("wsgi.url_scheme") == "https"
        key = (token, https)
        header = self._set_cookies.get(key)
        if header is None:
            header = cookie.issue(token, identity.expires_at, https=https, now=self.clock()) or ""
            if len(self._set_cookies) >= _SET_COOKIE_MEMORY:
                self._set_cookies.clear()
            self._set_cookies[key] = header
        return header or None


# Anything outside printable ASCII, and the backslash that starts an escape.
_UNLOGGABLE = re.compile(r"[^\x20-\x5b\x5d-\x7e]")


def loggable(value: object, limit: int = 256) -> str:
    """``value`` safe to write into a log line: escaped, one line, at most ``limit`` long.

    Control characters (ESC, CR, LF, vertical tab, NEL, U+2028...) and any
    other non-ASCII character become ``\\xNN``/``\\uNNNN`` escapes, so request
    data can neither forge a line nor drive an operator's terminal.
    """
    text = str(value)
    cut = len(text) > limit
    if cut:
        text = text[:limit]
    if not text.isascii() or not text.isprintable() or "\\" in text:
        text = _UNLOGGABLE.sub(_escape, text)
    return text + "..." if cut else text


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code == 0x5C:
        return "\\\\"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def fingerprint(token: str) -> str:
    """A short, non-reversible name for a token, for logs: never log the token itself."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()[:12]


def _is_https(environ: WSGIEnvironment) -> bool:
    return environ.get("wsgi.url_scheme") == "https"


def _adding_cookie(start_response: StartResponse, set_cookie: str) -> StartResponse:
    """Wrap ``start_response`` to add the token cookie, unless shared caches may
    store the response. The body iterable is untouched."""
    header = ("Set-Cookie", set_cookie)

    def wrapped(status: str, headers: list[tuple[str, str]], exc_info: ExcInfo = None) -> Any:
        for key, _ in headers:  # inline: most responses have no Cache-Control at all
            if len(key) == 13 and shared_cacheable(headers):
                return start_response(status, headers, exc_info)
        return start_response(status, [*headers, header], exc_info)

    return wrapped


def _finishing(
    start_response: StartResponse,
    set_cookie: str | None,
    cors: list[tuple[str, str]] | None,
) -> StartResponse:
    """Wrap ``start_response`` to add the token cookie and CORS headers.

    The cookie is left out of a response shared caches may store, and the CORS
    headers out of one whose app set its own. The body iterable is untouched.
    """

    def wrapped(status: str, headers: list[tuple[str, str]], exc_info: ExcInfo = None) -> Any:
        extra: list[tuple[str, str]] = []
        if set_cookie is not None and not shared_cacheable(headers):
            extra.append(("Set-Cookie", set_cookie))
        if cors is not None and not any(
            key.lower() == "access-control-allow-origin" for key, _ in headers
        ):
            extra.extend(cors)
        return start_response(status, [*headers, *extra] if extra else headers, exc_info)

    return wrapped
