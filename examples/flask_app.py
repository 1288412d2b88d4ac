"""Flask: the guard around ``app.wsgi_app``, the identity in views and in a decorator.

Run it with an issuer in the environment (see ``guard.toml``)::

    flask --app examples.flask_app run --port 5000
    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:5000/api/whoami   # 200
    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:5000/api/admin  # 403 unless role=admin

The guard authenticates (who is it?) before Flask runs;
:func:`~wsgi_jwt_guard.adapters.flask.requires` authorizes one view (may
they?), answering 403 exactly as the guard's own ``claims`` rules do for whole
path prefixes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, request

from wsgi_jwt_guard import from_config
from wsgi_jwt_guard.adapters.flask import current_identity, requires

GUARD_CONFIG = Path(__file__).with_name("guard.toml")


def create_app(guard_config: Any = GUARD_CONFIG) -> Flask:
    """The app factory: ``flask --app examples.flask_app`` calls it."""
    app = Flask(__name__)
    app.wsgi_app = from_config(app.wsgi_app, guard_config)  # type: ignore[method-assign]

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok"}

    @app.get("/api/whoami")
    def whoami() -> dict[str, Any]:
        identity = current_identity()
        assert identity is not None  # protected: the guard let only valid tokens in
        return {"user": request.remote_user, "ownership": identity.ownership_refs}

    @app.get("/api/admin")
    @requires(claims={"role": "admin"})
    def admin() -> dict[str, Any]:
        return {"admin": request.remote_user}

    return app
