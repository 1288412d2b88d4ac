"""Shared caches: ``wsgi_jwt_guard.caches`` against real Redis and memcached servers.

What matters: the guard never unpickles what a cache server hands back (anyone
who can write to the server would otherwise run code in every worker), the
configuration names its mistakes, and a cache server that goes down costs a
warning, not a request.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cachelib import BaseCache, FileSystemCache, MemcachedCache, RedisCache, SimpleCache
from werkzeug.test import Client

from tests.helpers import ISSUER, FakeClock, SigningKey, build_guard, echo_app, issuer_of
from tests.jwks_server import JWKSServer
from tests.servers import Server, memcached_server, redis_server
from wsgi_jwt_guard import ConfigError, from_config
from wsgi_jwt_guard.caches import SharedCache, build_cache


@pytest.fixture(scope="module")
def redis() -> Iterator[Server]:
    with redis_server() as server:
        yield server


@pytest.fixture(scope="module")
def memcached() -> Iterator[Server]:
    with memcached_server() as server:
        yield server


class Payload:
    """Unpickling this runs code: it creates the file it names."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.makedirs, (str(self.path),))


def make(kind: str, redis: Server | None, memcached: Server | None, tmp_path: Path) -> BaseCache:
    if kind == "redis":
        assert redis is not None
        return build_cache({"type": "redis", "url": f"redis://127.0.0.1:{redis.port}/0"})
    if kind == "memcached":
        assert memcached is not None
        return build_cache({"type": "memcached", "servers": [f"127.0.0.1:{memcached.port}"]})
    if kind == "filesystem":
        return build_cache({"type": "filesystem", "dir": str(tmp_path / "cache")})
    return build_cache({"type": "memory"})


@pytest.fixture(params=["memory", "filesystem", "redis", "memcached"])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> SharedCache:
    kind = request.param
    servers = {
        "redis": request.getfixturevalue("redis") if kind == "redis" else None,
        "memcached": request.getfixturevalue("memcached") if kind == "memcached" else None,
    }
    return SharedCache(make(kind, servers["redis"], servers["memcached"], tmp_path))


def test_text_round_trips_and_add_claims_once(shared: SharedCache) -> None:
    key = f"test:{os.urandom(4).hex()}"
    assert shared.get(key) is None
    assert shared.set(key, '{"fetched_at": 1, "jwks": {"keys": []}}', timeout=60)
    assert shared.get(key) == '{"fetched_at": 1, "jwks": {"keys": []}}'
    assert shared.set(key, "naïve ✓", timeout=60)
    assert shared.get(key) == "naïve ✓"
    claim = key + ":claim"
    assert shared.add(claim, "1", timeout=60) is True
    assert shared.add(claim, "2", timeout=60) is False
    assert shared.delete(claim)
    assert shared.add(claim, "3", timeout=60) is True


def test_redis_and_filesystem_copies_store_text_only(redis: Server, tmp_path: Path) -> None:
    for cache in (make("redis", redis, None, tmp_path), make("filesystem", None, None, tmp_path)):
        text_only = SharedCache(cache).shared
        assert text_only is not None
        with pytest.raises(TypeError):
            text_only.set("k", {"an": "object"})


# --- nothing a cache server hands back is ever unpickled --------------------------


def test_redis_entries_are_never_unpickled(redis: Server, tmp_path: Path) -> None:
    import redis as redis_client

    cache = make("redis", redis, None, tmp_path)
    evidence = tmp_path / "pwned-redis"
    # What cachelib's own RedisCache would write (and unpickle) for an object.
    raw = redis_client.Redis(port=redis.port)
    raw.set("wsgi_jwt_guard:jwks:x", b"!" + pickle.dumps(Payload(evidence)))

    assert SharedCache(cache).get("wsgi_jwt_guard:jwks:x") is None
    assert not evidence.exists()


def test_a_plain_cachelib_redis_cache_handed_to_the_guard_is_not_unpickled(
    redis: Server, tmp_path: Path
) -> None:
    import redis as redis_client

    evidence = tmp_path / "pwned-user-cache"
    users_cache = RedisCache(host="127.0.0.1", port=redis.port, key_prefix="app:")
    redis_client.Redis(port=redis.port).set("app:jwks", b"!" + pickle.dumps(Payload(evidence)))

    assert SharedCache(users_cache).get("jwks") is None
    assert not evidence.exists()
    # The application's own cache object keeps its serializer.
    users_cache.set("mine", {"an": "object"})
    assert users_cache.get("mine") == {"an": "object"}


