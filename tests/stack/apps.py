"""The same little service written for five routers, each behind the guard.

Every app routes with its framework's own router -- Flask's and Bottle's
rules, Django's ``urls.py`` (``django_site.py``), Pyramid's route patterns, a
Werkzeug ``DispatcherMiddleware`` tree with ``/api/catalog`` and the others
mounted as sub-apps -- onto the views of ``views.py``:

==================================  =========================================
``/api/auth/...``                   public
``/api/catalog/...``                protected (``/secret``, ``/cached`` too)
``/api/search/...``                  optional
``/api/techdocs/...``               protected, stylesheets under
                                    ``/api/techdocs/static/docs/`` exempt
``/api/cors/...``                   protected, CORS preflight answered by the guard
anything else                       protected (the guard's default)
==================================  =========================================

Each router sends every path under a prefix to that prefix's views (a
catch-all takes the rest), so when a view runs that the guard's table did not
mean, the cause is how a path was read -- never a gap in these apps' routes.

The guard wraps each framework's WSGI app outermost, as users do
(``app.wsgi_app = JWTGuard(app.wsgi_app, ...)`` for Flask, around
``get_wsgi_application()`` for Django). Views take every method, as Django
function views and Pyramid views without a ``request_method`` predicate do.

``application`` is built from the environment so gunicorn, waitress and
``serve_werkzeug`` serve the same thing: ``STACK_FRAMEWORK``, ``STACK_KEYS``
(the issuer's public JWKs, JSON), ``STACK_SECRET`` (the service-token secret),
``STACK_VIEW_LOG`` (where views testify, see ``views.py``) and, for a server
that serves below a ``SCRIPT_NAME``, ``STACK_MOUNT`` (the guard's ``mount``).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

from tests.helpers import build_guard, issuer_of
from tests.stack.views import MethodOverride, run_view
from wsgi_jwt_guard import CORSSettings, JWTGuard, Rule, ServiceTokens

#: A proxy header that carries a bare JWT (Google IAP); ambient like the cookie.
PROXY_HEADER = "X-Goog-IAP-JWT-Assertion"
#: The one origin allowed to make CORS requests to ``/api/cors``.
CORS_ORIGIN = "http://app.example.test"
FRAMEWORKS = ("flask", "django", "pyramid", "bottle", "dispatcher")
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def guard(app: Any, keys: list[dict[str, Any]], secret: str) -> JWTGuard:
    """The guard every stack runs: one route table for every framework."""
    routes: dict[str, Any] = {
        "/api/auth": "public",
        "/api/catalog": "protected",
        "/api/search": "optional",
        "/api/techdocs": Rule("protected", unless=[r"/api/techdocs/static/docs/.+\.css"]),
        # README's CORS recipe: the guard answers preflights itself, since an
        # anonymous OPTIONS passed on would run Django's and Pyramid's views.
        "/api/cors": Rule("protected", unless_methods=["OPTIONS"]),
    }
    # Served below a SCRIPT_NAME (stacks.MOUNT): the guard is told, and its
    # table names full paths, mount + PATH_INFO, as the README says.
    mount = os.environ.get("STACK_MOUNT", "")
    return build_guard(
        app,
        issuers=[issuer_of(keys, algorithms=["ES256"])],
        service_tokens=ServiceTokens([secret]),
        routes={mount + prefix: rule for prefix, rule in routes.items()},
        token_headers=[PROXY_HEADER],
        cors=CORSSettings(allowed_origins=[CORS_ORIGIN]),
        mount=mount,
    )


# -- Flask -------------------------------------------------------------------------------


def flask_app(protect: Callable[[Any], Any]) -> Any:
    from flask import Flask, Response, request

    app = Flask("stack")

    def add(rule: str, view: str) -> None:
        def handler(**kwargs: str) -> Response:
            status, headers, body = run_view(request.environ, view, kwargs.get("asset"))
            return Response(body, status, headers)

        app.add_url_rule(rule, rule, handler, methods=METHODS)

    add("/api/auth", "auth")
    add("/api/auth/", "auth")
    add("/api/auth/<path:rest>", "auth")
    add("/api/catalog/secret", "catalog-secret")
    add("/api/catalog/cached", "catalog-cached")
    add("/api/catalog", "catalog")
    add("/api/catalog/<path:rest>", "catalog")
    add("/api/search", "search")
    add("/api/search/", "search")
    add("/api/search/<path:rest>", "search")
    add("/api/techdocs/static/docs/<path:asset>", "techdocs")
    add("/api/techdocs", "techdocs")
    add("/api/techdocs/<path:rest>", "techdocs")
    add("/api/cors", "cors")
    add("/api/cors/<path:rest>", "cors")
    add("/", "catch-all")
    add("/<path:rest>", "catch-all")
    app.wsgi_app = protect(MethodOverride(app.wsgi_app))  # type: ignore[method-assign]
    return app


# -- Bottle ------------------------------------------------------------------------------


def bottle_app(protect: Callable[[Any], Any]) -> Any:
    import bottle

    app = bottle.Bottle()

    def add(rule: str, view: str) -> None:
        def handler(**kwargs: str) -> Any:
            status, headers, body = run_view(bottle.request.environ, view, kwargs.get("asset"))
            return bottle.HTTPResponse(body, status, headers=headers)

        app.route(rule, "ANY", handler)

    add("/api/auth", "auth")
    add("/api/auth/", "auth")
    add("/api/auth/<rest:path>", "auth")
    add("/api/catalog/secret", "catalog-secret")
    add("/api/catalog/cached", "catalog-cached")
    add("/api/catalog", "catalog")
    add("/api/catalog/<rest:path>", "catalog")
    add("/api/search", "search")
    add("/api/search/", "search")
    add("/api/search/<rest:path>", "search")
    add("/api/techdocs/static/docs/<asset:path>", "techdocs")
    add("/api/techdocs", "techdocs")
    add("/api/techdocs/<rest:path>", "techdocs")
    add("/api/cors", "cors")
    add("/api/cors/<rest:path>", "cors")
    add("/", "catch-all")
    add("/<rest:path>", "catch-all")
    return protect(MethodOverride(app))


# -- Pyramid -----------------------------------------------------------------------------


def pyramid_app(protect: Callable[[Any], Any]) -> Any:
    from pyramid.config import Configurator
    from pyramid.response import Response

    config = Configurator()

    def add(pattern: str, view: str) -> None:
        def handler(request: Any) -> Response:
            asset = request.matchdict.get("asset")
            status, headers, body = run_view(
                request.environ, view, None if asset is None else "/".join(asset)
            )
            return Response(body=body, status=status, headerlist=headers)

        config.add_route(pattern, pattern)
        config.add_view(handler, route_name=pattern)  # no request_method predicate

    add("/api/auth", "auth")
    add("/api/auth/*rest", "auth")
    add("/api/catalog/secret", "catalog-secret")
    add("/api/catalog/cached", "catalog-cached")
    add("/api/catalog", "catalog")
    add("/api/catalog/*rest", "catalog")
    add("/api/search", "search")
    add("/api/search/*rest", "search")
    add("/api/techdocs/static/docs/*asset", "techdocs")
    add("/api/techdocs", "techdocs")
    add("/api/techdocs/*rest", "techdocs")
    add("/api/cors", "cors")
    add("/api/cors/*rest", "cors")
    add("/*rest", "catch-all")
    return protect(config.make_wsgi_app())


# -- Werkzeug DispatcherMiddleware -------------------------------------------------------


def _routed(rules: list[tuple[str, str]]) -> Any:
    """A sub-app that routes its ``PATH_INFO`` (after the mount) with a Werkzeug ``Map``."""
    from werkzeug.exceptions import HTTPException
    from werkzeug.routing import Map
    from werkzeug.routing import Rule as URLRule

    url_map = Map([URLRule(pattern, endpoint=view) for pattern, view in rules])

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        try:
            view, arguments = url_map.bind_to_environ(environ).match()
        except HTTPException as exc:
            return exc(environ, start_response)
        status, headers, body = run_view(environ, view, arguments.get("asset"))
        start_response(f"{status} OK", [*headers, ("Content-Length", str(len(body)))])
        return [body]

    return app


def dispatcher_app(protect: Callable[[Any], Any]) -> Any:
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    def everything(view: str) -> Any:
        return _routed([("/", view), ("/<path:rest>", view)])

    tree = DispatcherMiddleware(
        everything("catch-all"),
        {
            "/api/auth": everything("auth"),
            "/api/catalog": _routed([
                ("/secret", "catalog-secret"),
                ("/cached", "catalog-cached"),
                ("/", "catalog"),
                ("/<path:rest>", "catalog"),
            ]),
            "/api/search": everything("search"),
            "/api/techdocs": _routed([
                ("/static/docs/<path:asset>", "techdocs"),
                ("/", "techdocs"),
                ("/<path:rest>", "techdocs"),
            ]),
            "/api/cors": everything("cors"),
        },
    )  # fmt: skip
    return protect(tree)


# -- Django (its urls.py is django_site.py) ----------------------------------------------


def django_app(protect: Callable[[Any], Any]) -> Any:
    from tests.stack import django_site

    return protect(django_site.wsgi_application())


BUILDERS: dict[str, Callable[[Callable[[Any], Any]], Any]] = {
    "flask": flask_app,
    "django": django_app,
    "pyramid": pyramid_app,
    "bottle": bottle_app,
    "dispatcher": dispatcher_app,
}


def build(framework: str, keys: list[dict[str, Any]], secret: str) -> Any:
    """``framework``'s app behind the guard."""
    return BUILDERS[framework](lambda app: guard(app, keys, secret))


#: Starts each line the guard logs in the servers' output (see ``test_log_lines.py``).
GUARD_LOG_PREFIX = "GUARD-LOG "


def _log_refusals() -> None:
    """The guard's INFO refusal lines to stderr, as an operator would collect them."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(GUARD_LOG_PREFIX + "%(levelname)s %(message)s"))
    logger = logging.getLogger("wsgi_jwt_guard")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _from_environment() -> Any:
    framework = os.environ.get("STACK_FRAMEWORK")
    if not framework:
        return None
    _log_refusals()
    return build(framework, json.loads(os.environ["STACK_KEYS"]), os.environ["STACK_SECRET"])


#: What the servers serve: ``tests.stack.apps:application``.
application = _from_environment()
