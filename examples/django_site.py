"""Django: ``RemoteUserMiddleware`` + the package's ``GuardBackend`` trust the guard's REMOTE_USER.

That is Django's documented way to sit behind an authenticating front end
(Apache, IIS, a single sign-on proxy), and the guard is one: it sets
``REMOTE_USER`` only after a token verified, and removes any ``REMOTE_USER``
a client or server tried to pass in. Views then use ``request.user`` as
always; :class:`wsgi_jwt_guard.adapters.django.GuardBackend` creates the
``User`` row on first sight, refuses a ``REMOTE_USER`` the guard did not
verify, and puts the user in the Django groups ``WSGI_JWT_GUARD_GROUPS``
maps the token's claims to.

The whole project fits in this module (settings, URLs, views, WSGI app) to
keep the example small; the database is in memory and migrated at start.
Run it from the repository root, with an issuer in the environment (see
``guard.toml``)::

    gunicorn 'examples.django_site:application'
    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/api/whoami
"""

from __future__ import annotations

import os
from pathlib import Path

import django
from django.conf import settings
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, JsonResponse
from django.urls import path

from wsgi_jwt_guard import from_config, get_identity

settings.configure(
    DEBUG=False,
    SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY", "example-only-not-secret"),
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes"],
    MIDDLEWARE=[
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        # After AuthenticationMiddleware: logs in the user the guard names in
        # REMOTE_USER, and logs out a session whose request has none.
        "django.contrib.auth.middleware.RemoteUserMiddleware",
    ],
    AUTHENTICATION_BACKENDS=["wsgi_jwt_guard.adapters.django.GuardBackend"],
    # Django group -> what the token must hold (read like a guard rule's claims/scopes).
    WSGI_JWT_GUARD_GROUPS={"team-a": {"claims": {"ent": "group:default/team-a"}}},
    SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies",
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
)
django.setup()
call_command("migrate", verbosity=0)  # a real project runs `manage.py migrate` once


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def hello(request: HttpRequest) -> JsonResponse:
    name = request.user.get_username() if request.user.is_authenticated else "guest"
    return JsonResponse({"hello": name})


def whoami(request: HttpRequest) -> JsonResponse:
    identity = get_identity(request.META)  # the verified claims, beyond the user name
    return JsonResponse(
        {
            "user": request.user.get_username(),
            "authenticated": request.user.is_authenticated,
            "groups": sorted(group.name for group in request.user.groups.all()),
            "ownership": identity.ownership_refs if identity else [],
        }
    )


urlpatterns = [path("health", health), path("hello", hello), path("api/whoami", whoami)]

application = from_config(get_wsgi_application(), Path(__file__).with_name("guard.toml"))