def test_filesystem_entries_are_never_unpickled(tmp_path: Path) -> None:
    evidence = tmp_path / "pwned-fs"
    directory = str(tmp_path / "cache")
    FileSystemCache(directory).set("jwks", Payload(evidence))  # a pickle on disk
    assert evidence.exists() is False

    assert SharedCache(FileSystemCache(directory)).get("jwks") is None
    assert not evidence.exists()


def test_memcached_entries_are_never_unpickled(memcached: Server, tmp_path: Path) -> None:
    from pymemcache.client.base import Client

    evidence = tmp_path / "pwned-memcached"
    # python-memcached and pylibmc mark pickles with flag 1 and unpickle on read.
    Client(("127.0.0.1", memcached.port)).set(
        "wsgi_jwt_guard:jwks", pickle.dumps(Payload(evidence)), flags=1
    )
    shared = SharedCache(make("memcached", None, memcached, tmp_path))

    assert shared.get("wsgi_jwt_guard:jwks") is None
    assert not evidence.exists()


class _PickleClient:
    """Stands in for a pylibmc/python-memcached client: it would unpickle."""

    __module__ = "pylibmc"


def test_a_memcached_client_that_may_unpickle_is_refused() -> None:
    with pytest.raises(ConfigError, match="cache"):
        SharedCache(MemcachedCache(servers=_PickleClient()))


