"""The app gunicorn serves in ``test_keys_at_scale``: an echo app behind a guard.

Configured from the environment the test sets: the JWKS URL of its issuer and
the Redis URL all workers share. Each answer names the worker process.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from wsgi_jwt_guard import from_config


def _echo(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    if environ.get("PATH_INFO") == "/api/slow":
        time.sleep(0.05)  # a sync worker is then busy: the others take the next requests
    body = json.dumps({"user": environ.get("REMOTE_USER"), "pid": os.getpid()}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


app = from_config(
    _echo,
    {
        "issuers": [
            {
                "issuer": os.environ["SCALE_ISSUER"],
                "jwks_uri": os.environ["SCALE_JWKS_URI"],
                "algorithms": ["ES256"],
            }
        ],
        "cache": {"type": "redis", "url": os.environ["SCALE_REDIS_URL"], "key_prefix": "scale:"},
        "routes": {"/public": "public"},
    },
)
