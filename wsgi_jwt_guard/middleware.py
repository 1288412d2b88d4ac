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

A request goes through these steps in one pass, in the order of ``__call__``:
scrub, route, extract, verify, inject, respond. Refusals are answered by the
guard (400/401/403/405/414/503, see :mod:`wsgi_jwt_guard.responses`) and the app
never runs. A token bound to its client -- DPoP (``Authorization: DPoP`` and a
proof) or a client certificate -- is checked right after it verifies, on every
request (:mod:`wsgi_jwt_guard.binding`); ``AUTH_TYPE`` is then ``DPoP``.

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

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cachelib import BaseCache

from .answers import ANSWERS_KEY, DEFAULT_REALM, Answers
from .apikeys import APIKey, APIKeys
from .backstage import BACKSTAGE_COOKIE, BackstageSettings, cookie_endpoint
from .binding import ClientCertificate, SenderBinding
from .caches import SharedCache
from .clock import Clock, system_clock
from .cookies import CookieSettings, TokenCookie, shared_cacheable
from .cors import CORSSettings, Preflights
from .csrf import CSRFSettings, check_request
from .downstream import Downstream, DownstreamSettings
from .dpop import DPoPSettings
from .errors import MissingToken, RequestRefused
from .extraction import AMBIENT_SOURCES, TokenHeaders, extract_token
from .identity import ENVIRON_KEY, Identity
from .issuers import Issuer
from .metadata import ResourceMetadata, metadata_endpoint
from .metrics import EventHook, Metrics
from .request import RequestView, normalize_path
from .responses import Endpoint
from .revocation import Revocations
from .routing import Policy, RouteTable, Rule, check_mount
from .service import ServiceTokens
from .validation import clock_setting, instance, optional_instance, text, whole
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
_SCRUBBED = frozenset({"REMOTE_USER", "AUTH_TYPE", ENVIRON_KEY, ANSWERS_KEY, "HTTP_REMOTE_USER"})


