"""wsgi_jwt_guard.adapters.flask: a real Flask app behind a real guard.

The oracle is ``ran``: every view appends (view, subject) when its body runs,
so each case says which view ran and as whom -- and that none ran when refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client

from tests.adapters.conftest import ADAPTER_ROUTES, Mint
from tests.helpers import ISSUER, NO_TOKEN_CHALLENGE, bearer, service_token
from wsgi_jwt_guard import ConfigError, Identity, JWTGuard, ResourceMetadata, Rule
from wsgi_jwt_guard.adapters.flask import current_identity, requires

Ran = list[tuple[str, str | None]]


def make_app(ran: Ran) -> Flask:
    app = Flask(__name__)

    def record(view: str) -> dict[str, Any]:
        identity = current_identity()
        subject = identity.subject if identity is not None else None
        ran.append((view, subject))
        return {"view": view, "user": subject}

    @app.errorhandler(403)
    def forbidden(error: Any) -> tuple[str, int]:  # must not reshape requires' answers
        return "flask's own 403 page", 403

    @app.get("/api/whoami")
    def whoami() -> dict[str, Any]:
        return record("whoami")

    @app.get("/api/admin")
    @requires(claims={"role": "admin"})
    def admin() -> dict[str, Any]:
        return record("admin")

    @app.get("/api/keycloak")
    @requires(claims_any=[{"realm_access.roles": "admin"}, {"resource_access.reports.roles": "editor"}])
    def keycloak() -> dict[str, Any]:
        return record("keycloak")

    @app.get("/api/writer")
    @requires(scopes=["catalog.write"], tokens=["user"])
    def writer() -> dict[str, Any]:
        return record("writer")

    @app.get("/api/async-admin")
    @requires(claims={"role": "admin"})
    async def async_admin() -> dict[str, Any]:
        await asyncio.sleep(0)
        return record("async-admin")

    @app.get("/optional/hello")
    def hello() -> dict[str, Any]:
        return record("hello")

    @app.get("/optional/members")
    @requires()
    def members() -> dict[str, Any]:
        return record("members")

    @app.get("/public/admin")
    @requires(claims={"role": "admin"})
    def public_admin() -> dict[str, Any]:
        return record("public-admin")

    @app.get("/ruled/admin")
    def ruled_admin() -> dict[str, Any]:
        return record("ruled-admin")

    return app


@pytest.fixture
def ran() -> Ran:
    return []


@pytest.fixture
def client(guarded: Callable[[Any], Client], ran: Ran) -> Client:
    return guarded(make_app(ran))


ALICE = "user:default/alice"


@pytest.mark.parametrize(
    ("path", "claims", "status", "view"),
    [
        pytest.param("/api/whoami", {}, 200, "whoami", id="plain-view"),
        pytest.param("/api/admin", {"role": "admin"}, 200, "admin", id="claim-value"),
        pytest.param("/api/admin", {"role": ["reader", "admin"]}, 200, "admin", id="claim-list-holding-it"),
        pytest.param("/api/admin", {"role": "reader"}, 403, None, id="other-claim-value"),
        pytest.param("/api/admin", {"role": ["admin-ish"]}, 403, None, id="list-without-it"),
        pytest.param("/api/admin", {}, 403, None, id="no-claim"),
        pytest.param("/api/admin", {"role": True}, 403, None, id="wrong-type"),
        pytest.param("/api/keycloak", {"realm_access": {"roles": ["admin"]}}, 200, "keycloak", id="any-of-first"),
        pytest.param("/api/keycloak", {"resource_access": {"reports": {"roles": ["editor"]}}}, 200, "keycloak", id="any-of-second-nested"),
        pytest.param("/api/keycloak", {"realm_access": {"roles": ["user"]}, "resource_access": {"other": {"roles": ["editor"]}}}, 403, None, id="any-of-none-met"),
        pytest.param("/api/keycloak", {"realm_access.roles": ["admin"]}, 403, None, id="any-of-path-is-not-a-dotted-name"),
        pytest.param("/api/writer", {"scope": "catalog.read catalog.write"}, 200, "writer", id="scope-granted"),
        pytest.param("/api/writer", {"scp": ["catalog.write"]}, 200, "writer", id="scp-list-granted"),
        pytest.param("/api/writer", {"scope": "catalog.read"}, 403, None, id="scope-missing"),
        pytest.param("/api/async-admin", {"role": "admin"}, 200, "async-admin", id="async-view"),
        pytest.param("/api/async-admin", {}, 403, None, id="async-view-refused"),
        pytest.param("/optional/members", {}, 200, "members", id="optional-with-token"),
        pytest.param("/optional/hello", {}, 200, "hello", id="optional-plain"),
    ],
)
def test_requirement_decides_which_view_runs(
    client: Client, ran: Ran, mint: Mint, path: str, claims: dict, status: int, view: str | None
) -> None:
    response = client.get(path, headers=bearer(mint(ALICE, **claims)))
    assert response.status_code == status
    assert ran == ([(view, ALICE)] if view else [])


@pytest.mark.parametrize(
    ("path", "status", "ran_as"),
    [
        pytest.param("/optional/hello", 200, [("hello", None)], id="optional-view-is-anonymous"),
        pytest.param("/optional/members", 401, [], id="requires-refuses-anonymous"),
        pytest.param("/public/admin", 401, [], id="requires-on-a-public-route"),
        pytest.param("/api/admin", 401, [], id="guard-refuses-first"),
    ],
)
def test_without_a_token(client: Client, ran: Ran, path: str, status: int, ran_as: Ran) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert ran == ran_as
    if status == 401:
        # A view's refusal is the guard's own: every scheme the route accepts.
        assert response.headers["WWW-Authenticate"] == NO_TOKEN_CHALLENGE


def test_a_token_on_a_public_route_is_not_an_identity(client: Client, ran: Ran, mint: Mint) -> None:
    """The guard ignores tokens on public routes; so must a view's requirement."""
    response = client.get("/public/admin", headers=bearer(mint(ALICE, role="admin")))
    assert response.status_code == 401
    assert ran == []


