"""Configuration from the environment (12-factor): the ``WSGI_JWT_GUARD_*`` variables.

``WSGI_JWT_GUARD_CONFIG`` names a TOML file (the schema of
:mod:`wsgi_jwt_guard.config`). The single-issuer variables describe a whole
configuration on their own::

    WSGI_JWT_GUARD_ISSUER=https://auth.example.com/api/auth
    WSGI_JWT_GUARD_JWKS_URI=https://auth.example.com/api/auth/.well-known/jwks.json
    WSGI_JWT_GUARD_AUDIENCE=backstage
    WSGI_JWT_GUARD_SERVICE_SECRET=<base64 secret>[,<older secret>]

or complete a file: it keeps the route table, a variable supplies what it
leaves out (typically the secret; ``WSGI_JWT_GUARD_INTROSPECTION_SECRET``, the
introspecting issuer's ``introspection.client_secret``, only completes one).
:func:`environment_config` reads them all; :func:`with_environment` completes a
configuration you already have.

Empty variables count as unset. A bad value raises
:class:`~wsgi_jwt_guard.errors.ConfigError` naming the variable, and so does an
unknown ``WSGI_JWT_GUARD_*`` variable: a misspelt audience would otherwise
switch the audience check off without a word.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from typing import Any, TypeGuard

from .config_file import read_config_file
from .errors import ConfigError
from .fetch import check_fetch_url
from .validation import MIN_SECRET_CHARACTERS, base64_secret

__all__ = [
    "ENV_AUDIENCE",
    "ENV_CONFIG",
    "ENV_INTROSPECTION_SECRET",
    "ENV_ISSUER",
    "ENV_JWKS_URI",
    "ENV_SERVICE_SECRET",
    "ENV_TENANTS",
    "ENV_VARIABLES",
    "environment_config",
    "with_environment",
]

#: Names a TOML configuration file.
ENV_CONFIG = "WSGI_JWT_GUARD_CONFIG"
#: The single issuer's ``issuer`` (the tokens' ``iss``).
ENV_ISSUER = "WSGI_JWT_GUARD_ISSUER"
#: The single issuer's ``jwks_uri``.
ENV_JWKS_URI = "WSGI_JWT_GUARD_JWKS_URI"
#: The single issuer's ``audience``; several are separated by commas.
ENV_AUDIENCE = "WSGI_JWT_GUARD_AUDIENCE"
#: The single issuer's ``tenants`` (an issuer template's allowed ``{tenant}``
#: values, Entra ID's tenant IDs), comma-separated.
ENV_TENANTS = "WSGI_JWT_GUARD_TENANTS"
#: ``service_tokens.secrets``, comma-separated, the signing (newest) one first.
ENV_SERVICE_SECRET = "WSGI_JWT_GUARD_SERVICE_SECRET"  # noqa: S105 - a variable name
#: The ``introspection.client_secret`` of the issuer with ``introspect`` set.
ENV_INTROSPECTION_SECRET = "WSGI_JWT_GUARD_INTROSPECTION_SECRET"  # noqa: S105 - a variable name
ENV_VARIABLES = (
    ENV_CONFIG,
    ENV_ISSUER,
    ENV_JWKS_URI,
    ENV_AUDIENCE,
    ENV_TENANTS,
    ENV_SERVICE_SECRET,
    ENV_INTROSPECTION_SECRET,
)
_ENV_SETTINGS = ENV_VARIABLES[1:]
_PREFIX = "WSGI_JWT_GUARD_"

# The variables that set (or add) the one issuer.
_ISSUER_SETTINGS = (ENV_ISSUER, ENV_JWKS_URI, ENV_AUDIENCE, ENV_TENANTS)
# An issuer's key sources: a variable giving the JWKS URL conflicts with any of them.
_KEY_SOURCES = ("jwks_uri", "discovery", "keys", "keys_file", "pem", "pem_file")


def environment_config() -> dict[str, Any] | None:
    """The configuration the environment describes, or ``None`` if it describes none.

    The file named by ``WSGI_JWT_GUARD_CONFIG`` (its relative paths read from
    its own directory), completed by the single-issuer variables; or those
    variables alone. See the module docs and :func:`with_environment`.
    """
    _check_variable_names()
    path = os.environ.get(ENV_CONFIG, "").strip()
    if path:
        try:
            config = read_config_file(path)
        except ConfigError as exc:
            raise ConfigError(ENV_CONFIG, exc.message) from None
        return with_environment(config)
    if not any(os.environ.get(name, "").strip() for name in _ENV_SETTINGS):
        return None
    return with_environment({})


def with_environment(config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` completed by the single-issuer variables.

    ``WSGI_JWT_GUARD_ISSUER`` adds the one issuer (the file must then have no
    ``[[issuers]]``); ``..._JWKS_URI``, ``..._AUDIENCE`` and ``..._TENANTS`` set that
    issuer's ``jwks_uri``, ``audience`` and ``tenants``, or those of the file's
    only issuer. An
    issuer from the environment without a JWKS URI uses OIDC discovery;
    ``..._SERVICE_SECRET`` sets ``service_tokens.secrets``;
    ``..._INTROSPECTION_SECRET`` the ``introspection.client_secret`` of the one
    issuer with ``introspect`` on (which the file, or code, configures). A variable never
    overrides the file: setting the same thing in both raises
    :class:`~wsgi_jwt_guard.errors.ConfigError`, so no deployment depends on a
    precedence rule nobody remembers.
    """
    _check_variable_names()
    values = {name: os.environ.get(name, "").strip() for name in _ENV_SETTINGS}
    result = dict(config)
    if any(values[name] for name in _ISSUER_SETTINGS):
        result["issuers"] = _issuer_from_environment(result.get("issuers", []), values)
    if values[ENV_SERVICE_SECRET]:
        settings = result.get("service_tokens", {})
        if isinstance(settings, Mapping):
            result["service_tokens"] = _secrets_from_environment(
                settings, values[ENV_SERVICE_SECRET]
            )
    if values[ENV_INTROSPECTION_SECRET]:
        result["issuers"] = _introspection_secret(
            result.get("issuers", []), values[ENV_INTROSPECTION_SECRET]
        )
    return result


