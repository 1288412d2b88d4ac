"""Trusted issuers of user tokens and where their keys come from (DESIGN §4).

An :class:`Issuer` is validated when built and raises
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
(PEM text) or ``pem_file`` -- which may be combined and are loaded and
validated at construction.

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cachelib import BaseCache

from .discovery import Discovery
from .errors import ConfigError
from .fetch import Downloader, check_fetch_url
from .jwks import JWKSClient
from .keys import ALGORITHMS, KeySet, PinnedKey, pin_pem
from .refresh import RefreshPolicy

if TYPE_CHECKING:
    from .metrics import Metrics

__all__ = ["Issuer", "KeySource"]


class KeySource(Protocol):
    """Anything that finds an issuer's key for a token's ``kid`` and ``alg``."""

    def find(self, kid: str | None, algorithm: str) -> PinnedKey: ...


def _strings(value: object, key: str, *, allow_one: bool = False) -> tuple[str, ...]:
    if allow_one and isinstance(value, str):
        if not value:
            raise ConfigError(key, "expected a non-empty string")
        return (value,)
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ConfigError(key, "expected a list of strings")
    if not all(isinstance(item, str) and item for item in value):
        raise ConfigError(key, "expected a list of non-empty strings")
    return tuple(value)


@dataclass(frozen=True)
class Issuer:
    """One trusted issuer: the ``iss`` it signs as, its keys and its claim rules."""

    #: Must equal the token's ``iss`` exactly (no trailing-slash or case folding).
    issuer: str
    jwks_uri: str | None = None
    #: Find ``jwks_uri`` by OIDC discovery; the document's ``issuer`` must equal ``issuer``.
    discovery: bool = False
    #: Hosts other than the issuer's that a discovered ``jwks_uri`` may point to.
    jwks_allowed_hosts: Sequence[str] = ()
    keys: Sequence[Mapping[str, Any]] = ()
    keys_file: str | None = None
    pem: str | None = None
    pem_file: str | None = None
    #: Accepted ``aud`` values; empty means ``aud`` is not checked.
    audience: str | Sequence[str] = ()
    #: Allowed signature algorithms; each key is pinned to one of them.
    algorithms: Sequence[str] = ("ES256", "RS256")
    #: Clock skew tolerated on ``exp``/``nbf``/``iat``, in seconds.
    leeway: float = 0.0
    #: Accepted header ``typ`` values (``vnd.backstage.user``, ``at+jwt``);
    #: empty means any. Compared case-insensitively, ``application/`` optional.
    token_types: Sequence[str] = ()
    #: Claims every token of this issuer must carry (beyond ``exp`` and ``sub``).
    required_claims: Sequence[str] = ()
    #: When fetched keys are used, refreshed and given up: TTL, refresh ahead,
    #: cooldown for unknown kids, stale-if-error, retries, prefetch. A
    #: :class:`~wsgi_jwt_guard.refresh.RefreshPolicy`, or a mapping of its fields.
    jwks_refresh: RefreshPolicy = field(default_factory=RefreshPolicy)
    #: A CA bundle (PEM file) to verify the issuer's TLS certificate with.
    ca_bundle: str | None = None
    #: Allow a plain ``http://`` JWKS URL on a non-loopback host. Anyone on the
    #: network path can then substitute keys and mint tokens: test rigs only.
    insecure_http: bool = False
    _static: KeySet | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        if not isinstance(self.issuer, str) or not self.issuer:
            raise ConfigError("issuer", "expected the issuer URL (the tokens' 'iss')")
        algorithms = _strings(self.algorithms, "algorithms")
        for name in algorithms:
            if name not in ALGORITHMS:
                hint = " (HS256 is for [service_tokens])" if name.upper().startswith("HS") else ""
                raise ConfigError(
                    "algorithms", f"{name!r} is not allowed{hint}; choose from {sorted(ALGORITHMS)}"
                )
        if not algorithms:
            raise ConfigError("algorithms", "expected at least one algorithm")
        object.__setattr__(self, "algorithms", algorithms)
        object.__setattr__(self, "audience", _strings(self.audience, "audience", allow_one=True))
        token_types = _strings(self.token_types, "token_types", allow_one=True)
        object.__setattr__(self, "token_types", tuple(_media_type(t) for t in token_types))
        required = _strings(self.required_claims, "required_claims")
        object.__setattr__(self, "required_claims", required)
        if type(self.leeway) not in (int, float) or not 0 <= self.leeway < float("inf"):
            raise ConfigError("leeway", "expected a non-negative number of seconds")
        object.__setattr__(self, "jwks_refresh", _refresh_policy(self.jwks_refresh))
        if self.leeway > 300:
            raise ConfigError("leeway", "more than 300 seconds of leeway defeats 'exp'")
        for name in ("insecure_http", "discovery"):
            if not isinstance(getattr(self, name), bool):  # "false" would be truthy
                raise ConfigError(name, "expected true or false")
        hosts = _strings(self.jwks_allowed_hosts, "jwks_allowed_hosts", allow_one=True)
        object.__setattr__(self, "jwks_allowed_hosts", hosts)
        for name in ("keys_file", "pem", "pem_file", "ca_bundle"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise ConfigError(name, "expected a string")
        if self.ca_bundle is not None and not Path(self.ca_bundle).is_file():
            raise ConfigError("ca_bundle", f"no such file: {self.ca_bundle!r}")
        static = (self.keys, self.keys_file, self.pem, self.pem_file)
        sources = [self.jwks_uri is not None, self.discovery, any(static)]
        if sum(sources) > 1:
            raise ConfigError(
                "jwks_uri", "give one key source: jwks_uri, discovery = true, or static keys"
            )
        if self.jwks_uri is not None:
            self._check_uri("jwks_uri", self.jwks_uri)
        elif self.discovery:
            self._check_uri("discovery", self.issuer)
        elif not any(static):
            raise ConfigError(
                "issuer",
                "no keys: set jwks_uri, discovery = true, keys, keys_file, pem or pem_file",
            )
        else:
            object.__setattr__(self, "_static", self._load_static())

    def _check_uri(self, key: str, uri: object) -> None:
        try:
            check_fetch_url(uri, insecure_http=self.insecure_http)
        except ValueError as exc:
            raise ConfigError(key, str(exc)) from None

    def _load_static(self) -> KeySet:
        allowed = self.algorithms
        pinned: list[PinnedKey] = []
        sources: list[tuple[str, object]] = []
        if self.keys:
            if isinstance(self.keys, (str, Mapping)) or not isinstance(self.keys, Sequence):
                raise ConfigError("keys", "expected a list of JWK objects")
            sources.append(("keys", {"keys": list(self.keys)}))
        if self.keys_file:
            sources.append(("keys_file", _read_json(self.keys_file, "keys_file")))
        for key, document in sources:
            try:
                pinned.extend(KeySet.from_jwks(document, allowed, strict=True))
            except ValueError as exc:
                raise ConfigError(key, str(exc)) from None
        pems = [("pem", self.pem)] if self.pem else []
        if self.pem_file:
            pems.append(("pem_file", _read_text(self.pem_file, "pem_file")))
        for key, text in pems:
            if not isinstance(text, str):
                raise ConfigError(key, "expected PEM text")
            try:
                pinned.append(pin_pem(text, allowed))
            except ValueError as exc:
                raise ConfigError(key, str(exc)) from None
        try:
            return KeySet(pinned)
        except ValueError as exc:
            raise ConfigError("keys", str(exc)) from None

    def key_source(
        self, cache: BaseCache | None = None, metrics: Metrics | None = None
    ) -> KeySource:
        """Static keys as loaded, or a :class:`JWKSClient` sharing ``cache``.

        With ``jwks_refresh.prefetch``, the client starts fetching at once.
        """
        if self._static is not None:
            return self._static
        downloader = Downloader(ca_bundle=self.ca_bundle)
        discovery = None
        if self.discovery:
            discovery = Discovery(
                self.issuer,
                downloader,
                allowed_hosts=self.jwks_allowed_hosts,
                insecure_http=self.insecure_http,
            )
        return JWKSClient(
            self.jwks_uri,
            discovery=discovery,
            algorithms=self.algorithms,
            cache=cache,
            policy=self.jwks_refresh,
            downloader=downloader,
            metrics=metrics,
        )

    def accepts_type(self, typ: object) -> bool:
        """Whether a token header ``typ`` is acceptable for this issuer."""
        if not self.token_types:
            return True
        return isinstance(typ, str) and _media_type(typ) in self.token_types


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
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeError) as exc:
        raise ConfigError(key, f"cannot read {path!r}: {exc}") from None


def _read_json(path: str, key: str) -> Any:
    try:
        return json.loads(_read_text(path, key))
    except json.JSONDecodeError as exc:
        raise ConfigError(key, f"{path!r} is not JSON: {exc}") from None
