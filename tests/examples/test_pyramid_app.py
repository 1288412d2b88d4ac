"""``examples/pyramid.ini`` loaded with PasteDeploy: the guard as a ``[filter:jwt]`` in the pipeline.

Pyramid's own security API sees the user: ``request.authenticated_userid``
through the example's security policy, and view permissions.
"""

from __future__ import annotations

from typing import Any

import pytest
from paste.deploy import loadapp
from werkzeug.test import Client

from tests.processes import ROOT
from wsgi_jwt_guard import JWTGuard
from wsgi_jwt_guard.dev.devissuer import DevIssuer


@pytest.fixture
def app(in_process_env: None) -> Any:
    return loadapp(f"config:{ROOT / 'examples' / 'pyramid.ini'}")


def test_pipeline_puts_the_guard_first(app: Any) -> None:
    assert isinstance(app, JWTGuard)


def test_public_route(app: Any) -> None:
    response = Client(app).get("/health")
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})


def test_protected_view_is_refused_by_the_guard_without_token(app: Any) -> None:
    assert Client(app).get("/api/whoami").status_code == 401


def test_view_reads_authenticated_userid(app: Any, dev_issuer: DevIssuer) -> None:
    token = dev_issuer.mint("user:default/alice", ent=["group:default/team-a"])
    response = Client(app).get("/api/whoami", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.get_json() == {
        "user": "user:default/alice",
        "ownership": ["group:default/team-a"],
    }


def test_optional_route_anonymous_and_authenticated(app: Any, dev_issuer: DevIssuer) -> None:
    client = Client(app)
    assert client.get("/hello").get_json() == {"hello": "guest"}
    token = dev_issuer.mint("user:default/bob")
    response = client.get("/hello", headers={"Authorization": f"Bearer {token}"})
    assert response.get_json() == {"hello": "user:default/bob"}
