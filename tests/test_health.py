"""The keys health view: ``wsgi_jwt_guard.health`` (issue 11).

A guard in process, a real JWKS server on 127.0.0.1, and Werkzeug's client
calling :class:`KeysHealth` as a load balancer's probe would.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from werkzeug.test import Client

from tests.helpers import ISSUER, FakeClock, SigningKey, build_guard
from tests.jwks_server import JWKSServer
from wsgi_jwt_guard import Issuer, JWTGuard
from wsgi_jwt_guard.health import KeysHealth, keys_status
from wsgi_jwt_guard.jwks import JWKSClient

OTHER = "https://static.example.test"


def guard_with(jwks_url: str, static: SigningKey, **refresh: Any) -> JWTGuard:
    return build_guard(
        issuers=[
            Issuer(ISSUER, jwks_uri=jwks_url, jwks_refresh=refresh),
            Issuer(OTHER, keys=[static.public_jwk()]),
        ],
    )


def probe(guard: JWTGuard, **options: Any) -> Any:
    return Client(KeysHealth(guard, **options)).get("/")


def jwks_client(guard: JWTGuard) -> JWKSClient:
    source = guard.verifier.key_sources[ISSUER]
    assert isinstance(source, JWKSClient)
    return source


def test_ready_when_every_issuer_has_usable_keys(
    jwks_server: JWKSServer, ec_key: SigningKey, rsa_key: SigningKey
) -> None:
    jwks_server.publish(ec_key)
    guard = guard_with(jwks_server.url, rsa_key)
    assert jwks_client(guard).refresh()

    response = probe(guard)

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    document = response.get_json()
    assert document["status"] == "ok"
    fetched = document["issuers"][ISSUER]
    assert fetched["source"] == jwks_server.url
    assert (fetched["usable"], fetched["fresh"], fetched["keys"], fetched["kids"]) == (
        True,
        True,
        1,
        ["ec-1"],
    )
    assert fetched["last_fetch"]["error"] is None
    assert fetched["fetched_at"].endswith("Z")
    assert fetched["ttl"] == 600
    assert document["issuers"][OTHER]["source"] == "static"
    assert document["issuers"][OTHER]["kids"] == ["rsa-1"]


def test_a_cold_worker_is_not_ready_and_the_probe_starts_the_fetch(
    jwks_server: JWKSServer, ec_key: SigningKey, rsa_key: SigningKey
) -> None:
    jwks_server.publish(ec_key)
    guard = guard_with(jwks_server.url, rsa_key)

    response = probe(guard)
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 1
    document = response.get_json()
    assert document["status"] == "unavailable"
    assert document["issuers"][ISSUER]["usable"] is False
    assert document["issuers"][OTHER]["usable"] is True

    assert jwks_client(guard).refresh(timeout=10)  # joins the fetch the probe started
    assert jwks_server.fetches == 1
    assert probe(guard).status_code == 200


def test_stale_keys_are_usable_and_the_error_is_reported(
    jwks_server: JWKSServer, ec_key: SigningKey, rsa_key: SigningKey
) -> None:
    jwks_server.publish(ec_key)
    guard = guard_with(jwks_server.url, rsa_key, ttl=60)
    client = jwks_client(guard)
    assert client.refresh()
    jwks_server.status = 500
    client.clock = FakeClock(time.time() + 120)  # past the TTL
    assert client.refresh()  # fails, keeps the last good keys

    response = probe(guard)
    assert response.status_code == 200  # tokens still verify: stay in the pool
    fetched = response.get_json()["issuers"][ISSUER]
    assert (fetched["usable"], fetched["fresh"], fetched["failures"]) == (True, False, 1)
    assert "HTTP 500" in fetched["last_fetch"]["error"]
    assert fetched["retry_in"] is not None

    strict = probe(guard, require_fresh=True)
    assert strict.status_code == 503
    assert int(strict.headers["Retry-After"]) >= 1


def test_keys_status_reads_a_guard_or_its_verifier(
    jwks_server: JWKSServer, ec_key: SigningKey, rsa_key: SigningKey
) -> None:
    jwks_server.publish(ec_key)
    guard = guard_with(jwks_server.url, rsa_key)
    statuses = keys_status(guard)
    assert set(statuses) == {ISSUER, OTHER}
    assert statuses == keys_status(guard.verifier)
    assert not statuses[ISSUER].usable
    assert jwks_server.fetches == 0  # reading the status does no I/O


@pytest.mark.parametrize(
    ("method", "status", "body"),
    [
        pytest.param("HEAD", 200, b"", id="head"),
        pytest.param("POST", 405, b'{"error": "method not allowed"}', id="post"),
    ],
)
def test_methods(
    jwks_server: JWKSServer,
    ec_key: SigningKey,
    rsa_key: SigningKey,
    method: str,
    status: int,
    body: bytes,
) -> None:
    jwks_server.publish(ec_key)
    guard = guard_with(jwks_server.url, rsa_key)
    assert jwks_client(guard).refresh()
    response = Client(KeysHealth(guard)).open("/", method=method)
    assert response.status_code == status
    assert response.data == body
