"""Werkzeug's ``DispatcherMiddleware``: a guard around the whole tree, or around one mount.

::

    whole_tree = guard(DispatcherMiddleware(frontend, {"/api/catalog": catalog}))
    one_mount = DispatcherMiddleware(frontend, {"/api/catalog": guard(catalog)})

Either way the guard matches routes on ``SCRIPT_NAME + PATH_INFO``, the full
path the client asked for, so one route table (``guard.toml``) means the same
in both places. Inside the mount, ``/api/catalog/health`` arrives as
``SCRIPT_NAME=/api/catalog``, ``PATH_INFO=/health``: a guard that read
``PATH_INFO`` alone would take it for the public ``/health``.

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

from wsgi_jwt_guard import JWTGuard, from_config

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


def guard(app: Any) -> JWTGuard:
    return from_config(app, GUARD_CONFIG)


#: Everything behind one guard: /health public, the rest needs a token.
whole_tree = guard(DispatcherMiddleware(frontend, {"/api/catalog": catalog}))

#: Only the mounted catalog behind a guard; the frontend is open.
one_mount = DispatcherMiddleware(frontend, {"/api/catalog": guard(catalog)})
