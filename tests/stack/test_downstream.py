"""Claims handed downstream, through real servers in front of Flask and Django.

gunicorn (its default ``header_map = "drop"``, and ``"dangerous"``, which maps
``X_User_Groups`` onto ``HTTP_X_USER_GROUPS`` as the standard library's
``wsgiref`` does) and waitress serve ``downstream_app.py``: the guard maps
``groups``, ``realm_access.roles`` and ``name`` onto ``X-User-*`` headers,
``tid`` onto an environ key, and passes no token on. A client sends forged
``X-User-Groups`` and ``X_User_Groups`` headers, byte for byte; the oracle is
what the framework's own request object reads: only the guard's values, or
nothing.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import SigningKey
from tests.hostile.servers import Response, request
from tests.processes import free_port, gunicorn_command, running

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.stack.downstream_app:application"
SERVERS = {
    "gunicorn": lambda port: gunicorn_command(APP, port, "--workers", "1", "--log-level", "warning"),
    "gunicorn-dangerous": lambda port: gunicorn_command(
        APP, port, "--workers", "1", "--log-level", "warning", "--header-map", "dangerous"
    ),
    "waitress": lambda port: [sys.executable, "-m", "waitress", f"--listen=127.0.0.1:{port}", APP],
}
FORGED = [
    ("X-User-Groups", "admins"),
    ("X_User_Groups", "admins"),
    ("X-User-Roles", '["admin"]'),
    ("X_User_Roles", '["admin"]'),
    ("X-User-Name", "root"),
]


#: Servers that map a client's ``X_Name`` onto ``HTTP_X_NAME``, like ``X-Name``.
MAPS_UNDERSCORES = {"gunicorn-dangerous"}
NOTHING = {"X-User-Groups": None, "X-User-Roles": None, "X-User-Name": None, "X-Unmapped": None}


@dataclass
class Served:
    server: str
    port: int


@pytest.fixture(
    scope="module",
    params=[(server, framework) for server in SERVERS for framework in ("flask", "django")],
    ids=lambda param: "/".join(param),
)
def served(request: pytest.FixtureRequest, ec_key: SigningKey) -> Iterator[Served]:
    server, framework = request.param
    port = free_port()
    env = {
        "PYTHONPATH": str(ROOT),
        "DOWNSTREAM_FRAMEWORK": framework,
        "DOWNSTREAM_KEYS": json.dumps([ec_key.public_jwk()]),
    }
    command = SERVERS[server](port)
    with running(command, ready_url=f"http://127.0.0.1:{port}/api/auth/ready", env=env):
        yield Served(server, port)


@pytest.fixture
def port(served: Served) -> int:
    return served.port


def seen(port: int, path: str, headers: list[tuple[str, str]]) -> dict[str, Any]:
    """What the app's request object read; the request written to the socket as given."""
    response: Response = request(port, path, headers)
    assert response.status == 200, response.body
    body: dict[str, Any] = response.json()
    return body


def groups_token(key: SigningKey, **claims: Any) -> str:
    claims.setdefault("groups", ["team-a", "team-b"])
    claims.setdefault("realm_access", {"roles": ["reader", "writer"]})
    claims.setdefault("name", "José Ñúñez")
    claims.setdefault("tid", "tenant-1")
    return key.token(**claims)


def test_a_public_route_sees_no_forged_header(port: int) -> None:
    body = seen(port, "/api/auth/whoami", FORGED)
    assert body["user"] is None
    assert body["headers"] == NOTHING
    assert body.get("meta") is None


@pytest.mark.parametrize("path", ["/api/auth/whoami", "/api/catalog/whoami"])
def test_the_underscore_spelling_alone_is_scrubbed_where_the_server_passes_it(
    served: Served, ec_key: SigningKey, path: str
) -> None:
    headers = [("X_User_Groups", "admins"), ("X_Unmapped", "through")]
    if path.startswith("/api/catalog"):
        headers.append(("Authorization", f"Bearer {ec_key.token()}"))  # no groups claim
    body = seen(served.port, path, headers)
    passed = "through" if served.server in MAPS_UNDERSCORES else None
    assert body["headers"] == {**NOTHING, "X-Unmapped": passed}


def test_an_authenticated_request_sees_only_the_guards_values(port: int, ec_key: SigningKey) -> None:
    token = groups_token(ec_key)
    body = seen(port, "/api/catalog/whoami", [*FORGED, ("Authorization", f"Bearer {token}")])
    assert body["user"] == "user:default/alice"
    headers = body["headers"]
    assert headers["X-User-Groups"] == "team-a,team-b"
    assert headers["X-User-Roles"] == '["reader","writer"]'
    # PEP 3333: the UTF-8 bytes as latin-1 text, as if a client had sent them.
    assert headers["X-User-Name"].encode("latin-1").decode("utf-8") == "José Ñúñez"
    assert body["tenant"] == "tenant-1"
    if body["framework"] == "django":
        assert body["meta"] == "team-a,team-b"


def test_a_token_without_the_claim_leaves_the_header_out(port: int, ec_key: SigningKey) -> None:
    token = ec_key.token(name="Bob")  # no groups, no roles
    body = seen(port, "/api/catalog/whoami", [*FORGED, ("Authorization", f"Bearer {token}")])
    assert body["headers"] == {**NOTHING, "X-User-Name": "Bob"}


def test_the_token_is_not_passed_on(port: int, ec_key: SigningKey) -> None:
    token = groups_token(ec_key)
    by_header = seen(port, "/api/catalog/whoami", [("Authorization", f"Bearer {token}"), ("Cookie", "a=1; b=2")])
    assert by_header["authorization"] is None
    assert by_header["cookies"] == {"a": "1", "b": "2"}
    by_cookie = seen(port, "/api/catalog/whoami", [("Cookie", f"a=1; token={token}; b=2")])
    assert by_cookie["user"] == "user:default/alice"
    assert by_cookie["authorization"] is None  # not copied from the cookie either
    assert by_cookie["cookies"] == {"a": "1", "b": "2"}
    assert by_cookie["headers"]["X-User-Groups"] == "team-a,team-b"


def test_a_refused_request_never_reaches_the_app(port: int) -> None:
    response = request(port, "/api/catalog/whoami", FORGED)
    assert response.status == 401
    assert b"X-User" not in response.body
