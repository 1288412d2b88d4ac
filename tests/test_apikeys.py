"""Static API keys: ``wsgi_jwt_guard.apikeys`` (DESIGN §4, Backstage's ``static`` tokens)."""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import pytest
from werkzeug.test import Client

from tests.helpers import SigningKey, bearer
from wsgi_jwt_guard import ConfigError, JWTGuard, Rule, from_config
from wsgi_jwt_guard.apikeys import APIKey, APIKeys

CI_KEY = "ci-" + "k" * 40
PROBE_KEY = "probe-" + "p" * 40


@pytest.fixture
def client(make_guard: Callable[..., JWTGuard]) -> Client:
    guard = make_guard(
        api_keys=[
            APIKey(CI_KEY, "external:ci", paths=["/api/catalog"]),
            APIKey(PROBE_KEY, "external:probe"),
        ],
        routes={
            "/api/auth": "public",
            "/api/catalog": "protected",
            "/api/scaffolder": "protected",
            "/api/users-only": Rule("protected", tokens=["user"]),
        },
    )
    return Client(guard, use_cookies=False)


def test_a_key_authenticates_as_its_subject(client: Client) -> None:
    response = client.get("/api/catalog/entities", headers=bearer(CI_KEY))
    assert response.status_code == 200
    body = response.get_json()
    assert body["remote_user"] == "external:ci"
    assert body["identity"]["kind"] == "static"
    assert body["identity"]["issuer"] is None
    assert "Set-Cookie" not in response.headers  # never put into the token cookie


def test_a_key_outside_its_paths_is_403(client: Client) -> None:
    response = client.get("/api/scaffolder/actions", headers=bearer(CI_KEY))
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    assert CI_KEY not in response.get_data(as_text=True)
    # A prefix match is on segment boundaries, as for routes.
    assert client.get("/api/catalogue", headers=bearer(CI_KEY)).status_code == 403


def test_a_key_without_paths_goes_anywhere_static_keys_are_accepted(client: Client) -> None:
    assert client.get("/api/scaffolder/actions", headers=bearer(PROBE_KEY)).status_code == 200
    response = client.get("/api/users-only", headers=bearer(PROBE_KEY))
    assert response.status_code == 403  # the route accepts user tokens only


@pytest.mark.parametrize(
    "guess",
    [
        pytest.param(CI_KEY[:-1] + "x", id="last-character-differs"),
        pytest.param(CI_KEY[:-1], id="one-short"),
        pytest.param(CI_KEY + "k", id="one-long"),
        pytest.param(CI_KEY.upper(), id="case"),
        pytest.param("k" * 43, id="same-length"),
    ],
)
def test_near_misses_are_401(client: Client, guess: str) -> None:
    response = client.get("/api/catalog", headers=bearer(guess))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_a_key_in_the_cookie_is_not_accepted(client: Client) -> None:
    response = client.get("/api/catalog", headers={"Cookie": f"token={CI_KEY}"})
    assert response.status_code == 401


def test_user_tokens_still_work_beside_keys(client: Client, ec_key: SigningKey) -> None:
    assert client.get("/api/scaffolder", headers=bearer(ec_key.token())).status_code == 200


# --- no timing leak ----------------------------------------------------------------
#
# A timing leak lets a guess learn how many of its leading characters are right.
# Timing it on a shared CI machine is noise, so these tests check the property
# deterministically instead: a wrong guess never reaches the configured key at
# all (only its SHA-256 digest is looked up), and the Python code a guess runs
# is the same instruction for instruction wherever it first differs.


class WatchedKey(str):
    """A key (``APIKey`` takes any ``str``) that records every operation on it."""

    touched: list[str]


def _watching(name: str) -> Any:
    def method(self: WatchedKey, *args: Any) -> Any:
        self.touched.append(name)
        return getattr(str, name)(self, *args)

    return method


for _name in (
    "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__hash__", "__len__",
    "__getitem__", "__iter__", "__contains__", "encode", "startswith", "endswith", "find",
):  # fmt: skip
    setattr(WatchedKey, _name, _watching(_name))

#: Guesses sharing 0, 1, half and all but one of their leading characters with ``CI_KEY``.
NEAR_MISSES = [
    pytest.param("x" + CI_KEY[1:], id="first-differs"),
    pytest.param(CI_KEY[:1] + "x" + CI_KEY[2:], id="second-differs"),
    pytest.param(CI_KEY[:21] + "x" + CI_KEY[22:], id="middle-differs"),
    pytest.param(CI_KEY[:-1] + "x", id="last-differs"),
    pytest.param(CI_KEY[:-1], id="one-short"),
    pytest.param(CI_KEY + "k", id="one-long"),
]


