"""Trusted issuers of user tokens and where their keys come from.

An :class:`Issuer` stores and validates one issuer's settings, and raises
:class:`~wsgi_jwt_guard.errors.ConfigError` naming the field at fault::

    Issuer(
        "https://backstage.example.com/api/auth",
        jwks_uri="https://backstage.example.com/api/auth/.well-known/jwks.json",
        audience="backstage",
        algorithms=["ES256"],
    )

Keys come from exactly one kind of source: a ``jwks_uri`` fetched over HTTPS
(see :mod:`wsgi_jwt_guard.jwks`), OIDC discovery (``discovery = true``: the
JWKS URL is read from ``<issuer>/.well-known/openid-configuration``), or static
keys -- ``keys`` (JWK objects), ``keys_file`` (a JWKS or JWK file), ``pem``
(PEM text) or ``pem_file`` -- which may be combined.

Building an ``Issuer`` touches neither the file system nor the network.
:func:`key_source` is the loader: it reads and pins static keys, checks the
``ca_bundle`` file, or sets up the JWKS client. The guard calls it once per
issuer when it is built, so a missing or bad key file is still a start-up
error, named under the issuer (``issuers[0].keys_file: cannot read
'/etc/guard/keys.json': No such file or directory``). A relative path is read
from the working directory; in a TOML file, it is relative to that file (see
:mod:`wsgi_jwt_guard.config`).

Behind an edge proxy, ``preset`` (``gcp-iap``, ``cloudflare-access``,
``aws-alb``) fills the proxy's header, algorithm, ``issuer`` and key source --
for AWS ALB ``pem_url``, one PEM per ``kid`` -- and its checks (ALB's
``signers`` and ``client_ids``, Cloudflare's application tokens only);
whatever it fills can still be set (see :mod:`wsgi_jwt_guard.presets`)::

    Issuer(preset="gcp-iap", audience="/projects/123/global/backendServices/456")

When fetched keys are refreshed is one setting, ``jwks_refresh``: a
:class:`~wsgi_jwt_guard.refresh.RefreshPolicy`, or in configuration a table of
its fields::

    [[issuers]]
    issuer = "https://backstage.example.com/api/auth"
    jwks_uri = "https://backstage.example.com/api/auth/.well-known/jwks.json"
    jwks_refresh = { cooldown = 10, prefetch = true }
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from cachelib import BaseCache

from .claims import SCOPE_CLAIMS, ClaimRequirement, claim_path, claim_requirements, has_claim
from .clock import Clock, system_clock
from .discovery import Discovery
from .dpop import DPOP_MODES, DPoPMode
from .errors import ConfigError, InvalidToken
from .fetch import Downloader, check_fetch_url
from .introspection import INTROSPECT_MODES, IntrospectionSettings
from .jwks import JWKSClient
from .keys import ALGORITHMS, KeySet, PinnedKey, pin_pem
from .pemkeys import PEMKeysByKid
from .presets import preset_settings
from .refresh import RefreshPolicy
from .validation import Settings, flag, one_of, optional_text, seconds, strings, text

if TYPE_CHECKING:
    from .metrics import Metrics

__all__ = ["Issuer", "KeySource", "key_source"]

#: Marks the fields that name a file: a configuration file's loader reads them
#: relative to that file (``dataclasses.fields(Issuer)``, ``metadata["path"]``).
PATH = {"path": True}

_DEFAULT_ALGORITHMS = ("ES256", "RS256")
# More leeway than this makes 'exp' meaningless.
_MAX_LEEWAY = 300.0


class KeySource(Protocol):
    """Anything that finds an issuer's key for a token's ``kid`` and ``alg``."""

    def find(self, kid: str | None, algorithm: str) -> PinnedKey: ...


@dataclass(frozen=True)
class Issuer(Settings):
    """One trusted issuer: the ``iss`` it signs as, its keys and its claim rules."""

    #: Must equal the token's ``iss`` exactly (no trailing-slash or case folding).
    #: Required, unless a ``preset`` fills it in.
    issuer: str = ""
    jwks_uri: str | None = None
    #: Find ``jwks_uri`` by OIDC discovery; the document's ``issuer`` must equal ``issuer``.
    discovery: bool = False
    #: Hosts other than the issuer's that a discovered ``jwks_uri`` may point to.
    jwks_allowed_hosts: Sequence[str] = ()
    #: JWK objects (public keys), each pinned to one of ``algorithms``.
    keys: Sequence[Mapping[str, Any]] = ()
    #: A JWKS (or single JWK) file, read by :func:`key_source`.
    keys_file: str | None = field(default=None, metadata=PATH)
    pem: str | None = None
    #: A PEM public key or certificate file, read by :func:`key_source`.
    pem_file: str | None = field(default=None, metadata=PATH)
    #: Accepted ``aud`` values; empty means ``aud`` is not checked.
    audience: str | Sequence[str] = ()
    #: Allowed signature algorithms; each key is pinned to one of them.
    algorithms: Sequence[str] = _DEFAULT_ALGORITHMS
    #: Clock skew tolerated on ``exp``/``nbf``/``iat``, in seconds (at most 300).
    leeway: float = 0.0
    #: Accepted header ``typ`` values (``vnd.backstage.user``, ``at+jwt``);
    #: empty means any. Compared case-insensitively, ``application/`` optional.
    token_types: Sequence[str] = ()
    #: Claims every token of this issuer must carry (beyond ``exp`` and ``sub``),
    #: by claim path (``realm_access.roles``; see :func:`~wsgi_jwt_guard.claims.claim_path`):
    #: a list of paths that must be present, or a table of paths to the values
    #: they must hold, as a rule's ``claims`` (``{ typ = "Bearer" }``). Failing is 401.
    required_claims: Sequence[str] | Mapping[str, Any] = ()
    #: The claims this issuer's tokens carry scopes in, by claim path: each a
    #: space-separated string or a list of strings; a rule's ``scopes`` are
    #: looked up in their union. ``["permissions"]`` for Auth0 RBAC alone.
    scope_claims: Sequence[str] = SCOPE_CLAIMS
    #: The tenants a multi-tenant ``issuer`` template accepts: with
    #: ``issuer = "https://login.microsoftonline.com/{tenant}/v2.0"`` a token's
    #: ``iss`` must be that URL with ``{tenant}`` one of these, exactly.
    tenants: Sequence[str] = ()
    #: A claim that must equal the tenant named in ``iss`` (Entra ID: ``tid``).
    tenant_claim: str | None = None
    #: When fetched keys are used, refreshed and given up: TTL, refresh ahead,
    #: cooldown for unknown kids, stale-if-error, retries, prefetch. A
    #: :class:`~wsgi_jwt_guard.refresh.RefreshPolicy`, or a mapping of its fields.
    jwks_refresh: RefreshPolicy = field(default_factory=RefreshPolicy)
    #: A CA bundle (PEM file) to verify the issuer's TLS certificate with.
    ca_bundle: str | None = field(default=None, metadata=PATH)
    #: Allow a plain ``http://`` JWKS URL on a non-loopback host. Anyone on the
    #: network path can then substitute keys and mint tokens: test rigs only.
    insecure_http: bool = False
    #: DPoP for this issuer's tokens: ``off``, ``allowed`` or ``required``
    #: (:mod:`wsgi_jwt_guard.binding`); ``None``: the guard's ``[dpop] mode``.
    dpop: DPoPMode | None = None
    #: ``required_claims``, ``scope_claims`` and ``tenant_claim`` split into
    #: path segments once, for the verifier (not settings).
    required_paths: tuple[tuple[str, ...], ...] = field(init=False, repr=False, compare=False)
    required_values: tuple[ClaimRequirement, ...] = field(init=False, repr=False, compare=False)
    scope_paths: tuple[tuple[str, ...], ...] = field(init=False, repr=False, compare=False)
    tenant_path: tuple[str, ...] | None = field(init=False, repr=False, compare=False)
    #: An edge proxy's settings, filled in where not set explicitly:
    #: ``aws-alb``, ``gcp-iap`` or ``cloudflare-access`` (see :mod:`wsgi_jwt_guard.presets`).
    preset: str | None = None
    #: A header carrying this issuer's bare tokens, read by the guard (an edge's;
    #: ambient, CSRF-checked). Only the edge may be able to set it.
    token_header: str | None = None
    #: A cookie carrying this issuer's tokens (Cloudflare's ``CF_Authorization``).
    token_cookie: str | None = None
    #: ``cloudflare-access``: the team, for ``https://<team>.cloudflareaccess.com``.
    team: str | None = None
    #: Accepted values of the token header's ``signer`` (AWS ALB: the load
    #: balancers' ARNs); empty means not checked.
    signers: Sequence[str] = ()
    #: ``aws-alb``: accepted values of the token header's ``client``, the OIDC
    #: client IDs of the load balancers' authenticate actions. Required, unless
    #: ``any_client``.
    client_ids: Sequence[str] = ()
    #: ``aws-alb``: accept a token whatever its ``client``: any application the
    #: load balancers authenticate for with this identity provider gets in.
    any_client: bool = False
    #: ``aws-alb``: the load balancers' region (read from ``signers``).
    region: str | None = None
    #: Keys published one PEM per ``kid`` at this URL, ``{kid}`` replaced (AWS ALB).
    pem_url: str | None = None
    #: Ask this issuer about tokens (RFC 7662): ``"off"``, ``"opaque"`` (tokens that
    #: are not JWTs) or ``"always"`` (its JWTs too). One issuer at most; see
    #: :mod:`wsgi_jwt_guard.introspection`.
    introspect: str = "off"
    #: The introspection endpoint, client and caching: an
    #: :class:`~wsgi_jwt_guard.introspection.IntrospectionSettings` or a table of its fields.
    introspection: IntrospectionSettings | None = None

    def __post_init__(self) -> None:
        self._settle(**preset_settings(self.preset, self._as_given()))
        algorithms = strings(self.algorithms, "algorithms")
        for name in algorithms:
            if name not in ALGORITHMS:
                hint = " (HS256 is for [service_tokens])" if name.upper().startswith("HS") else ""
                raise ConfigError(
                    "algorithms", f"{name!r} is not allowed{hint}; choose from {sorted(ALGORITHMS)}"
                )
        if not algorithms:
            raise ConfigError("algorithms", "expected at least one algorithm")
        leeway = seconds(self.leeway, "leeway")
        if leeway > _MAX_LEEWAY:
            raise ConfigError("leeway", "more than 300 seconds of leeway defeats 'exp'")
        token_types = strings(self.token_types, "token_types", allow_one=True)
        hosts = strings(self.jwks_allowed_hosts, "jwks_allowed_hosts", allow_one=True)
        self._settle(
            issuer=text(self.issuer, "issuer", "the issuer URL (the tokens' 'iss')"),
            algorithms=algorithms,
            audience=strings(self.audience, "audience", allow_one=True),
            token_types=tuple(_media_type(t) for t in token_types),
            required_claims=dict(self.required_claims)
            if isinstance(self.required_claims, Mapping)
            else strings(self.required_claims, "required_claims"),
            scope_claims=strings(self.scope_claims, "scope_claims", allow_one=True),
            tenants=_tenants(self.issuer, self.tenants),
            tenant_claim=optional_text(self.tenant_claim, "tenant_claim", "a claim name"),
            leeway=leeway,
            jwks_refresh=_refresh_policy(self.jwks_refresh),
            discovery=flag(self.discovery, "discovery"),
            insecure_http=flag(self.insecure_http, "insecure_http"),
            dpop=None if self.dpop is None else one_of(self.dpop, "dpop", DPOP_MODES),
            jwks_allowed_hosts=hosts,
            keys=_jwks(self.keys),
            keys_file=optional_text(self.keys_file, "keys_file", "a file name"),
            pem=optional_text(self.pem, "pem", "PEM text"),
            pem_file=optional_text(self.pem_file, "pem_file", "a file name"),
            ca_bundle=optional_text(self.ca_bundle, "ca_bundle", "a file name"),
            token_header=optional_text(self.token_header, "token_header", "a header name"),
            token_cookie=optional_text(self.token_cookie, "token_cookie", "a cookie name"),
            signers=strings(self.signers, "signers", allow_one=True),
            client_ids=strings(self.client_ids, "client_ids", allow_one=True),
            any_client=flag(self.any_client, "any_client"),
            pem_url=optional_text(self.pem_url, "pem_url", "a URL with '{kid}'"),
        )
        for name, preset in _PRESET_ONLY:  # set, but for another preset (or none)
            if getattr(self, name) not in (None, (), False) and self.preset != preset:
                raise ConfigError(name, f"only with preset = {preset!r}")
        required = self.required_claims
        self._settle(
            required_paths=()
            if isinstance(required, Mapping)
            else tuple(
                claim_path(name, f"required_claims[{index}]") for index, name in enumerate(required)
            ),
            required_values=claim_requirements(required, "required_claims")
            if isinstance(required, Mapping)
            else (),
            scope_paths=tuple(
                claim_path(name, f"scope_claims[{index}]")
                for index, name in enumerate(self.scope_claims)
            ),
            tenant_path=None
            if self.tenant_claim is None
            else claim_path(self.tenant_claim, "tenant_claim"),
        )
        if self.tenant_claim is not None and not self.tenants:
            raise ConfigError("tenant_claim", "only for an issuer template with tenants")
        self._check_introspection()
        sources = [
            self.jwks_uri is not None,
            self.discovery,
            self.has_static_keys,
            self.pem_url is not None,
        ]
        if sum(sources) > 1:
            raise ConfigError(
                "jwks_uri",
                "give one key source: jwks_uri, discovery = true, pem_url, or static keys",
            )
        if self.pem_url is not None:
            if self.pem_url.count("{kid}") != 1:
                raise ConfigError("pem_url", "expected a URL with '{kid}' once")
            self._check_uri("pem_url", self.pem_url.replace("{kid}", "kid"))
        elif self.jwks_uri is not None:
            self._check_uri("jwks_uri", self.jwks_uri)
        elif self.discovery:
            for iss, _ in self.concrete_issuers:
                self._check_uri("discovery", iss)
        elif not self.has_static_keys and self.introspect == "off":
            # An issuer whose tokens are introspected needs none: its JWTs go to the
            # endpoint ("always") or, signed by no key it has, are refused ("opaque").
            raise ConfigError(
                "issuer",
                "no keys: set jwks_uri, discovery = true, keys, keys_file, pem or pem_file"
                " (or introspect its tokens)",
            )

    def _check_introspection(self) -> None:
        """``introspect`` and ``introspection``: both or neither, and where tokens may go."""
        introspect = one_of(self.introspect, "introspect", INTROSPECT_MODES)
        settings = self.introspection
        if settings is not None and not isinstance(settings, IntrospectionSettings):
            if not isinstance(settings, Mapping):
                raise ConfigError("introspection", "expected a table of introspection settings")
            try:
                settings = IntrospectionSettings(**settings)
            except TypeError as exc:
                raise ConfigError("introspection", str(exc)) from None
            except ConfigError as exc:
                raise exc.within("introspection") from None
            self._settle(introspection=settings)
        if introspect == "off":
            if settings is not None:
                raise ConfigError("introspect", "set 'opaque' or 'always' to use [introspection]")
            return
        if settings is None:
            raise ConfigError("introspection", "introspect needs client_id and client_secret")
        if self.tenants or self.preset is not None:
            raise ConfigError("introspect", "not for an issuer template or an edge preset")
        if settings.endpoint is not None:
            self._check_uri("introspection.endpoint", settings.endpoint)
        elif not self.discovery:
            raise ConfigError("introspection.endpoint", "required unless discovery = true")

    def check_required_claims(self, claims: Mapping[str, Any]) -> None:
        """``required_claims``, present or holding their values; 401 naming the one missing."""
        # required_paths is empty when required_claims is a table (required_values).
        for name, path in zip(self.required_claims, self.required_paths, strict=False):
            if not has_claim(claims, path):
                raise InvalidToken(f"the token lacks the required {name!r} claim")
        for requirement in self.required_values:
            if not requirement.met_by(claims):
                raise InvalidToken(f"the token's {requirement.key!r} claim is not as required")

    def _as_given(self) -> dict[str, Any]:
        """The fields a preset may fill, ``None`` where left at their defaults."""
        names = ("issuer", "jwks_uri", "algorithms", "audience", "token_header", "token_cookie")
        given: dict[str, Any] = {name: getattr(self, name) for name in names}
        given.update(team=self.team, signers=self.signers, region=self.region, pem_url=self.pem_url)
        given.update(client_ids=self.client_ids, any_client=self.any_client)
        given["has_keys"] = self.has_static_keys or self.discovery
        if given["algorithms"] == _DEFAULT_ALGORITHMS:
            given["algorithms"] = None
        return given

    @property
    def accepts_padding(self) -> bool:
        """Whether this issuer's tokens may pad their base64 (AWS ALB's do)."""
        return self.preset == "aws-alb"

    def _check_uri(self, key: str, uri: object) -> None:
        try:
            check_fetch_url(uri, insecure_http=self.insecure_http)
        except ValueError as exc:
            raise ConfigError(key, str(exc)) from None

    @property
    def concrete_issuers(self) -> tuple[tuple[str, str | None], ...]:
        """Each ``iss`` this issuer accepts, with its tenant (``None`` without a template)."""
        if not self.tenants:
            return ((self.issuer, None),)
        return tuple((self.issuer.replace(TENANT, tenant), tenant) for tenant in self.tenants)

    @property
    def has_static_keys(self) -> bool:
        """Whether the keys are configured (``keys``, ``pem``, files) rather than fetched."""
        return bool(self.keys or self.keys_file or self.pem or self.pem_file)

    def key_source(
        self, cache: BaseCache | None = None, metrics: Metrics | None = None
    ) -> KeySource:
        """Shorthand for :func:`key_source` ``(self, cache=cache, metrics=metrics)``."""
        return key_source(self, cache=cache, metrics=metrics)

    def accepts_type(self, typ: object) -> bool:
        """Whether a token header ``typ`` is acceptable for this issuer."""
        if not self.token_types:
            return True
        return isinstance(typ, str) and _media_type(typ) in self.token_types


# Settings that mean something for one edge preset only.
_PRESET_ONLY = (
    ("team", "cloudflare-access"),
    ("region", "aws-alb"),
    ("client_ids", "aws-alb"),
    ("any_client", "aws-alb"),
)

#: The placeholder of a multi-tenant issuer template.
TENANT = "{tenant}"
# Entra ID's multi-tenant aliases: never an `iss`, so listing one is a mistake.
_NOT_TENANTS = frozenset({"common", "organizations", "consumers"})


def _tenants(issuer: object, value: object) -> tuple[str, ...]:
    """``tenants``, checked against the ``issuer`` template's one ``{tenant}``."""
    tenants = strings(value, "tenants")
    if not isinstance(issuer, str):
        return tenants  # `issuer` is refused by its own check
    placeholders = issuer.count(TENANT)
    if not tenants:
        if placeholders or "{" in issuer:
            raise ConfigError("tenants", "an issuer template needs the tenants it accepts")
        return tenants
    if placeholders != 1 or issuer.count("{") != 1 or issuer.count("}") != 1:
        raise ConfigError("issuer", "with tenants, the issuer holds '{tenant}' exactly once")
    if len(set(tenants)) != len(tenants):
        raise ConfigError("tenants", "a tenant is listed twice")
    for index, tenant in enumerate(tenants):
        if any(c in tenant for c in "/?#{}%") or tenant.strip() != tenant or " " in tenant:
            raise ConfigError(f"tenants[{index}]", "expected a tenant ID (no '/', '?', '#', '{}')")
        if tenant.lower() in _NOT_TENANTS:
            raise ConfigError(
                f"tenants[{index}]",
                f"{tenant!r} is an alias, never a token's issuer: list tenant IDs",
            )
    return tenants


