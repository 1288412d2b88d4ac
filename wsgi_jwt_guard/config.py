"""Build a guard from a mapping or a TOML file: :func:`from_config`.

The schema is :class:`~wsgi_jwt_guard.middleware.JWTGuard`'s own keyword
arguments, read from its signature (every key optional except where noted)::

    default = "protected"              # policy for paths no route matches
    mount = ""                         # the SCRIPT_NAME the guard runs under ("/api")
    max_path_length = 8192             # longer paths: 414
    max_token_size = 8192
    remote_user_claim = "sub"
    realm = "wsgi-jwt-guard"
    token_headers = ["X-Goog-IAP-JWT-Assertion"]   # bare JWTs, after header and cookie
    token_cache_size = 10000           # verified tokens remembered; 0 = off
    token_cache_max_age = 300          # seconds before a remembered token is re-verified

    [[issuers]]                        # any number; or none if [service_tokens] is set
    issuer = "https://auth.example.com/api/auth"                          # required
    # jwks_uri, discovery = true, or static keys: keys / keys_file / pem / pem_file
    jwks_uri = "https://auth.example.com/api/auth/.well-known/jwks.json"
    audience = ["backstage"]           # string or list; omitted = aud not checked
    algorithms = ["ES256"]
    leeway = 0
    token_types = ["vnd.backstage.user"]
    required_claims = ["ent"]          # claim paths, or a table of values: { typ = "Bearer" }
    scope_claims = ["scope", "scp", "permissions"]
    # issuer = "https://login.microsoftonline.com/{tenant}/v2.0", with
    # tenants = ["<tenant id>"] and tenant_claim = "tid": a multi-tenant issuer
    # introspect = "opaque", with introspection = { client_id = "...",
    # client_secret = "...", endpoint = "..." }: opaque tokens (RFC 7662)

    [service_tokens]
    secrets = ["<base64 secret, 32+ characters>"]   # first signs, all verify
    subject = "backstage-server"

    [cache]                            # shared JWKS documents and revocations
    type = "redis"                     # memory | filesystem | redis | memcached
    url = "redis://cache.internal:6379/0"
    secrets = ["<32+ random characters>"]   # entries are signed; the first signs

    [[api_keys]]                       # static keys: Authorization: Bearer <key>
    key = "<32+ random characters>"
    subject = "external:ci"
    paths = ["/api/catalog"]

    [revocation]
    check_interval = 5

    [csrf]                             # unsafe methods authenticated by the cookie
    allowed_origins = ["https://backstage.example.com"]

    [cors]                             # preflights answered by the guard
    allowed_origins = ["https://backstage.example.com"]

    [dpop]                             # DPoP-bound tokens (RFC 9449); issuers, routes: dpop = ...
    mode = "allowed"                   # off | allowed | required
    nonce = false

    [client_certificate]               # certificate-bound tokens (RFC 8705), from TLS terminator
    header = "Client-Cert"

    [cookie]
    name = "token"

    [downstream]                       # claims handed to the app (wsgi_jwt_guard.downstream)
    forward_token = true               # false: no Authorization header or token cookie for the app
    [downstream.headers]
    "X-User-Groups" = "groups"         # a claim path, or { claim = "...", lists = "json" }
    [downstream.environ]
    "myapp.tenant" = "tid"
    [resource_metadata]                # RFC 9728: how clients find where to get a token
    resource = "https://api.example.com/v1"
    resource_name = "Orders API"

    [routes]
    "/api/auth" = "public"             # a bare policy, or a table:
    "/api/techdocs" = { policy = "protected", unless = ['/api/techdocs/static/docs/.+\\.css'] }
    "/api/admin" = { claims = { "realm_access.roles" = "admin" }, scopes = ["admin"] }

How a keyword becomes a key (:func:`schema`): one whose type is plain data
(strings, numbers, booleans, lists and tables of them) is the key of the same
name; one whose type is a settings dataclass is a table of its fields
(``[cookie]``), a list of them an array of tables (``[[issuers]]``); ``routes``,
``default``, ``[cache]`` and ``[revocation]`` (the ``revocations`` keyword) are
built by hand. Anything else -- ``on_event``, a ``clock`` -- is for Python only.
A keyword added to ``JWTGuard`` is therefore in the schema with no change here.

File paths in a TOML file (``keys_file``, ``pem_file``, ``ca_bundle``, the
file-system cache's ``dir``) are read relative to the file, not the working
directory (:mod:`wsgi_jwt_guard.config_file`).

A mistake -- an unknown key, a wrong type, an invalid value, a key file that
cannot be read -- raises :class:`~wsgi_jwt_guard.errors.ConfigError` naming the
key (``issuers[0].keys_file``), when the guard is built and never at the first
request. An unknown key gets the closest valid one as a suggestion, and an
error in a file names the file::

    isuers: unknown setting; did you mean 'issuers'? expected one of [...] (in /etc/guard.toml)

Without a source, ``from_config(app)`` reads the environment (12-factor): a
file named by ``WSGI_JWT_GUARD_CONFIG`` and the single-issuer variables, which
also complete any file given explicitly. See :mod:`wsgi_jwt_guard.environment`.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import functools
import inspect
import os
import sys
import types
import typing
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar, Union

from .caches import build_cache
from .config_file import read_config_file
from .environment import ENV_CONFIG, ENV_ISSUER, ENV_JWKS_URI, environment_config, with_environment
from .errors import ConfigError
from .middleware import JWTGuard
from .revocation import Revocations
from .routing import Rule
from .validation import flag, no_unknown_keys

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

# environment_config and with_environment lived here; they stay importable from here.
__all__ = ["environment_config", "from_config", "load_config", "schema", "with_environment"]

T = TypeVar("T")

#: Builds one keyword argument from its configuration value: ``(value, key,
#: the arguments built so far) -> argument``.
Builder = Callable[[Any, str, Mapping[str, Any]], Any]


def load_config(
    source: Mapping[str, Any] | str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """The configuration mapping from a mapping, a TOML file path, or the environment.

    A mapping is used as it is. A file's relative paths are made absolute
    (relative to the file), and it is completed by the environment's
    single-issuer variables; ``None`` reads the environment alone (see
    :mod:`wsgi_jwt_guard.environment`).
    """
    if isinstance(source, Mapping):
        return dict(source)
    if source is None:
        config = environment_config()
        if config is None:
            raise ConfigError(
                ENV_CONFIG, f"no configuration given: set it, or {ENV_ISSUER} and {ENV_JWKS_URI}"
            )
        return config
    return with_environment(read_config_file(source))


def from_config(
    app: WSGIApplication, source: Mapping[str, Any] | str | os.PathLike[str] | None = None
) -> JWTGuard:
    """Wrap ``app`` in a :class:`JWTGuard` configured by ``source`` (see module docs)."""
    config = load_config(source)
    try:
        return JWTGuard(app, **guard_options(config))
    except ConfigError as exc:
        file = _file_of(source)
        if file is None or exc.key.startswith("WSGI_JWT_GUARD_"):
            raise
        raise ConfigError(exc.key, f"{exc.message} (in {file})") from None


def guard_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """Translate a configuration mapping into :class:`JWTGuard` keyword arguments."""
    settings = _schema(JWTGuard)
    no_unknown_keys(config, settings, "")
    options: dict[str, Any] = {}
    for key, (keyword, build) in settings.items():  # in order: [cache] before [revocation]
        if key in config:
            options[keyword] = build(config[key], key, options)
    return options


def schema(target: Callable[..., object] | None = None) -> dict[str, str]:
    """The configuration keys :func:`from_config` accepts, each with the keyword it sets.

    Derived from the signature of ``target`` (by default :class:`JWTGuard`),
    as the module docs describe::

        >>> schema()["revocation"], schema()["realm"]
        ('revocations', 'realm')
    """
    return {key: keyword for key, (keyword, _) in _schema(target or JWTGuard).items()}


# --- the schema, derived ---------------------------------------------------------------


@functools.cache
def _schema(target: Callable[..., object]) -> dict[str, tuple[str, Builder]]:
    """Key -> (keyword, builder): the keywords derived from the signature, then
    the ones built by hand that ``target`` takes (``JWTGuard``'s)."""
    keywords = _keywords(target)
    special = {key: entry for key, entry in _BUILT_BY_HAND.items() if entry[0] in keywords}
    claimed = {keyword for keyword, _ in special.values()}
    derived = {}
    for name, annotation in keywords.items():
        builder = None if name in claimed else _builder_for(annotation)
        if builder is not None:  # else: Python only (a callable, an object), or by hand
            derived[name] = (name, builder)
    return {**derived, **special}


def _keywords(target: Callable[..., object]) -> dict[str, object]:
    """``target``'s keyword-only parameters and their types."""
    function = target.__init__ if isinstance(target, type) else target  # type: ignore[misc]
    namespace = getattr(function, "__globals__", {})
    return {
        name: _evaluated(parameter.annotation, namespace)
        for name, parameter in inspect.signature(target).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    }


def _builder_for(annotation: object) -> Builder | None:
    """How a keyword of this type is read from configuration; ``None``: it is not."""
    if _is_data(annotation):
        return _as_is
    table = _settings_class(annotation)
    if table is not None:
        return lambda value, key, _: _build(table, value, key)
    if typing.get_origin(annotation) in _LISTS:
        item = _settings_class(next(iter(typing.get_args(annotation)), None))
        if item is not None:
            return lambda value, key, _: _build_each(item, value, key)
    return None


_LISTS = (list, tuple, collections.abc.Sequence, collections.abc.Collection)
_TABLES = (dict, collections.abc.Mapping)
_SCALARS = (str, int, float, bool, type(None))


def _is_data(annotation: object) -> bool:
    """Whether values of this type can be written in TOML as they are."""
    if annotation in _SCALARS:
        return True
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Literal:
        return True
    if origin in (Union, types.UnionType) or origin in _LISTS or origin in _TABLES:
        return bool(args) and all(arg is Ellipsis or _is_data(arg) for arg in args)
    return False


def _settings_class(annotation: object) -> type | None:
    """The settings dataclass of ``X`` or ``X | None``, else ``None``."""
    if typing.get_origin(annotation) in (Union, types.UnionType):
        others = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        annotation = others[0] if len(others) == 1 else None
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        return annotation
    return None


def _evaluated(annotation: object, namespace: Mapping[str, Any]) -> object:
    """A parameter's annotation as a type (they are strings under PEP 563)."""
    if not isinstance(annotation, str):
        return annotation
    holder = types.SimpleNamespace(__annotations__={"value": annotation})
    try:
        return typing.get_type_hints(holder, globalns=dict(namespace))["value"]
    except Exception:  # a name only type checkers see: not something TOML can give
        return None


# --- builders -------------------------------------------------------------------------


def _as_is(value: object, key: str, options: Mapping[str, Any]) -> object:
    return value  # the guard validates it, naming the key


def _build(cls: type[T], value: object, prefix: str) -> T:
    """``cls(**value)``; unknown and missing keys and invalid values named under ``prefix``."""
    if not isinstance(value, Mapping):
        form = f" ([{prefix}])" if prefix.isidentifier() else ""
        raise ConfigError(prefix, f"expected a table{form}")
    _check_table(cls, value, prefix)
    try:
        return cls(**value)
    except ConfigError as exc:
        raise exc.within(prefix) from None


def _build_each(cls: type[T], value: object, key: str) -> list[T]:
    if not isinstance(value, list):
        raise ConfigError(key, f"expected a list of tables ([[{key}]])")
    return [_build(cls, item, f"{key}[{index}]") for index, item in enumerate(value)]


def _check_table(cls: type, table: Mapping[str, Any], prefix: str) -> None:
    """Unknown and missing keys of a table for the dataclass ``cls``, and of its nested tables."""
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    no_unknown_keys(table, fields, prefix)
    namespace = vars(sys.modules[cls.__module__])
    missing = dataclasses.MISSING
    for name, field in fields.items():
        if name not in table:
            if field.default is missing and field.default_factory is missing:
                raise ConfigError(f"{prefix}.{name}", "required")
            continue
        nested = _settings_class(_evaluated(field.type, namespace))
        if nested is not None and isinstance(table[name], Mapping):
            _check_table(nested, table[name], f"{prefix}.{name}")


def _routes(value: object, key: str, options: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(key, "expected a table of path prefixes")
    return {
        prefix: rule if isinstance(rule, str) else _build(Rule, rule, f"{key}.{prefix!r}")
        for prefix, rule in value.items()
    }


def _default(value: object, key: str, options: Mapping[str, Any]) -> object:
    return _build(Rule, value, key) if isinstance(value, Mapping) else value


def _cache(value: object, key: str, options: Mapping[str, Any]) -> object:
    if not isinstance(value, Mapping):
        raise ConfigError(key, "expected a table ([cache])")
    return build_cache(value)


def _revocations(value: object, key: str, options: Mapping[str, Any]) -> Revocations | None:
    if not isinstance(value, Mapping):
        raise ConfigError(key, "expected a table ([revocation])")
    known = {"enabled", *_schema(Revocations)}  # its plain settings: not the cache or clock
    no_unknown_keys(value, known, key)
    settings = dict(value)
    if not flag(settings.pop("enabled", True), f"{key}.enabled"):
        return None
    try:
        return Revocations(options.get("cache"), **settings)
    except ConfigError as exc:
        raise exc.within(key) from None


#: The keys whose configuration form differs from their keyword's type: the
#: keyword each sets and how it is built. [cache] comes before [revocation],
#: which shares the cache.
_BUILT_BY_HAND: dict[str, tuple[str, Builder]] = {
    "routes": ("routes", _routes),
    "default": ("default", _default),
    "cache": ("cache", _cache),
    "revocation": ("revocations", _revocations),
}


def _file_of(source: object) -> str | None:
    """The configuration file ``source`` stands for, if any (for error messages)."""
    if source is None:
        source = os.environ.get(ENV_CONFIG, "").strip() or None
    if isinstance(source, (str, os.PathLike)):
        return os.path.abspath(os.fspath(source))
    return None
