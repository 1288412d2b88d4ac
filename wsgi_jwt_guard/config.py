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
also complete any file given explicitly. See :func:`environment_config`.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping, Set
from typing import TYPE_CHECKING, Any, TypeVar

from .apikeys import APIKey
from .caches import build_cache
from .cookies import CookieSettings
from .cors import CORSSettings
from .csrf import CSRFSettings
from .errors import ConfigError
from .issuers import Issuer
from .middleware import JWTGuard
from .revocation import Revocations
from .routing import Rule
from .service import ServiceTokens

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    try:
        import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # a dict still works; only TOML files need it
        tomllib = None

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

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

    A mapping is used as it is. A file is completed by the environment's
    single-issuer variables, and ``None`` reads the environment alone (see
    :func:`environment_config`).
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
    if tomllib is None:  # pragma: no cover - Python 3.10 without tomli
        raise ConfigError("", "TOML on Python 3.10 needs: pip install 'wsgi_jwt_guard[toml]'")
    try:
        with open(source, "rb") as file:
            config = tomllib.load(file)
        return with_environment(config)
    except OSError as exc:
        raise ConfigError("", f"cannot read {os.fspath(source)!r}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("", f"{os.fspath(source)!r} is not valid TOML: {exc}") from None


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


# --- configuration from the environment (12-factor) -----------------------------------

#: Names a TOML configuration file.
ENV_CONFIG = "WSGI_JWT_GUARD_CONFIG"
#: The single issuer's ``issuer`` (the tokens' ``iss``).
ENV_ISSUER = "WSGI_JWT_GUARD_ISSUER"
#: The single issuer's ``jwks_uri``.
ENV_JWKS_URI = "WSGI_JWT_GUARD_JWKS_URI"
#: The single issuer's ``audience``; several are separated by commas.
ENV_AUDIENCE = "WSGI_JWT_GUARD_AUDIENCE"
#: ``service_tokens.secrets``, comma-separated, the signing (newest) one first.
ENV_SERVICE_SECRET = "WSGI_JWT_GUARD_SERVICE_SECRET"  # noqa: S105 - a variable name
ENV_VARIABLES = (ENV_CONFIG, ENV_ISSUER, ENV_JWKS_URI, ENV_AUDIENCE, ENV_SERVICE_SECRET)
_ENV_SETTINGS = ENV_VARIABLES[1:]


def environment_config() -> dict[str, Any] | None:
    """The configuration the environment describes, or ``None`` if it describes none.

    ``WSGI_JWT_GUARD_CONFIG`` names a TOML file (the schema of this module).
    The single-issuer variables describe a whole configuration on their own::

        WSGI_JWT_GUARD_ISSUER=https://auth.example.com/api/auth
        WSGI_JWT_GUARD_JWKS_URI=https://auth.example.com/api/auth/.well-known/jwks.json
        WSGI_JWT_GUARD_AUDIENCE=backstage
        WSGI_JWT_GUARD_SERVICE_SECRET=<base64 secret>[,<older secret>]

    or complete the file: it keeps the route table, a variable supplies what it
    leaves out (typically the secret). See :func:`with_environment` for how they
    combine. Empty variables count as unset. Bad values raise
    :class:`~wsgi_jwt_guard.errors.ConfigError` naming the variable, and so does
    an unknown ``WSGI_JWT_GUARD_*`` variable: a misspelt audience would
    otherwise switch the audience check off without a word.
    """
    _check_variable_names()
    path = os.environ.get(ENV_CONFIG, "").strip()
    if path:
        try:
            return load_config(path)
        except ConfigError as exc:
            if exc.key:
                raise
            raise ConfigError(ENV_CONFIG, exc.message) from None
    if not any(os.environ.get(name, "").strip() for name in _ENV_SETTINGS):
        return None
    return with_environment({})


def with_environment(config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` completed by the single-issuer variables.

    ``WSGI_JWT_GUARD_ISSUER`` adds the one issuer (the file must then have no
    ``[[issuers]]``); ``..._JWKS_URI`` and ``..._AUDIENCE`` set that issuer's
    ``jwks_uri`` and ``audience``, or those of the file's only issuer. An
    issuer from the environment without a JWKS URI uses OIDC discovery;
    ``..._SERVICE_SECRET`` sets ``service_tokens.secrets``. A variable never
    overrides the file: setting the same thing in both raises
    :class:`~wsgi_jwt_guard.errors.ConfigError`, so no deployment depends on a
    precedence rule nobody remembers.
    """
    _check_variable_names()
    values = {name: os.environ.get(name, "").strip() for name in _ENV_SETTINGS}
    result = dict(config)
    if values[ENV_ISSUER] or values[ENV_JWKS_URI] or values[ENV_AUDIENCE]:
        result["issuers"] = _issuer_from_environment(result.get("issuers", []), values)
    if values[ENV_SERVICE_SECRET]:
        settings = result.get("service_tokens", {})
        if isinstance(settings, Mapping):
            result["service_tokens"] = _secrets_from_environment(
                settings, values[ENV_SERVICE_SECRET]
            )
    return result


def _check_variable_names() -> None:
    for name in os.environ:
        if name.startswith("WSGI_JWT_GUARD_") and name not in ENV_VARIABLES:
            raise ConfigError(name, f"unknown variable; expected one of {list(ENV_VARIABLES)}")


def _issuer_from_environment(issuers: object, values: Mapping[str, str]) -> object:
    if not isinstance(issuers, list) or not all(isinstance(i, Mapping) for i in issuers):
        return issuers  # guard_options() reports the file's mistake
    if values[ENV_ISSUER]:
        if issuers:
            raise ConfigError(ENV_ISSUER, "the configuration file already has [[issuers]]")
        entry: dict[str, Any] = {"issuer": values[ENV_ISSUER]}
    elif len(issuers) == 1:
        entry = dict(issuers[0])
    else:
        name = ENV_JWKS_URI if values[ENV_JWKS_URI] else ENV_AUDIENCE
        problem = f"set {ENV_ISSUER} too" if not issuers else "the file has several [[issuers]]"
        raise ConfigError(name, f"which issuer? {problem}")
    uri = values[ENV_JWKS_URI]
    if uri:
        for key in ("jwks_uri", "discovery", "keys", "keys_file", "pem", "pem_file"):
            if entry.get(key):
                raise ConfigError(ENV_JWKS_URI, f"the configuration file already sets {key}")
        try:  # only the URL can be wrong here: the other arguments are fixed
            insecure = entry.get("insecure_http") is True
            Issuer(str(entry.get("issuer") or "-"), jwks_uri=uri, insecure_http=insecure)
        except ConfigError as exc:
            raise ConfigError(ENV_JWKS_URI, exc.message) from None
        entry["jwks_uri"] = uri
    elif values[ENV_ISSUER]:
        # No JWKS URL given: find it by OIDC discovery, as most identity providers allow.
        try:
            Issuer(values[ENV_ISSUER], discovery=True)
        except ConfigError as exc:
            raise ConfigError(ENV_ISSUER, exc.message) from None
        entry["discovery"] = True
    if values[ENV_AUDIENCE]:
        if entry.get("audience"):
            raise ConfigError(ENV_AUDIENCE, "the configuration file already sets audience")
        audiences = [a.strip() for a in values[ENV_AUDIENCE].split(",") if a.strip()]
        if not audiences:
            raise ConfigError(ENV_AUDIENCE, "expected one or more comma-separated audiences")
        entry["audience"] = audiences
    return [entry]


def _secrets_from_environment(settings: Mapping[str, Any], value: str) -> dict[str, Any]:
    if "secrets" in settings:
        raise ConfigError(
            ENV_SERVICE_SECRET, "the configuration file already sets service_tokens.secrets"
        )
    secrets = [secret.strip() for secret in value.split(",") if secret.strip()]
    try:
        ServiceTokens(secrets)  # the message names the problem, never the secret
    except ConfigError as exc:
        raise ConfigError(ENV_SERVICE_SECRET, exc.message) from None
    return {**settings, "secrets": secrets}
