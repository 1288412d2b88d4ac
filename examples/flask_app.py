"""Flask: the guard around ``app.wsgi_app``, the identity in views and in a decorator.

Run it with an issuer in the environment (see ``guard.toml``)::

    flask --app examples.flask_app run --port 5000
    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:5000/api/whoami   # 200
    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:5000/api/admin  # 403 unless role=admin

The guard authenticates (who is it?) before Flask runs; ``requires_claim``
authorizes one view (may they?), answering 403 like the guard's own
``claims`` rules do for whole path prefixes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask, abort, request

from wsgi_jwt_guard import from_config, get_identity

GUARD_CONFIG = Path(__file__).with_name("guard.toml")
View = TypeVar("View", bound=Callable[..., Any])


def requires_claim(name: str, value: Any) -> Callable[[View], View]:
    """Answer 403 unless the token's ``name`` claim is ``value`` (or a list holding it)."""

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            identity = get_identity(request.environ)
            claim = identity.claims.get(name) if identity else None
            if claim != value and not (isinstance(claim, list) and value in claim):
                abort(403, description=f"this needs the {name}={value} claim")
            return view(*args, **kwargs)

        return checked  # type: ignore[return-value]

    return decorator


def create_app(guard_config: Any = GUARD_CONFIG) -> Flask:
    """The app factory: ``flask --app examples.flask_app`` calls it."""
    app = Flask(__name__)
    app.wsgi_app = from_config(app.wsgi_app, guard_config)  # type: ignore[method-assign]

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok"}

    @app.get("/api/whoami")
    def whoami() -> dict[str, Any]:
        identity = get_identity(request.environ)
        assert identity is not None  # protected: the guard let only valid tokens in
        return {"user": request.remote_user, "ownership": identity.ownership_refs}

    @app.get("/api/admin")
    @requires_claim("role", "admin")
    def admin() -> dict[str, Any]:
        return {"admin": request.remote_user}

    return app
