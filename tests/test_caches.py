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

from tests.servers import Server, memcached_server, redis_server
from wsgi_jwt_guard import ConfigError
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


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("kind", ["redis", "memcached"])
def test_a_server_going_down_falls_back_to_process_memory_and_back(
    kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    context = redis_server() if kind == "redis" else memcached_server()
    with context as server:
        clock = Clock()
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
        warnings = [r for r in caplog.records if "shared cache" in r.getMessage()]
        assert len(warnings) == 1  # one warning per outage, not one per call

        server.start()
        clock.now += 10  # retry_after
        assert shared.get("k") is None  # a fresh server: the shared cache is used again
        assert shared.set("k", "after")
        assert shared.get("k") == "after"


def test_process_memory_only_without_a_shared_cache() -> None:
    shared = SharedCache(None)
    assert not shared.is_shared
    assert shared.set("k", "v") is False
    assert shared.get("k") == "v"


Make = Callable[[], BaseCache]
