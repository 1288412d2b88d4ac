"""The keys health view: ``wsgi_jwt_guard.health`` (issue 11).

A guard in process, a real JWKS server on 127.0.0.1, and Werkzeug's client
calling :class:`KeysHealth` as a load balancer's probe would.
"""

from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from werkzeug.test import Client

from tests.helpers import ISSUER, FakeClock, SigningKey, build_guard
from tests.jwks_server import JWKSServer, JWKSServers, answer
from wsgi_jwt_guard import Issuer, JWTGuard
from wsgi_jwt_guard.errors import KeysUnavailable
from wsgi_jwt_guard.health import KeysHealth, keys_status
from wsgi_jwt_guard.jwks import JWKSClient
from wsgi_jwt_guard.pemkeys import PEMKeysByKid

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


# --- an AWS ALB issuer: one PEM per kid ------------------------------------------------

COGNITO = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEfGhI"
ALB_ARN = (
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188"
)


def alb_guard(
    jwks_servers: JWKSServers, key: SigningKey, static: SigningKey
) -> tuple[JWTGuard, JWKSServer, PEMKeysByKid]:
    """A guard with an ALB issuer whose key server publishes ``key`` as ALB does
    (the PEM at ``/<kid>``; ``status`` takes it down), and a static issuer."""

    def one_pem_per_kid(handler: BaseHTTPRequestHandler) -> None:
        if server.status != 200:
            handler.send_error(server.status)
        elif handler.path == f"/{key.kid}":
            answer(200, key.public_pem().encode(), {"Content-Type": "application/octet-stream"})(
                handler
            )
        else:
            handler.send_error(404)

    server = jwks_servers(one_pem_per_kid)
    alb = Issuer(
        COGNITO,
        preset="aws-alb",
        signers=ALB_ARN,
        client_ids="4fmvht22tjrgd7d3k3tghttct7",
        pem_url=server.base + "/{kid}",
        jwks_refresh={"retry_min": 30, "retry_max": 60},
    )
    guard = build_guard(issuers=[alb, Issuer(OTHER, keys=[static.public_jwk()])])
    source = guard.verifier.key_sources[COGNITO]
    assert isinstance(source, PEMKeysByKid)
    return guard, server, source


def test_alb_keys_report_the_kids_held_and_the_last_download(
    jwks_servers: JWKSServers, rsa_key: SigningKey
) -> None:
    key = SigningKey.ec(kid="0e1f4cfe-9e2a-4c9b-8b0c-3d5e0f1a2b3c")
    guard, server, source = alb_guard(jwks_servers, key, rsa_key)

    cold = probe(guard)
    assert cold.status_code == 200  # no key list to fetch ahead: the first token fetches
    reported = cold.get_json()["issuers"][COGNITO]
    assert reported["source"] == server.base + "/{kid}"
    assert (reported["usable"], reported["keys"], reported["kids"]) == (True, 0, [])
    assert server.fetches == 0  # the probe fetched nothing

    source.find(key.kid, "ES256")  # a token's first use
    reported = probe(guard).get_json()["issuers"][COGNITO]
    assert (reported["usable"], reported["fresh"], reported["kids"]) == (True, True, [key.kid])
    assert reported["fetched_at"].endswith("Z")
    assert reported["last_fetch"]["error"] is None
    assert reported["failures"] == 0


def test_alb_key_server_down(jwks_servers: JWKSServers, rsa_key: SigningKey) -> None:
    key = SigningKey.ec(kid="0e1f4cfe-9e2a-4c9b-8b0c-3d5e0f1a2b3c")
    guard, server, source = alb_guard(jwks_servers, key, rsa_key)
    server.status = 500
    with pytest.raises(KeysUnavailable):
        source.find(key.kid, "ES256")

    response = probe(guard)  # no key held and none can be fetched: not ready
    assert response.status_code == 503
    assert 1 <= int(response.headers["Retry-After"]) <= 30
    reported = response.get_json()["issuers"][COGNITO]
    assert (reported["usable"], reported["fresh"], reported["failures"]) == (False, False, 1)
    assert "HTTP 500" in reported["last_fetch"]["error"]
    assert reported["retry_in"] is not None


def test_alb_keys_held_stay_usable_while_the_key_server_is_down(
    jwks_servers: JWKSServers, rsa_key: SigningKey
) -> None:
    key = SigningKey.ec(kid="0e1f4cfe-9e2a-4c9b-8b0c-3d5e0f1a2b3c")
    guard, server, source = alb_guard(jwks_servers, key, rsa_key)
    source.find(key.kid, "ES256")
    server.status = 503
    with pytest.raises(KeysUnavailable):
        source.find("1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9", "ES256")  # a rotation, unreachable

    assert probe(guard).status_code == 200  # tokens signed with the held key still verify
    strict = probe(guard, require_fresh=True)
    assert strict.status_code == 503
    assert int(strict.headers["Retry-After"]) >= 1