# --- configuration ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "key"),
    [
        pytest.param({"type": "mongodb"}, "cache.type", id="unknown-type"),
        pytest.param({"type": "redis"}, "cache.url", id="redis-without-url"),
        pytest.param({"type": "redis", "url": "http://x"}, "cache.url", id="redis-bad-scheme"),
        pytest.param(
            {"type": "redis", "url": "redis://h", "dir": "/x"}, "cache.dir", id="redis-with-dir"
        ),
        pytest.param({"type": "filesystem"}, "cache.dir", id="filesystem-without-dir"),
        pytest.param({"type": "memcached"}, "cache.servers", id="memcached-without-servers"),
        pytest.param(
            {"type": "memcached", "servers": "h:1"}, "cache.servers", id="servers-a-string"
        ),
        pytest.param({"type": "memcached", "servers": ["h"]}, "cache.servers", id="no-port"),
        pytest.param({"type": "memcached", "servers": ["h:x"]}, "cache.servers", id="bad-port"),
        pytest.param({"type": "memory", "threshold": 0}, "cache.threshold", id="threshold-zero"),
        pytest.param({"type": "memory", "key_prefix": 1}, "cache.key_prefix", id="prefix-not-text"),
    ],
)
def test_config_mistakes_name_the_key(config: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build_cache(config)
    assert caught.value.key == key


@pytest.mark.parametrize(
    ("config", "cls"),
    [
        pytest.param({}, SimpleCache, id="default-memory"),
        pytest.param({"type": "redis", "url": "redis://127.0.0.1:1/0"}, RedisCache, id="redis"),
        pytest.param(
            {"type": "memcached", "servers": ["127.0.0.1:1"]}, MemcachedCache, id="memcached"
        ),
    ],
)
def test_build_makes_the_cachelib_class(config: dict[str, Any], cls: type) -> None:
    # Building connects to nothing: a cache server down at start-up is not fatal.
    assert isinstance(build_cache(config), cls)


def test_shared_cache_refuses_what_is_not_a_cache() -> None:
    with pytest.raises(ConfigError, match="cache"):
        SharedCache("redis://localhost")  # type: ignore[arg-type]


# --- a cache server that goes down ---------------------------------------------------


@pytest.mark.parametrize("kind", ["redis", "memcached"])
def test_a_server_going_down_falls_back_to_process_memory_and_back(
    kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    context = redis_server() if kind == "redis" else memcached_server()
    with context as server:
        clock = FakeClock(0.0)
        redis_arg = server if kind == "redis" else None
        memcached_arg = server if kind == "memcached" else None
        shared = SharedCache(make(kind, redis_arg, memcached_arg, tmp_path), clock=clock)
        assert shared.set("k", "before")
        server.stop()

        with caplog.at_level(logging.WARNING, "wsgi_jwt_guard"):
            assert shared.set("k", "during") is False  # stored, but not shared
            assert shared.get("k") == "during"
            assert shared.add("claim", "1") is True
            for _ in range(20):
                assert shared.get("k") == "during"
        warnings = [r for r in caplog.records if "failed" in r.getMessage()]
        assert len(warnings) == 1  # one warning per outage, not one per call

        server.start()
        clock.now += 10  # retry_after
        assert shared.get("k") is None  # a fresh server: the shared cache is used again
        assert shared.set("k", "after")
        assert shared.get("k") == "after"


def test_one_outage_is_one_warning_for_the_whole_guard(
    ec_key: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    # The guard's JWKS client and its revocations each wrap the one Redis in a
    # SharedCache view: an outage is still noticed, waited out and logged once.
    with redis_server() as server:
        guard = from_config(
            echo_app,
            {
                "issuers": [{"issuer": ISSUER, "jwks_uri": "https://keys.invalid/jwks.json"}],
                "cache": {"type": "redis", "url": f"redis://127.0.0.1:{server.port}/0"},
                "revocation": {},
            },
        )
        assert guard.revocations is not None
        (keys,) = guard.verifier.key_sources.values()
        server.stop()
        with caplog.at_level(logging.WARNING, "wsgi_jwt_guard"):
            guard.revocations.revoke_subject("user:default/mallory")
            assert keys.cache.get("anything") is None  # type: ignore[attr-defined]
            guard.revocations.revoke_subject("user:default/eve")
    warnings = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
    assert len(warnings) == 1, warnings


def test_process_memory_only_without_a_shared_cache() -> None:
    shared = SharedCache(None)
    assert not shared.is_shared
    assert shared.set("k", "v") is False
    assert shared.get("k") == "v"


Make = Callable[[], BaseCache]


# --------------------------------------------------------------------------------------
# Authenticated entries: whoever can write to the cache server cannot plant state
# --------------------------------------------------------------------------------------

SECRET = "s" * 32
OLD_SECRET = "o" * 32


def redis_client(server: Server) -> Any:
    import redis as redis_module

    return redis_module.Redis(host="127.0.0.1", port=server.port)


def _backend(request: pytest.FixtureRequest, kind: str, tmp_path: Path) -> BaseCache:
    servers = {
        "redis": request.getfixturevalue("redis") if kind == "redis" else None,
        "memcached": request.getfixturevalue("memcached") if kind == "memcached" else None,
    }
    return make(kind, servers["redis"], servers["memcached"], tmp_path)


@pytest.mark.parametrize("kind", ["filesystem", "redis", "memcached"])
def test_entries_without_a_valid_hmac_read_as_absent(
    request: pytest.FixtureRequest, kind: str, tmp_path: Path
) -> None:
    backend = _backend(request, kind, tmp_path)
    signed = SharedCache(backend, secrets=[SECRET])
    attacker = SharedCache(backend)  # can write to the server, does not know the secret
    forger = SharedCache(backend, secrets=["f" * 32])

    assert signed.set("jwks", '{"keys": []}')
    assert signed.get("jwks") == '{"keys": []}'
    # A worker without the secret reads the envelope, which no reader takes for JSON.
    assert attacker.get("jwks").startswith("wjg1:")

    attacker.set("jwks", '{"keys": ["planted"]}')
    assert signed.get("jwks") is None
    forger.set("jwks", '{"keys": ["forged"]}')
    assert signed.get("jwks") is None

    # A genuine entry moved under another key is refused: the key is signed too.
    signed.set("revoked:alice", "1700000000")
    raw = SharedCache(backend).get("revoked:alice")
    attacker.set("revoked:bob", raw)
    assert signed.get("revoked:bob") is None
    assert signed.get("revoked:alice") == "1700000000"

    # A key holding a foreign entry exists: add() does not claim it, get() sees nothing.
    attacker.set("claim", "planted")
    assert signed.add("claim", "mine") is False
    assert signed.get("claim") is None


@pytest.mark.parametrize("kind", ["memory", "filesystem", "redis", "memcached"])
@pytest.mark.parametrize("secrets", [[], [SECRET]], ids=["plain", "signed"])
def test_get_many_reads_several_entries_in_one_call(
    request: pytest.FixtureRequest, kind: str, tmp_path: Path, secrets: list[str]
) -> None:
    backend = _backend(request, kind, tmp_path)
    shared = SharedCache(backend, secrets=secrets)
    shared.set("a", "1")
    shared.set("c", "3")
    if kind != "memory":
        SharedCache(backend).set("d", "planted")
    assert shared.get_many("a", "b", "c") == ["1", None, "3"]
    assert shared.get_many() == []
    if secrets and kind != "memory":
        assert shared.get_many("d", "a") == [None, "1"]


def test_rotation_the_first_secret_signs_and_every_one_verifies(redis: Server) -> None:
    backend = build_cache({"type": "redis", "url": f"redis://127.0.0.1:{redis.port}/0"})
    old = SharedCache(backend, secrets=[OLD_SECRET])
    rotating = SharedCache(backend, secrets=[SECRET, OLD_SECRET])
    new = SharedCache(backend, secrets=[SECRET])

    old.set("a", "written by a worker not yet rotated")
    assert rotating.get("a") == "written by a worker not yet rotated"
    assert new.get("a") is None  # the old secret was dropped too early there
    rotating.set("b", "written during the rotation")
    assert new.get("b") == "written during the rotation"
    assert old.get("b") is None


def test_secrets_from_configuration(redis: Server) -> None:
    built = build_cache(
        {"type": "redis", "url": f"redis://127.0.0.1:{redis.port}/0", "secrets": [SECRET]}
    )
    assert isinstance(built, SharedCache)
    assert built.secrets == (SECRET,)
    # The guard and the revocations use that same view, secrets and all.
    assert SharedCache(built).secrets == (SECRET,)


@pytest.mark.parametrize(
    ("secrets", "key"),
    [
        pytest.param("s" * 32, "cache.secrets", id="a-string"),
        pytest.param(["short"], "cache.secrets[0]", id="too-short"),
        pytest.param([SECRET, 42], "cache.secrets[1]", id="not-text"),
    ],
)
def test_secret_mistakes_name_the_key(secrets: Any, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build_cache({"type": "memory", "secrets": secrets})
    assert caught.value.key == key
    with pytest.raises(ConfigError):
        SharedCache(SimpleCache(), secrets=secrets)


def test_a_shared_cache_without_secrets_is_warned_about_once(
    redis: Server, caplog: pytest.LogCaptureFixture
) -> None:
    backend = build_cache({"type": "redis", "url": f"redis://127.0.0.1:{redis.port}/0"})
    with caplog.at_level(logging.WARNING, "wsgi_jwt_guard"):
        SharedCache(backend)
        SharedCache(backend)  # the guard and its revocations: one warning
        SharedCache(SimpleCache())  # process memory: nothing to plant into
        SharedCache(backend, secrets=[SECRET])
    warnings = [r.getMessage() for r in caplog.records if "no secrets" in r.getMessage()]
    assert warnings == [warnings[0]]
    assert "RedisCache" in warnings[0]
    assert "[cache] secrets" in warnings[0]


@pytest.mark.parametrize("secrets", [[], [SECRET]], ids=["no-secrets", "secrets"])
def test_keys_planted_in_redis_are_trusted_only_without_secrets(
    redis: Server,
    jwks_server: JWKSServer,
    ec_key: SigningKey,
    other_ec_key: SigningKey,
    secrets: list[str],
) -> None:
    """Someone who can write to Redis, but not to the issuer, plants their own
    key in place of the issuer's in the shared JWKS entry. A worker that starts
    next trusts it unless entries are authenticated."""
    url = f"redis://127.0.0.1:{redis.port}/0"
    client = redis_client(redis)
    client.flushdb()
    jwks_server.publish(ec_key)

    def worker() -> Client:
        issuer = issuer_of(jwks_uri=jwks_server.url, insecure_http=True)
        cache = build_cache({"type": "redis", "url": url, "secrets": secrets})
        return Client(build_guard(issuers=[issuer], cache=cache), use_cookies=False)

    first = worker()
    assert first.get("/x", headers={"Authorization": f"Bearer {ec_key.token()}"}).status_code == 200
    genuine, planted = ec_key.public_jwk(), other_ec_key.public_jwk()
    entries = 0
    for key in client.keys("*"):
        value = client.get(key).decode()
        if genuine["x"] in value:
            client.set(key, value.replace(genuine["x"], planted["x"]).replace(genuine["y"], planted["y"]))
            entries += 1
    assert entries  # the shared JWKS entry was found and rewritten

    forged = other_ec_key.token()
    status = worker().get("/x", headers={"Authorization": f"Bearer {forged}"}).status_code
    assert status == (200 if not secrets else 401)


def test_a_forked_worker_does_not_share_the_memcached_connection(memcached: Server) -> None:
    """gunicorn --preload forks workers after the master may have connected:
    a child must open its own connection, or parent and child read each
    other's answers."""
    shared = SharedCache(
        build_cache({"type": "memcached", "servers": [f"127.0.0.1:{memcached.port}"]})
    )
    assert shared.set("who", "parent")
    assert shared.get("who") == "parent"
    client = shared.shared._client  # type: ignore[union-attr]
    inherited = [c.sock for c in client.clients.values()]
    assert all(sock is not None for sock in inherited)
    pid = os.fork()
    if pid == 0:  # the child: report through the exit status only
        fresh = all(c.sock is None for c in client.clients.values())
        ok = fresh and shared.get("who") == "parent" and shared.set("who", "child")
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # The parent's own connection is untouched and still answers in order.
    assert [c.sock for c in client.clients.values()] == inherited
    assert shared.get("who") == "child"
