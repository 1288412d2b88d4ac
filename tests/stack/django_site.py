"""Django's half of the stack suite: settings, ``urlpatterns`` and function views.

Function views answer every method, ``OPTIONS`` and ``HEAD`` included: Django
dispatches them to the view like any other, which is why an anonymous
"preflight" must never get past the guard (issue 10, class 7).
"""

from __future__ import annotations

from typing import Any

import django
from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, HttpResponse
from django.urls import re_path

from tests.stack.views import run_view


def _view(name: str) -> Any:
    def view(request: HttpRequest, rest: str | None = None, asset: str | None = None) -> HttpResponse:
        status, headers, body = run_view(request.META, name, asset)
        response = HttpResponse(body, status=status)
        for header, value in headers:
            response[header] = value
        return response

    return view


urlpatterns = [
    re_path(r"^api/auth(?:/(?P<rest>.*))?$", _view("auth")),
    re_path(r"^api/catalog/secret$", _view("catalog-secret")),
    re_path(r"^api/catalog/cached$", _view("catalog-cached")),
    re_path(r"^api/catalog(?:/(?P<rest>.*))?$", _view("catalog")),
    re_path(r"^api/search(?:/(?P<rest>.*))?$", _view("search")),
    re_path(r"^api/techdocs/static/docs/(?P<asset>.+)$", _view("techdocs")),
    re_path(r"^api/techdocs(?:/(?P<rest>.*))?$", _view("techdocs")),
    re_path(r"^api/cors(?:/(?P<rest>.*))?$", _view("cors")),
    re_path(r"^(?P<rest>.*)$", _view("catch-all")),
]


def wsgi_application() -> Any:
    """Django's WSGI handler, configured once per process."""
    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="stack-suite-only-not-secret",
            ALLOWED_HOSTS=["*"],  # absolute-form targets name other hosts
            ROOT_URLCONF=__name__,
            INSTALLED_APPS=[],
            MIDDLEWARE=[],
            USE_TZ=True,
        )
        django.setup()
    return get_wsgi_application()
