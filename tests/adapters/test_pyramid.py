"""wsgi_jwt_guard.adapters.pyramid: the security policy in a real Pyramid app behind a real guard.

The oracle is ``ran``: every view appends (view, authenticated_userid) when it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pyramid.authorization import ALL_PERMISSIONS, Allow, Authenticated, Deny, Everyone
from pyramid.config import Configurator
from pyramid.request import Request
from werkzeug.test import Client

from tests.adapters.conftest import Mint
from tests.helpers import bearer
from wsgi_jwt_guard import Identity
from wsgi_jwt_guard.adapters.pyramid import GuardSecurityPolicy

Ran = list[tuple[str, str | None]]
ALICE = "user:default/alice"


class Team:
    """A context with an ACL: team-a members edit, role:auditor reads, mallory never."""

    __acl__ = [  # noqa: RUF012 -- Pyramid reads it as a class attribute
        (Deny, "user:default/mallory", ALL_PERMISSIONS),
        (Allow, "group:default/team-a", ("view", "edit")),
        (Allow, "role:auditor", "view"),
    ]

    def __init__(self, request: Request) -> None:
        pass


class Board:
    """Anyone authenticated may view; the public may read."""

    __acl__ = [(Allow, Authenticated, "view"), (Allow, Everyone, "read")]  # noqa: RUF012

    def __init__(self, request: Request) -> None:
        pass


def make_app(ran: Ran, policy: GuardSecurityPolicy | None = None, include: bool = False) -> Any:
    def view(name: str) -> Callable[[Request], dict[str, Any]]:
        def run(request: Request) -> dict[str, Any]:
            ran.append((name, request.authenticated_userid))
            identity: Identity | None = request.identity
            return {
                "view": name,
                "user": request.authenticated_userid,
                "kind": identity.kind if identity is not None else None,
            }

        return run

    with Configurator() as config:
        if include:
            config.include("wsgi_jwt_guard.adapters.pyramid")
        else:
            config.set_security_policy(policy or GuardSecurityPolicy())
        routes = [
            ("whoami", "/api/whoami", None, None),
            ("read", "/api/read", None, "read"),
            ("team-view", "/api/team/view", Team, "view"),
            ("team-edit", "/api/team/edit", Team, "edit"),
            ("board", "/api/board", Board, "view"),
            ("hello", "/optional/hello", None, None),
            ("members", "/optional/members", None, "read"),
            ("optional-board", "/optional/board", Board, "read"),
            ("optional-board-view", "/optional/board/view", Board, "view"),
        ]
        for name, pattern, factory, permission in routes:
            config.add_route(name, pattern, factory=factory)
            config.add_view(view(name), route_name=name, renderer="json", permission=permission)
        return config.make_wsgi_app()


@pytest.fixture
def ran() -> Ran:
    return []


@pytest.fixture
def client(guarded: Callable[[Any], Client], ran: Ran) -> Client:
    return guarded(make_app(ran))


@pytest.mark.parametrize(
    ("path", "subject", "claims", "status", "view"),
    [
        pytest.param("/api/whoami", ALICE, {}, 200, "whoami", id="no-permission"),
        pytest.param("/api/read", ALICE, {}, 200, "read", id="no-acl-verified-token"),
        pytest.param("/api/team/view", ALICE, {"ent": ["group:default/team-a"]}, 200, "team-view", id="acl-ownership-ref"),
        pytest.param("/api/team/edit", ALICE, {"ent": ["group:default/team-a"]}, 200, "team-edit", id="acl-edit"),
        pytest.param("/api/team/view", ALICE, {"ent": ["group:default/team-b"]}, 403, None, id="acl-other-team"),
        pytest.param("/api/team/view", ALICE, {"ent": "group:default/team-a"}, 403, None, id="ent-not-a-list"),
        pytest.param("/api/team/view", "group:default/team-a", {"ent": []}, 200, "team-view", id="acl-subject-principal"),
        pytest.param("/api/team/view", "user:default/mallory", {"ent": ["group:default/team-a"]}, 403, None, id="acl-deny-first"),
        pytest.param("/api/team/view", ALICE, {"role": "auditor", "ent": []}, 403, None, id="default-principals-ignore-roles"),
        pytest.param("/api/board", ALICE, {"ent": []}, 200, "board", id="acl-authenticated"),
        pytest.param("/optional/members", ALICE, {}, 200, "members", id="optional-with-token"),
    ],
)
def test_policy_decides_which_view_runs(
    client: Client, ran: Ran, mint: Mint, path: str, subject: str, claims: dict, status: int, view: str | None
) -> None:
    response = client.get(path, headers=bearer(mint(subject, **claims)))
    assert response.status_code == status
    assert ran == ([(view, subject)] if view else [])
    if view:
        assert response.json == {"view": view, "user": subject, "kind": "user"}


@pytest.mark.parametrize(
    ("path", "status", "ran_as"),
    [
        pytest.param("/optional/hello", 200, [("hello", None)], id="anonymous-no-permission"),
        pytest.param("/optional/members", 403, [], id="anonymous-no-acl-denied"),
        pytest.param("/optional/board", 200, [("optional-board", None)], id="acl-everyone"),
        pytest.param("/optional/board/view", 403, [], id="acl-authenticated-denied"),
        pytest.param("/api/whoami", 401, [], id="guard-refuses-first"),
    ],
)
def test_without_a_token(client: Client, ran: Ran, path: str, status: int, ran_as: Ran) -> None:
    assert client.get(path).status_code == status
    assert ran == ran_as


def test_custom_principals(guarded: Callable[[Any], Client], mint: Mint) -> None:
    ran: Ran = []
    policy = GuardSecurityPolicy(
        principals=lambda identity: [f"role:{identity.claims.get('role')}"]
    )
    client = guarded(make_app(ran, policy))
    assert client.get("/api/team/view", headers=bearer(mint(ALICE, role="auditor"))).status_code == 200
    # The ownership refs are no longer principals: team-a membership grants nothing.
    token = mint(ALICE, role="reader", ent=["group:default/team-a"])
    assert client.get("/api/team/edit", headers=bearer(token)).status_code == 403
    assert ran == [("team-view", ALICE)]


def test_includeme(guarded: Callable[[Any], Client], mint: Mint) -> None:
    ran: Ran = []
    client = guarded(make_app(ran, include=True))
    assert client.get("/api/read", headers=bearer(mint(ALICE))).status_code == 200
    assert client.get("/optional/members").status_code == 403
    assert ran == [("read", ALICE)]


def test_each_request_runs_as_its_own_token(client: Client, ran: Ran, mint: Mint) -> None:
    for subject in ("user:default/alice", "user:default/bob"):
        assert client.get("/api/read", headers=bearer(mint(subject))).status_code == 200
    assert ran == [("read", "user:default/alice"), ("read", "user:default/bob")]


def test_without_the_guard_remote_user_is_not_an_identity(ran: Ran) -> None:
    response = Client(make_app(ran)).get("/api/read", environ_overrides={"REMOTE_USER": "admin"})
    assert response.status_code == 403
    assert ran == []


def test_remember_and_forget_add_no_headers() -> None:
    policy = GuardSecurityPolicy()
    request = Request.blank("/")
    assert policy.remember(request, "user:default/alice") == []
    assert policy.forget(request) == []
    assert policy.identity(request) is None
    assert policy.authenticated_userid(request) is None
