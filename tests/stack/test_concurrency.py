"""Many users at once through the threaded servers: nobody ever gets another's identity.

gunicorn's gthread worker and waitress run requests on threads of one process,
sharing the guard: its token cache, its ``Set-Cookie`` memory, its counters.
alice, mallory and bob send interleaved requests -- by header, by cookie, by
the proxy's header, a few with an expired token -- to every framework at once.
Each answer, each view's log line and each ``Set-Cookie`` must belong to the
token of the request it answers.
"""

from __future__ import annotations

import json
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from tests.helpers import SigningKey
from tests.stack.apps import PROXY_HEADER
from tests.stack.client import Exchange, exchange, request_bytes
from tests.stack.stacks import THREADED, Stack
from tests.stack.users import SUBJECTS, user_token

USERS = ("alice", "mallory", "bob")
PATHS = ("/api/catalog/secret", "/api/catalog/items", "/api/techdocs/guide", "/internal/admin", "/api/search/q")
REQUESTS_PER_STACK = 100


@dataclass(frozen=True)
class Call:
    user: str
    token: str
    source: str  # header, cookie, proxy
    path: str
    valid: bool


def calls(seed: int, tokens: dict[str, list[str]], expired: dict[str, str]) -> list[Call]:
    rng = random.Random(seed)
    made = []
    for _ in range(REQUESTS_PER_STACK):
        user = rng.choice(USERS)
        valid = rng.random() > 0.1
        token = rng.choice(tokens[user]) if valid else expired[user]
        made.append(Call(user, token, rng.choice(("header", "cookie", "proxy")), rng.choice(PATHS), valid))
    return made


def send(stack: Stack, call: Call) -> Exchange:
    credential = {
        "header": ("Authorization", f"Bearer {call.token}"),
        "cookie": ("Cookie", f"theme=dark; token={call.token}; lang=en"),
        "proxy": (PROXY_HEADER, call.token),
    }[call.source]
    return exchange(stack.port, request_bytes("GET", call.path, [credential]), {})


def check(stack: Stack, call: Call, result: Exchange) -> list[str]:
    where = f"{stack.name} {call.source} {call.path} as {call.user}"
    response = result.response
    if response is None:
        return [f"{where}: no answer ({result.error})"]
    entries = stack.records(result.probe)
    if not call.valid:
        ok = response.status == 401 and not entries
        return [] if ok else [f"{where} (expired): {response.status}, views {entries}"]
    subject = SUBJECTS[call.user]
    problems = []
    if response.status != 200 or json.loads(response.body).get("user") != subject:
        problems.append(f"{where}: {response.status} {response.body[:200]!r}")
    if [entry["user"] for entry in entries] != [subject]:
        problems.append(f"{where}: the view ran as {[entry['user'] for entry in entries]}")
    cookies = [v.split(";")[0] for v in response.all("Set-Cookie") if v.startswith("token=")]
    if cookies not in ([], [f"token={call.token}"]) or (cookies and call.source != "header"):
        problems.append(f"{where}: Set-Cookie {cookies} for the token {call.token[-12:]}")
    return problems


@pytest.fixture(scope="module")
def user_tokens(ec_key: SigningKey) -> dict[str, list[str]]:
    """Three tokens per user: repeats hit the token cache, first uses miss it."""
    return {user: [user_token(ec_key, user) for _ in range(3)] for user in USERS}


def test_interleaved_users_each_get_their_own_identity(
    stacks: dict[str, Stack], user_tokens: dict[str, list[str]], ec_key: SigningKey
) -> None:
    now = int(time.time())
    expired = {user: user_token(ec_key, user, iat=now - 7200, exp=now - 3600) for user in USERS}
    threaded = [stack for stack in stacks.values() if stack.server in THREADED]
    assert len(threaded) == 10
    work = [
        (stack, call)
        for seed, stack in enumerate(threaded)
        for call in calls(seed, user_tokens, expired)
    ]
    random.Random(99).shuffle(work)  # every stack busy with every user at once
    with ThreadPoolExecutor(max_workers=24) as pool:
        results = list(pool.map(lambda item: send(*item), work))
    problems = [p for (stack, call), result in zip(work, results, strict=True) for p in check(stack, call, result)]
    assert not problems, f"{len(problems)} of {len(work)} requests:\n" + "\n".join(problems[:40])