def key_source(
    issuer: Issuer,
    *,
    cache: BaseCache | None = None,
    metrics: Metrics | None = None,
    clock: Clock = system_clock,
) -> KeySource:
    """Where ``issuer``'s keys come from: static keys read and pinned now, or a JWKS client.

    Files are read here, once: ``keys_file`` and ``pem_file`` (pinned with the
    inline ``keys`` and ``pem``), and ``ca_bundle`` must exist. Mistakes raise
    :class:`~wsgi_jwt_guard.errors.ConfigError` naming the field and the
    absolute path tried. A fetched source is a
    :class:`~wsgi_jwt_guard.jwks.JWKSClient` sharing ``cache``; with
    ``jwks_refresh.prefetch`` it starts fetching at once.
    """
    ca_bundle = None
    if issuer.ca_bundle is not None:
        ca_bundle = os.path.abspath(issuer.ca_bundle)
        if not os.path.isfile(ca_bundle):
            raise ConfigError("ca_bundle", f"no such file: {ca_bundle!r}")
    if issuer.has_static_keys or not (issuer.jwks_uri or issuer.discovery or issuer.pem_url):
        return _static_keys(issuer)  # none at all for an issuer whose tokens are introspected
    if issuer.pem_url is not None:
        return PEMKeysByKid(
            issuer.pem_url,
            issuer.algorithms,
            cache=cache,
            policy=issuer.jwks_refresh,
            downloader=Downloader(ca_bundle=ca_bundle, max_bytes=16 * 1024),
            clock=clock,
            metrics=metrics,
        )
    downloader = Downloader(ca_bundle=ca_bundle)
    discovery = None
    if issuer.discovery:
        discovery = Discovery(
            issuer.issuer,
            downloader,
            allowed_hosts=issuer.jwks_allowed_hosts,
            insecure_http=issuer.insecure_http,
        )
    return JWKSClient(
        issuer.jwks_uri,
        discovery=discovery,
        algorithms=issuer.algorithms,
        cache=cache,
        policy=issuer.jwks_refresh,
        downloader=downloader,
        clock=clock,
        metrics=metrics,
    )


