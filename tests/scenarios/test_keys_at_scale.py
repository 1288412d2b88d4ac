"""Keys at scale (issue 3): many workers, one fetch; floods; Redis going down.

Real parts only: a JWKS server on 127.0.0.1 that counts fetches, a real
``redis-server``, gunicorn with several worker processes, threads and gevent.
"""

from __future__ import annotations

import json
import random
import string
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from werkzeug.test import Client

from tests.helpers import ISSUER, SigningKey, build_guard, issuer_of, run_together
from tests.jwks_server import JWKSServer
from tests.processes import free_port, gunicorn_command, running
from tests.servers import Server, redis_server

WORKERS = 4


@pytest.fixture
def redis() -> Iterator[Server]:
    with redis_server() as server:
        yield server


def random_kid() -> str:
    return "".join(random.choices(string.ascii_letters, k=12))


def test_gunicorn_workers_sharing_redis_fetch_once_and_survive_redis_going_down(
    jwks_server: JWKSServer, ec_key: SigningKey, redis: Server
) -> None:
    pytest.importorskip("gunicorn")
    jwks_server.publish(ec_key)
    port = free_port()
    env = {
        "SCALE_ISSUER": ISSUER,
        "SCALE_JWKS_URI": jwks_server.url,
        "SCALE_REDIS_URL": f"redis://127.0.0.1:{redis.port}/0",
    }
    command = gunicorn_command(
        "tests.scenarios.scale_app:app", port, "--workers", str(WORKERS), "--log-level", "warning"
    )
    base = f"http://127.0.0.1:{port}"
    token = ec_key.token(aud=None)

    def burst(count: int) -> list[tuple[int, int | None]]:
        def one(_: int) -> tuple[int, int | None]:
            # A new connection per request, so the workers share the load.
            response = requests.get(
                f"{base}/api/slow",
                headers={"Authorization": f"Bearer {token}", "Connection": "close"},
                timeout=10,
            )
            pid = response.json().get("pid") if response.status_code == 200 else None
            return response.status_code, pid

        with ThreadPoolExecutor(16) as pool:
            return list(pool.map(one, range(count)))

    with running(command, ready_url=f"{base}/public", env=env):
        first = burst(80)
        assert {status for status, _ in first} == {200}
        pids = {pid for _, pid in first}
        assert len(pids) >= 2, "the load should reach several workers"
        assert jwks_server.fetches == 1  # one fetch for all workers, not one each

        redis.stop()  # the shared cache goes away mid-run
        during = burst(40)
        assert {status for status, _ in during} == {200}  # never a 500, never a 503

        redis.start()
    assert jwks_server.fetches == 1


def test_a_flood_of_random_kids_from_8_threads_stays_within_the_cooldown(
    jwks_server: JWKSServer, ec_key: SigningKey
) -> None:
    jwks_server.publish(ec_key)
    guard = build_guard(issuers=[issuer_of(jwks_uri=jwks_server.url, jwks_refresh={"cooldown": 30})])
    good = ec_key.token()
    statuses: dict[str, list[int]] = {"forged": [], "good": []}
    lock = threading.Lock()

    def attack(worker: int) -> None:
        client = Client(guard, use_cookies=False)
        for index in range(125):  # 8 x 125 = 1,000 forged requests
            forged = ec_key.token(header={"kid": random_kid()})
            status = client.get("/api/x", headers={"Authorization": f"Bearer {forged}"}).status_code
            with lock:
                statuses["forged"].append(status)
            if index % 25 == 0:
                ok = client.get("/api/x", headers={"Authorization": f"Bearer {good}"}).status_code
                with lock:
                    statuses["good"].append(ok)

    run_together(attack, 8)

    assert statuses["forged"] == [401] * 1000
    assert set(statuses["good"]) == {200}
    # The first fetch, plus at most one refetch for unknown kids per 30 s cooldown.
    assert jwks_server.fetches <= 2


def test_concurrent_unknown_kids_under_gevent_share_one_fetch(
    jwks_server: JWKSServer, ec_key: SigningKey
) -> None:
    pytest.importorskip("gevent")
    jwks_server.publish(ec_key)
    tokens = [ec_key.token(header={"kid": random_kid()}) for _ in range(200)]
    script = textwrap.dedent(
        """
        from gevent import monkey
        monkey.patch_all()
        import json, sys
        import gevent
        from werkzeug.test import Client
        from wsgi_jwt_guard import Issuer, JWTGuard

        url, issuer, good, tokens = json.loads(sys.stdin.read())
        guard = JWTGuard(lambda e, s: (s("200 OK", []), [b"ok"])[1],
                         issuers=[Issuer(issuer, jwks_uri=url)])

        def call(token):
            client = Client(guard, use_cookies=False)
            return client.get("/x", headers={"Authorization": "Bearer " + token}).status_code

        jobs = [gevent.spawn(call, t) for t in [good, *tokens, good]]
        gevent.joinall(jobs, timeout=60)
        print(json.dumps([job.value for job in jobs]))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps([jwks_server.url, ISSUER, ec_key.token(), tokens]),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    statuses: list[Any] = json.loads(result.stdout)
    assert statuses[0] == 200
    assert statuses[-1] == 200
    assert statuses[1:-1] == [401] * 200
    assert jwks_server.fetches <= 2  # concurrent misses waited for one refetch
