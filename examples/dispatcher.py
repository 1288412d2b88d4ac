"""Werkzeug's ``DispatcherMiddleware``: a guard around the whole tree, or around one mount.

::

    whole_tree = guard(DispatcherMiddleware(frontend, {"/api/catalog": catalog}))
    one_mount = DispatcherMiddleware(frontend, {"/api/catalog": guard(catalog, "/api/catalog")})

Either way the guard matches routes on the full path the client asked for,
``mount + PATH_INFO``, so one route table (``guard.toml``) means the same in
both places. Inside the mount, ``/api/catalog/health`` arrives as
``SCRIPT_NAME=/api/catalog``, ``PATH_INFO=/health``, so the guard there is
told its ``mount``. It never takes ``SCRIPT_NAME`` from the request: some
servers let a client set it (gunicorn honours a ``SCRIPT_NAME`` header), and a
request whose ``SCRIPT_NAME`` is not the configured mount is refused with 400.

The difference between the two: with ``one_mount`` only the catalog is
guarded, and the frontend answers everyone. Run either under any WSGI server,
with an issuer in the environment (see ``guard.toml``)::

    gunicorn 'examples.dispatcher:whole_tree'      # or 'examples.dispatcher:one_mount'
    curl http://127.0.0.1:8000/                    # 401 in whole_tree, 200 in one_mount
    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/api/catalog/items
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from werkzeug.middleware.dispatcher import DispatcherMiddleware

from wsgi_jwt_guard import JWTGuard, from_config, load_config

GUARD_CONFIG = Path(__file__).with_name("guard.toml")


def _echo(name: str) -> Any:
    """An app that says who it is and what path it was given."""

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        body = {
            "app": name,
            "script_name": environ.get("SCRIPT_NAME", ""),
            "path_info": environ.get("PATH_INFO", ""),
            "user": environ.get("REMOTE_USER"),
        }
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]

    return app


frontend = _echo("frontend")
catalog = _echo("catalog")


def guard(app: Any, mount: str = "") -> JWTGuard:
    """``guard.toml`` around ``app``, which runs with ``SCRIPT_NAME == mount``."""
    return from_config(app, {**load_config(GUARD_CONFIG), "mount": mount})


#: Everything behind one guard: /health public, the rest needs a token.
whole_tree = guard(DispatcherMiddleware(frontend, {"/api/catalog": catalog}))

#: Only the mounted catalog behind a guard; the frontend is open.
one_mount = DispatcherMiddleware(frontend, {"/api/catalog": guard(catalog, "/api/catalog")})
