"""The app gunicorn serves in the soak (``tests/scenarios/soak.py``).

An echo app behind a guard configured from the environment the soak sets: its
rotating issuer's JWKS URL, the Redis URL every worker shares (with HMAC
secrets), the refresh policy and the revocation interval. The keys health
view is mounted beside the guard. Each answer names the subject and the worker.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from werkzeug.middleware.dispatcher import DispatcherMiddleware

from wsgi_jwt_guard import from_config
from wsgi_jwt_guard.health import KeysHealth


def _echo(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    body = json.dumps({"sub": environ.get("REMOTE_USER"), "pid": os.getpid()}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def config(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """The guard's configuration, from the soak's environment (the revoker uses it too)."""
    return {
        "issuers": [
            {
                "issuer": environ["SOAK_ISSUER"],
                "jwks_uri": environ["SOAK_JWKS_URI"],
                "audience": "backstage",
                "algorithms": ["ES256"],
                "jwks_refresh": json.loads(environ["SOAK_REFRESH"]),
            }
        ],
        "cache": {
            "type": "redis",
            "url": environ["SOAK_REDIS_URL"],
            "key_prefix": "soak:",
            "secrets": [environ["SOAK_CACHE_SECRET"]],
        },
        "revocation": {"check_interval": float(environ["SOAK_CHECK_INTERVAL"])},
        "cookie": {"enabled": False},
    }


if "SOAK_ISSUER" in os.environ:
    guard = from_config(_echo, config())
    app = DispatcherMiddleware(guard, {"/healthz/keys": KeysHealth(guard)})
