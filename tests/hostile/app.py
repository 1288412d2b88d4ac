"""The application the hostile suite puts behind the guard, and how it reads paths.

The app under test is deliberately *lenient*: it reads the path the way the
sloppiest downstream might (percent-decoding again, backslashes as slashes,
servlet-style ``;params`` stripped, NFKC, dot segments resolved, case folded,
``X-HTTP-Method-Override`` honoured) and reports which of its handlers ran.
The suite's invariant is that a *protected* handler never runs without a
valid token, whatever the guard and this reading disagree on.

``application`` is built from environment variables so that gunicorn and
waitress subprocesses serve the same guard as in-process servers.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import unicodedata
from typing import Any
from urllib.parse import unquote

from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.middleware.proxy_fix import ProxyFix

from tests.helpers import build_guard, issuer_of
from wsgi_jwt_guard import (
    CookieSettings,
    CORSSettings,
    JWTGuard,
    Rule,
    ServiceTokens,
    get_identity,
)

CSS = r"/api/techdocs/static/docs/.+\.css"
CORS_ORIGIN = "https://app.example.test"

ROUTES: dict[str, Any] = {
    "/api/auth": "public",
    "/api/catalog": "protected",
    "/api/search": "optional",
    "/api/techdocs": Rule("protected", unless=[CSS]),
    "/api/cors": Rule("protected", unless_methods=["OPTIONS"]),
}
_OVERRIDES = ("HTTP_X_HTTP_METHOD_OVERRIDE", "HTTP_X_HTTP_METHOD", "HTTP_X_METHOD_OVERRIDE")


def lenient_path(environ: dict[str, Any]) -> str:
    """The path as the most forgiving downstream would read it."""
    raw = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    path = raw.encode("latin-1", "replace").decode("utf-8", "replace")
    for _ in range(3):
        path = unquote(path)
    path = unicodedata.normalize("NFKC", path).replace("\\", "/")
    path = re.sub(r";[^/]*", "", path)  # servlet containers strip path parameters
    path = posixpath.normpath("/" + path.lstrip("/"))
    return path.lower()


def lenient_method(environ: dict[str, Any]) -> str:
    for key in _OVERRIDES:
        if environ.get(key):
            return str(environ[key]).split(",")[0].strip().upper()
    return str(environ.get("REQUEST_METHOD", "GET")).upper()


def handler_for(environ: dict[str, Any]) -> str:
    """``public`` or ``protected``: which of the app's handlers this request runs."""
    path = lenient_path(environ)
    if path == "/api/auth" or path.startswith("/api/auth/"):
        return "public"
    if re.fullmatch(CSS.lower(), path):
        return "public"
    if path == "/api/search" or path.startswith("/api/search/"):
        return "optional"
    return "protected"


def handler_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Reports the handler that ran and who the guard said the user is."""
    identity = get_identity(environ)
    body = {
        "handler": handler_for(environ),
        "method": lenient_method(environ),
        "path": environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""),
        "remote_user": environ.get("REMOTE_USER"),
        "auth_type": environ.get("AUTH_TYPE"),
        "subject": None if identity is None else identity.subject,
        "source": None if identity is None else identity.source,
        "jti": None if identity is None else identity.claims.get("jti"),
    }
    data = json.dumps(body).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def path_info_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Routes as Flask or Django below a mount would: on ``PATH_INFO`` alone."""
    identity = get_identity(environ)
    path = environ.get("PATH_INFO", "")
    body = {
        "handler": "protected" if path.lstrip("/").startswith("catalog") else "public",
        "path_info": path,
        "subject": None if identity is None else identity.subject,
    }
    data = json.dumps(body).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def hostile_guard(keys: list[dict[str, Any]], secret: str, app: Any = handler_app, **options: Any) -> JWTGuard:
    """The suite's guard (``tests.helpers.build_guard``) with this app's routes and CORS."""
    options.setdefault("routes", ROUTES)
    options.setdefault("service_tokens", ServiceTokens([secret]))
    options.setdefault("cookie", CookieSettings())
    # The guard answers preflights on /api/cors itself; any other OPTIONS is
    # protected (Django and Pyramid run the normal view for it).
    options.setdefault("cors", CORSSettings(allowed_origins=[CORS_ORIGIN]))
    return build_guard(app, issuers=[issuer_of(keys)], **options)


def _not_mounted(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "3")])
    return [b"404"]


def build_stack(keys: list[dict[str, Any]], secret: str, stack: str) -> Any:
    """The guard in one of the deployment shapes the path tests run through."""
    if stack == "plain":
        return hostile_guard(keys, secret)
    if stack == "proxyfix":  # README: ProxyFix outside the guard, default (no x_prefix)
        return ProxyFix(hostile_guard(keys, secret), x_for=1, x_proto=1, x_host=1)
    if stack == "mounted":  # the guard wrapping one mounted app, routes are full paths
        return DispatcherMiddleware(_not_mounted, {"/api": hostile_guard(keys, secret, mount="/api")})
    if stack == "mounted-public":  # mount "/api", public unless listed; the app routes on PATH_INFO
        routes = {"/api/catalog": "protected"}
        return hostile_guard(keys, secret, app=path_info_app, mount="/api", routes=routes, default="public")
    if stack == "tree":  # the guard around a DispatcherMiddleware tree
        tree = DispatcherMiddleware(
            _not_mounted, {"/api/auth": handler_app, "/api/catalog": handler_app, "/api": handler_app}
        )
        return hostile_guard(keys, secret, app=tree)
    raise ValueError(stack)


def _from_environment() -> Any:
    keys = json.loads(os.environ.get("HOSTILE_KEYS", "[]"))
    if not keys:
        return _not_mounted
    return build_stack(keys, os.environ["HOSTILE_SECRET"], os.environ.get("HOSTILE_STACK", "plain"))


#: What gunicorn and waitress serve: ``tests.hostile.app:application``.
application = _from_environment()
