"""Token introspection against a real authorization server (oidc-provider).

The guard is configured as a resource server would configure it for
oidc-provider: OIDC discovery (keys and the introspection endpoint both come
from the provider's discovery document), ``introspect = "opaque"``, and the
provider's ``resource-server`` client. Every token is the provider's own.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from werkzeug.test import Client, TestResponse

from tests.helpers import FakeClock, bearer, echo_app
from tests.oidc_provider_server import (
    JWT_RESOURCE,
    OPAQUE_RESOURCE,
    RESOURCE_SERVER,
    AuthorizationServer,
)
from wsgi_jwt_guard import Issuer, JWTGuard, Rule


def provider_issuer(provider: AuthorizationServer, **options: Any) -> Issuer:
    """The provider as a guard's issuer: discovery, both resources as audiences."""
    options.setdefault("introspect", "opaque")
    options.setdefault(
        "introspection",
        {"client_id": RESOURCE_SERVER.client_id, "client_secret": RESOURCE_SERVER.client_secret},
    )
    if options["introspect"] == "off":
        del options["introspection"]
    return Issuer(
        provider.issuer, discovery=True, audience=[JWT_RESOURCE, OPAQUE_RESOURCE], **options
    )


def guard_for(provider: AuthorizationServer, **options: Any) -> JWTGuard:
    issuer_options = options.pop("issuer_options", {})
    return JWTGuard(echo_app, issuers=[provider_issuer(provider, **issuer_options)], **options)


def get(guard: JWTGuard, token: str, path: str = "/api/orders") -> TestResponse:
    return Client(guard, use_cookies=False).get(path, headers=bearer(token))


def _no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make every HTTP request ``requests`` sends fail from now on; the ones tried."""
    attempts: list[str] = []

    def refuse(session: requests.Session, method: str, url: str, **kwargs: Any) -> Any:
        attempts.append(f"{method} {url}")
        raise requests.ConnectionError("no request expected here")

    monkeypatch.setattr(requests.Session, "request", refuse)
    return attempts


def test_opaque_token_is_accepted(oidc_provider: AuthorizationServer) -> None:
    guard = guard_for(oidc_provider)
    token = oidc_provider.opaque_access_token("read write")
    response = get(guard, token)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.json
    assert body["remote_user"] == "app"  # client credentials: no sub, the client is the subject
    assert body["identity"]["issuer"] == oidc_provider.issuer
    assert body["identity"]["kind"] == "user"
    assert guard.metrics.snapshot()["introspection.ok"] == 1


def test_scope_from_introspection_decides_a_rule(oidc_provider: AuthorizationServer) -> None:
    routes = {"/api/orders": Rule(scopes=["write"])}
    guard = guard_for(oidc_provider, routes=routes)
    assert get(guard, oidc_provider.opaque_access_token("read write")).status_code == 200
    assert get(guard, oidc_provider.opaque_access_token("read")).status_code == 403


def test_revoked_token_is_refused_once_the_cache_lets_go(
    oidc_provider: AuthorizationServer,
) -> None:
    clock = FakeClock()
    guard = guard_for(
        oidc_provider, clock=clock, issuer_options={"introspection": {
            "client_id": RESOURCE_SERVER.client_id,
            "client_secret": RESOURCE_SERVER.client_secret,
            "max_cache_age": 5,
        }},
    )  # fmt: skip
    token = oidc_provider.opaque_access_token()
    assert get(guard, token).status_code == 200
    oidc_provider.revoke(token)
    # Within max_cache_age the guard still trusts its cached answer...
    clock.advance(4)
    assert get(guard, token).status_code == 200
    assert guard.metrics.snapshot()["introspection.ok"] == 1
    # ... and past it asks again, and the provider says no.
    clock.advance(2)
    response = get(guard, token)
    assert response.status_code == 401
    assert "not active" in response.json["error"]["message"]
    assert guard.metrics.snapshot()["introspection.ok"] == 2


def test_revoked_token_is_refused_at_once_without_a_cache(
    oidc_provider: AuthorizationServer,
) -> None:
    introspection = {
        "client_id": RESOURCE_SERVER.client_id,
        "client_secret": RESOURCE_SERVER.client_secret,
        "max_cache_age": 0,
    }
    guard = guard_for(oidc_provider, issuer_options={"introspection": introspection})
    token = oidc_provider.opaque_access_token()
    assert get(guard, token).status_code == 200
    oidc_provider.revoke(token)
    assert get(guard, token).status_code == 401


def test_jwt_access_token_still_goes_through_jwks(oidc_provider: AuthorizationServer) -> None:
    guard = guard_for(oidc_provider)
    response = get(guard, oidc_provider.jwt_access_token())
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["remote_user"] == "app"
    snapshot = guard.metrics.snapshot()
    assert snapshot["keys.fetch.ok"] >= 1
    assert not any(name.startswith("introspection.") for name in snapshot)


def test_always_introspects_the_issuers_jwts(oidc_provider: AuthorizationServer) -> None:
    guard = guard_for(oidc_provider, issuer_options={"introspect": "always"})
    token = oidc_provider.jwt_access_token()
    # The JWT went to the endpoint, not to the JWKS. oidc-provider refuses to
    # introspect the JWT access tokens it issues (400 invalid_request, "structured
    # tokens cannot be introspected"): an answer other than 200 is the issuer
    # failing to vouch, a 503, never a pass. ("always" is for issuers that do
    # introspect their JWTs, as Keycloak and Okta.)
    response = get(guard, token)
    assert response.status_code == 503
    snapshot = guard.metrics.snapshot()
    assert snapshot["introspection.failed"] == 1
    assert "keys.fetch.ok" not in snapshot


def test_opaque_token_without_an_introspecting_issuer_makes_no_request(
    oidc_provider: AuthorizationServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = oidc_provider.opaque_access_token()
    guard = guard_for(oidc_provider, issuer_options={"introspect": "off"})
    attempts = _no_network(monkeypatch)
    response = get(guard, token)
    assert response.status_code == 401
    assert attempts == []


def test_dpop_bound_opaque_token_is_not_a_bearer_token(oidc_provider: AuthorizationServer) -> None:
    bound = oidc_provider.dpop_token(resource=OPAQUE_RESOURCE)
    response = get(guard_for(oidc_provider), bound.access_token)
    assert response.status_code == 401
    assert "bound to a DPoP key" in response.json["error"]["message"]


def test_dpop_bound_opaque_token_works_with_its_proof(oidc_provider: AuthorizationServer) -> None:
    """RFC 9449 §6.2: the introspection answer's cnf.jkt binds the opaque token to the
    client's key; the proof (made by npm dpop) is checked as for a JWT."""
    guard = guard_for(oidc_provider)
    bound = oidc_provider.dpop_token(resource=OPAQUE_RESOURCE)
    client = Client(guard, use_cookies=False)
    url = "http://localhost/api/orders"

    def send(proof: str) -> TestResponse:
        headers = {"Authorization": f"DPoP {bound.access_token}", "DPoP": proof}
        return client.get("/api/orders", headers=headers)

    first = send(bound.client_proof("GET", url))
    assert first.status_code == 200, first.get_data(as_text=True)
    assert first.json["auth_type"] == "DPoP"
    assert send(bound.client_proof("GET", url)).status_code == 200  # from the caches
    other = oidc_provider.dpop_token(resource=OPAQUE_RESOURCE)
    stolen = send(other.client_proof("GET", url, access_token=bound.access_token))
    assert stolen.status_code == 401  # a proof by another client's key
    assert "another key" in stolen.json["error"]["message"]
