"""Backstage mode: be a Backstage backend plugin written in Python.

Backstage's backend (``@backstage/backend-defaults``) sends a plugin four kinds
of token, and its frontend loads images and other browser resources with a
cookie. With Backstage mode on, the guard accepts each of them where Backstage
itself would::

    from wsgi_jwt_guard import BackstageSettings, JWTGuard, Rule

    JWTGuard(
        app,
        mount="/api/reports",                     # this plugin's base path, if mounted
        backstage=BackstageSettings(
            base_url="https://backstage.example.com",  # the backend's base URL
            plugin_id="reports",                  # this service's plugin ID
            allowed_plugins=["catalog", "scaffolder"],  # plugins that may call it
        ),
        routes={"/api/reports/images": Rule("protected", user_cookie=True)},
    )

or in TOML, a ``[backstage]`` table with the same keys.

* **User tokens** (``typ: vnd.backstage.user``, ``iss`` = ``<base_url>/api/auth``,
  ``aud: backstage``, ES256) are verified with the auth plugin's keys,
  ``<base_url>/api/auth/.well-known/jwks.json``. That issuer is configured for
  you unless ``issuers`` already names it (then yours is used as written).
  Identity kind ``user``.
* **Plugin tokens** (``typ: vnd.backstage.plugin``, no ``iss``, ``sub`` = the
  calling plugin, ``aud`` = the target plugin) are verified with the *calling*
  plugin's own keys, ``<base_url>/api/<sub>/.backstage/auth/v1/jwks.json``;
  ``aud`` must be ``plugin_id``. Only plugins in ``allowed_plugins`` are
  accepted: ``sub`` is checked against Backstage's plugin ID pattern
  (``[a-z0-9_-]+``, any case) and the list *before* any URL is built from it,
  so an unlisted plugin's keys are never fetched. Each plugin's keys are a
  :class:`~wsgi_jwt_guard.jwks.JWKSClient` (caching, cooldown, stale-if-error,
  the shared cache), made on its first token. Identity kind ``plugin``,
  subject ``plugin:<sub>``, as Backstage's service principal.
* **On-behalf-of tokens**: a plugin token carrying ``obo``, the user's limited
  token (or, as Backstage also accepts, the full user token), which must
  verify with the auth plugin's keys. Identity kind ``on-behalf-of``: the
  subject is the user, ``claims`` are the user token's, ``actor`` is
  ``plugin:<sub>``, ``token`` the plugin token, and it expires with
  whichever of the two expires first.
* **Limited-user tokens** (``typ: vnd.backstage.limited-user``: only ``sub``,
  ``iat``, ``exp``; signed with the user-token keys) are what Backstage puts
  in its ``backstage-auth`` cookie. They are accepted only on routes with
  ``user_cookie = true``, as a bearer token or in that cookie; anywhere else
  one is refused with 401, as Backstage refuses it ("Illegal limited user
  token"). On those routes a full user token in the cookie works too.
  Identity kind ``limited-user``.
* **The cookie endpoint**, ``<mount>/.backstage/auth/v1/cookie``, which
  Backstage's frontend calls on every plugin it loads resources from:
  ``GET`` with a full user token as bearer answers ``{"expiresAt": ...}`` and
  sets ``backstage-auth`` to the user's limited token, byte for byte what
  Backstage sets (see :func:`limited_token`; ``Domain`` is ``base_url``'s
  host, ``Secure`` with ``SameSite=None`` when ``base_url`` is https or
  ``localhost``, else ``SameSite=Lax``); ``DELETE`` clears it (204). Nothing
  or a limited token is 401, a plugin or service token 403. A request that
  holds a valid cookie for the same user, good for 5 more minutes, gets no
  new one. The wrapped app never sees these requests.

The ``backstage-auth`` cookie is an ambient credential, like the guard's own
token cookie: unsafe requests authenticated by it must prove they come from
this site (:mod:`wsgi_jwt_guard.csrf`).

.. warning::
    ``allowed_plugins`` is the list of plugins whose *own* keys you trust: a
    listed plugin can act as itself towards this service, and on behalf of any
    user whose limited token it holds (which Backstage gives every plugin a
    user calls). List only the plugins that call this service.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import formatdate
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cachelib import BaseCache

from .claims import check_audience, check_subject, check_times
from .clock import Clock, system_clock
from .errors import ConfigError, InsufficientScope, InvalidToken, MissingToken, RequestRefused
from .extraction import bearer_token
from .identity import Identity, TokenSource
from .issuers import PATH, Issuer, KeySource, key_source
from .jws import CompactJWS, b64url_encode, parse
from .refresh import RefreshPolicy
from .validation import Settings, flag, strings, text

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse

    from .metrics import Metrics
    from .request import RequestView
    from .revocation import Revocations
    from .verification import Verifier

__all__ = [
    "BACKSTAGE_COOKIE",
    "BACKSTAGE_TYPES",
    "COOKIE_PATH",
    "BackstageSettings",
    "BackstageTokens",
    "CookieEndpoint",
    "cookie_endpoint",
    "limited_token",
]

#: The cookie Backstage's frontend authenticates browser loads with.
BACKSTAGE_COOKIE = "backstage-auth"
#: Where every Backstage plugin serves its cookie endpoint, below its base path.
COOKIE_PATH = "/.backstage/auth/v1/cookie"
USER_TYP = "vnd.backstage.user"
PLUGIN_TYP = "vnd.backstage.plugin"
LIMITED_TYP = "vnd.backstage.limited-user"
#: Header ``typ`` values verified by :class:`BackstageTokens` (no ``iss``).
BACKSTAGE_TYPES = frozenset({PLUGIN_TYP, LIMITED_TYP})
#: Backstage's user tokens' audience.
USER_AUDIENCE = "backstage"

# Backstage's ALLOWED_PLUGIN_ID_PATTERN, /^[a-z0-9_-]+$/i, used with fullmatch
# (Python's `$` also matches before a trailing newline).
_PLUGIN_ID = re.compile(r"[a-z0-9_-]+", re.IGNORECASE)
# A JWS signature segment: what `uip` must be before it goes into a header.
_SIGNATURE = re.compile(r"[A-Za-z0-9_-]+")
# Backstage sets a new cookie unless the one held lasts this much longer.
_RENEW_BEFORE = 300.0
_EPOCH = "Thu, 01 Jan 1970 00:00:00 GMT"


@dataclass(frozen=True)
class BackstageSettings(Settings):
    """Backstage mode's settings (``[backstage]``); see the module docs."""

    #: The Backstage backend's base URL (``backend.baseUrl``), without a trailing
    #: ``/``: user tokens' ``iss`` is ``<base_url>/api/auth``, plugins' keys are
    #: under ``<base_url>/api/<plugin>``, and the cookie's ``Domain`` is its host.
    base_url: str
    #: This service's plugin ID: plugin tokens' ``aud`` must equal it.
    plugin_id: str
    #: The plugins whose tokens (plain or on behalf of a user) are accepted,
    #: by plugin ID, compared exactly. Empty (the default): none -- every
    #: caller must be listed, since each listed plugin's keys are trusted.
    allowed_plugins: Sequence[str] = ()
    #: Algorithms of plugin keys and of the implicit user-token issuer.
    algorithms: Sequence[str] = ("ES256",)
    #: Clock skew tolerated on ``exp``/``iat`` of every Backstage token (at most 300 s).
    leeway: float = 0.0
    #: When plugin and auth keys are refreshed (as an issuer's ``jwks_refresh``).
    jwks_refresh: RefreshPolicy = field(default_factory=RefreshPolicy)
    #: Serve ``<mount>/.backstage/auth/v1/cookie`` in the guard.
    cookie_endpoint: bool = True
    #: Fetch keys over plain ``http://`` from a non-loopback ``base_url``: anyone
    #: on the network path can then substitute keys. Test rigs only.
    insecure_http: bool = False
    #: A PEM file of the CAs to verify the backend's TLS with (a private CA),
    #: for the auth and plugin keys alike; default: the system's.
    ca_bundle: str | None = field(default=None, metadata=PATH)
    #: The implicit issuer of user tokens, built from the settings above.
    user_issuer: Issuer = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        base = text(self.base_url, "base_url", "the Backstage backend's base URL")
        base = base.removesuffix("/")
        if any(c in base for c in "?#") or "://" not in base:
            raise ConfigError(
                "base_url", "expected an absolute URL such as https://backstage.example.com"
            )
        plugin_id = text(self.plugin_id, "plugin_id", "this service's plugin ID")
        if not _PLUGIN_ID.fullmatch(plugin_id):
            raise ConfigError("plugin_id", "a Backstage plugin ID is letters, digits, '-' and '_'")
        allowed = strings(self.allowed_plugins, "allowed_plugins")
        for index, plugin in enumerate(allowed):
            if not _PLUGIN_ID.fullmatch(plugin):
                raise ConfigError(
                    f"allowed_plugins[{index}]",
                    "a Backstage plugin ID is letters, digits, '-' and '_' (no wildcards)",
                )
        try:
            issuer = Issuer(
                f"{base}/api/auth",
                jwks_uri=f"{base}/api/auth/.well-known/jwks.json",
                audience=USER_AUDIENCE,
                algorithms=self.algorithms,
                leeway=self.leeway,
                token_types=[USER_TYP],
                jwks_refresh=self.jwks_refresh,
                insecure_http=self.insecure_http,
                ca_bundle=self.ca_bundle,
            )
        except ConfigError as exc:  # the fields are ours: name them, not the issuer's
            key = "base_url" if exc.key == "jwks_uri" else exc.key
            raise ConfigError(key, exc.message) from None
        self._settle(
            base_url=base,
            plugin_id=plugin_id,
            allowed_plugins=allowed,
            algorithms=issuer.algorithms,
            leeway=issuer.leeway,
            jwks_refresh=issuer.jwks_refresh,
            cookie_endpoint=flag(self.cookie_endpoint, "cookie_endpoint"),
            insecure_http=issuer.insecure_http,
            ca_bundle=issuer.ca_bundle,
            user_issuer=issuer,
        )

    @property
    def auth_issuer(self) -> str:
        """The ``iss`` of Backstage user tokens: ``<base_url>/api/auth``."""
        return self.user_issuer.issuer

    def plugin_jwks_uri(self, plugin: str) -> str:
        """Where ``plugin`` publishes its plugin-token keys (``plugin`` must be checked)."""
        return f"{self.base_url}/api/{plugin}/.backstage/auth/v1/jwks.json"

    def with_user_issuer(self, issuers: Sequence[Issuer]) -> list[Issuer]:
        """``issuers``, plus the implicit user-token issuer unless one is configured."""
        if any(issuer.issuer == self.auth_issuer for issuer in issuers):
            return list(issuers)
        return [*issuers, self.user_issuer]


