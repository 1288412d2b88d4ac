"""A Django project for tests/adapters/test_django.py, run under gunicorn (one worker).

Django's settings are per process, and other tests configure Django in the
pytest process for other purposes, so this project runs in its own. The test
passes, in the environment:

* ``ADAPTER_JWK``: the public JWK the guard trusts (``tests.helpers.ISSUER``);
* ``ADAPTER_SETTINGS``: JSON of extra Django settings (``WSGI_JWT_GUARD_*``);
* ``ADAPTER_FRONT``: what stands in front of Django -- ``guard``; ``server``,
  no guard but a server that sets ``REMOTE_USER`` itself (Apache's basic
  auth, say); ``tampered``, the guard and then a middleware that rewrites
  ``REMOTE_USER``.

Every view answers which view ran, as whom, and that user's groups.
"""

from __future__ import annotations

import json
import os
from typing import Any

import django
from django.conf import settings
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, JsonResponse
from django.urls import path

from tests.helpers import AUDIENCE, ISSUER
from wsgi_jwt_guard import Issuer, JWTGuard

settings.configure(
    DEBUG=False,
    SECRET_KEY="adapter-tests-only-not-secret",
    ALLOWED_HOSTS=["127.0.0.1"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes"],
    MIDDLEWARE=[
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.auth.middleware.RemoteUserMiddleware",
    ],
    AUTHENTICATION_BACKENDS=["wsgi_jwt_guard.adapters.django.GuardBackend"],
    SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies",
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    LOGGING={
        "version": 1,
        "handlers": {"console": {"class": "logging.StreamHandler"}},
        "loggers": {
            "wsgi_jwt_guard": {"handlers": ["console"], "level": "ERROR"},
            "django.request": {"handlers": ["console"], "level": "ERROR"},  # the 500s
        },
    },
    **json.loads(os.environ.get("ADAPTER_SETTINGS", "{}")),
)
django.setup()
call_command("migrate", verbosity=0)

from django.contrib.auth.models import Group, User  # noqa: E402 -- needs django.setup()

# Someone who exists before any token arrives, with a group set by hand.
_existing = User.objects.create(username="user:default/existing")
_existing.groups.add(Group.objects.create(name="manual"))


def _answer(view: str, request: HttpRequest) -> JsonResponse:
    user = request.user
    return JsonResponse(
        {
            "view": view,
            "user": user.get_username() if user.is_authenticated else None,
            "groups": sorted(user.groups.values_list("name", flat=True))
            if user.is_authenticated
            else [],
        }
    )


def whoami(request: HttpRequest) -> JsonResponse:
    return _answer("whoami", request)


def hello(request: HttpRequest) -> JsonResponse:
    return _answer("hello", request)


def admins(request: HttpRequest) -> JsonResponse:
    if not request.user.groups.filter(name="catalog-admins").exists():
        return JsonResponse({"view": None}, status=403)
    return _answer("admins", request)


def users(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"users": sorted(User.objects.values_list("username", flat=True))})


urlpatterns = [
    path("public/users", users),
    path("api/whoami", whoami),
    path("api/admins", admins),
    path("optional/hello", hello),
]


def _server_sets_remote_user(app: Any) -> Any:
    def front(environ: dict[str, Any], start_response: Any) -> Any:
        environ["REMOTE_USER"] = "user:default/existing"
        return app(environ, start_response)

    return front


def _rewrites_remote_user(app: Any) -> Any:
    def front(environ: dict[str, Any], start_response: Any) -> Any:
        if "REMOTE_USER" in environ:
            environ["REMOTE_USER"] = "user:default/existing"
        return app(environ, start_response)

    return front


def _guard(app: Any) -> JWTGuard:
    issuer = Issuer(
        ISSUER, keys=[json.loads(os.environ["ADAPTER_JWK"])], audience=AUDIENCE, algorithms=["ES256"]
    )
    routes = {"/public": "public", "/optional": "optional"}
    return JWTGuard(app, issuers=[issuer], routes=routes)


_front = os.environ.get("ADAPTER_FRONT", "guard")
_django = get_wsgi_application()
if _front == "guard":
    application: Any = _guard(_django)
elif _front == "server":
    application = _server_sets_remote_user(_django)
elif _front == "tampered":
    application = _guard(_rewrites_remote_user(_django))
else:
    raise SystemExit(f"ADAPTER_FRONT={_front!r}: expected guard, server or tampered")
