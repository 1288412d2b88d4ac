"""``examples/django_site.py`` under gunicorn: Django's RemoteUserMiddleware reads the guard's REMOTE_USER."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.processes import free_port, gunicorn_command, running
from wsgi_jwt_guard.dev.devissuer import DevIssuer


@pytest.fixture(scope="module")
def base(issuer_env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    # One worker: the example's database is in memory, one per process.
    command = gunicorn_command("examples.django_site:application", port, "--workers", "1")
    url = f"http://127.0.0.1:{port}"
    with running(command, ready_url=f"{url}/health", env=issuer_env):
        yield url


def test_public_route(base: str) -> None:
    assert requests.get(f"{base}/health", timeout=5).json() == {"status": "ok"}


def test_protected_route_refuses_without_token(base: str) -> None:
    assert requests.get(f"{base}/api/whoami", timeout=5).status_code == 401


def test_request_user_is_the_token_subject(base: str, dev_issuer: DevIssuer) -> None:
    token = dev_issuer.mint("user:default/alice")
    response = requests.get(
        f"{base}/api/whoami", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert response.status_code == 200
    assert response.json() == {
        "user": "user:default/alice",
        "authenticated": True,
        "groups": [],
        "ownership": ["user:default/alice"],
    }


def test_claims_map_to_django_groups(base: str, dev_issuer: DevIssuer) -> None:
    token = dev_issuer.mint("user:default/frank", ent=["group:default/team-a"])
    response = requests.get(
        f"{base}/api/whoami", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert response.json()["groups"] == ["team-a"]


def test_optional_route_is_anonymous_without_token_and_the_user_with_one(
    base: str, dev_issuer: DevIssuer
) -> None:
    assert requests.get(f"{base}/hello", timeout=5).json() == {"hello": "guest"}
    headers = {"Authorization": f"Bearer {dev_issuer.mint('user:default/bob')}"}
    assert requests.get(f"{base}/hello", headers=headers, timeout=5).json() == {
        "hello": "user:default/bob"
    }


def test_django_session_does_not_outlive_the_token(base: str, dev_issuer: DevIssuer) -> None:
    """RemoteUserMiddleware logs the session out on a request the guard names nobody in."""
    session = requests.Session()
    headers = {"Authorization": f"Bearer {dev_issuer.mint('user:default/carol')}"}
    assert session.get(f"{base}/hello", headers=headers, timeout=5).json() == {
        "hello": "user:default/carol"
    }
    assert "sessionid" in session.cookies
    # Same Django session cookie, no token (the guard's own cookie dropped too).
    session.cookies.set("token", None)
    assert session.get(f"{base}/hello", timeout=5).json() == {"hello": "guest"}


def test_spoofed_remote_user_header_is_ignored(base: str) -> None:
    response = requests.get(f"{base}/hello", headers={"Remote-User": "admin"}, timeout=5)
    assert response.json() == {"hello": "guest"}
