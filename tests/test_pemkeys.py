"""Keys published one PEM per ``kid`` (:mod:`wsgi_jwt_guard.pemkeys`), served by a
real server on 127.0.0.1 the way AWS ALB serves them."""

from __future__ import annotations

from collections.abc import Callable
from http.server import BaseHTTPRequestHandler

import pytest
from cachelib import SimpleCache

from tests.helpers import FakeClock, SigningKey
from tests.jwks_server import JWKSServer, JWKSServers, answer
from wsgi_jwt_guard.errors import ConfigError, KeysUnavailable, UnknownKey
from wsgi_jwt_guard.pemkeys import MAX_KIDS, PEMKeysByKid
from wsgi_jwt_guard.refresh import RefreshPolicy


def pem_server(jwks_servers: JWKSServers, *keys: SigningKey) -> JWKSServer:
    """A server answering ``/<kid>`` with that key's PEM, 404 for any other path."""
    pems = {f"/{key.kid}": key.public_pem().encode() for key in keys}

    def respond(handler: BaseHTTPRequestHandler) -> None:
        pem = pems.get(handler.path)
        if pem is None:
            handler.send_error(404)
        else:
            answer(200, pem, {"Content-Type": "application/octet-stream"})(handler)

    return jwks_servers(respond)


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
