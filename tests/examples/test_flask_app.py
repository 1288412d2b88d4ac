"""``examples/flask_app.py``: the identity in a view, and a decorator that demands a claim."""

from __future__ import annotations

import pytest
from flask import Flask
from werkzeug.test import Client

from examples.flask_app import create_app
from wsgi_jwt_guard.dev.devissuer import DevIssuer


@pytest.fixture
def app(in_process_env: None) -> Flask:
    return create_app()


def _get(app: Flask, path: str, token: str | None = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = Client(app).get(path, headers=headers)
    return response.status_code, response.get_json(silent=True) or {}


def test_public_route(app: Flask) -> None:
    assert _get(app, "/health") == (200, {"status": "ok"})


def test_view_reads_the_identity(app: Flask, dev_issuer: DevIssuer) -> None:
    token = dev_issuer.mint("user:default/alice", ent=["group:default/team-a"])
    assert _get(app, "/api/whoami", token) == (
        200,
        {"user": "user:default/alice", "ownership": ["group:default/team-a"]},
    )


@pytest.mark.parametrize(
    ("claims", "status"),
    [
        pytest.param({"role": "admin"}, 200, id="claim-value"),
        pytest.param({"role": ["reader", "admin"]}, 200, id="claim-list-holding-it"),
        pytest.param({"role": "reader"}, 403, id="other-value"),
        pytest.param({}, 403, id="no-claim"),
    ],
)
def test_decorator_demands_the_claim(
    app: Flask, dev_issuer: DevIssuer, claims: dict, status: int
) -> None:
    token = dev_issuer.mint("user:default/alice", **claims)
    assert _get(app, "/api/admin", token)[0] == status


def test_decorator_answers_in_the_guards_shape(app: Flask, dev_issuer: DevIssuer) -> None:
    response = Client(app).get(
        "/api/admin", headers={"Authorization": f"Bearer {dev_issuer.mint('user:default/alice')}"}
    )
    assert response.status_code == 403
    assert response.get_json()["error"]["name"] == "NotAllowedError"
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]


def test_guard_answers_before_flask_without_token(app: Flask) -> None:
    response = Client(app).get("/api/admin")
    assert response.status_code == 401
    assert response.get_json()["error"]["name"] == "AuthenticationError"
