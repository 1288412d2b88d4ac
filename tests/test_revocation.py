"""Revocation by ``jti`` and by subject: ``wsgi_jwt_guard.revocation`` (DESIGN §5)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cachelib import SimpleCache
from werkzeug.test import Client

from tests.helpers import FakeClock, SigningKey, bearer, service_token
from tests.servers import Server, redis_server
from wsgi_jwt_guard import ConfigError, JWTGuard, from_config
from wsgi_jwt_guard.apikeys import APIKey
from wsgi_jwt_guard.caches import build_cache
from wsgi_jwt_guard.revocation import Revocations


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def guarded(
    make_guard: Callable[..., JWTGuard], clock: FakeClock
) -> Callable[..., tuple[JWTGuard, Client]]:
    def build(cache: Any = None, **options: Any) -> tuple[JWTGuard, Client]:
        cache = cache if cache is not None else SimpleCache()
        revocations = Revocations(cache, clock=clock, **options)
        guard = make_guard(revocations=revocations, cache=cache)
        return guard, Client(guard, use_cookies=False)

    return build


def test_a_revoked_jti_is_refused_and_others_are_not(
    guarded: Callable[..., tuple[JWTGuard, Client]], ec_key: SigningKey
) -> None:
    guard, client = guarded()
    stolen = ec_key.token(jti="token-1")
    other = ec_key.token(jti="token-2")
    assert client.get("/api/catalog", headers=bearer(stolen)).status_code == 200

    assert guard.revocations is not None
    guard.revocations.revoke_token("token-1", expires_at=time.time() + 600)

    response = client.get("/api/catalog", headers=bearer(stolen))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert "revoked" in response.get_json()["error"]["message"]
    assert client.get("/api/catalog", headers=bearer(other)).status_code == 200
    # Public routes are not checked.
    assert client.get("/api/auth/x", headers=bearer(stolen)).status_code == 200


def test_a_jti_is_scoped_to_its_issuer(
    guarded: Callable[..., tuple[JWTGuard, Client]], ec_key: SigningKey
) -> None:
    guard, client = guarded()
    assert guard.revocations is not None
    guard.revocations.revoke_token("token-1", expires_at=time.time() + 600, issuer="https://other")
    assert (
        client.get("/api/catalog", headers=bearer(ec_key.token(jti="token-1"))).status_code == 200
    )


def test_logout_everywhere_refuses_older_tokens_only(
    guarded: Callable[..., tuple[JWTGuard, Client]], ec_key: SigningKey, clock: FakeClock
) -> None:
    guard, client = guarded()
    issuer = "https://auth.example.test/api/auth"
    old = ec_key.token(iat=int(clock.now) - 60)
    no_iat = ec_key.token(drop=["iat"])
    someone_else = ec_key.token(sub="user:default/bob", iat=int(clock.now) - 60)
    assert guard.revocations is not None

    guard.revocations.revoke_subject("user:default/alice", issuer=issuer, before=clock.now - 30)
    newer = ec_key.token(iat=int(clock.now) - 10)

    assert client.get("/api/catalog", headers=bearer(old)).status_code == 401
    assert client.get("/api/catalog", headers=bearer(no_iat)).status_code == 401
    assert client.get("/api/catalog", headers=bearer(newer)).status_code == 200
    assert client.get("/api/catalog", headers=bearer(someone_else)).status_code == 200


def test_revoke_subject_without_an_issuer_revokes_every_token_of_the_subject(
    guarded: Callable[..., tuple[JWTGuard, Client]], ec_key: SigningKey, clock: FakeClock
) -> None:
    # The module's own example: no issuer named, so any issuer's tokens.
    guard, client = guarded()
    mallory = ec_key.token(sub="user:default/mallory", iat=int(clock.now) - 60)
    alice = ec_key.token(sub="user:default/alice", iat=int(clock.now) - 60)
    assert guard.revocations is not None
    assert client.get("/api/catalog", headers=bearer(mallory)).status_code == 200

    guard.revocations.revoke_subject("user:default/mallory")

    response = client.get("/api/catalog", headers=bearer(mallory))
    assert response.status_code == 401
    assert "logged out" in response.get_json()["error"]["message"]
    assert client.get("/api/catalog", headers=bearer(alice)).status_code == 200


def test_an_issuer_scoped_revocation_leaves_other_issuers_alone(
    guarded: Callable[..., tuple[JWTGuard, Client]], ec_key: SigningKey, clock: FakeClock
) -> None:
    guard, client = guarded()
    assert guard.revocations is not None
    guard.revocations.revoke_subject("user:default/alice", issuer="https://other.example")
    guard.revocations.revoke_token("t-1", expires_at=clock.now + 600, issuer="https://other")
    token = ec_key.token(iat=int(clock.now) - 60, jti="t-1")
    assert client.get("/api/catalog", headers=bearer(token)).status_code == 200


def test_api_keys_and_service_tokens_are_checked_too(
    make_guard: Callable[..., JWTGuard], clock: FakeClock
) -> None:
    key = APIKey("k" * 40, subject="external:ci")
    revocations = Revocations(SimpleCache(), clock=clock)
    client = Client(make_guard(api_keys=[key], revocations=revocations), use_cookies=False)
    service = service_token()
    assert client.get("/api/catalog", headers=bearer(key.key)).status_code == 200
    assert client.get("/api/catalog", headers=bearer(service)).status_code == 200

    revocations.revoke_subject("external:ci")
    revocations.revoke_subject("backstage-server", before=clock.now + 1)

    response = client.get("/api/catalog", headers=bearer(key.key))
    assert response.status_code == 401
    assert "revoked" in response.get_json()["error"]["message"]
    assert client.get("/api/catalog", headers=bearer(service)).status_code == 401


def test_a_token_served_from_the_verified_token_cache_is_still_checked(
    guarded: Callable[..., tuple[JWTGuard, Client]], ec_key: SigningKey
) -> None:
    guard, client = guarded()
    token = ec_key.token(jti="cached")
    for _ in range(3):  # verified once, then from the token cache
        assert client.get("/api/catalog", headers=bearer(token)).status_code == 200
    assert guard.revocations is not None
    guard.revocations.revoke_token(
        "cached", expires_at=time.time() + 600, issuer="https://auth.example.test/api/auth"
    )
    assert client.get("/api/catalog", headers=bearer(token)).status_code == 401


def test_a_revocation_reaches_other_workers_within_the_check_interval(
    make_guard: Callable[..., JWTGuard], ec_key: SigningKey, clock: FakeClock
) -> None:
    shared = SimpleCache()  # stands for Redis: both workers see the same entries
    workers = [
        Client(
            make_guard(revocations=Revocations(shared, check_interval=5, clock=clock)),
            use_cookies=False,
        )
        for _ in range(2)
    ]
    token = ec_key.token(jti="t")
    for worker in workers:
        assert worker.get("/api/catalog", headers=bearer(token)).status_code == 200

    admin = Revocations(shared, clock=clock)
    admin.revoke_token("t", expires_at=clock.now + 600, issuer="https://auth.example.test/api/auth")

    clock.now += 4.9  # within the interval: the workers still trust what they read
    assert workers[0].get("/api/catalog", headers=bearer(token)).status_code == 200
    clock.now += 0.1
    for worker in workers:
        assert worker.get("/api/catalog", headers=bearer(token)).status_code == 401


def test_entries_live_as_long_as_the_tokens_they_affect(clock: FakeClock) -> None:
    cache = SimpleCache()
    stored: dict[str, Any] = {}
    original = cache.set

    def recording_set(key: str, value: Any, timeout: Any = None) -> bool:
        stored[key] = timeout
        return bool(original(key, value, timeout))

    cache.set = recording_set  # type: ignore[method-assign]
    revocations = Revocations(cache, max_token_lifetime=7200, clock=clock)
    revocations.revoke_token("t", expires_at=clock.now + 300)
    revocations.revoke_subject("user:default/alice")
    assert sorted(stored.values()) == [300, 7200]
    assert revocations.revoke_token("expired", expires_at=clock.now - 1) is True
    assert len(stored) == 2  # nothing to store for a token that has expired


@pytest.fixture(scope="module")
def redis() -> Iterator[Server]:
    with redis_server() as server:
        yield server


def test_with_redis_and_redis_down(redis: Server, ec_key: SigningKey, clock: FakeClock) -> None:
    url = f"redis://127.0.0.1:{redis.port}/0"
    issuer = "https://auth.example.test/api/auth"
    worker = Revocations(build_cache({"type": "redis", "url": url}), check_interval=0, clock=clock)
    admin = Revocations(build_cache({"type": "redis", "url": url}), clock=clock)
    assert admin.revoke_subject("user:default/mallory", issuer=issuer) is True

    import redis as redis_client

    ttl = redis_client.Redis(port=redis.port).ttl(
        next(iter(redis_client.Redis(port=redis.port).keys("*revoked:sub:*")))
    )
    assert 86000 < ttl <= 86400  # max_token_lifetime

    from wsgi_jwt_guard.identity import Identity

    def identity(sub: str) -> Identity:
        claims = {"sub": sub, "iat": clock.now - 10}
        return Identity(sub, claims, issuer, "user", "header", clock.now + 60, "t")

    from wsgi_jwt_guard.errors import RevokedToken

    with pytest.raises(RevokedToken):
        worker.check(identity("user:default/mallory"))
    redis.stop()
    try:
        # Known revocations stay in force; new ones reach this worker only.
        with pytest.raises(RevokedToken):
            worker.check(identity("user:default/mallory"))
        assert worker.revoke_subject("user:default/eve", issuer=issuer) is False
        with pytest.raises(RevokedToken):
            worker.check(identity("user:default/eve"))
        worker.check(identity("user:default/alice"))  # others keep working
    finally:
        redis.start()


def test_from_config(ec_key: SigningKey) -> None:
    guard = from_config(
        lambda e, s: [],
        {
            "issuers": [{"issuer": "https://i.test", "keys": [ec_key.public_jwk()]}],
            "revocation": {"check_interval": 2, "max_token_lifetime": 3600},
        },
    )
    assert guard.revocations is not None
    assert guard.revocations.check_interval == 2
    disabled = from_config(
        lambda e, s: [],
        {
            "issuers": [{"issuer": "https://i.test", "keys": [ec_key.public_jwk()]}],
            "revocation": {"enabled": False},
        },
    )
    assert disabled.revocations is None


@pytest.mark.parametrize(
    ("table", "key"),
    [
        pytest.param({"check_interval": -1}, "revocation.check_interval", id="negative"),
        pytest.param({"check_interval": "5"}, "revocation.check_interval", id="string"),
        pytest.param(
            {"max_token_lifetime": float("inf")}, "revocation.max_token_lifetime", id="inf"
        ),
        pytest.param({"enabled": "yes"}, "revocation.enabled", id="enabled-string"),
        pytest.param({"ttl": 5}, "revocation.ttl", id="unknown"),
    ],
)
def test_config_mistakes(ec_key: SigningKey, table: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        from_config(
            lambda e, s: [],
            {
                "issuers": [{"issuer": "https://i.test", "keys": [ec_key.public_jwk()]}],
                "revocation": table,
            },
        )
    assert caught.value.key == key


class CountingCache(SimpleCache):
    """Process memory standing in for Redis, counting round trips."""

    def __init__(self) -> None:
        super().__init__()
        self.round_trips = 0

    def get(self, key: str) -> Any:
        self.round_trips += 1
        return super().get(key)

    def get_many(self, *keys: str) -> list[Any]:
        self.round_trips += 1
        return [super(CountingCache, self).get(key) for key in keys]


def test_a_check_costs_at_most_one_round_trip_per_interval(
    make_guard: Callable[..., JWTGuard], ec_key: SigningKey, clock: FakeClock
) -> None:
    # Four entries can apply to a user token (jti and subject, for any issuer
    # and for its own); they are read together, and then from memory.
    cache = CountingCache()
    client = Client(make_guard(revocations=Revocations(cache, clock=clock)), use_cookies=False)
    token = ec_key.token(jti="t-1")
    assert client.get("/api/catalog", headers=bearer(token)).status_code == 200
    assert cache.round_trips == 1
    for _ in range(5):
        assert client.get("/api/catalog", headers=bearer(token)).status_code == 200
    assert cache.round_trips == 1
    clock.now += 5
    assert client.get("/api/catalog", headers=bearer(token)).status_code == 200
    assert cache.round_trips == 2
