"""A legacy-style Bottle app -- module-level routes on the default app -- behind the guard.

Run it with an issuer in the environment (see ``guard.toml``)::

    PORT=8080 python examples/bottle_app.py
    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/api/whoami
    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/api/admin   # 403 unless role=admin

The guard wraps the WSGI callable Bottle builds. The package's Bottle plugin,
installed on the default app, hands the verified identity to any route that
names an ``identity`` parameter and enforces a route's ``jwt`` requirement;
``REMOTE_USER`` is in the environ too, as behind an authenticating Apache.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import bottle
from bottle import request, route

from wsgi_jwt_guard import Identity, from_config
from wsgi_jwt_guard.adapters.bottle import GuardPlugin

bottle.install(GuardPlugin())  # on the default app, where route() adds the routes


@route("/health")
def health() -> dict[str, Any]:
    return {"status": "ok"}


@route("/api/whoami")
def whoami(identity: Identity | None) -> dict[str, Any]:
    return {
        "user": request.environ.get("REMOTE_USER"),
        "kind": identity.kind if identity else None,
        "ownership": identity.ownership_refs if identity else [],
    }


@route("/api/admin", jwt={"claims": {"role": "admin"}})
def admin(identity: Identity) -> dict[str, Any]:
    return {"admin": identity.subject}


application = from_config(bottle.default_app(), Path(__file__).with_name("guard.toml"))

if __name__ == "__main__":
    bottle.run(application, host="127.0.0.1", port=int(os.environ.get("PORT", "8080")), quiet=True)
