"""Counters, the event hook and refusal logging (issue 4: logging and counters)."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.test import Client, create_environ, run_wsgi_app

from tests.helpers import ISSUER, SigningKey, run_together
from wsgi_jwt_guard import ConfigError, JWTGuard
from wsgi_jwt_guard.metrics import Metrics, reason_of
from wsgi_jwt_guard.responses import fingerprint, loggable


def test_counts_allowed_public_and_refused_by_reason(
    make_guard: Callable[..., JWTGuard], ec_key: SigningKey
) -> None:
    guard = make_guard()
    client = Client(guard, use_cookies=False)
    client.get("/api/auth/x")
    client.get("/api/catalog", headers={"Authorization": f"Bearer {ec_key.token()}"})
    client.get("/api/catalog", headers={"Authorization": f"Bearer {ec_key.token()}"})
    client.get("/api/catalog")
    client.get("/api/catalog", headers={"Authorization": f"Bearer {ec_key.token(exp=1)}"})
    client.get("/api/../etc")
    assert guard.metrics.snapshot() == {
        "requests.public": 1,
        "requests.allowed": 2,
        "token_cache.miss": 3,  # three distinct tokens: each verified in full
        "requests.refused.missing_token": 1,
        "requests.refused.expired_token": 1,
        "requests.refused.unsafe_path": 1,
    }


def test_repeat_tokens_are_counted_as_token_cache_hits(
    make_guard: Callable[..., JWTGuard], ec_key: SigningKey
) -> None:
    guard = make_guard()
    client = Client(guard, use_cookies=False)
    token = ec_key.token()
    for _ in range(3):
        client.get("/api/catalog", headers={"Authorization": f"Bearer {token}"})
    counts = guard.metrics.snapshot()
    assert (counts["token_cache.miss"], counts["token_cache.hit"]) == (1, 2)


def test_hook_sees_every_increment_and_a_failing_hook_breaks_nothing(
    make_guard: Callable[..., JWTGuard], caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []
    guard = make_guard(on_event=seen.append)
    Client(guard).get("/api/catalog")
    assert seen == ["requests.refused.missing_token"]

    def broken(name: str) -> None:
        raise RuntimeError("statsd is down")

    guard = make_guard(on_event=broken)
    with caplog.at_level(logging.WARNING, "wsgi_jwt_guard"):
        assert Client(guard).get("/api/auth").status_code == 200
    assert guard.metrics.snapshot() == {"requests.public": 1}
    assert "metrics hook failed" in caplog.text


def test_hook_must_be_callable(make_guard: Callable[..., JWTGuard]) -> None:
    with pytest.raises(ConfigError, match="on_event"):
        make_guard(on_event="statsd")


def test_counters_are_exact_under_threads() -> None:
    metrics = Metrics()

    def work(_: int) -> None:
        for _ in range(5000):
            metrics.increment("requests.allowed")

    run_together(work, 8)
    assert metrics.snapshot() == {"requests.allowed": 40000}


def test_reading_never_changes_a_count() -> None:
    metrics = Metrics()
    seen = []
    for expected in range(1, 6):
        metrics.increment("requests.allowed")
        seen += [metrics.snapshot()["requests.allowed"] for _ in range(expected)]
        seen.append(expected)
    metrics.increment("requests.public")
    assert metrics.snapshot() == {"requests.allowed": 5, "requests.public": 1}
    assert seen == [value for expected in range(1, 6) for value in [expected] * (expected + 1)]


def test_counts_are_exact_while_others_read_them() -> None:
    metrics = Metrics()
    stop = threading.Event()
    reads: list[int] = []

    def read() -> None:
        while not stop.is_set():
            reads.append(metrics.snapshot().get("requests.allowed", 0))

    def work() -> None:
        for _ in range(5000):
            metrics.increment("requests.allowed")

    readers = [threading.Thread(target=read) for _ in range(2)]
    workers = [threading.Thread(target=work) for _ in range(4)]
    for thread in readers + workers:
        thread.start()
    for thread in workers:
        thread.join()
    stop.set()
    for thread in readers:
        thread.join()
    assert metrics.snapshot() == {"requests.allowed": 20000}
    assert all(0 <= value <= 20000 for value in reads)


@pytest.mark.parametrize("hooked", [False, True], ids=["no-hook", "hook"])
def test_a_bound_counter_counts_like_increment(hooked: bool) -> None:
    seen: list[str] = []
    metrics = Metrics(seen.append if hooked else None)
    count = metrics.counter("requests.allowed")
    assert metrics.snapshot() == {}  # made, not yet counted
    count()
    count()
    metrics.increment("requests.allowed")
    assert metrics.snapshot() == {"requests.allowed": 3}
    assert seen == (["requests.allowed"] * 3 if hooked else [])
    with pytest.raises(AttributeError):
        metrics.on_event = print  # type: ignore[misc]  # bound into the counters


def test_sources_are_merged_into_the_snapshot() -> None:
    metrics = Metrics()
    metrics.add_source(lambda: {"token_cache.hit": 3, "token_cache.miss": 0})
    assert metrics.snapshot() == {"token_cache.hit": 3}


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        pytest.param("ExpiredToken", "expired_token", id="two-words"),
        pytest.param("InsufficientScope", "insufficient_scope", id="403"),
        pytest.param("KeysUnavailable", "keys_unavailable", id="503"),
        pytest.param("UnsafePath", "unsafe_path", id="400"),
    ],
)
def test_reason_names(name: str, reason: str) -> None:
    assert reason_of(type(name, (Exception,), {})) == reason


def test_refusals_are_logged_at_info_with_a_fingerprint_never_the_token(
    make_guard: Callable[..., JWTGuard], ec_key: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    token = ec_key.token(exp=1)
    with caplog.at_level(logging.INFO, "wsgi_jwt_guard"):
        Client(make_guard()).get(
            "/api/catalog/entities", headers={"Authorization": f"Bearer {token}"}
        )
    (record,) = [r for r in caplog.records if r.getMessage().startswith("refused")]
    assert record.levelno == logging.INFO
    message = record.getMessage()
    assert "GET /api/catalog/entities:" in message
    assert "expired_token" in message
    assert fingerprint(token) in message
    assert token not in caplog.text
    assert token.split(".")[2] not in caplog.text


def test_a_refusal_line_says_what_the_token_says_of_itself(
    make_guard: Callable[..., JWTGuard], ec_key: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    # What an operator needs to match a user's complaint: who, which issuer and
    # audience, which key, how long ago it expired -- as text and as fields.
    token = ec_key.token(exp=int(time.time()) - 73, aud=["account", "backstage"])
    with caplog.at_level(logging.INFO, "wsgi_jwt_guard"):
        Client(make_guard()).get("/api/catalog/x", headers={"Authorization": f"Bearer {token}"})
    (record,) = [r for r in caplog.records if r.getMessage().startswith("refused")]
    message = record.getMessage()
    assert f"token {fingerprint(token)} iss={ISSUER} sub=user:default/alice" in message
    assert "aud=account,backstage kid=ec-1 alg=ES256 expired=7" in message
    assert record.guard_reason == "expired_token"  # type: ignore[attr-defined]
    assert record.guard_status == 401  # type: ignore[attr-defined]
    assert record.guard_token == fingerprint(token)  # type: ignore[attr-defined]
    assert record.guard_sub == "user:default/alice"  # type: ignore[attr-defined]
    assert record.guard_path == "/api/catalog/x"  # type: ignore[attr-defined]
    assert 73 <= int(record.guard_expired.rstrip("s")) <= 80  # type: ignore[attr-defined]
    assert token not in caplog.text


def test_a_refusal_line_escapes_the_tokens_claims(
    make_guard: Callable[..., JWTGuard], ec_key: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    # An attacker signs nothing, but the claims are read unverified: they are escaped too.
    token = ec_key.token(sub="mallory\nrefused GET /x: forged", iss="https://evil\x1b[2J")
    with caplog.at_level(logging.INFO, "wsgi_jwt_guard"):
        Client(make_guard()).get("/api/catalog/x", headers={"Authorization": f"Bearer {token}"})
    (record,) = [r for r in caplog.records if r.getMessage().startswith("refused")]
    message = record.getMessage()
    assert "\n" not in message
    assert "\x1b" not in message
    assert "sub=mallory\\x0arefused GET /x: forged" in message
    assert "iss=https://evil\\x1b[2J" in message


def test_a_refusal_without_a_token_has_no_token_fields(
    make_guard: Callable[..., JWTGuard], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, "wsgi_jwt_guard"):
        Client(make_guard()).get("/api/catalog/x")
    (record,) = [r for r in caplog.records if r.getMessage().startswith("refused")]
    assert record.getMessage() == (
        "refused GET /api/catalog/x: missing_token (this route requires a token), token -"
    )
    assert record.guard_token is None  # type: ignore[attr-defined]
    assert not hasattr(record, "guard_sub")


@pytest.mark.parametrize(
    "environ",
    [
        pytest.param({"REQUEST_METHOD": "GET\x1b[2J\x1b[31m"}, id="esc-in-method"),
        pytest.param({"PATH_INFO": "/api/catalog/\x1b]0;owned\x07"}, id="esc-in-path"),
        pytest.param({"PATH_INFO": "/api/catalog/a\x0bb"}, id="vertical-tab"),
        # U+0085 (NEL) and U+2028 arrive as their UTF-8 bytes, latin-1 decoded (PEP 3333).
        pytest.param({"PATH_INFO": "/api/catalog/\xc2\x85refused GET /x"}, id="nel"),
        pytest.param({"PATH_INFO": "/api/catalog/\xe2\x80\xa8x"}, id="line-separator"),
        pytest.param({"PATH_INFO": "/api/catalog/a\nrefused GET /admin: ok"}, id="newline"),
        pytest.param({"PATH_INFO": "/api/catalog/" + "a" * 5000}, id="long-path"),
        pytest.param({"PATH_INFO": "/api/catalog/\\x1b"}, id="backslash-looks-like-escape"),
        pytest.param(
            {
                "REQUEST_METHOD": "POST",
                "HTTP_X_HTTP_METHOD_OVERRIDE": "DELETE\r\nrefused GET /admin: ok\x1b[0m",
                "cookie": True,
            },
            id="override-in-description",
        ),
    ],
)
def test_refusal_log_lines_escape_what_the_request_sent(
    make_guard: Callable[..., JWTGuard],
    ec_key: SigningKey,
    caplog: pytest.LogCaptureFixture,
    environ: dict[str, Any],
) -> None:
    env = create_environ("/api/catalog/x")
    if environ.pop("cookie", False):
        env["HTTP_COOKIE"] = f"token={ec_key.token()}"
    env.update(environ)
    with caplog.at_level(logging.INFO, "wsgi_jwt_guard"):
        run_wsgi_app(make_guard(), env, buffered=True)
    (record,) = [r for r in caplog.records if r.getMessage().startswith("refused")]
    message = record.getMessage()
    # One line of printable ASCII: nothing can start a new line or drive a terminal.
    assert message.isascii()
    assert message.isprintable()
    assert len(message) < 1200


@pytest.mark.parametrize(
    ("value", "logged"),
    [
        pytest.param("/api/x", "/api/x", id="plain"),
        pytest.param("\x1b[2J", "\\x1b[2J", id="esc"),
        pytest.param("a\\x1b", "a\\\\x1b", id="literal-backslash-escaped"),
        pytest.param("\u2028", "\\u2028", id="line-separator"),
        pytest.param("\U0001f600", "\\U0001f600", id="astral"),
        pytest.param("a" * 300, "a" * 256 + "...", id="cut"),
    ],
)
def test_loggable(value: str, logged: str) -> None:
    assert loggable(value) == logged


def test_nothing_is_printed_by_default(ec_key: SigningKey) -> None:
    # A fresh interpreter with no logging configured: warnings from the guard
    # (a failed JWKS fetch) must not reach stderr through logging's last resort.
    code = """
from werkzeug.test import Client
from wsgi_jwt_guard import Issuer, JWTGuard
app = JWTGuard(lambda e, s: [], issuers=[Issuer("https://i.test", jwks_uri="http://127.0.0.1:9/jwks")])
response = Client(app).get("/x", headers={"Authorization": "Bearer " + TOKEN})
print(response.status_code)
"""
    token = ec_key.token(iss="https://i.test")
    result = subprocess.run(
        [sys.executable, "-c", f"TOKEN = {token!r}\n{code}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == "503"
    assert result.stderr == ""
