"""The two apps gunicorn serves for the HTTP row: ``bench.apps:bare`` and ``bench.apps:wrapped()``.

The wrapped app reads the issuer's public JWK from ``BENCH_JWK`` (set by
:mod:`bench.gunicorn_wrk`), so the parent process keeps the private key.
"""

from __future__ import annotations

import json
import os
from typing import Any

from bench.fixtures import AUDIENCE, ISSUER, hello_app

bare = hello_app


def wrapped() -> Any:
    """The same app behind the guard, default settings, one static-key issuer."""
    from wsgi_jwt_guard import Issuer, JWTGuard

    jwk = json.loads(os.environ["BENCH_JWK"])
    issuer = Issuer(ISSUER, keys=[jwk], audience=AUDIENCE, algorithms=[jwk["alg"]])
    return JWTGuard(hello_app, issuers=[issuer], routes={"/api": "protected"})
