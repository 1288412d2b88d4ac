"""Fixtures of the stack suite: the users' tokens, and every stack started once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.helpers import SERVICE_SECRET, SigningKey, b64url_json, service_token
from tests.stack.stacks import Stack, running_stacks
from tests.stack.users import SUBJECTS, user_token


@pytest.fixture(scope="session")
def tokens(ec_key: SigningKey, other_ec_key: SigningKey) -> dict[str, str]:
    """Every token the corpus names: valid ones per user, and broken ones."""
    now = int(time.time())
    return {
        "alice": user_token(ec_key, "alice"),
        "mallory": user_token(ec_key, "mallory"),
        "bob": user_token(ec_key, "bob"),
        "service": service_token(),
        "expired": user_token(ec_key, "alice", iat=now - 7200, exp=now - 3600),
        "badsig": user_token(other_ec_key, "alice"),  # same kid, a key nobody trusts
        "badaud": user_token(ec_key, "alice", aud="someone-else"),
        "noalg": b64url_json({"alg": "none", "typ": "JWT"})
        + "."
        + b64url_json({"iss": "https://auth.example.test/api/auth", "sub": SUBJECTS["alice"],
                       "aud": "backstage", "exp": now + 600})
        + ".",
    }  # fmt: skip


@pytest.fixture(scope="session")
def all_stacks(
    ec_key: SigningKey, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Stack]]:
    directory = tmp_path_factory.mktemp("stack-views")
    with running_stacks([ec_key.public_jwk()], SERVICE_SECRET, directory) as running:
        yield running


@pytest.fixture(scope="session")
def stacks(all_stacks: dict[str, Stack]) -> dict[str, Stack]:
    """Every server x framework the corpus runs through."""
    return {name: stack for name, stack in all_stacks.items() if stack.server != "gunicorn-mounted"}


@pytest.fixture(scope="session")
def mounted(all_stacks: dict[str, Stack]) -> dict[str, Stack]:
    """gunicorn serving below ``stacks.MOUNT``, the guard configured with that mount."""
    chosen = {name: stack for name, stack in all_stacks.items() if stack.server == "gunicorn-mounted"}
    for stack in chosen.values():
        if stack.startup_error is not None:
            pytest.fail(stack.startup_error)
    return chosen


@pytest.fixture(scope="session")
def pool() -> Iterator[ThreadPoolExecutor]:
    """Threads that send one request to every stack at once."""
    with ThreadPoolExecutor(max_workers=12) as executor:
        yield executor
