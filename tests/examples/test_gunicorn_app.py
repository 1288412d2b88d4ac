"""``gunicorn 'examples.gunicorn_app:app'``, started for real on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.processes import free_port, gunicorn_command, running
from wsgi_jwt_guard.dev.devissuer import DevIssuer


@pytest.fixture(scope="module")
def base(issuer_env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    command = gunicorn_command("examples.gunicorn_app:app", port, "--workers", "2")
    url = f"http://127.0.0.1:{port}"
    with running(command, ready_url=f"{url}/health", env=issuer_env):
        yield url


def test_public_route_needs_no_token(base: str) -> None:
    response = requests.get(f"{base}/health", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_protected_route_refuses_without_token(base: str) -> None:
    response = requests.get(f"{base}/api/whoami", timeout=5)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_protected_route_echoes_the_identity(base: str, dev_issuer: DevIssuer) -> None:
    # Several requests, so that both workers (each fetching the JWKS itself) answer.
    for subject in ("user:default/alice", "user:default/bob", "user:default/carol"):
        token = dev_issuer.mint(subject, ent=[subject, "group:default/team-a"])
        response = requests.get(
            f"{base}/api/whoami", headers={"Authorization": f"Bearer {token}"}, timeout=5
        )
        assert response.status_code == 200
        assert response.json() == {
            "user": subject,
            "issuer": dev_issuer.issuer,
            "ownership": [subject, "group:default/team-a"],
        }


def test_a_token_from_another_key_is_refused(base: str, dev_issuer: DevIssuer) -> None:
    impostor = DevIssuer(dev_issuer.issuer)  # same iss and kid scheme, another key
    response = requests.get(
        f"{base}/api/whoami",
        headers={"Authorization": f"Bearer {impostor.mint('user:default/mallory')}"},
        timeout=5,
    )
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
