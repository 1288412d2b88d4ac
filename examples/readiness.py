"""Readiness that means "this worker can verify tokens": the keys health view.

A worker whose issuer keys are not loaded answers every protected request with
503. Wire its readiness probe to :class:`~wsgi_jwt_guard.health.KeysHealth`
and the load balancer sends it traffic only once it can verify tokens. Run it
from the repository root, with an issuer in the environment (see
``guard.toml``; ``wsgi-jwt-guard demo`` provides one)::

    export WSGI_JWT_GUARD_ISSUER=http://127.0.0.1:7007/api/auth
    export WSGI_JWT_GUARD_JWKS_URI=$WSGI_JWT_GUARD_ISSUER/.well-known/jwks.json
    gunicorn --preload --workers 4 --bind 127.0.0.1:8000 'examples.readiness:app'

    curl -i http://127.0.0.1:8000/healthz/ready   # 200 with each issuer's keys, else 503
    curl -i http://127.0.0.1:8000/healthz/live    # 200 while the process runs

The issuer is configured with ``jwks_refresh = { prefetch = true }``: each
worker fetches the keys as it starts (after gunicorn's fork, with
``--preload``) and keeps them fresh in the background, so it turns ready
without waiting for a first token, and stays ready through an issuer outage
while its last good keys serve (stale-if-error). In Kubernetes::

    readinessProbe:
      httpGet: {path: /healthz/ready, port: 8000}
      periodSeconds: 5
      failureThreshold: 2
    livenessProbe:                 # the process, never the keys: an issuer
      httpGet: {path: /healthz/live, port: 8000}   # outage must not restart pods

Both probes are mounted beside the guard, not behind it, so they need no token.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from werkzeug.middleware.dispatcher import DispatcherMiddleware

from wsgi_jwt_guard import from_config, load_config
from wsgi_jwt_guard.health import KeysHealth


def service(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """The application itself: it runs only for requests the guard let through."""
    body = {"user": environ.get("REMOTE_USER")}
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]


def live(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """Liveness: the process answers. Nothing about keys or issuers."""
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b'{"status": "ok"}']


config = load_config(Path(__file__).with_name("guard.toml"))  # the issuer from the environment
for issuer in config["issuers"]:
    issuer.setdefault("jwks_refresh", {"prefetch": True})
guard = from_config(service, config)

app = DispatcherMiddleware(guard, {"/healthz/ready": KeysHealth(guard), "/healthz/live": live})
