"""``examples/readiness.py`` under ``gunicorn --preload``: ready once the keys are in, with no token sent."""

from __future__ import annotations

import time

import pytest
import requests

from tests.processes import free_port, gunicorn_command, running
from wsgi_jwt_guard.dev.devissuer import DevIssuer


def test_workers_turn_ready_by_prefetching_the_keys(
    issuer_env: dict[str, str], dev_issuer: DevIssuer
) -> None:
    pytest.importorskip("gunicorn")
    port = free_port()
    command = gunicorn_command("examples.readiness:app", port, "--preload", "--workers", "2")
    base = f"http://127.0.0.1:{port}"
    with running(command, ready_url=f"{base}/healthz/live", env=issuer_env):
        # Each worker restarted its prefetch after the fork: every one turns
        # ready, though no token was ever sent to this service.
        deadline = time.monotonic() + 30
        ready: dict[int, dict[str, object]] = {}
        while len(ready) < 8 and time.monotonic() < deadline:
            response = requests.get(f"{base}/healthz/ready", timeout=5)
            if response.status_code == 200:
                ready[len(ready)] = response.json()
            else:
                assert response.status_code == 503
                assert int(response.headers["Retry-After"]) >= 1
                time.sleep(0.1)
        assert len(ready) == 8, "the workers never turned ready"
        for document in ready.values():
            assert document["status"] == "ok"
            keys = document["issuers"][dev_issuer.issuer]  # type: ignore[index]
            assert keys["usable"] is True
            assert keys["kids"] == [dev_issuer.key.kid]
            assert keys["last_fetch"]["error"] is None

        token = dev_issuer.mint("user:default/alice")
        answer = requests.get(
            f"{base}/api/x", headers={"Authorization": f"Bearer {token}"}, timeout=5
        )
        assert (answer.status_code, answer.json()) == (200, {"user": "user:default/alice"}), (
            answer.text
        )
        assert requests.get(f"{base}/api/x", timeout=5).status_code == 401
        assert requests.get(f"{base}/healthz/live", timeout=5).json() == {"status": "ok"}