def _check_variable_names() -> None:
    for name in os.environ:
        if name.startswith(_PREFIX) and name not in ENV_VARIABLES:
            # Compared without the prefix they all share, which would make anything "close".
            suffixes = [variable.removeprefix(_PREFIX) for variable in ENV_VARIABLES]
            close = difflib.get_close_matches(name.removeprefix(_PREFIX), suffixes, n=1)
            hint = f"did you mean {_PREFIX}{close[0]}? " if close else ""
            raise ConfigError(
                name, f"unknown variable; {hint}expected one of {list(ENV_VARIABLES)}"
            )


def _issuer_from_environment(issuers: object, values: Mapping[str, str]) -> object:
    if not _is_issuer_list(issuers):
        return issuers  # the schema reports the file's mistake
    if values[ENV_ISSUER]:
        if issuers:
            raise ConfigError(ENV_ISSUER, "the configuration file already has [[issuers]]")
        entry: dict[str, Any] = {"issuer": values[ENV_ISSUER]}
    elif len(issuers) == 1:
        entry = dict(issuers[0])
    else:
        name = next(name for name in _ISSUER_SETTINGS[1:] if values[name])
        problem = f"set {ENV_ISSUER} too" if not issuers else "the file has several [[issuers]]"
        raise ConfigError(name, f"which issuer? {problem}")
    uri = values[ENV_JWKS_URI]
    if uri:
        for key in _KEY_SOURCES:
            if entry.get(key):
                raise ConfigError(ENV_JWKS_URI, f"the configuration file already sets {key}")
        _check_url(ENV_JWKS_URI, uri, insecure_http=entry.get("insecure_http") is True)
        entry["jwks_uri"] = uri
    elif values[ENV_ISSUER]:
        # No JWKS URL given: find it by OIDC discovery, as most identity providers allow.
        _check_url(ENV_ISSUER, values[ENV_ISSUER])
        entry["discovery"] = True
    for variable, key, what in _LISTS:
        if values[variable]:
            if entry.get(key):
                raise ConfigError(variable, f"the configuration file already sets {key}")
            items = [item.strip() for item in values[variable].split(",") if item.strip()]
            if not items:
                raise ConfigError(variable, f"expected one or more comma-separated {what}")
            entry[key] = items
    return [entry]


# Issuer settings given as comma-separated lists: (variable, setting, what it lists).
_LISTS = ((ENV_AUDIENCE, "audience", "audiences"), (ENV_TENANTS, "tenants", "tenant IDs"))


def _check_url(variable: str, url: str, *, insecure_http: bool = False) -> None:
    """Keys may be fetched from ``url`` (the JWKS URL, or the issuer's for discovery)."""
    try:
        check_fetch_url(url, insecure_http=insecure_http)
    except ValueError as exc:
        raise ConfigError(variable, str(exc)) from None


def _secrets_from_environment(settings: Mapping[str, Any], value: str) -> dict[str, Any]:
    if "secrets" in settings:
        raise ConfigError(
            ENV_SERVICE_SECRET, "the configuration file already sets service_tokens.secrets"
        )
    secrets = [secret.strip() for secret in value.split(",") if secret.strip()]
    # Checked here so the error names the variable; the message never shows a secret.
    if not secrets:
        raise ConfigError(ENV_SERVICE_SECRET, "expected one or more comma-separated secrets")
    for secret in secrets:
        base64_secret(secret, ENV_SERVICE_SECRET)
    return {**settings, "secrets": secrets}


def _introspection_secret(issuers: object, secret: str) -> object:
    """``issuers`` with ``secret`` as the introspecting issuer's client secret."""
    if not _is_issuer_list(issuers):
        return issuers  # the schema reports the file's mistake
    chosen = [index for index, i in enumerate(issuers) if i.get("introspect", "off") != "off"]
    if len(chosen) != 1:
        # None: the secret would go unused. Several: the guard refuses that anyway.
        raise ConfigError(
            ENV_INTROSPECTION_SECRET, "expected exactly one issuer with introspect set"
        )
    if len(secret) < MIN_SECRET_CHARACTERS:  # here, so the message names the variable
        raise ConfigError(
            ENV_INTROSPECTION_SECRET, f"expected at least {MIN_SECRET_CHARACTERS} characters"
        )
    index = chosen[0]
    settings = issuers[index].get("introspection", {})
    if not isinstance(settings, Mapping):
        return issuers  # the schema reports the file's mistake
    if "client_secret" in settings:
        raise ConfigError(
            ENV_INTROSPECTION_SECRET,
            f"the configuration already sets issuers[{index}].introspection.client_secret",
        )
    result = list(issuers)
    result[index] = {**issuers[index], "introspection": {**settings, "client_secret": secret}}
    return result


def _is_issuer_list(issuers: object) -> TypeGuard[list[Mapping[str, Any]]]:
    """Whether ``issuers`` is a list of tables, which a variable can complete."""
    return isinstance(issuers, list) and all(isinstance(i, Mapping) for i in issuers)
