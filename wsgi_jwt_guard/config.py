"""Build a guard from a mapping or a TOML file: :func:`from_config`.

The schema (every key optional except where noted)::

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
    required_claims = ["ent"]

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

    [cookie]
    name = "token"

    [routes]
    "/api/auth" = "public"             # a bare policy, or a table:
    "/api/techdocs" = { policy = "protected", unless = ['/api/techdocs/static/docs/.+\\.css'] }

A mistake -- an unknown key, a wrong type, an invalid value -- raises
:class:`~wsgi_jwt_guard.errors.ConfigError` naming the key, when the guard is
built and never at the first request.

Without a source, ``from_config(app)`` reads the environment (12-factor): a
file named by ``WSGI_JWT_GUARD_CONFIG`` and the single-issuer variables, which
also complete any file given explicitly. See :mod:`wsgi_jwt_guard.environment`.

File paths in a TOML file (``keys_file``, ``pem_file``, ``ca_bundle``, the
file-system cache's ``dir``) are read relative to the file, not the working
directory (:mod:`wsgi_jwt_guard.config_file`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Set
from typing import TYPE_CHECKING, Any, TypeVar

from .apikeys import APIKey
from .caches import build_cache
from .config_file import read_config_file
from .cookies import CookieSettings
from .cors import CORSSettings
from .csrf import CSRFSettings
from .environment import ENV_CONFIG, ENV_ISSUER, ENV_JWKS_URI, environment_config, with_environment
from .errors import ConfigError
from .issuers import Issuer
from .middleware import JWTGuard
from .revocation import Revocations
from .routing import Rule
from .service import ServiceTokens

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

# environment_config and with_environment lived here; they stay importable from here.
__all__ = ["environment_config", "from_config", "load_config", "with_environment"]

_TOP_LEVEL = frozenset(
    {
        "default",
        "issuers",
        "service_tokens",
        "cookie",
        "routes",
        "max_token_size",
        "token_headers",
        "remote_user_claim",
        "realm",
        "csrf",
        "cors",
        "mount",
        "max_path_length",
        "token_cache_size",
        "token_cache_max_age",
        "cache",
        "api_keys",
        "revocation",
    }
)
_REVOCATION = frozenset({"enabled", "check_interval", "max_token_lifetime"})

T = TypeVar("T")


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
    return JWTGuard(app, **guard_options(load_config(source)))


def guard_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """Translate a configuration mapping into :class:`JWTGuard` keyword arguments."""
    _no_unknown_keys(config, _TOP_LEVEL, "")
    options: dict[str, Any] = {
        key: config[key]
        for key in (
            *("default", "max_token_size", "remote_user_claim", "realm", "token_headers"),
            *("token_cache_size", "token_cache_max_age", "mount", "max_path_length"),
        )
        if key in config
    }
    issuers = config.get("issuers", [])
    if not isinstance(issuers, list):
        raise ConfigError("issuers", "expected a list of tables ([[issuers]])")
    options["issuers"] = [_build(Issuer, entry, f"issuers[{i}]") for i, entry in enumerate(issuers)]
    if "service_tokens" in config:
        tokens = config["service_tokens"]
        options["service_tokens"] = _build(ServiceTokens, tokens, "service_tokens")
    if "cookie" in config:
        options["cookie"] = _build(CookieSettings, config["cookie"], "cookie")
    if "csrf" in config:
        options["csrf"] = _build(CSRFSettings, config["csrf"], "csrf")
    if "cors" in config:
        options["cors"] = _build(CORSSettings, config["cors"], "cors")
    routes = config.get("routes", {})
    if not isinstance(routes, Mapping):
        raise ConfigError("routes", "expected a table of path prefixes")
    options["routes"] = {
        prefix: value if isinstance(value, str) else _build(Rule, value, f"routes.{prefix!r}")
        for prefix, value in routes.items()
    }
    if isinstance(options.get("default"), Mapping):
        options["default"] = _build(Rule, options["default"], "default")
    if "cache" in config:
        if not isinstance(config["cache"], Mapping):
            raise ConfigError("cache", "expected a table ([cache])")
        options["cache"] = build_cache(config["cache"])
    api_keys = config.get("api_keys", [])
    if not isinstance(api_keys, list):
        raise ConfigError("api_keys", "expected a list of tables ([[api_keys]])")
    options["api_keys"] = [_build(APIKey, k, f"api_keys[{i}]") for i, k in enumerate(api_keys)]
    if "revocation" in config:
        options["revocations"] = _revocations(config["revocation"], options.get("cache"))
    return options


def _revocations(table: object, cache: Any) -> Revocations | None:
    if not isinstance(table, Mapping):
        raise ConfigError("revocation", "expected a table ([revocation])")
    _no_unknown_keys(table, _REVOCATION, "revocation")
    settings = dict(table)
    enabled = settings.pop("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError("revocation.enabled", "expected true or false")
    if not enabled:
        return None
    try:
        return Revocations(cache, **settings)
    except ConfigError as exc:
        raise exc.within("revocation") from None


def _build(cls: type[T], value: object, prefix: str) -> T:
    """``cls(**value)``, with unknown keys and validation errors named under ``prefix``."""
    if not isinstance(value, Mapping):
        raise ConfigError(prefix, "expected a table")
    fields = {f.name for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    _no_unknown_keys(value, fields, prefix)
    try:
        return cls(**value)
    except ConfigError as exc:
        raise exc.within(prefix) from None
    except TypeError as exc:
        raise ConfigError(prefix, str(exc)) from None


def _no_unknown_keys(mapping: Mapping[str, Any], known: Set[str], prefix: str) -> None:
    for key in mapping:
        if key not in known:
            name = f"{prefix}.{key}" if prefix else str(key)
            raise ConfigError(name, f"unknown setting; expected one of {sorted(known)}")
