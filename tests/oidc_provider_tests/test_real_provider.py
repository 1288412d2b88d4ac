"""The test authorization server itself: each kind of token it hands out, pinned.

``tests/oidc_provider/`` is panva's oidc-provider from npm, started once per
session on 127.0.0.1. These tests pin what each helper of
``tests/oidc_provider_server.py`` returns -- a JWT access token the guard
verifies through OIDC discovery, an opaque token only introspection can read,
a DPoP-bound token (``cnf.jkt``) and a certificate-bound one
(``cnf["x5t#S256"]``) -- so a change in oidc-provider shows here first, not in
the tests built on them. Nothing here is hand-made: the server signs every token.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import requests
from jose import jws
from werkzeug.test import Client

from tests.helpers import bearer, echo_app
from tests.oidc_provider_server import (
    APP,
    JWT_RESOURCE,
    MTLS_APP,
    OPAQUE_RESOURCE,
    TIMEOUT,
    AuthorizationServer,
    client_certificate,
)
from wsgi_jwt_guard import Issuer, JWTGuard


def claims_of(token: str) -> dict[str, Any]:
    segment = token.split(".")[1]
    value: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return value


def header_of(token: str) -> dict[str, Any]:
    segment = token.split(".")[0]
    value: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return value


def test_discovery_names_every_endpoint_the_suite_uses(oidc_provider: AuthorizationServer) -> None:
    metadata = oidc_provider.metadata
    assert metadata["issuer"] == oidc_provider.issuer
    base = oidc_provider.issuer
    assert metadata["introspection_endpoint"] == f"{base}/token/introspection"
    assert metadata["revocation_endpoint"] == f"{base}/token/revocation"
    assert metadata["jwks_uri"] == f"{base}/jwks"
    assert metadata["tls_client_certificate_bound_access_tokens"] is True
    assert "ES256" in metadata["dpop_signing_alg_values_supported"]


def test_jwt_access_token_shape(oidc_provider: AuthorizationServer) -> None:
    token = oidc_provider.jwt_access_token("read write")
    assert header_of(token) == {"alg": "ES256", "typ": "at+jwt", "kid": "es256-1"}
    claims = claims_of(token)
    assert set(claims) == {"jti", "sub", "iat", "exp", "scope", "client_id", "iss", "aud"}
    assert claims["iss"] == oidc_provider.issuer
    assert claims["aud"] == JWT_RESOURCE
    assert claims["sub"] == claims["client_id"] == APP.client_id  # client credentials
    assert claims["scope"] == "read write"
    assert claims["exp"] - claims["iat"] == 300


def test_jwt_access_token_verifies_through_the_guard(oidc_provider: AuthorizationServer) -> None:
    issuer = Issuer(
        oidc_provider.issuer, discovery=True, audience=JWT_RESOURCE, token_types=["at+jwt"]
    )
    client = Client(JWTGuard(echo_app, issuers=[issuer]), use_cookies=False)
    response = client.get("/api/catalog", headers=bearer(oidc_provider.jwt_access_token()))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["remote_user"] == APP.client_id
    assert response.json["identity"]["kind"] == "user"


def test_opaque_access_token_is_not_a_jwt_and_introspects(
    oidc_provider: AuthorizationServer,
) -> None:
    token = oidc_provider.opaque_access_token("read write")
    assert "." not in token
    assert len(token) == 43
    answer = oidc_provider.introspect(token)
    assert set(answer) == {"active", "client_id", "exp", "iat", "iss", "aud", "scope", "token_type"}
    assert answer["active"] is True
    assert answer["iss"] == oidc_provider.issuer
    assert answer["aud"] == OPAQUE_RESOURCE
    assert answer["client_id"] == APP.client_id  # and no `sub`: a client's own token
    assert answer["scope"] == "read write"
    assert answer["token_type"] == "Bearer"
    assert answer["exp"] - answer["iat"] == 300


def test_revoked_token_introspects_inactive(oidc_provider: AuthorizationServer) -> None:
    token = oidc_provider.opaque_access_token()
    oidc_provider.revoke(token)
    assert oidc_provider.introspect(token) == {"active": False}


def test_only_the_resource_server_may_introspect(oidc_provider: AuthorizationServer) -> None:
    token = oidc_provider.opaque_access_token()
    assert oidc_provider.introspect(token, client=APP) == {"active": False}
    wrong = requests.post(
        oidc_provider.introspection_endpoint,
        data={"token": token},
        auth=("resource-server", "not-the-secret"),
        timeout=TIMEOUT,
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"


def test_dpop_bound_token(oidc_provider: AuthorizationServer) -> None:
    bound = oidc_provider.dpop_token()
    assert bound.response["token_type"] == "DPoP"
    claims = claims_of(bound.access_token)
    assert claims["cnf"] == {"jkt": bound.jkt}
    assert claims["aud"] == JWT_RESOURCE
    assert "d" in bound.private_jwk
    assert "d" not in bound.public_jwk
    # The helper's proofs are real: signed by the bound key, with ath and the URL.
    proof = bound.proof("GET", "http://127.0.0.1/api/catalog")
    assert header_of(proof)["typ"] == "dpop+jwt"
    public = {name: value for name, value in bound.public_jwk.items() if name != "alg"}
    assert header_of(proof)["jwk"] == public  # the key, as PyJWT writes it (no "alg")
    payload = json.loads(jws.verify(proof, dict(bound.public_jwk), algorithms=["ES256"]))
    assert payload["htm"] == "GET"
    assert payload["htu"] == "http://127.0.0.1/api/catalog"
    assert set(payload) == {"jti", "htm", "htu", "iat", "ath"}


def test_dpop_bound_opaque_token_introspects_with_its_jkt(
    oidc_provider: AuthorizationServer,
) -> None:
    bound = oidc_provider.dpop_token(resource=OPAQUE_RESOURCE)
    answer = oidc_provider.introspect(bound.access_token)
    assert answer["token_type"] == "DPoP"
    assert answer["cnf"] == {"jkt": bound.jkt}


@pytest.mark.parametrize("resource", [JWT_RESOURCE, OPAQUE_RESOURCE], ids=["jwt", "opaque"])
def test_certificate_bound_token(oidc_provider: AuthorizationServer, resource: str) -> None:
    certificate = client_certificate()
    token = oidc_provider.certificate_bound_token(certificate.pem, resource=resource)
    claims = claims_of(token) if resource == JWT_RESOURCE else oidc_provider.introspect(token)
    assert claims["cnf"] == {"x5t#S256": certificate.thumbprint}
    assert claims["client_id"] == MTLS_APP.client_id


def test_certificate_bound_client_needs_its_certificate(
    oidc_provider: AuthorizationServer,
) -> None:
    # oidc-provider says why only in its debug log: "mutual TLS client certificate not provided".
    with pytest.raises(AssertionError, match=r"answered 400: .*invalid_grant"):
        oidc_provider.token_response(client=MTLS_APP)
