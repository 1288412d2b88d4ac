"""Build a guard from a mapping or a TOML file: :func:`from_config`.

The schema (every key optional except where noted)::

    default = "protected"              # policy for paths no route matches
    max_token_size = 8192
    remote_user_claim = "sub"
    realm = "wsgi-jwt-guard"
    token_headers = ["X-Goog-IAP-JWT-Assertion"]   # bare JWTs, after header and cookie

    [[issuers]]                        # any number; or none if [service_tokens] is set
    issuer = "https://auth.example.com/api/auth"                          # required
    # jwks_uri, or static keys: keys = [{jwk}, ...] / keys_file / pem / pem_file
    jwks_uri = "https://auth.example.com/api/auth/.well-known/jwks.json"
    audience = ["backstage"]           # string or list; omitted = aud not checked
    algorithms = ["ES256"]
    leeway = 0
    token_types = ["vnd.backstage.user"]
    required_claims = ["ent"]

    [service_tokens]
    secrets = ["<base64 secret, 32+ characters>"]   # first signs, all verify
    subject = "backstage-server"

    [cookie]
    name = "token"

    [routes]
    "/api/auth" = "public"             # a bare policy, or a table:
    "/api/techdocs" = { policy = "protected", unless = ['/api/techdocs/static/docs/.+\\.css'] }

A mistake -- an unknown key, a wrong type, an invalid value -- raises
:class:`~wsgi_jwt_guard.errors.ConfigError` naming the key, when the guard is
built and never at the first request.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping, Set
from typing import TYPE_CHECKING, Any, TypeVar

from .cookies import CookieSettings
from .errors import ConfigError
from .issuers import Issuer
from .middleware import JWTGuard
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

__all__ = ["from_config", "load_config"]

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
    }
)

T = TypeVar("T")


def load_config(source: Mapping[str, Any] | str | os.PathLike[str]) -> dict[str, Any]:
    """The configuration mapping from a mapping or a TOML file path."""
    if isinstance(source, Mapping):
        return dict(source)
    if tomllib is None:  # pragma: no cover - Python 3.10 without tomli
        raise ConfigError("", "TOML on Python 3.10 needs: pip install 'wsgi_jwt_guard[toml]'")
    try:
        with open(source, "rb") as file:
            config: dict[str, Any] = tomllib.load(file)
            return config
    except OSError as exc:
        raise ConfigError("", f"cannot read {os.fspath(source)!r}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("", f"{os.fspath(source)!r} is not valid TOML: {exc}") from None


def from_config(
    app: WSGIApplication, source: Mapping[str, Any] | str | os.PathLike[str]
) -> JWTGuard:
    """Wrap ``app`` in a :class:`JWTGuard` configured by ``source`` (see module docs)."""
    return JWTGuard(app, **guard_options(load_config(source)))


def guard_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """Translate a configuration mapping into :class:`JWTGuard` keyword arguments."""
    _no_unknown_keys(config, _TOP_LEVEL, "")
    options: dict[str, Any] = {
        key: config[key]
        for key in ("default", "max_token_size", "remote_user_claim", "realm", "token_headers")
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
    routes = config.get("routes", {})
    if not isinstance(routes, Mapping):
        raise ConfigError("routes", "expected a table of path prefixes")
    options["routes"] = {
        prefix: value if isinstance(value, str) else _build(Rule, value, f"routes.{prefix!r}")
        for prefix, value in routes.items()
    }
    if isinstance(options.get("default"), Mapping):
        options["default"] = _build(Rule, options["default"], "default")
    return options


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