def _static_keys(issuer: Issuer) -> KeySet:
    """The issuer's configured keys, each pinned to one of its algorithms."""
    allowed = issuer.algorithms
    documents: list[tuple[str, object]] = []
    if issuer.keys:
        documents.append(("keys", {"keys": list(issuer.keys)}))
    if issuer.keys_file:
        documents.append(("keys_file", _read_json(issuer.keys_file, "keys_file")))
    pinned: list[PinnedKey] = []
    for key, document in documents:
        try:
            pinned.extend(KeySet.from_jwks(document, allowed, strict=True))
        except ValueError as exc:
            raise ConfigError(key, str(exc)) from None
    pems = [("pem", issuer.pem)] if issuer.pem else []
    if issuer.pem_file:
        pems.append(("pem_file", _read_text(issuer.pem_file, "pem_file")))
    for key, pem in pems:
        try:
            pinned.append(pin_pem(pem, allowed))
        except ValueError as exc:
            raise ConfigError(key, str(exc)) from None
    try:
        return KeySet(pinned)
    except ValueError as exc:
        raise ConfigError("keys", str(exc)) from None


def _jwks(value: object) -> tuple[Mapping[str, Any], ...]:
    """``keys``: a list of JWK objects (checked as keys by :func:`key_source`)."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise ConfigError("keys", "expected a list of JWK objects")
    if not all(isinstance(item, Mapping) for item in value):
        raise ConfigError("keys", "expected a list of JWK objects")
    return tuple(value)


def _refresh_policy(value: object) -> RefreshPolicy:
    """``value`` as a :class:`RefreshPolicy`: one already, or a mapping of its fields."""
    if isinstance(value, RefreshPolicy):
        return value
    if not isinstance(value, Mapping):
        raise ConfigError("jwks_refresh", "expected a table of refresh settings")
    known = {item.name for item in dataclasses.fields(RefreshPolicy)}
    for name in value:
        if name not in known:
            raise ConfigError(
                f"jwks_refresh.{name}", f"unknown setting; expected one of {sorted(known)}"
            )
    try:
        return RefreshPolicy(**value)
    except ConfigError as exc:
        raise exc.within("jwks_refresh") from None


def _media_type(value: str) -> str:
    # RFC 7515 §4.1.9: compare case-insensitively; "application/" may be omitted.
    value = value.lower()
    return value[len("application/") :] if value.startswith("application/") else value


def _read_text(path: str, key: str) -> str:
    # The absolute path, so the message says which file was tried from where.
    absolute = os.path.abspath(path)
    try:
        with open(absolute, encoding="utf-8") as file:
            return file.read()
    except OSError as exc:
        raise ConfigError(key, f"cannot read {absolute!r}: {exc.strerror or exc}") from None
    except UnicodeError as exc:
        raise ConfigError(key, f"cannot read {absolute!r}: {exc}") from None


def _read_json(path: str, key: str) -> Any:
    try:
        return json.loads(_read_text(path, key))
    except json.JSONDecodeError as exc:
        raise ConfigError(key, f"{os.path.abspath(path)!r} is not JSON: {exc}") from None
