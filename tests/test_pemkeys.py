"""Keys published one PEM per ``kid`` (:mod:`wsgi_jwt_guard.pemkeys`), served by a
real server on 127.0.0.1 the way AWS ALB serves them."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from cachelib import SimpleCache

from tests.helpers import FakeClock, SigningKey, run_together
from tests.jwks_server import JWKSServer, JWKSServers, answer
from wsgi_jwt_guard import forks
from wsgi_jwt_guard.errors import ConfigError, KeysUnavailable, UnknownKey
from wsgi_jwt_guard.pemkeys import MAX_KIDS, PEMKeysByKid
from wsgi_jwt_guard.refresh import RefreshPolicy


def pem_server(
    jwks_servers: JWKSServers, *keys: SigningKey, before: Callable[[], None] | None = None
) -> JWKSServer:
    """A server answering ``/<kid>`` with that key's PEM, 404 for any other path, and
    ``status`` (a 5xx) for every path while the test sets one; ``before`` runs first."""
    pems = {f"/{key.kid}": key.public_pem().encode() for key in keys}

    def respond(handler: BaseHTTPRequestHandler) -> None:
        if before is not None:
            before()
        pem = pems.get(handler.path)
        if server.status != 200:
            handler.send_error(server.status)
        elif pem is None:
            handler.send_error(404)
        else:
            answer(200, pem, {"Content-Type": "application/octet-stream"})(handler)

    server = jwks_servers(respond)
    return server


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.ec(kid="0e1f4cfe-9e2a-4c9b-8b0c-3d5e0f1a2b3c")


def test_fetched_once_then_held(jwks_servers: JWKSServers, key: SigningKey) -> None:
    server = pem_server(jwks_servers, key)
    keys = PEMKeysByKid(server.base + "/{kid}", ["ES256"])
    for _ in range(3):
        assert keys.find(key.kid, "ES256").kid == key.kid
    assert server.requests == [f"/{key.kid}"]
    with pytest.raises(UnknownKey):
        keys.find(key.kid, "RS256")  # pinned to the key's own algorithm


def test_workers_share_fetched_keys(jwks_servers: JWKSServers, key: SigningKey) -> None:
    server = pem_server(jwks_servers, key)
    cache = SimpleCache()
    first = PEMKeysByKid(server.base + "/{kid}", ["ES256"], cache=cache)
    second = PEMKeysByKid(server.base + "/{kid}", ["ES256"], cache=cache)
    first.find(key.kid, "ES256")
    second.find(key.kid, "ES256")
    assert server.fetches == 1


@pytest.mark.parametrize(
    "kid",
    [
        pytest.param(None, id="none"),
        pytest.param("", id="empty"),
        pytest.param("../keys", id="dot-dot"),
        pytest.param("a/b", id="slash"),
        pytest.param("a?b", id="query"),
        pytest.param("a%2fb", id="percent"),
        pytest.param("k" * 129, id="too-long"),
    ],
)
def test_unsafe_kids_never_fetched(jwks_servers: JWKSServers, kid: str | None) -> None:
    server = pem_server(jwks_servers)
    keys = PEMKeysByKid(server.base + "/{kid}", ["ES256"])
    with pytest.raises(UnknownKey):
        keys.find(kid, "ES256")
    assert server.fetches == 0


def test_unknown_kids_cost_one_fetch_per_cooldown(
    jwks_servers: JWKSServers, key: SigningKey
) -> None:
    server = pem_server(jwks_servers, key)
    clock = FakeClock()
    keys = PEMKeysByKid(
        server.base + "/{kid}", ["ES256"], policy=RefreshPolicy(cooldown=30), clock=clock
    )
    for kid in ("random-1", "random-1", "random-2"):
        with pytest.raises(UnknownKey):
            keys.find(kid, "ES256")
    assert server.requests == ["/random-1"]
    clock.advance(31)
    assert keys.find(key.kid, "ES256").kid == key.kid  # a real new kid after the cooldown


def test_held_keys_capped(jwks_servers: JWKSServers) -> None:
    signing = [SigningKey.ec(kid=f"kid-{index}") for index in range(MAX_KIDS + 1)]
    server = pem_server(jwks_servers, *signing)
    keys = PEMKeysByKid(server.base + "/{kid}", ["ES256"])
    for key in signing:
        keys.find(key.kid, "ES256")
    assert len(keys._keys) == MAX_KIDS
    assert "kid-0" not in keys._keys


@pytest.mark.parametrize(
    ("respond", "refusal"),
    [
        pytest.param(lambda h: h.send_error(500), KeysUnavailable, id="server-error"),
        pytest.param(answer(200, b"not a key"), UnknownKey, id="not-a-pem"),
    ],
)
def test_failures(
    jwks_servers: JWKSServers,
    respond: Callable[[BaseHTTPRequestHandler], None],
    refusal: type[Exception],
) -> None:
    server = jwks_servers(respond)
    keys = PEMKeysByKid(server.base + "/{kid}", ["ES256"])
    with pytest.raises(refusal):
        keys.find("some-kid", "ES256")


def test_unreachable_is_unavailable() -> None:
    keys = PEMKeysByKid("http://127.0.0.1:9/{kid}", ["ES256"])
    with pytest.raises(KeysUnavailable):
        keys.find("some-kid", "ES256")


def test_template_needs_one_kid() -> None:
    with pytest.raises(ConfigError, match="pem_url"):
        PEMKeysByKid("https://keys.example.com/", ["ES256"])


# --- health: what status() reports -------------------------------------------------------


def test_status_reports_the_kids_held(jwks_servers: JWKSServers, key: SigningKey) -> None:
    server = pem_server(jwks_servers, key)
    clock = FakeClock()
    keys = PEMKeysByKid(server.base + "/{kid}", ["ES256"], clock=clock)
    cold = keys.status()
    # No key list to fetch ahead: a source holding none still fetches on the first token.
    assert (cold.usable, cold.fresh, cold.keys, cold.kids) == (True, True, 0, ())
    assert (cold.fetched_at, cold.last_attempt_at, cold.failures) == (None, None, 0)
    assert cold.source == server.base + "/{kid}"

    keys.find(key.kid, "ES256")
    clock.advance(5)
    status = keys.status()
    assert (status.usable, status.fresh, status.keys, status.kids) == (True, True, 1, (key.kid,))
    assert status.fetched_at == status.last_attempt_at == clock.now - 5
    assert status.age == 5
    assert (status.last_error, status.failures, status.retry_in) == (None, 0, None)
    assert not status.refreshing
    assert server.fetches == 1  # reading the status does no I/O


def test_a_failing_key_server_is_reported_and_asked_again_after_the_retry_delay(
    jwks_servers: JWKSServers, key: SigningKey
) -> None:
    server = pem_server(jwks_servers, key)
    server.status = 500
    clock = FakeClock()
    policy = RefreshPolicy(retry_min=2, retry_max=3)
    keys = PEMKeysByKid(server.base + "/{kid}", ["ES256"], policy=policy, clock=clock)

    with pytest.raises(KeysUnavailable) as refused:
        keys.find(key.kid, "ES256")
    assert refused.value.retry_after == 2
    status = keys.status()
    assert (status.usable, status.fresh, status.failures, status.retry_in) == (False, False, 1, 2)
    assert "HTTP 500" in (status.last_error or "")

    for _ in range(5):  # within the retry delay: 503, and no request reaches the server
        with pytest.raises(KeysUnavailable):
            keys.find(key.kid, "ES256")
    assert server.fetches == 1

    clock.advance(2)
    with pytest.raises(KeysUnavailable) as refused:
        keys.find(key.kid, "ES256")
    assert refused.value.retry_after == 3  # doubled, up to retry_max
    assert (server.fetches, keys.status().failures) == (2, 2)

    server.status = 200
    clock.advance(3)
    assert keys.find(key.kid, "ES256").kid == key.kid
    status = keys.status()
    assert (status.usable, status.fresh, status.failures, status.last_error) == (True, True, 0, None)


def test_held_keys_keep_verifying_while_the_key_server_is_down(
    jwks_servers: JWKSServers, key: SigningKey
) -> None:
    rotated = SigningKey.ec(kid="1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9")
    server = pem_server(jwks_servers, key, rotated)
    keys = PEMKeysByKid(server.base + "/{kid}", ["ES256"])
    keys.find(key.kid, "ES256")
    server.status = 503
    assert keys.find(key.kid, "ES256").kid == key.kid
    with pytest.raises(KeysUnavailable):
        keys.find(rotated.kid, "ES256")  # cannot check: 503, not 401
    status = keys.status()
    assert (status.usable, status.fresh, status.kids) == (True, False, (key.kid,))


def test_a_kid_without_a_key_is_no_failure(jwks_servers: JWKSServers, key: SigningKey) -> None:
    server = pem_server(jwks_servers, key)
    keys = PEMKeysByKid(server.base + "/{kid}", ["ES256"])
    with pytest.raises(UnknownKey):
        keys.find("random-1", "ES256")
    status = keys.status()
    assert (status.usable, status.fresh, status.failures) == (True, True, 0)
    assert "404" in (status.last_error or "")


def test_threads_asking_for_one_new_kid_share_one_fetch(
    jwks_servers: JWKSServers, key: SigningKey
) -> None:
    slow = threading.Event()
    server = pem_server(jwks_servers, key, before=lambda: slow.wait(0.3))
    keys = PEMKeysByKid(server.base + "/{kid}", ["ES256"])
    found: list[str | None] = [None] * 8

    def ask(index: int) -> None:
        found[index] = keys.find(key.kid, "ES256").kid

    run_together(ask, 8)
    assert found == [key.kid] * 8
    assert server.fetches == 1


# --- forks (gunicorn --preload) --------------------------------------------------------


def test_a_fork_waits_for_the_download_in_flight_and_the_child_starts_afresh(
    jwks_servers: JWKSServers, key: SigningKey
) -> None:
    # The fork hooks, called here as os.fork would call them.
    arrived, release = threading.Event(), threading.Event()

    def held() -> None:
        arrived.set()
        release.wait(10)

    server = pem_server(jwks_servers, key, before=held)
    keys = PEMKeysByKid(server.base + "/{kid}", ["ES256"])
    found: dict[str, Any] = {}
    fetching = threading.Thread(target=lambda: found.update(kid=keys.find(key.kid, "ES256").kid))
    fetching.start()
    assert arrived.wait(10)
    assert keys.status().refreshing

    forking = threading.Thread(target=forks.before_fork)
    forking.start()
    forking.join(0.3)
    assert forking.is_alive()  # waiting for the download to end
    release.set()
    forking.join(10)
    fetching.join(10)
    assert found == {"kid": key.kid}
    assert not keys._lock.acquire(blocking=False)  # no fetch starts during the fork
    forks.after_fork_in_parent()  # the parent carries on
    assert keys._lock.acquire(blocking=False)
    keys._lock.release()

    keys._lock.acquire()  # the child's copy: held, as the parent held it at the fork
    session = keys.downloader.session
    forks.after_fork_in_child()
    assert keys._lock.acquire(blocking=False)  # a lock of its own
    keys._lock.release()
    assert keys.downloader.session is not session  # no connection of the parent's
    assert keys.find(key.kid, "ES256").kid == key.kid  # the keys came along
    assert server.fetches == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_worker_fetches_with_its_own_lock_and_connections(
    jwks_servers: JWKSServers, key: SigningKey
) -> None:
    rotated = SigningKey.ec(kid="1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9")
    server = pem_server(jwks_servers, key, rotated)
    keys = PEMKeysByKid(server.base + "/{kid}", ["ES256"])
    keys.find(key.kid, "ES256")  # the parent has a pooled connection now
    lock, session = keys._lock, keys.downloader.session
    pid = os.fork()
    if pid == 0:  # the child: report through the exit status only
        try:
            fresh = keys._lock is not lock and keys.downloader.session is not session
            ok = fresh and keys.find(key.kid, "ES256") and keys.find(rotated.kid, "ES256")
            os._exit(0 if ok else 1)
        finally:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert keys._lock is lock  # the parent's own, untouched
    assert keys.downloader.session is session
    assert server.requests == [f"/{key.kid}", f"/{rotated.kid}"]
