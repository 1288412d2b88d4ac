"""wsgi_jwt_guard.adapters.django: GuardBackend under RemoteUserMiddleware, in a real
Django under gunicorn, behind a real guard (``django_project.py``).

Every answer names the view that ran and the user it ran as (and that user's
groups); a refused login leaves the view anonymous.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
import requests

from tests.adapters.conftest import Mint
from tests.helpers import SigningKey, bearer
from tests.processes import Process, free_port, gunicorn_command, running

GROUPS = {
    "catalog-admins": {"claims": {"ent": "group:default/admins"}},
    "editors": {"scopes": ["catalog.write"]},
    "service-callers": {"tokens": ["service"]},
}

Server = tuple[str, Process]


@pytest.fixture(scope="module")
def start(adapter_key: SigningKey) -> Iterator[Callable[..., Server]]:
    """``start(front="guard", **settings)``: the project on its own port, one per variant."""
    servers: dict[str, Server] = {}
    with ExitStack() as stack:

        def server(front: str = "guard", **settings: Any) -> Server:
            key = json.dumps([front, settings], sort_keys=True)
            if key not in servers:
                port = free_port()
                url = f"http://127.0.0.1:{port}"
                env = {
                    "ADAPTER_JWK": json.dumps(adapter_key.public_jwk()),
                    "ADAPTER_SETTINGS": json.dumps(settings),
                    "ADAPTER_FRONT": front,
                }
                command = gunicorn_command("tests.adapters.django_project:application", port, "--workers", "1")
                process = stack.enter_context(running(command, ready_url=f"{url}/public/users", env=env))
                servers[key] = (url, process)
            return servers[key]

        yield server


@pytest.fixture(scope="module")
def grouped(start: Callable[..., Server]) -> str:
    return start(WSGI_JWT_GUARD_GROUPS=GROUPS)[0]


def get(url: str, token: str | None = None, session: requests.Session | None = None) -> requests.Response:
    return (session or requests).get(url, headers=bearer(token) if token else {}, timeout=5)


ALICE = "user:default/alice"


@pytest.mark.parametrize(
    ("path", "claims", "status", "answer"),
    [
        pytest.param("/api/whoami", {"ent": []}, 200, {"view": "whoami", "user": ALICE, "groups": []}, id="no-groups"),
        pytest.param(
            "/api/whoami", {"ent": ["group:default/admins"]}, 200,
            {"view": "whoami", "user": ALICE, "groups": ["catalog-admins"]}, id="claim-to-group",
        ),
        pytest.param(
            "/api/whoami", {"ent": ["group:default/admins"], "scope": "catalog.write"}, 200,
            {"view": "whoami", "user": ALICE, "groups": ["catalog-admins", "editors"]}, id="two-groups",
        ),
        pytest.param(
            "/api/admins", {"ent": ["group:default/admins"]}, 200,
            {"view": "admins", "user": ALICE, "groups": ["catalog-admins"]}, id="group-gated-view",
        ),
        pytest.param("/api/admins", {"ent": ["group:default/team-a"]}, 403, {"view": None}, id="group-gated-view-refused"),
        pytest.param(
            "/optional/hello", {"ent": []}, 200, {"view": "hello", "user": ALICE, "groups": []}, id="optional-with-token",
        ),
    ],
)
def test_the_token_names_the_user_and_its_groups(
    grouped: str, mint: Mint, path: str, claims: dict, status: int, answer: dict
) -> None:
    response = get(grouped + path, mint(ALICE, **claims))
    assert response.status_code == status
    assert response.json() == answer


def test_without_a_token(grouped: str) -> None:
    assert get(f"{grouped}/optional/hello").json() == {"view": "hello", "user": None, "groups": []}
    assert get(f"{grouped}/api/whoami").status_code == 401  # the guard: Django never ran


def test_groups_follow_each_login_and_leave_other_groups_alone(grouped: str, mint: Mint) -> None:
    existing = "user:default/existing"
    admin = mint(existing, ent=["group:default/admins"])
    assert get(f"{grouped}/api/whoami", admin).json()["groups"] == ["catalog-admins", "manual"]
    # A new login (no session cookie) with a token that no longer qualifies.
    assert get(f"{grouped}/api/whoami", mint(existing, ent=[])).json()["groups"] == ["manual"]


def test_a_session_is_logged_out_when_a_request_names_nobody(grouped: str, mint: Mint) -> None:
    session = requests.Session()
    first = get(f"{grouped}/optional/hello", mint("user:default/carol", ent=[]), session)
    assert first.json()["user"] == "user:default/carol"
    session.cookies.set("token", None)  # the guard's own cookie: keep only Django's session
    assert "sessionid" in session.cookies
    assert get(f"{grouped}/optional/hello", session=session).json()["user"] is None


def test_a_new_subject_replaces_the_sessions_user(grouped: str, mint: Mint) -> None:
    session = requests.Session()
    assert get(f"{grouped}/api/whoami", mint("user:default/dave"), session).json()["user"] == "user:default/dave"
    session.cookies.set("token", None)
    answer = get(f"{grouped}/api/whoami", mint("user:default/erin", ent=["group:default/admins"]), session).json()
    assert answer == {"view": "whoami", "user": "user:default/erin", "groups": ["catalog-admins"]}


def test_unknown_users_are_not_created_when_the_setting_says_so(
    start: Callable[..., Server], mint: Mint
) -> None:
    url, _ = start(WSGI_JWT_GUARD_CREATE_UNKNOWN_USER=False)
    # The guard let the token in, but Django knows no such user: the view runs anonymous.
    assert get(f"{url}/api/whoami", mint("user:default/stranger")).json() == {
        "view": "whoami", "user": None, "groups": [],
    }
    assert get(f"{url}/public/users").json() == {"users": ["user:default/existing"]}
    assert get(f"{url}/api/whoami", mint("user:default/existing")).json()["user"] == "user:default/existing"


def test_users_are_created_by_default(start: Callable[..., Server], mint: Mint) -> None:
    url, _ = start()
    assert get(f"{url}/api/whoami", mint("user:default/newcomer")).json()["user"] == "user:default/newcomer"
    assert "user:default/newcomer" in get(f"{url}/public/users").json()["users"]


@pytest.mark.parametrize(
    ("front", "token", "why"),
    [
        pytest.param("server", False, "carries no identity verified by wsgi_jwt_guard", id="no-guard"),
        pytest.param("tampered", True, "REMOTE_USER is not the subject", id="rewritten-remote-user"),
    ],
)
def test_remote_user_from_anywhere_but_the_guard_is_refused_loudly(
    start: Callable[..., Server], mint: Mint, front: str, token: bool, why: str
) -> None:
    url, process = start(front)
    answer = get(f"{url}/api/whoami", mint("user:default/mallory") if token else None).json()
    assert answer == {"view": "whoami", "user": None, "groups": []}  # never as "existing"
    process.wait_for_line(f"GuardBackend refused to log a user in: .*{re.escape(why)}", timeout=5)


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        pytest.param("WSGI_JWT_GUARD_GROUPS", {"admins": {"claim": {"role": "admin"}}}, id="typo-in-groups"),
        pytest.param("WSGI_JWT_GUARD_GROUPS", ["admins"], id="groups-not-a-table"),
        pytest.param("WSGI_JWT_GUARD_CREATE_UNKNOWN_USER", "no", id="create-not-a-bool"),
    ],
)
def test_a_bad_setting_fails_the_login_never_grants_it(
    start: Callable[..., Server], mint: Mint, setting: str, value: Any
) -> None:
    url, process = start(**{setting: value})
    response = get(f"{url}/api/whoami", mint(ALICE, role="admin"))
    assert response.status_code == 500  # ImproperlyConfigured: the view never ran
    process.wait_for_line(f"ImproperlyConfigured: {setting}", timeout=5)
