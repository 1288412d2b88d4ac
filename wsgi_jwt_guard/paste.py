"""PasteDeploy support: add the guard to a ``.ini`` pipeline with no Python.

The package registers a ``paste.filter_app_factory`` entry point, so a
Pyramid (or any PasteDeploy) application can put the guard in front of itself::

    [filter:jwt]
    use = egg:wsgi_jwt_guard
    config = %(here)s/guard.toml

    [pipeline:main]
    pipeline = jwt myapp

``config`` is the guard's TOML file (a relative path is read relative to the
``.ini`` file, and the key files the TOML names relative to the TOML file).
Without it, the configuration comes from the environment
(``WSGI_JWT_GUARD_CONFIG`` and the single-issuer variables); with it, those
variables complete the file -- see :mod:`wsgi_jwt_guard.environment`.
Other settings belong in the TOML file, where they are validated with the rest;
an error there names the key and the TOML file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from .config import from_config
from .errors import ConfigError
from .middleware import JWTGuard

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

__all__ = ["filter_app_factory"]


def filter_app_factory(
    app: WSGIApplication,
    global_conf: Mapping[str, str],
    config: str | None = None,
    **local_conf: str,
) -> JWTGuard:
    """Wrap ``app`` in a guard configured by the ``config`` TOML file (or the environment)."""
    if local_conf:
        name = sorted(local_conf)[0]
        raise ConfigError(
            f"[filter] {name}", "unknown setting; only 'config' (a TOML file) is read"
        )
    if config is None:
        return from_config(app)
    path = os.path.join(global_conf.get("here", ""), os.path.expanduser(config))
    return from_config(app, path)
