"""A legacy-style Bottle app -- module-level routes on the default app -- behind the guard.

Run it with an issuer in the environment (see ``guard.toml``)::

    PORT=8080 python examples/bottle_app.py
    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/api/whoami

Nothing in the routes changes: the guard wraps the WSGI callable Bottle
builds, and the views read ``REMOTE_USER`` from the environ like they would
behind an authenticating Apache.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import bottle
from bottle import request, route

from wsgi_jwt_guard import from_config, get_identity


@route("/health")
def health() -> dict[str, Any]:
    return {"status": "ok"}


@route("/api/whoami")
def whoami() -> dict[str, Any]:
    identity = get_identity(request.environ)
    return {
        "user": request.environ.get("REMOTE_USER"),
        "kind": identity.kind if identity else None,
        "ownership": identity.ownership_refs if identity else [],
    }


application = from_config(bottle.default_app(), Path(__file__).with_name("guard.toml"))

if __name__ == "__main__":
    bottle.run(application, host="127.0.0.1", port=int(os.environ.get("PORT", "8080")), quiet=True)
