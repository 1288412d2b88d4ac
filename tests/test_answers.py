"""``wsgi_jwt_guard.answers``: a view's refusal answered as the guard's own.

The adapters' use is tested with real Flask and Bottle apps in
``tests/adapters``; here a plain WSGI view, as the module docs show it.
"""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client

from tests.helpers import ISSUER, SigningKey, bearer, build_guard, issuer_of
from wsgi_jwt_guard import (
    InsufficientScope,
    MissingToken,
    RequestRefused,
    ResourceMetadata,
    Rule,
    get_identity,
)
from wsgi_jwt_guard.answers import ANSWERS_KEY, Answers
from wsgi_jwt_guard.request import RequestView

METADATA = ResourceMetadata(resource="https://api.example.test", authorization_servers=[ISSUER])
ROUTES: dict[str, Any] = {
    "/reports": "optional",
    "/admin": "protected",
    "/bound": Rule("optional", dpop="required"),
}


def report(environ: dict[str, Any], start_response: Any) -> Any:
    """A plain WSGI view: signed-in users with reports.read, as the module docs show it."""
    if environ.get("REMOTE_USER") is None:
        refusal: RequestRefused = MissingToken("sign in to see reports")
        return environ[ANSWERS_KEY].for_view(refusal, environ, start_response)
    if "reports.read" not in get_identity(environ).scopes:
        refusal = InsufficientScope("token lacks a required scope", scope="reports.read")
        return environ[ANSWERS_KEY].for_view(refusal, environ, start_response)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"the reports"]


@pytest.fixture
def client(ec_key: SigningKey) -> Client:
    guard = build_guard(
        report, issuers=[issuer_of([ec_key])], routes=ROUTES, realm="orders", resource_metadata=METADATA
    )
    return Client(guard, use_cookies=False)


def test_a_views_401_is_the_guards(client: Client) -> None:
    by_view, by_guard = client.get("/reports"), client.get("/admin")
    assert by_view.status_code == by_guard.status_code == 401
    assert by_view.headers["WWW-Authenticate"] == by_guard.headers["WWW-Authenticate"]
    assert by_view.headers["WWW-Authenticate"].startswith('Bearer realm="orders", resource_metadata="https://')
    assert by_view.get_json()["error"]["message"] == "sign in to see reports"


def test_a_views_403_names_the_scope_and_the_metadata(client: Client, ec_key: SigningKey) -> None:
    response = client.get("/reports", headers=bearer(ec_key.token(scope="other")))
    assert response.status_code == 403
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="orders"')
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="reports.read"' in challenge
    assert 'resource_metadata="https://api.example.test/.well-known/oauth-protected-resource"' in challenge
    assert client.get("/reports", headers=bearer(ec_key.token(scope="reports.read"))).status_code == 200


def test_with_the_default_realm_and_no_metadata_only_anonymous_requests_carry_it(
    ec_key: SigningKey,
) -> None:
    """A view's 403 then says nothing the adapter does not know (realm, scheme,
    scope), and one more environ key on every request is not free (it can resize
    the dict: see BENCHMARKS.md)."""
    seen: list[bool] = []

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        seen.append(ANSWERS_KEY in environ)
        start_response("204 No Content", [])
        return []

    guard = build_guard(app, issuers=[issuer_of([ec_key])], routes=ROUTES)
    client = Client(guard, use_cookies=False)
    planted = {ANSWERS_KEY: "a client's or an outer app's"}
    client.get("/reports")
    client.get("/reports", headers=bearer(ec_key.token()), environ_overrides=planted)
    assert seen == [True, False]


def test_the_routes_schemes(client: Client) -> None:
    response = client.get("/bound")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('DPoP realm="orders"')
    assert "Bearer" not in response.headers["WWW-Authenticate"]


def test_a_path_the_guard_would_not_route_gets_the_default_rules_schemes(ec_key: SigningKey) -> None:
    """Not expected (the guard let the request through), and never a 500."""
    seen: list[Answers] = []

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        seen.append(environ[ANSWERS_KEY])
        return report(environ, start_response)

    routes = {f"/api{prefix}": rule for prefix, rule in ROUTES.items()}
    guard = build_guard(app, issuers=[issuer_of([ec_key])], routes=routes, mount="/api")
    assert Client(guard).get("/reports", base_url="http://localhost/api").status_code == 401
    (answers,) = seen
    default = answers.binding.challenges(guard.routes.default, RequestView({}, "/"))
    environ = {"SCRIPT_NAME": "/elsewhere", "PATH_INFO": "/bound", "REQUEST_METHOD": "GET"}
    assert answers.challenges(environ) == default
    environ = {"SCRIPT_NAME": "/api", "PATH_INFO": "/bound/%2e%2e", "REQUEST_METHOD": "GET"}
    assert answers.challenges(environ) == default
    environ = {"SCRIPT_NAME": "/api", "PATH_INFO": "/bound", "REQUEST_METHOD": "GET"}
    assert answers.challenges(environ) != default  # DPoP only


def test_behind_a_dispatcher_the_route_is_still_found(ec_key: SigningKey) -> None:
    app = DispatcherMiddleware(report, {"/bound": report})
    guard = build_guard(app, issuers=[issuer_of([ec_key])], routes=ROUTES)
    response = Client(guard).get("/bound/x")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("DPoP ")
