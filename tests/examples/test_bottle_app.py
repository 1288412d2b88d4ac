"""``python examples/bottle_app.py``: a legacy Bottle app behind the guard, on its own server."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
import requests

from tests.processes import ROOT, free_port, running
from wsgi_jwt_guard.dev.devissuer import DevIssuer


@pytest.fixture(scope="module")
def base(issuer_env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, str(ROOT / "examples" / "bottle_app.py")]
    with running(command, ready_url=f"{url}/health", env={**issuer_env, "PORT": str(port)}):
        yield url


def test_public_route(base: str) -> None:
    assert requests.get(f"{base}/health", timeout=5).json() == {"status": "ok"}


def test_protected_route_refuses_without_token(base: str) -> None:
    response = requests.get(f"{base}/api/whoami", timeout=5)
    assert response.status_code == 401
    assert response.json()["error"]["name"] == "AuthenticationError"


def test_bottle_view_reads_remote_user(base: str, dev_issuer: DevIssuer) -> None:
    token = dev_issuer.mint("user:default/alice")
    response = requests.get(
        f"{base}/api/whoami", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert response.status_code == 200
    assert response.json() == {
        "user": "user:default/alice",
        "kind": "user",
        "ownership": ["user:default/alice"],
    }


@pytest.mark.parametrize(
    ("claims", "status"),
    [
        pytest.param({"role": "admin"}, 200, id="claim-value"),
        pytest.param({"role": "reader"}, 403, id="other-value"),
        pytest.param({}, 403, id="no-claim"),
    ],
)
def test_the_plugin_enforces_a_routes_claims(
    base: str, dev_issuer: DevIssuer, claims: dict, status: int
) -> None:
    token = dev_issuer.mint("user:default/alice", **claims)
    response = requests.get(
        f"{base}/api/admin", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert response.status_code == status
    if status == 200:
        assert response.json() == {"admin": "user:default/alice"}
    else:
        assert response.json()["error"]["name"] == "NotAllowedError"
        assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]


def test_expired_token_is_refused_before_bottle_runs(base: str, dev_issuer: DevIssuer) -> None:
    token = dev_issuer.mint("user:default/alice", lifetime=-60)
    response = requests.get(
        f"{base}/api/whoami", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert response.status_code == 401
    assert "expired" in response.headers["WWW-Authenticate"]
