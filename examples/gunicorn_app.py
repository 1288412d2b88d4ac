"""A plain WSGI app behind the guard, served by gunicorn.

Run it from the repository root, with an issuer in the environment (see
``guard.toml``; ``wsgi-jwt-guard demo`` provides one and a token)::

    export WSGI_JWT_GUARD_ISSUER=http://127.0.0.1:7007/api/auth
    export WSGI_JWT_GUARD_JWKS_URI=$WSGI_JWT_GUARD_ISSUER/.well-known/jwks.json
    gunicorn --bind 127.0.0.1:8000 'examples.gunicorn_app:app'

    curl http://127.0.0.1:8000/health                                        # 200
    curl http://127.0.0.1:8000/api/whoami                                    # 401
    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/api/whoami  # 200

Every gunicorn worker builds its own guard when it imports this module, and
fetches the issuer's keys on its first token.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from wsgi_jwt_guard import from_config, get_identity


def application(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """The app knows nothing about tokens: the guard ran before it."""
    path = environ.get("PATH_INFO", "")
    if path == "/health":
        status, body = "200 OK", {"status": "ok"}
    elif path == "/api/whoami":
        identity = get_identity(environ)
        assert identity is not None  # a protected route: the guard let only valid tokens in
        body = {
            "user": environ["REMOTE_USER"],
            "issuer": identity.issuer,
            "ownership": identity.ownership_refs,
        }
        status = "200 OK"
    else:
        status, body = "404 Not Found", {"error": "not found"}
    start_response(status, [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]


app = from_config(application, Path(__file__).with_name("guard.toml"))
