"""Reading the guard's TOML configuration file: :func:`read_config_file`.

A file path inside the file is read relative to the file, not to the directory
the process happens to start in, so ``keys_file = "keys.json"`` next to
``/etc/guard/guard.toml`` is ``/etc/guard/keys.json`` under gunicorn, systemd
or a test runner alike (as PasteDeploy reads ``config =`` relative to the
``.ini``). The settings that name files are the :class:`~wsgi_jwt_guard.issuers.Issuer`
fields marked as paths (``keys_file``, ``pem_file``, ``ca_bundle``), the
``[backstage]`` table's ``ca_bundle`` and the file-system cache's ``dir``.

Used by :func:`wsgi_jwt_guard.config.load_config` and by the environment's
``WSGI_JWT_GUARD_CONFIG`` (:mod:`wsgi_jwt_guard.environment`).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping
from typing import Any

from .backstage import BackstageSettings
from .errors import ConfigError
from .issuers import Issuer

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    try:
        import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # a dict still works; only TOML files need it
        tomllib = None

__all__ = ["read_config_file"]

# Table (or array of tables) -> its settings that name a file.
_PATHS: dict[str, tuple[str, ...]] = {
    "issuers": tuple(f.name for f in dataclasses.fields(Issuer) if f.metadata.get("path")),
    "backstage": tuple(
        f.name for f in dataclasses.fields(BackstageSettings) if f.metadata.get("path")
    ),
    "cache": ("dir",),
}


def read_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The configuration in the TOML file at ``path``, its file paths made absolute.

    Raises :class:`~wsgi_jwt_guard.errors.ConfigError` (with no key) naming the
    absolute path when the file cannot be read or is not TOML.
    """
    absolute = os.path.abspath(os.fspath(path))
    if tomllib is None:  # pragma: no cover - Python 3.10 without tomli
        raise ConfigError("", "TOML on Python 3.10 needs: pip install 'wsgi_jwt_guard[toml]'")
    try:
        with open(absolute, "rb") as file:
            config = tomllib.load(file)
    except OSError as exc:
        raise ConfigError("", f"cannot read {absolute!r}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("", f"{absolute!r} is not valid TOML: {exc}") from None
    return relative_to(config, os.path.dirname(absolute))


def relative_to(config: Mapping[str, Any], directory: str) -> dict[str, Any]:
    """``config`` with the relative file paths in it read as relative to ``directory``.

    Values of the wrong shape are left alone, for the schema to report.
    """
    result = dict(config)
    for table, names in _PATHS.items():
        value = result.get(table)
        if isinstance(value, list):
            result[table] = [_resolved(item, names, directory) for item in value]
        elif isinstance(value, Mapping):
            result[table] = _resolved(value, names, directory)
    return result


def _resolved(table: object, names: tuple[str, ...], directory: str) -> object:
    if not isinstance(table, Mapping):
        return table
    resolved = dict(table)
    for name in names:
        value = resolved.get(name)
        if isinstance(value, str) and value and not os.path.isabs(value):
            resolved[name] = os.path.normpath(os.path.join(directory, value))
    return resolved
