"""Pyramid, loaded from ``pyramid.ini`` with the guard as a PasteDeploy filter.

The ``.ini`` puts the guard in front of the app with no Python::

    [filter:jwt]
    use = egg:wsgi_jwt_guard
    config = %(here)s/guard.toml

    [pipeline:main]
    pipeline = jwt myapp

Inside, Pyramid's own security API works as usual: the package's
:class:`~wsgi_jwt_guard.adapters.pyramid.GuardSecurityPolicy` trusts the
identity the guard verified, so views read ``request.authenticated_userid`` and
``request.identity`` and declare ``permission=...``. Run it from
the repository root, with an issuer in the environment (see ``guard.toml``)::

    PYTHONPATH=. pserve examples/pyramid.ini
    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:6543/api/whoami
"""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.request import Request

from wsgi_jwt_guard import Identity
from wsgi_jwt_guard.adapters.pyramid import GuardSecurityPolicy


def health(request: Request) -> dict[str, Any]:
    return {"status": "ok"}


def hello(request: Request) -> dict[str, Any]:
    return {"hello": request.authenticated_userid or "guest"}


def whoami(request: Request) -> dict[str, Any]:
    identity: Identity = request.identity
    return {"user": request.authenticated_userid, "ownership": identity.ownership_refs}


def main(global_config: dict[str, str], **settings: str) -> Any:
    """The PasteDeploy app factory (``use = call:examples.pyramid_app:main``)."""
    with Configurator(settings=settings) as config:
        config.set_security_policy(GuardSecurityPolicy())
        config.add_route("health", "/health")
        config.add_route("hello", "/hello")
        config.add_route("whoami", "/api/whoami")
        config.add_view(health, route_name="health", renderer="json")
        config.add_view(hello, route_name="hello", renderer="json")
        config.add_view(whoami, route_name="whoami", renderer="json", permission="read")
        return config.make_wsgi_app()