def watched_keys() -> tuple[APIKeys, WatchedKey]:
    secret = WatchedKey(CI_KEY)
    secret.touched = []
    keys = APIKeys([APIKey(secret, "external:ci")])
    secret.touched.clear()  # what start-up did (validation, the digest) is not a request
    return keys, secret


@pytest.mark.parametrize("guess", NEAR_MISSES)
def test_a_wrong_guess_never_reaches_the_configured_key(guess: str) -> None:
    keys, secret = watched_keys()
    assert keys.identify(guess, "header", "/x") is None
    assert secret.touched == []


def test_the_right_key_is_compared_once() -> None:
    """The watch works: the one guess whose digest matches is compared with the key."""
    keys, secret = watched_keys()
    assert keys.identify(CI_KEY, "header", "/x") is not None
    assert secret.touched == ["encode"]  # then hmac.compare_digest on the bytes


def executed(keys: APIKeys, guess: str) -> list[tuple[str, str, int]]:
    """Every Python bytecode instruction ``identify(guess)`` runs, in order."""
    trace: list[tuple[str, str, int]] = []

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        if event == "opcode":
            code = frame.f_code
            trace.append((code.co_filename, code.co_name, frame.f_lasti))
        return tracer

    # Garbage collection may run unrelated Python code (weakref callbacks,
    # finalizers) in the middle of any call: keep it out of the trace.
    collecting = gc.isenabled()
    gc.disable()
    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        keys.identify(guess, "header", "/x")
    finally:
        sys.settrace(previous)
        if collecting:
            gc.enable()
    return trace


def test_the_code_a_guess_runs_does_not_depend_on_where_it_differs() -> None:
    keys, _ = watched_keys()
    runs = {param.id: executed(keys, param.values[0]) for param in NEAR_MISSES}
    assert runs["first-differs"]  # the tracer sees identify
    assert all(run == runs["first-differs"] for run in runs.values()), runs


def test_repr_never_shows_the_key() -> None:
    key = APIKey(CI_KEY, "external:ci", paths=["/api/catalog/"])
    assert CI_KEY not in repr(key)
    assert key.paths == ("/api/catalog",)


@pytest.mark.parametrize(
    ("options", "key"),
    [
        pytest.param({"key": "short", "subject": "s"}, "key", id="short"),
        pytest.param({"key": "k" * 31, "subject": "s"}, "key", id="31-characters"),
        pytest.param({"key": "k" * 20 + " " + "k" * 20, "subject": "s"}, "key", id="space"),
        pytest.param(
            {"key": "a" * 15 + "." + "b" * 15 + "." + "c" * 5, "subject": "s"},
            "key",
            id="jwt-shaped",
        ),
        pytest.param({"key": CI_KEY, "subject": ""}, "subject", id="no-subject"),
        pytest.param(
            {"key": CI_KEY, "subject": "s", "paths": "/api"}, "paths", id="paths-a-string"
        ),
        pytest.param(
            {"key": CI_KEY, "subject": "s", "paths": ["api"]}, "paths", id="relative-path"
        ),
    ],
)
def test_key_mistakes(options: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        APIKey(**options)
    assert caught.value.key == key


def test_a_duplicate_key_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"api_keys\[1\]\.key"):
        APIKeys([APIKey(CI_KEY, "a"), APIKey(CI_KEY, "b")])


def test_from_config(ec_key: SigningKey) -> None:
    guard = from_config(
        lambda environ, start_response: [],
        {
            "issuers": [{"issuer": "https://i.test", "keys": [ec_key.public_jwk()]}],
            "api_keys": [{"key": CI_KEY, "subject": "external:ci", "paths": ["/api/catalog"]}],
        },
    )
    assert guard.api_keys.identify(CI_KEY, "header", "/api/catalog") is not None
    with pytest.raises(ConfigError) as caught:
        from_config(
            lambda environ, start_response: [],
            {
                "issuers": [{"issuer": "https://i.test", "keys": [ec_key.public_jwk()]}],
                "api_keys": [{"key": CI_KEY, "subject": "x", "scope": "all"}],
            },
        )
    assert caught.value.key == "api_keys[0].scope"