def test_refusal_is_the_guards_own_403(client: Client, ran: Ran, mint: Mint) -> None:
    """A view requiring role=admin answers exactly as a guard rule requiring it does."""
    token = mint(ALICE, role="reader")
    by_view = client.get("/api/admin", headers=bearer(token))
    by_guard = client.get("/ruled/admin", headers=bearer(token))
    assert by_view.status_code == by_guard.status_code == 403
    assert by_view.get_json() == by_guard.get_json() == {
        "error": {"name": "NotAllowedError", "message": "token lacks the required 'role' claim"},
        "response": {"statusCode": 403},
    }
    assert by_view.headers["WWW-Authenticate"] == by_guard.headers["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in by_view.headers["WWW-Authenticate"]
    assert by_view.headers["Cache-Control"] == "no-store"
    assert ran == []


METADATA = ResourceMetadata(resource="https://api.example.test", authorization_servers=[ISSUER])


def test_a_views_refusals_carry_the_guards_realm_and_metadata(
    guard: Callable[..., JWTGuard], ran: Ran, mint: Mint
) -> None:
    """An MCP client looks for resource_metadata on every 401, and on a 403 to step
    up: the view's are the guard's own, with its realm and its RFC 9728 document's
    URL (and the scope on the 403), with no realm given to ``requires``."""
    client = Client(guard(make_app(ran), realm="orders", resource_metadata=METADATA))
    by_view, by_guard = client.get("/optional/members"), client.get("/api/admin")
    assert by_view.status_code == by_guard.status_code == 401
    assert by_view.headers["WWW-Authenticate"] == by_guard.headers["WWW-Authenticate"]
    assert 'realm="orders"' in by_view.headers["WWW-Authenticate"]
    assert 'resource_metadata="https://api.example.test/.well-known/oauth-protected-resource"' in (
        by_view.headers["WWW-Authenticate"]
    )
    token = mint(ALICE, role="reader")
    by_view, by_guard = (client.get(path, headers=bearer(token)) for path in ("/api/admin", "/ruled/admin"))
    assert by_view.status_code == by_guard.status_code == 403
    assert by_view.headers["WWW-Authenticate"] == by_guard.headers["WWW-Authenticate"]
    assert 'realm="orders"' in by_view.headers["WWW-Authenticate"]
    assert ran == []


@pytest.mark.parametrize("behind_a_dispatcher", [False, True], ids=["flask-app", "dispatcher"])
def test_a_views_refusal_names_the_routes_schemes(
    guard: Callable[..., JWTGuard], ran: Ran, behind_a_dispatcher: bool
) -> None:
    """A route that takes DPoP tokens only: the view's 401 challenges DPoP alone, as
    the guard's would -- also when a dispatcher behind the guard has moved the
    prefix into SCRIPT_NAME (the route is found from SCRIPT_NAME + PATH_INFO)."""
    app: Any = make_app(ran)
    if behind_a_dispatcher:
        members = Flask("members")
        members.get("/members")(requires()(lambda: ran.append(("members", None)) or "ran"))
        app = DispatcherMiddleware(app, {"/optional": members})
    dpop_only = {"/optional": Rule("optional", dpop="required"), "/api": Rule("protected", dpop="required")}
    client = Client(guard(app, routes={**ADAPTER_ROUTES, **dpop_only}))
    by_view, by_guard = client.get("/optional/members"), client.get("/api/admin")
    assert by_view.status_code == by_guard.status_code == 401
    assert by_view.headers["WWW-Authenticate"] == by_guard.headers["WWW-Authenticate"]
    assert by_view.headers["WWW-Authenticate"].startswith("DPoP ")
    assert ran == []


def test_refusal_in_problem_details_when_asked(client: Client, mint: Mint) -> None:
    response = client.get(
        "/api/admin",
        headers={**bearer(mint(ALICE)), "Accept": "application/problem+json"},
    )
    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == 403


def test_token_kinds(client: Client, ran: Ran) -> None:
    """A service token with the scope is still not a user token."""
    response = client.get("/api/writer", headers=bearer(service_token(scope="catalog.write")))
    assert response.status_code == 403
    assert "service tokens are not accepted" in response.get_json()["error"]["message"]
    assert ran == []


def test_each_request_runs_as_its_own_token(client: Client, ran: Ran, mint: Mint) -> None:
    for subject in ("user:default/alice", "user:default/bob", "user:default/alice"):
        assert client.get("/api/admin", headers=bearer(mint(subject, role="admin"))).status_code == 200
    assert ran == [("admin", "user:default/alice"), ("admin", "user:default/bob"), ("admin", "user:default/alice")]


def test_current_identity_is_the_guards(guarded: Callable[[Any], Client], mint: Mint) -> None:
    seen: list[Identity | None] = []
    app = make_app([])

    @app.get("/api/identity")
    def identity_view() -> str:
        seen.append(current_identity())
        return "ok"

    token = mint(ALICE, ent=["group:default/team-a"])
    assert guarded(app).get("/api/identity", headers=bearer(token)).status_code == 200
    (identity,) = seen
    assert identity is not None
    assert (identity.subject, identity.kind, identity.source, identity.token) == (ALICE, "user", "header", token)
    assert identity.ownership_refs == ["group:default/team-a"]


def test_without_the_guard_remote_user_is_not_an_identity(ran: Ran) -> None:
    """Behind a server that sets REMOTE_USER itself (no guard), requires() still refuses."""
    response = Client(make_app(ran)).get("/api/admin", environ_overrides={"REMOTE_USER": "admin"})
    assert response.status_code == 401
    assert ran == []


def test_an_identity_planted_in_environ_is_scrubbed(client: Client, ran: Ran) -> None:
    forged = Identity("user:default/mallory", {"role": "admin"}, None, "user", "header", float("inf"), "x")
    response = client.get(
        "/optional/members", environ_overrides={"wsgi_jwt_guard.identity": forged, "REMOTE_USER": "x"}
    )
    assert response.status_code == 401
    assert ran == []


@pytest.mark.parametrize(
    "requirement",
    [
        pytest.param({"claims": {1: "admin"}}, id="claim-name-not-a-string"),
        pytest.param({"claims": ["role"]}, id="claims-not-a-table"),
        pytest.param({"tokens": ["users"]}, id="unknown-token-kind"),
        pytest.param({"tokens": []}, id="no-token-kind"),
        pytest.param({"scopes": "catalog.write"}, id="scopes-a-string"),
    ],
)
def test_a_malformed_requirement_fails_at_decoration(requirement: dict) -> None:
    with pytest.raises(ConfigError):
        requires(**requirement)
