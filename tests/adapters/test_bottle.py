"""wsgi_jwt_guard.adapters.bottle: the plugin on a real Bottle app behind a real guard.

The oracle is ``ran``: every route appends (route, subject) when its body runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import bottle
import pytest
from werkzeug.test import Client

from tests.adapters.conftest import Mint
from tests.helpers import ISSUER, NO_TOKEN_CHALLENGE, bearer, service_token
from wsgi_jwt_guard import ConfigError, Identity, JWTGuard, ResourceMetadata
from wsgi_jwt_guard.adapters.bottle import GuardPlugin

Ran = list[tuple[str, str | None]]
ALICE = "user:default/alice"


def make_app(ran: Ran, plugin: GuardPlugin | None = None) -> bottle.Bottle:
    app = bottle.Bottle()
    app.install(plugin or GuardPlugin())

    def record(route: str, identity: Identity | None) -> dict[str, Any]:
        subject = identity.subject if identity is not None else None
        ran.append((route, subject))
        return {"route": route, "user": subject}

    @app.get("/api/whoami")
    def whoami(identity: Identity | None) -> dict[str, Any]:
        return record("whoami", identity)

    @app.get("/api/admin", jwt={"claims": {"role": "admin"}})
    def admin(identity: Identity) -> dict[str, Any]:
        return record("admin", identity)

    @app.get("/api/urn", jwt={"claims": {"https://example.test/roles": ["admin", "ops"]}})
    def urn(identity: Identity) -> dict[str, Any]:
        return record("urn", identity)

    @app.get("/api/either", jwt={"claims_any": [{"realm_access.roles": "admin"}, {"groups": "ops"}]})
    def either(identity: Identity) -> dict[str, Any]:
        return record("either", identity)

    @app.get("/api/writer", jwt={"scopes": ["catalog.write"], "tokens": ["user"]})
    def writer(identity: Identity) -> dict[str, Any]:
        return record("writer", identity)

    @app.get("/api/blind", jwt={"claims": {"role": "admin"}})
    def blind() -> dict[str, Any]:  # a requirement, but no interest in the identity
        return record("blind", bottle.request.environ.get("wsgi_jwt_guard.identity"))

    @app.get("/api/kwonly/<item>")
    def kwonly(item: str, *, identity: Identity | None) -> dict[str, Any]:
        return record(f"kwonly:{item}", identity)

    @app.get("/optional/hello")
    def hello(identity: Identity | None) -> dict[str, Any]:
        return record("hello", identity)

    @app.get("/optional/members", jwt=True)
    def members(identity: Identity) -> dict[str, Any]:
        return record("members", identity)

    @app.get("/public/admin", jwt={"claims": {"role": "admin"}})
    def public_admin(identity: Identity) -> dict[str, Any]:
        return record("public-admin", identity)

    @app.get("/ruled/admin")
    def ruled_admin(identity: Identity) -> dict[str, Any]:
        return record("ruled-admin", identity)

    return app


@pytest.fixture
def ran() -> Ran:
    return []


@pytest.fixture
def client(guarded: Callable[[Any], Client], ran: Ran) -> Client:
    return guarded(make_app(ran))


@pytest.mark.parametrize(
    ("path", "claims", "status", "route"),
    [
        pytest.param("/api/whoami", {}, 200, "whoami", id="identity-keyword"),
        pytest.param("/api/kwonly/x", {}, 200, "kwonly:x", id="keyword-only-parameter"),
        pytest.param("/api/admin", {"role": "admin"}, 200, "admin", id="claim-value"),
        pytest.param("/api/admin", {"role": ["admin", "x"]}, 200, "admin", id="claim-list-holding-it"),
        pytest.param("/api/admin", {"role": "reader"}, 403, None, id="other-claim-value"),
        pytest.param("/api/admin", {}, 403, None, id="no-claim"),
        pytest.param("/api/blind", {"role": "admin"}, 200, "blind", id="requirement-without-keyword"),
        pytest.param("/api/blind", {}, 403, None, id="requirement-without-keyword-refused"),
        pytest.param("/api/urn", {"https://example.test/roles": ["ops", "admin"]}, 200, "urn", id="dotted-claim-name"),
        pytest.param("/api/urn", {"https://example.test/roles": ["admin"]}, 403, None, id="dotted-claim-list-partly"),
        pytest.param("/api/either", {"realm_access": {"roles": ["admin"]}}, 200, "either", id="any-of-nested"),
        pytest.param("/api/either", {"groups": ["ops", "dev"]}, 200, "either", id="any-of-second"),
        pytest.param("/api/either", {"groups": ["dev"]}, 403, None, id="any-of-none-met"),
        pytest.param("/api/writer", {"scope": "catalog.write"}, 200, "writer", id="scope-granted"),
        pytest.param("/api/writer", {"scope": "catalog.read"}, 403, None, id="scope-missing"),
        pytest.param("/optional/hello", {}, 200, "hello", id="optional-with-token"),
        pytest.param("/optional/members", {}, 200, "members", id="jwt-true-with-token"),
    ],
)
def test_the_plugin_decides_which_route_runs(
    client: Client, ran: Ran, mint: Mint, path: str, claims: dict, status: int, route: str | None
) -> None:
    response = client.get(path, headers=bearer(mint(ALICE, **claims)))
    assert response.status_code == status
    assert ran == ([(route, ALICE)] if route else [])


@pytest.mark.parametrize(
    ("path", "status", "ran_as"),
    [
        pytest.param("/optional/hello", 200, [("hello", None)], id="optional-identity-is-none"),
        pytest.param("/optional/members", 401, [], id="jwt-true-refuses-anonymous"),
        pytest.param("/public/admin", 401, [], id="requirement-on-a-public-route"),
        pytest.param("/api/whoami", 401, [], id="guard-refuses-first"),
    ],
)
def test_without_a_token(client: Client, ran: Ran, path: str, status: int, ran_as: Ran) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert ran == ran_as
    if status == 401:
        # A view's refusal is the guard's own: every scheme the route accepts.
        assert response.headers["WWW-Authenticate"] == NO_TOKEN_CHALLENGE


def test_refusal_is_the_guards_own_403(client: Client, ran: Ran, mint: Mint) -> None:
    token = mint(ALICE, role="reader")
    by_route = client.get("/api/admin", headers=bearer(token))
    by_guard = client.get("/ruled/admin", headers=bearer(token))
    assert by_route.status_code == by_guard.status_code == 403
    assert by_route.get_json() == by_guard.get_json() == {
        "error": {"name": "NotAllowedError", "message": "token lacks the required 'role' claim"},
        "response": {"statusCode": 403},
    }
    assert by_route.headers["WWW-Authenticate"] == by_guard.headers["WWW-Authenticate"]
    assert by_route.headers["Content-Type"] == "application/json"
    assert ran == []


def test_a_routes_refusals_carry_the_guards_realm_and_metadata(
    guard: Callable[..., JWTGuard], ran: Ran, mint: Mint
) -> None:
    metadata = ResourceMetadata(resource="https://api.example.test", authorization_servers=[ISSUER])
    client = Client(guard(make_app(ran), realm="orders", resource_metadata=metadata))
    by_route, by_guard = client.get("/optional/members"), client.get("/api/whoami")
    assert by_route.status_code == by_guard.status_code == 401
    assert by_route.headers["WWW-Authenticate"] == by_guard.headers["WWW-Authenticate"]
    assert 'realm="orders"' in by_route.headers["WWW-Authenticate"]
    assert "resource_metadata=" in by_route.headers["WWW-Authenticate"]
    token = mint(ALICE, role="reader")
    by_route, by_guard = (client.get(path, headers=bearer(token)) for path in ("/api/admin", "/ruled/admin"))
    assert by_route.status_code == by_guard.status_code == 403
    assert by_route.headers["WWW-Authenticate"] == by_guard.headers["WWW-Authenticate"]
    assert ran == []


def test_service_token_is_not_a_user_token(client: Client, ran: Ran) -> None:
    response = client.get("/api/writer", headers=bearer(service_token(scope="catalog.write")))
    assert response.status_code == 403
    assert ran == []


def test_each_request_runs_as_its_own_token(client: Client, ran: Ran, mint: Mint) -> None:
    for subject in ("user:default/alice", "user:default/bob"):
        assert client.get("/api/whoami", headers=bearer(mint(subject))).status_code == 200
    assert ran == [("whoami", "user:default/alice"), ("whoami", "user:default/bob")]


def test_a_route_that_asks_for_nothing_is_left_alone() -> None:
    app = bottle.Bottle()
    plugin = GuardPlugin()

    def plain() -> str:
        return "plain"

    route = bottle.Route(app, "/plain", "GET", plain)
    assert plugin.apply(plain, route) is plain


def test_keyword_and_option_can_be_renamed(guarded: Callable[[Any], Client], mint: Mint) -> None:
    seen: list[Any] = []
    app = bottle.Bottle()
    app.install(GuardPlugin(keyword="who", option="auth"))

    @app.get("/api/x", auth={"claims": {"role": "admin"}})
    def x(who: Identity) -> str:
        seen.append(who.subject)
        return "ok"

    client = guarded(app)
    assert client.get("/api/x", headers=bearer(mint(ALICE))).status_code == 403
    assert client.get("/api/x", headers=bearer(mint(ALICE, role="admin"))).status_code == 200
    assert seen == [ALICE]


def test_two_plugins_handing_out_the_same_keyword_are_refused() -> None:
    app = bottle.Bottle()
    app.install(GuardPlugin())
    with pytest.raises(bottle.PluginError):
        app.install(GuardPlugin())


@pytest.mark.parametrize(
    "option",
    [
        pytest.param({"claim": {"role": "admin"}}, id="typo-claim"),
        pytest.param({"scopes": "catalog.write"}, id="scopes-a-string"),
        pytest.param({"tokens": ["users"]}, id="unknown-token-kind"),
        pytest.param("admin", id="not-a-table"),
    ],
)
def test_a_malformed_option_never_leaves_the_route_open(
    guarded: Callable[[Any], Client], mint: Mint, option: Any
) -> None:
    ran: Ran = []
    app = bottle.Bottle()
    app.install(GuardPlugin())

    @app.get("/api/x", jwt=option)
    def x(identity: Identity) -> str:
        ran.append(("x", identity.subject))
        return "ok"

    with pytest.raises(ConfigError):
        app.routes[0].prepare()  # where Bottle applies plugins
    # A server answers 500; werkzeug's Client re-raises the error Bottle passes as exc_info.
    with pytest.raises(ConfigError):
        guarded(app).get("/api/x", headers=bearer(mint(ALICE, role="admin")))
    assert ran == []
