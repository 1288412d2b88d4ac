"""A Flask app and a Django app behind a guard that hands claims downstream.

Served by real servers in ``test_downstream.py``. The one view, ``whoami``,
answers with what the framework's *own* request object reads -- Flask's
``request.headers`` and ``request.cookies``, Django's ``request.headers``,
``request.META`` and ``request.COOKIES`` -- which is the test's oracle: a
forged ``X-User-Groups`` that any of them sees is one the app would trust.

``application`` is built from the environment: ``DOWNSTREAM_FRAMEWORK``
(``flask`` or ``django``) and ``DOWNSTREAM_KEYS`` (the issuer's public JWKs).
"""

from __future__ import annotations

import json
import os
from typing import Any

from tests.helpers import build_guard, issuer_of
from wsgi_jwt_guard import DownstreamSettings, JWTGuard

#: The headers the guard writes, as the views read them back, and one it does not
#: (to see whether the server let a client's ``X_Unmapped`` through as ``X-Unmapped``).
HEADERS = ("X-User-Groups", "X-User-Roles", "X-User-Name", "X-Unmapped")
#: The environ key the guard writes.
TENANT_KEY = "stack.tenant"


def guard(app: Any, keys: list[dict[str, Any]]) -> JWTGuard:
    return build_guard(
        app,
        issuers=[issuer_of(keys, algorithms=["ES256"])],
        routes={"/api/auth": "public", "/api/catalog": "protected"},
        downstream=DownstreamSettings(
            headers={
                "X-User-Groups": "groups",
                "X-User-Roles": {"claim": "realm_access.roles", "lists": "json"},
                "X-User-Name": "name",
            },
            environ={TENANT_KEY: "tid"},
            forward_token=False,
        ),
    )


# -- Flask -------------------------------------------------------------------------------


def flask_app(keys: list[dict[str, Any]]) -> Any:
    from flask import Flask, request

    app = Flask("downstream")

    @app.route("/api/<path:rest>", methods=["GET", "POST"])
    def whoami(rest: str) -> Any:
        return {
            "framework": "flask",
            "user": request.remote_user,
            "headers": {name: request.headers.get(name) for name in HEADERS},
            "tenant": request.environ.get(TENANT_KEY),
            "authorization": request.headers.get("Authorization"),
            "cookies": dict(request.cookies),
        }

    app.wsgi_app = guard(app.wsgi_app, keys)  # type: ignore[method-assign]
    return app


# -- Django ------------------------------------------------------------------------------


def whoami(request: Any, rest: str) -> Any:
    from django.http import HttpResponse

    body = {
        "framework": "django",
        "user": request.META.get("REMOTE_USER"),
        "headers": {name: request.headers.get(name) for name in HEADERS},
        "meta": request.META.get("HTTP_X_USER_GROUPS"),
        "tenant": request.META.get(TENANT_KEY),
        "authorization": request.headers.get("Authorization"),
        "cookies": dict(request.COOKIES),
    }
    return HttpResponse(json.dumps(body), content_type="application/json")


#: Django's URLconf is this module (``ROOT_URLCONF``): filled by :func:`django_app`.
urlpatterns: list[Any] = []


def django_app(keys: list[dict[str, Any]]) -> Any:
    import django
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application
    from django.urls import re_path

    urlpatterns.append(re_path(r"^api/(?P<rest>.*)$", whoami))
    settings.configure(
        DEBUG=False,
        SECRET_KEY="downstream-test-only-not-secret",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=[],
        MIDDLEWARE=[],
        USE_TZ=True,
    )
    django.setup()
    return guard(get_wsgi_application(), keys)


def _from_environment() -> Any:
    framework = os.environ.get("DOWNSTREAM_FRAMEWORK")
    if not framework:
        return None
    keys = json.loads(os.environ["DOWNSTREAM_KEYS"])
    return {"flask": flask_app, "django": django_app}[framework](keys)


#: What the servers serve: ``tests.stack.downstream_app:application``.
application = _from_environment()