class JWTGuard:
    """WSGI middleware that authenticates requests with JWTs.

    :param app: the WSGI application to protect.
    :param issuers: trusted issuers of user tokens.
    :param service_tokens: shared secrets for HS256 service-to-service tokens.
    :param routes: path prefix -> policy name or :class:`~wsgi_jwt_guard.routing.Rule`.
    :param default: the policy of paths no route matches; ``protected`` fails closed.
    :param cookie: the token cookie's name and attributes.
    :param csrf: how unsafe requests authenticated by a cookie prove they are same-site.
    :param token_headers: headers a proxy sets to a bare JWT (``X-Goog-IAP-JWT-Assertion``),
        then the issuers' own (presets'), before the cookie; ambient like it (CSRF-checked).
    :param mount: the ``SCRIPT_NAME`` the guard runs under (``/api`` in a ``DispatcherMiddleware``
        or a server's prefix); any other is refused (400). Routes match ``mount + PATH_INFO``.
    :param max_path_length: longer ``PATH_INFO`` is refused with 414 before any other work.
    :param cors: answer CORS preflights in the guard (:mod:`wsgi_jwt_guard.cors`);
        required by ``unless_methods = ["OPTIONS"]``.
    :param max_token_size: longer tokens are refused unparsed; 8 KiB fits any real JWT.
    :param remote_user_claim: the claim copied to ``REMOTE_USER``.
    :param realm: the ``realm`` of ``WWW-Authenticate`` challenges.
    :param cache: a ``cachelib`` cache for JWKS documents and revocations (default: per
        process); a :class:`~wsgi_jwt_guard.caches.SharedCache` with ``secrets`` signs entries.
    :param api_keys: static API keys (:mod:`wsgi_jwt_guard.apikeys`), never read from a cookie.
    :param revocations: revoked tokens and subjects to refuse (:mod:`wsgi_jwt_guard.revocation`).
    :param on_event: called with a counter's name on each increment of :attr:`metrics` (statsd).
    :param token_cache_size: verified tokens remembered per process, so a repeat token
        skips the signature check (:mod:`wsgi_jwt_guard.token_cache`); ``0``: off.
    :param token_cache_max_age: seconds before a remembered token is verified again (never
        past ``exp``): how long it outlives its key's removal. ``None``: until ``exp``.
    :param clock: the time, for everything the guard builds (:mod:`wsgi_jwt_guard.clock`).
    :param backstage: Backstage mode (:mod:`wsgi_jwt_guard.backstage`): plugin, on-behalf-of
        and limited-user tokens, the cookie endpoint at ``<mount>/.backstage/auth/v1/cookie``.
    :param downstream: claims as request headers and environ keys; the token passed on or not.
    :param resource_metadata: RFC 9728 metadata the guard serves (:mod:`wsgi_jwt_guard.metadata`).
    :param dpop: DPoP proof checks and the default DPoP mode (:mod:`wsgi_jwt_guard.dpop`).
    :param client_certificate: where certificate-bound tokens' certificate is read (``binding``).
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
        realm: str = DEFAULT_REALM,
        cache: BaseCache | None = None,
        api_keys: Sequence[APIKey] = (),
        revocations: Revocations | None = None,
        on_event: EventHook | None = None,
        token_cache_size: int = 10_000,
        token_cache_max_age: float | None = 300.0,
        clock: Clock = system_clock,
        backstage: BackstageSettings | None = None,
        downstream: DownstreamSettings | None = None,
        resource_metadata: ResourceMetadata | None = None,
        dpop: DPoPSettings | None = None,
        client_certificate: ClientCertificate | None = None,
    ) -> None:
        self.max_token_size = whole(max_token_size, "max_token_size", minimum=256)
        self.realm = text(realm, "realm", "a string")
        self.mount = check_mount(mount)
        self.max_path_length = whole(max_path_length, "max_path_length", minimum=256, maximum=2**20)
        self.clock = clock_setting(clock)  # handed to everything the guard builds
        self.cors = optional_instance(cors, "cors", CORSSettings)
        self.token_headers = TokenHeaders(token_headers, issuers)  # + the presets' own
        self.app = app
        #: Counters of requests allowed and refused; see :mod:`wsgi_jwt_guard.metrics`.
        self.metrics = Metrics(on_event)
        self._count_allowed = self.metrics.counter("requests.allowed")  # per request: bound once
        self._count_public = self.metrics.counter("requests.public")
        #: State shared between workers: JWKS documents, revocations.
        self.cache = cache if isinstance(cache, SharedCache) else SharedCache(cache, clock=clock)
        self.verifier = Verifier(
            issuers, service_tokens, backstage=backstage, remote_user_claim=remote_user_claim,
            cache=self.cache, metrics=self.metrics, token_cache_size=token_cache_size,
            token_cache_max_age=token_cache_max_age, clock=clock,
        )  # fmt: skip
        self.metrics.add_source(self.verifier.token_cache.counters)
        table = routes if isinstance(routes, RouteTable) else RouteTable(routes, default=default)
        self.routes = table
        table.check_preflights_answered(by_the_guard=cors is not None)
        self.cookie = instance(cookie, "cookie", CookieSettings, CookieSettings())
        self.token_cookie = TokenCookie(self.cookie, clock)
        self.csrf = instance(csrf, "csrf", CSRFSettings, CSRFSettings())
        self.api_keys = APIKeys(api_keys)
        self._has_api_keys = bool(self.api_keys)
        self.revocations = optional_instance(revocations, "revocations", Revocations)
        self.binding = SenderBinding(dpop, client_certificate, issuers, self.cache, table, clock)
        metadata = metadata_endpoint(resource_metadata, issuers, table, self.mount, self.binding)
        self._answer = Answers(  # the guard's refusals, and its views' (ANSWERS_KEY)
            realm, metadata, table, self.binding, self.mount, metrics=self.metrics,
            cors=self.cors, token_cookie=self.token_cookie, clock=clock,
        )  # fmt: skip
        endpoints = (
            None if self.cors is None else Preflights(self.cors, self.metrics),
            cookie_endpoint(backstage, self.verifier, mount, max_token_size, self.revocations),
            metadata,
        )
        #: Requests the guard answers itself, before routing: the first that handles one.
        self.endpoints: tuple[Endpoint, ...] = tuple(e for e in endpoints if e is not None)
        self.downstream = Downstream(  # what the app is handed beyond REMOTE_USER; the scrub's keys
            downstream, scrubbed=_SCRUBBED, token_headers=self.token_headers, csrf=self.csrf,
            cookie=self.cookie, backstage=backstage is not None, metrics=self.metrics,
        )  # fmt: skip

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        # 1. Scrub. (A view of the keys & a set looks up only the set's few.)
        for key in environ.keys() & self.downstream.scrubbed:
            del environ[key]
        # 2-4. Route, extract, verify.
        try:
            path = normalize_path(environ, self.mount, self.max_path_length)
            request = RequestView(environ, path)
            for endpoint in self.endpoints:  # CORS preflights, Backstage's cookie, RFC 9728
                if endpoint.handles(request):
                    return endpoint(request, start_response)  # never passed to the app
            identity = self._authenticate(request)
        except RequestRefused as refusal:
            return self._answer.refuse(refusal, environ, start_response)
        cors = self.cors.answer_headers(request.origin) if self.cors is not None else None
        if identity is None:  # a public route, or anonymous on an optional one
            self._count_public()
            environ[ANSWERS_KEY] = self._answer  # a view's 401 is answered as the guard's
            if cors is not None:
                start_response = _finishing(start_response, None, cors)
            return self.app(environ, start_response)
        self._count_allowed()
        # 5. Inject. (Whether the browser holds the cookie is read before the token may go.)
        set_cookie = self.token_cookie.to_set(request, identity)
        environ["REMOTE_USER"] = identity.subject
        environ["AUTH_TYPE"] = "DPoP" if identity.source == "dpop" else "Bearer"
        environ[ENVIRON_KEY] = identity
        if self._answer.for_identities:  # a realm or metadata that a view's 403 names too
            environ[ANSWERS_KEY] = self._answer
        self.downstream.inject(environ, identity)  # mapped claims; the token passed on, or not
        # 6. Respond.
        if cors is not None or request.response_headers:  # a renewed DPoP-Nonce, say
            start_response = _finishing(start_response, set_cookie, cors, request.response_headers)
        elif set_cookie is not None:  # the common case, kept cheap: one header
            start_response = _adding_cookie(start_response, set_cookie)
        return self.app(environ, start_response)

    def _authenticate(self, request: RequestView) -> Identity | None:
        """The request's verified identity, ``None`` if none is needed or sent."""
        rule, policy = self.routes.resolve(request)
        if policy == "public":
            return None
        token = None  # a refusal's log line describes it once it is taken for a token
        try:
            found = extract_token(
                request,
                cookie_name=self.cookie.name if self.cookie.enabled and rule.cookie else None,
                max_size=self.max_token_size,
                headers=self.token_headers,
                verified=self.verifier.token_cache.tokens,
                user_cookie=BACKSTAGE_COOKIE if rule.user_cookie else None,
            )
            if found is None:
                if policy == "optional":
                    return None
                raise MissingToken("this route requires a token")
            sent, source = found
            if source in AMBIENT_SOURCES:  # sent on their own, cross-site too
                check_request(request, self.csrf, self.token_headers.credential(request, source))
            token, identity = sent, None
            if self._has_api_keys:  # never from a cookie: APIKeys.identify refuses those
                identity = self.api_keys.identify(token, source, request.path)
            if identity is None:
                identity = self.verifier.verify(token, source)
            if source == "dpop" or self.binding.always or "cnf" in identity.claims:
                self.binding.check(request, identity, rule)  # DPoP proof, client certificate
            if self.revocations is not None:  # every kind: user, service, API key
                self.revocations.check(identity)
            rule.authorize(identity)
        except RequestRefused as refusal:
            refusal.token = token
            refusal.challenges = self.binding.challenges(rule, request)  # Bearer, DPoP or both
            raise
        return identity


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
    added: Iterable[tuple[str, str]] = (),
) -> StartResponse:
    """Wrap ``start_response`` to add the token cookie, CORS headers and ``added``.

    The cookie is left out of a response shared caches may store, and the CORS
    headers out of one whose app set its own. The body iterable is untouched.
    """

    def wrapped(status: str, headers: list[tuple[str, str]], exc_info: ExcInfo = None) -> Any:
        extra: list[tuple[str, str]] = [*added]
        if set_cookie is not None and not shared_cacheable(headers):
            extra.append(("Set-Cookie", set_cookie))
        if cors is not None and not any(
            key.lower() == "access-control-allow-origin" for key, _ in headers
        ):
            extra.extend(cors)
        return start_response(status, [*headers, *extra] if extra else headers, exc_info)

    return wrapped
