"""Many users at once: each response carries the identity of its own token.

Threads share the guard, its verified-token cache and its key sets. Under a
threaded server, concurrent requests with different users' tokens -- valid and
invalid, in the header and in the cookie -- must each get exactly their own
identity (or their own refusal), and nothing may fail.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from werkzeug.test import create_environ, run_wsgi_app

from tests.helpers import SERVICE_SECRET, SigningKey
from tests.hostile.app import hostile_guard
from tests.hostile.forge import Forge
from tests.hostile.servers import request, subprocess_server
from tests.servers import werkzeug_server

USERS = [f"user:default/u{i:02d}" for i in range(12)]


@dataclass(frozen=True)
class Call:
    """One request and what it must get back."""

    headers: tuple[tuple[str, str], ...]
    method: str
    status: int
    subject: str | None
    jti: str | None


def plan(forge: Forge, attacker: SigningKey, count: int, seed: int) -> list[Call]:
    rng = random.Random(seed)
    tokens = {user: [forge.with_claims(sub=user, jti=f"{user}#{n}") for n in range(3)] for user in USERS}
    calls = []
    for _ in range(count):
        user = rng.choice(USERS)
        n = rng.randrange(3)
        token = tokens[user][n]
        kind = rng.choice(["header", "cookie", "cookie-post", "forged", "expired", "none", "service", "cross-site"])
        jti = f"{user}#{n}"
        if kind == "header":
            calls.append(Call((("Authorization", f"Bearer {token}"),), "GET", 200, user, jti))
        elif kind == "cookie":
            calls.append(Call((("Cookie", f"token={token}"),), "GET", 200, user, jti))
        elif kind == "cookie-post":
            calls.append(Call((("Cookie", f"token={token}"), ("Sec-Fetch-Site", "same-origin")), "POST", 200, user, jti))
        elif kind == "cross-site":
            calls.append(Call((("Cookie", f"token={token}"), ("Origin", "https://evil.example")), "POST", 403, None, None))
        elif kind == "forged":  # the same claims, signed by someone else
            forged = forge.signed(forge.header(attacker), forge.claims(sub=user, jti=jti), key=attacker)
            calls.append(Call((("Authorization", f"Bearer {forged}"),), "GET", 401, None, None))
        elif kind == "expired":
            expired = forge.with_claims(sub=user, exp=1)
            calls.append(Call((("Cookie", f"token={expired}"),), "GET", 401, None, None))
        elif kind == "none":
            calls.append(Call((), "GET", 401, None, None))
        else:
            calls.append(Call((("Authorization", f"Bearer {forge.service()}"),), "GET", 200, "backstage-server", None))
    return calls


def verdict(status: int, body: bytes, call: Call) -> str | None:
    """``None`` when the answer is exactly what ``call`` must get."""
    if status != call.status:
        return f"status {status} != {call.status}"
    if status != 200:
        return None
    report: dict[str, Any] = json.loads(body)
    got = (report["remote_user"], report["subject"], report["jti"])
    want = (call.subject, call.subject, call.jti)
    return None if got == want else f"identity {got} != {want}"


@pytest.fixture(scope="module", params=["werkzeug", "gunicorn", "waitress"])
def threaded_server(request: pytest.FixtureRequest, ec_key: SigningKey) -> Iterator[int]:
    keys = [ec_key.public_jwk()]
    if request.param == "werkzeug":
        with werkzeug_server(hostile_guard(keys, SERVICE_SECRET), threaded=True) as port:
            yield port
    else:
        with subprocess_server(request.param, keys, SERVICE_SECRET) as port:
            yield port


def test_concurrent_users_through_a_threaded_server(
    threaded_server: int, forge: Forge, attacker_ec: SigningKey
) -> None:
    calls = plan(forge, attacker_ec, 480, seed=threaded_server)

    def run(call: Call) -> str | None:
        response = request(threaded_server, "/api/catalog/x", list(call.headers), method=call.method)
        return verdict(response.status, response.body, call)

    with ThreadPoolExecutor(max_workers=16) as pool:
        failures = [f for f in pool.map(run, calls) if f is not None]
    assert failures == []


def test_concurrent_users_in_process(ec_key: SigningKey, forge: Forge, attacker_ec: SigningKey) -> None:
    """No network in between: more threads, more overlap in the shared caches."""
    guard = hostile_guard([ec_key.public_jwk()], SERVICE_SECRET)
    calls = plan(forge, attacker_ec, 3000, seed=7)

    def run(call: Call) -> str | None:
        environ = create_environ("/api/catalog/x", method=call.method)
        for name, value in call.headers:
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        app_iter, status, _ = run_wsgi_app(guard, environ)
        return verdict(int(status.split()[0]), b"".join(app_iter), call)

    with ThreadPoolExecutor(max_workers=32) as pool:
        failures = [f for f in pool.map(run, calls) if f is not None]
    assert failures == []