class BackstageTokens:
    """Verifies plugin, on-behalf-of and limited-user tokens (no ``iss``).

    ``user_issuer`` and ``user_keys`` are the auth plugin's issuer and keys
    (the implicit one, or the one configured), which sign limited tokens.
    """

    def __init__(
        self,
        settings: BackstageSettings,
        user_issuer: Issuer,
        user_keys: KeySource,
        *,
        cache: BaseCache | None = None,
        metrics: Metrics | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.settings = settings
        self.user_issuer = user_issuer
        self.user_keys = user_keys
        self._allowed = frozenset(settings.allowed_plugins)
        self._cache = cache
        self._metrics = metrics
        self._clock = clock
        self._plugin_keys: dict[str, KeySource] = {}
        self._lock = threading.Lock()
        # Plugin keys are fetched on a plugin's first token: the file is checked now.
        if settings.ca_bundle is not None and not os.path.isfile(settings.ca_bundle):
            path = os.path.abspath(settings.ca_bundle)
            raise ConfigError("ca_bundle", f"no such file: {path!r}")

    def plugin_keys(self, plugin: str) -> KeySource:
        """The key source of an allowed ``plugin``, made on first use."""
        keys = self._plugin_keys.get(plugin)
        if keys is None:
            if plugin not in self._allowed:  # never build a client for anyone else
                raise InvalidToken(f"plugin tokens from {plugin!r} are not accepted")
            with self._lock:
                keys = self._plugin_keys.get(plugin)
                if keys is None:
                    settings = self.settings
                    issuer = Issuer(
                        f"{settings.base_url}/api/{plugin}",
                        jwks_uri=settings.plugin_jwks_uri(plugin),
                        algorithms=settings.algorithms,
                        jwks_refresh=settings.jwks_refresh,
                        insecure_http=settings.insecure_http,
                        ca_bundle=settings.ca_bundle,
                    )
                    keys = key_source(
                        issuer, cache=self._cache, metrics=self._metrics, clock=self._clock
                    )
                    self._plugin_keys[plugin] = keys
        return keys

    def verify(self, jws: CompactJWS, token: str, source: TokenSource, now: float) -> Identity:
        """The identity of a token whose ``typ`` is in :data:`BACKSTAGE_TYPES`."""
        if jws.header.get("typ") == LIMITED_TYP:
            claims = self._limited_claims(jws, now)
            return Identity(
                claims["sub"],
                MappingProxyType(claims),
                self.user_issuer.issuer,
                "limited-user",
                source,
                claims["exp"],
                token,
                frozenset(),
            )
        return self._plugin_identity(jws, token, source, now)

    def _plugin_identity(
        self, jws: CompactJWS, token: str, source: TokenSource, now: float
    ) -> Identity:
        claims = jws.claims
        if jws.header.get("typ") != PLUGIN_TYP:
            raise InvalidToken("the token's type ('typ') is not accepted")
        plugin = claims.get("sub")
        # The pattern first: `sub` becomes part of a URL only once it is known safe.
        if not isinstance(plugin, str) or not _PLUGIN_ID.fullmatch(plugin):
            raise InvalidToken("the plugin token's 'sub' is not a plugin ID")
        keys = self.plugin_keys(plugin)  # refuses unlisted plugins, with no fetch
        if jws.alg not in self.settings.algorithms:
            raise InvalidToken("the token's algorithm is not allowed for plugin tokens")
        key = keys.find(jws.kid, jws.alg)
        if not key.verify(jws.signing_input, jws.signature):
            raise InvalidToken("the token signature does not verify")
        _require(claims, ("iat", "exp", "sub", "aud"))
        exp = check_times(claims, now=now, leeway=self.settings.leeway)
        check_audience(claims, (self.settings.plugin_id,))
        actor = f"plugin:{plugin}"
        obo = claims.get("obo")
        if obo is None:
            return Identity(
                actor, MappingProxyType(claims), None, "plugin", source, exp, token, frozenset()
            )
        if not isinstance(obo, str):
            raise InvalidToken("the plugin token's 'obo' claim is not a token")
        try:
            user = self._user_claims(parse(obo), now, full=True)
        except InvalidToken as refusal:
            reason = refusal.description
            raise InvalidToken(f"the plugin token's 'obo' user token: {reason}") from None
        return Identity(
            user["sub"],
            MappingProxyType(user),  # the user's, as Backstage's credentials are
            self.user_issuer.issuer,
            "on-behalf-of",
            source,
            min(exp, user["exp"]),
            token,
            frozenset(),
            actor,
        )

    def _limited_claims(self, jws: CompactJWS, now: float) -> dict[str, Any]:
        """The claims of a limited-user token, verified with the user-token keys."""
        return self._user_claims(jws, now, full=False)

    def _user_claims(self, jws: CompactJWS, now: float, *, full: bool) -> dict[str, Any]:
        """The claims of a limited-user token (or, if ``full``, a user token too),
        verified with the user-token keys, as Backstage verifies an ``obo``."""
        typ = jws.header.get("typ")
        if typ != LIMITED_TYP and not (full and typ == USER_TYP):
            raise InvalidToken("the token's type ('typ') is not a limited user token")
        issuer = self.user_issuer
        if jws.alg not in issuer.algorithms:
            raise InvalidToken("the token's algorithm is not allowed for its issuer")
        key = self.user_keys.find(jws.kid, jws.alg)
        if not key.verify(jws.signing_input, jws.signature):
            raise InvalidToken("the token signature does not verify")
        claims = jws.claims
        _require(claims, ("iat", "exp", "sub"))
        exp = check_times(claims, now=now, leeway=issuer.leeway)
        if typ == USER_TYP:  # a full token is held to its issuer's rules
            if claims.get("iss") != issuer.issuer:
                raise InvalidToken("the token's issuer is not Backstage's auth plugin")
            if issuer.audience:
                check_audience(claims, issuer.audience)
        return {**claims, "sub": check_subject(claims), "exp": exp}


def _require(claims: Mapping[str, Any], names: Iterable[str]) -> None:
    for name in names:
        if name not in claims:
            raise InvalidToken(f"the token has no {name!r} claim")


# --- the limited token and the cookie endpoint ---------------------------------------


def limited_token(user_token: str) -> str:
    """The limited-user token Backstage derives from a full user token, byte for byte.

    Nothing is signed: the header becomes ``{"typ":"vnd.backstage.limited-user",
    "alg":...,"kid":...}`` and the claims ``{"sub":...,"iat":...,"exp":...}``
    (compact JSON in that key order, as ``JSON.stringify`` writes them), and the
    signature is the full token's ``uip`` claim, which the auth plugin made by
    signing exactly that. A limited token is returned as it is.
    :class:`~wsgi_jwt_guard.errors.InvalidToken` if the token is neither, or
    has no ``uip``.
    """
    jws = parse(user_token)
    if jws.header.get("typ") == LIMITED_TYP:
        return user_token
    if jws.header.get("typ") != USER_TYP:
        raise InvalidToken("a limited token is made from a Backstage user token only")
    claims = jws.claims
    uip = claims.get("uip")
    # Checked: it goes into a Set-Cookie header.
    if not isinstance(uip, str) or not _SIGNATURE.fullmatch(uip):
        raise InvalidToken("the user token has no user identity proof ('uip')")
    header = {"typ": LIMITED_TYP, "alg": jws.alg}
    if jws.kid is not None:
        header["kid"] = jws.kid
    payload = {name: _js_number(claims.get(name)) for name in ("sub", "iat", "exp")}
    return ".".join([_js_json(header), _js_json(payload), uip])


def _js_json(value: Mapping[str, Any]) -> str:
    """``base64url(JSON.stringify(value))``: compact, non-ASCII as UTF-8."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return b64url_encode(text.encode("utf-8"))


def _js_number(value: Any) -> Any:
    # JavaScript has one number type: 1700000000.0 is written as 1700000000.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def cookie_endpoint(
    settings: BackstageSettings | None,
    verifier: Verifier,
    mount: str = "",
    max_token_size: int = 8192,
    revocations: Revocations | None = None,
) -> CookieEndpoint | None:
    """The guard's cookie endpoint, or ``None`` without Backstage mode or with it off."""
    if settings is None or not settings.cookie_endpoint:
        return None
    return CookieEndpoint(
        settings, verifier, mount=mount, max_token_size=max_token_size, revocations=revocations
    )


class CookieEndpoint:
    """``GET``/``DELETE <mount>/.backstage/auth/v1/cookie``, answered in the guard.

    Tokens are verified by ``verifier`` (the guard's, with its token cache);
    ``revocations``, if any, are checked for the user token as on any route.
    """

    def __init__(
        self,
        settings: BackstageSettings,
        verifier: Verifier,
        *,
        mount: str = "",
        max_token_size: int = 8192,
        revocations: Revocations | None = None,
    ) -> None:
        self.path = mount + COOKIE_PATH
        self._verifier = verifier
        self._max_token_size = max_token_size
        self._revocations = revocations
        self._auth_issuer = settings.auth_issuer
        # Backstage's Domain and Secure come from the plugin's external URL: the backend's.
        url = urlsplit(settings.base_url)
        hostname = url.hostname or ""
        secure = url.scheme == "https" or hostname == "localhost"
        self._domain = f"[{hostname}]" if ":" in hostname else hostname  # as JS's URL.hostname
        self._attributes = (
            "; HttpOnly; Secure; Priority=High; SameSite=None"
            if secure
            else ("; HttpOnly; Priority=High; SameSite=Lax")
        )

    def handles(self, request: RequestView) -> bool:
        """Whether the guard answers this request itself."""
        return request.path == self.path and request.method in ("GET", "HEAD", "DELETE")

    def __call__(self, request: RequestView, start_response: StartResponse) -> Iterable[bytes]:
        """Answer the request, or raise the refusal the guard sends instead."""
        identity = self._caller(request)
        if request.method == "DELETE":
            # As Backstage: any full credential may clear it (its default auth policy).
            start_response("204 No Content", [("Set-Cookie", self.set_cookie("", None))])
            return []
        if identity.kind not in ("user", "on-behalf-of"):
            # Plugin, service and static tokens are all Backstage's 'service' principals.
            raise InsufficientScope("This endpoint does not allow 'service' credentials")
        if identity.kind == "user" and identity.issuer != self._auth_issuer:
            raise InvalidToken("a cookie is issued for a Backstage user token only")
        if identity.kind == "on-behalf-of":
            # As Backstage: the limited form of the user token the plugin holds, and its expiry.
            limited = limited_token(parse(identity.token).claims["obo"])
            expires_at = identity.claims["exp"]
        else:
            limited = limited_token(identity.token)
            expires_at = identity.expires_at
        headers = [
            ("Content-Type", "application/json; charset=utf-8"),
            ("Cache-Control", "no-store"),
        ]
        held = self._held(request, identity.subject)
        if held is not None:
            expires_at = held
        else:
            headers.append(("Set-Cookie", self.set_cookie(limited, expires_at)))
        body = json.dumps({"expiresAt": _iso(expires_at)}, separators=(",", ":")).encode()
        headers.append(("Content-Length", str(len(body))))
        start_response("200 OK", headers)
        return [] if request.method == "HEAD" else [body]

    def _caller(self, request: RequestView) -> Identity:
        """The identity of the full token the request carries as its bearer token."""
        token = bearer_token(request.environ, self._max_token_size)
        if token is None:
            raise MissingToken("Missing credentials")
        try:
            identity = self._verifier.verify(token, "header")
            if identity.kind == "limited-user":
                raise InvalidToken("Illegal limited user token", source="header")
            if "cnf" in identity.claims:  # bound to its client (RFC 9449, RFC 8705): no cookie
                raise InvalidToken("a sender-constrained token is never put in a cookie")
            if self._revocations is not None:
                self._revocations.check(identity)
        except RequestRefused as refusal:
            refusal.token = token
            raise
        return identity

    def _held(self, request: RequestView, subject: str) -> float | None:
        """The expiry of a valid cookie for ``subject`` the request holds, if not soon."""
        values = [value for value in request.cookie(BACKSTAGE_COOKIE) if value]
        if len(values) != 1 or len(values[0]) > self._max_token_size:
            return None
        try:
            held = self._verifier.verify(values[0], "backstage-cookie")
        except InvalidToken:
            return None  # a bad cookie is replaced
        if held.kind not in ("user", "limited-user") or held.subject != subject:
            return None
        if held.expires_at <= self._verifier.clock() + _RENEW_BEFORE:
            return None
        return held.expires_at

    def set_cookie(self, value: str, expires_at: float | None) -> str:
        """The ``Set-Cookie`` value Backstage sends (``None``: clear it)."""
        expires = _EPOCH if expires_at is None else formatdate(int(expires_at), usegmt=True)
        return (
            f"{BACKSTAGE_COOKIE}={value}; Domain={self._domain}; Path=/; Expires={expires}"
            + self._attributes
        )


def _iso(seconds: float) -> str:
    """JavaScript's ``new Date(seconds * 1000).toISOString()``."""
    millis = int(seconds * 1000)
    moment = datetime.fromtimestamp(millis // 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{millis % 1000:03d}Z"
