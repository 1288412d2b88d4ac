"""Sender-constrained tokens against implementations no one here wrote (issue 15).

The tokens come from a real authorization server (panva's oidc-provider): a
DPoP-bound JWT (``cnf.jkt``) that npm ``dpop`` asked for with its own key, and
a certificate-bound JWT (``cnf["x5t#S256"]``) for a client certificate. The
proofs sent to the guard are npm ``dpop``'s too (``DPoPBoundToken.client_proof``,
``dpop_token.js proof``), never the suite's own. The guard is configured as a
deployment would be, with :func:`from_config`: the provider as its issuer by
OIDC discovery, the JWT resource as its audience.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from werkzeug.test import Client, TestResponse

from tests.helpers import bearer, echo_app
from tests.oidc_provider_server import (
    APP,
    JWT_RESOURCE,
    MTLS_APP,
    AuthorizationServer,
    ClientCertificate,
    DPoPBoundToken,
    client_certificate,
)
from tests.servers import werkzeug_server
from wsgi_jwt_guard import JWTGuard, from_config

PATH = "/api/orders"
#: The URL werkzeug's test client sends ``PATH`` to: what ``htu`` must name.
URL = "http://localhost" + PATH
#: The header a TLS terminator (nginx: ``$ssl_client_escaped_cert``) sets.
CERT_HEADER = "X-SSL-Client-Cert"
NONCE_SECRET = "n" * 40


def guard_for(provider: AuthorizationServer, **config: Any) -> JWTGuard:
    """The guard in front of :func:`echo_app`, trusting the provider by discovery."""
    issuer = {"issuer": provider.issuer, "discovery": True, "audience": JWT_RESOURCE}
    return from_config(echo_app, {"issuers": [issuer], **config})


def dpop_headers(token: str, proof: str | None) -> dict[str, str]:
    headers = {"Authorization": f"DPoP {token}"}
    if proof is not None:
        headers["DPoP"] = proof
    return headers


def send(guard: JWTGuard, headers: Mapping[str, str], method: str = "GET") -> TestResponse:
    return Client(guard, use_cookies=False).open(PATH, method=method, headers=dict(headers))


def challenge_error(response: TestResponse, scheme: str) -> str | None:
    """The ``error`` of the response's challenge for ``scheme`` (``Bearer``, ``DPoP``)."""
    challenge = response.headers.get("WWW-Authenticate", "")
    start = challenge.find(scheme + " ")
    if start < 0:
        return None
    for part in challenge[start + len(scheme) + 1 :].split(", "):
        if part.startswith("error="):
            return part[len('error="') : -1]
        if " " in part.split("=", 1)[0]:  # the next scheme's first parameter
            return None
    return None


def body(response: TestResponse) -> dict[str, Any]:
    """The response's JSON object (the echo app's view, or the guard's refusal)."""
    value = response.get_json()
    assert isinstance(value, dict), response.get_data(as_text=True)
    return value


def refused(response: TestResponse) -> str:
    """A 401's body message, for the assertion messages."""
    assert response.status_code == 401, response.get_data(as_text=True)
    message: str = body(response)["error"]["message"]
    return message


@pytest.fixture(scope="module")
def bound(oidc_provider: AuthorizationServer) -> DPoPBoundToken:
    """A DPoP-bound token, got from the provider by npm ``dpop`` with a new key."""
    token = oidc_provider.dpop_token()
    assert token.response["token_type"] == "DPoP"
    return token


@pytest.fixture(scope="module")
def other(oidc_provider: AuthorizationServer) -> DPoPBoundToken:
    """A second DPoP-bound token: another client key."""
    return oidc_provider.dpop_token()


# -- DPoP (RFC 9449) ----------------------------------------------------------------------


def test_a_dpop_bound_token_with_the_client_libraries_proof_is_accepted(
    oidc_provider: AuthorizationServer, bound: DPoPBoundToken
) -> None:
    guard = guard_for(oidc_provider)
    response = send(guard, dpop_headers(bound.access_token, bound.client_proof("GET", URL)))
    assert response.status_code == 200, response.get_data(as_text=True)
    seen = body(response)
    assert seen["auth_type"] == "DPoP"
    assert seen["remote_user"] == APP.client_id  # client credentials: sub is the client
    assert seen["identity"]["subject"] == APP.client_id
    assert seen["identity"]["issuer"] == oidc_provider.issuer
    assert seen["identity"]["source"] == "dpop"
    # The same token again (from the verified-token cache) with a new proof.
    again = send(guard, dpop_headers(bound.access_token, bound.client_proof("GET", URL)))
    assert again.status_code == 200, again.get_data(as_text=True)
    assert body(again)["auth_type"] == "DPoP"
    assert body(again)["identity"]["subject"] == APP.client_id


def test_a_proof_for_another_method_passes_on_that_method(
    oidc_provider: AuthorizationServer, bound: DPoPBoundToken
) -> None:
    guard = guard_for(oidc_provider)
    proof = bound.client_proof("POST", URL)
    response = send(guard, dpop_headers(bound.access_token, proof), method="POST")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert body(response)["auth_type"] == "DPoP"


@pytest.mark.parametrize(
    "url",
    ["http://LOCALHOST" + PATH, "http://localhost:80" + PATH, "http://localhost/api/./orders",
     "http://localhost/api/%6Frders", URL + "?page=2"],
    ids=["host-case", "default-port", "dot-segment", "escape", "query"],
)  # fmt: skip
def test_an_htu_naming_the_same_url_otherwise_passes(
    oidc_provider: AuthorizationServer, bound: DPoPBoundToken, url: str
) -> None:
    guard = guard_for(oidc_provider)
    response = send(guard, dpop_headers(bound.access_token, bound.client_proof("GET", url)))
    assert response.status_code == 200, response.get_data(as_text=True)


def test_over_http_through_a_real_server(
    oidc_provider: AuthorizationServer, bound: DPoPBoundToken
) -> None:
    # The URL the proof names is the one the client calls, port and all.
    guard = guard_for(oidc_provider, dpop={"nonce": True, "nonce_secrets": [NONCE_SECRET]})
    with werkzeug_server(guard) as port:
        url = f"http://127.0.0.1:{port}{PATH}"

        def call(proof: str) -> requests.Response:
            headers = dpop_headers(bound.access_token, proof)
            return requests.get(url + "?q=1", headers=headers, timeout=10)

        first = call(bound.client_proof("GET", url))
        assert first.status_code == 401
        assert 'error="use_dpop_nonce"' in first.headers["WWW-Authenticate"]
        nonce = first.headers["DPoP-Nonce"]
        proof = bound.client_proof("GET", url, nonce=nonce)
        response = call(proof)
        assert response.status_code == 200, response.text
        assert response.json()["auth_type"] == "DPoP"
        assert response.json()["remote_user"] == APP.client_id
        assert call(proof).status_code == 401  # replayed over the wire
        other_port = f"http://127.0.0.1:{port + 1}{PATH}"
        wrong = call(bound.client_proof("GET", other_port, nonce=nonce))
        assert wrong.status_code == 401
        assert "'htu'" in wrong.headers["WWW-Authenticate"]


def test_with_origins_the_proof_names_the_public_origin(
    oidc_provider: AuthorizationServer, bound: DPoPBoundToken
) -> None:
    guard = guard_for(oidc_provider, dpop={"origins": ["https://api.example.test"]})
    public = "https://api.example.test" + PATH
    response = send(guard, dpop_headers(bound.access_token, bound.client_proof("GET", public)))
    assert response.status_code == 200, response.get_data(as_text=True)
    # The request's own Host no longer counts.
    response = send(guard, dpop_headers(bound.access_token, bound.client_proof("GET", URL)))
    message = refused(response)
    assert challenge_error(response, "DPoP") == "invalid_dpop_proof", message


def test_a_replayed_proof_is_refused(
    oidc_provider: AuthorizationServer, bound: DPoPBoundToken
) -> None:
    guard = guard_for(oidc_provider)
    headers = dpop_headers(bound.access_token, bound.client_proof("GET", URL))
    assert send(guard, headers).status_code == 200
    replay = send(guard, headers)
    message = refused(replay)
    assert challenge_error(replay, "DPoP") == "invalid_dpop_proof", message
    assert "'jti'" in message


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", "http://localhost/api/other"),
        ("GET", "http://api.example.test" + PATH),
        ("GET", "https://localhost" + PATH),
        ("POST", URL),
        ("DELETE", URL),
    ],
    ids=["other-path", "other-host", "other-scheme", "htm-post", "htm-delete"],
)
def test_a_proof_for_another_request_is_refused(
    oidc_provider: AuthorizationServer, bound: DPoPBoundToken, method: str, url: str
) -> None:
    guard = guard_for(oidc_provider)
    response = send(guard, dpop_headers(bound.access_token, bound.client_proof(method, url)))
    message = refused(response)
    assert challenge_error(response, "DPoP") == "invalid_dpop_proof", message
    assert ("'htm'" if method != "GET" else "'htu'") in message


@pytest.mark.parametrize("age", [120, 66, -66], ids=["stale", "just-stale", "future"])
def test_a_proof_from_a_skewed_client_clock_is_refused(
    oidc_provider: AuthorizationServer, bound: DPoPBoundToken, age: int
) -> None:
    # [dpop] defaults: max_age 60, leeway 5. npm dpop takes no iat: the client's clock is set.
    guard = guard_for(oidc_provider)
    proof = bound.client_proof("GET", URL, iat=int(time.time()) - age)
    response = send(guard, dpop_headers(bound.access_token, proof))
    message = refused(response)
    assert challenge_error(response, "DPoP") == "invalid_dpop_proof", message
    assert "'iat'" in message


def test_a_proof_within_max_age_and_leeway_passes(
    oidc_provider: AuthorizationServer, bound: DPoPBoundToken
) -> None:
    guard = guard_for(oidc_provider)
    for age in (50, -3):
        proof = bound.client_proof("GET", URL, iat=int(time.time()) - age)
        response = send(guard, dpop_headers(bound.access_token, proof))
        assert response.status_code == 200, (age, response.get_data(as_text=True))


def test_a_proof_signed_by_another_clients_key_is_refused(
    oidc_provider: AuthorizationServer, bound: DPoPBoundToken, other: DPoPBoundToken
) -> None:
    guard = guard_for(oidc_provider)
    # The other client's own token works with its own proofs ...
    mine = send(guard, dpop_headers(other.access_token, other.client_proof("GET", URL)))
    assert mine.status_code == 200, mine.get_data(as_text=True)
    # ... but its key is not the one ``bound``'s cnf.jkt names, even with the right ath.
    proof = other.client_proof("GET", URL, access_token=bound.access_token)
    response = send(guard, dpop_headers(bound.access_token, proof))
    message = refused(response)
    assert challenge_error(response, "DPoP") == "invalid_dpop_proof", message
    assert "another key" in message


def test_a_proof_for_another_token_is_refused(
    oidc_provider: AuthorizationServer, bound: DPoPBoundToken, other: DPoPBoundToken
) -> None:
    # bound's own key, but ath is the hash of the other token.
    guard = guard_for(oidc_provider)
    proof = bound.client_proof("GET", URL, access_token=other.access_token)
    response = send(guard, dpop_headers(bound.access_token, proof))
    message = refused(response)
    assert challenge_error(response, "DPoP") == "invalid_dpop_proof", message
    assert "'ath'" in message


def test_a_dpop_token_without_a_proof_is_refused(
    oidc_provider: AuthorizationServer, bound: DPoPBoundToken
) -> None:
    guard = guard_for(oidc_provider)
    response = send(guard, dpop_headers(bound.access_token, None))
    message = refused(response)
    assert challenge_error(response, "DPoP") == "invalid_dpop_proof", message
    assert "no DPoP proof" in message


def test_the_bound_token_sent_as_bearer_is_refused(
    oidc_provider: AuthorizationServer, bound: DPoPBoundToken
) -> None:
    guard = guard_for(oidc_provider)
    # Accepted once as DPoP first, so the token is in the verified-token cache too.
    first = send(guard, dpop_headers(bound.access_token, bound.client_proof("GET", URL)))
    assert first.status_code == 200
    for headers in (
        bearer(bound.access_token),
        {**bearer(bound.access_token), "DPoP": bound.client_proof("GET", URL)},
    ):
        response = send(guard, headers)
        message = refused(response)
        assert challenge_error(response, "Bearer") == "invalid_token", message
        assert "bound to a DPoP key" in message


def test_dpop_off_refuses_the_bound_token(
    oidc_provider: AuthorizationServer, bound: DPoPBoundToken
) -> None:
    guard = guard_for(oidc_provider, dpop={"mode": "off"})
    response = send(guard, dpop_headers(bound.access_token, bound.client_proof("GET", URL)))
    message = refused(response)
    assert "DPoP is not accepted" in message


def test_dpop_required_refuses_a_plain_token_of_the_same_provider(
    oidc_provider: AuthorizationServer, bound: DPoPBoundToken
) -> None:
    guard = guard_for(oidc_provider, dpop={"mode": "required"})
    plain = oidc_provider.jwt_access_token()
    refused(send(guard, bearer(plain)))
    response = send(guard, dpop_headers(bound.access_token, bound.client_proof("GET", URL)))
    assert response.status_code == 200, response.get_data(as_text=True)


def test_the_server_nonce_flow(oidc_provider: AuthorizationServer, bound: DPoPBoundToken) -> None:
    guard = guard_for(oidc_provider, dpop={"nonce": True, "nonce_secrets": [NONCE_SECRET]})
    first = send(guard, dpop_headers(bound.access_token, bound.client_proof("GET", URL)))
    message = refused(first)
    assert challenge_error(first, "DPoP") == "use_dpop_nonce", message
    nonce = first.headers["DPoP-Nonce"]
    assert nonce
    proof = bound.client_proof("GET", URL, nonce=nonce)
    retried = send(guard, dpop_headers(bound.access_token, proof))
    assert retried.status_code == 200, retried.get_data(as_text=True)
    assert body(retried)["auth_type"] == "DPoP"
    # The nonce serves again, with a new proof; a made-up one does not.
    proof = bound.client_proof("GET", URL, nonce=nonce)
    assert send(guard, dpop_headers(bound.access_token, proof)).status_code == 200
    proof = bound.client_proof("GET", URL, nonce="x" * 43)
    made_up = send(guard, dpop_headers(bound.access_token, proof))
    message = refused(made_up)
    assert challenge_error(made_up, "DPoP") == "use_dpop_nonce", message
    assert made_up.headers["DPoP-Nonce"]


# -- certificate-bound tokens (RFC 8705) --------------------------------------------------


def rfc9440(certificate: ClientCertificate) -> str:
    der = x509.load_pem_x509_certificate(certificate.pem.encode()).public_bytes(
        serialization.Encoding.DER
    )
    return ":" + base64.b64encode(der).decode("ascii") + ":"


def pem_url(certificate: ClientCertificate) -> str:
    """nginx's ``$ssl_client_escaped_cert``: the PEM, percent-encoded."""
    return quote(certificate.pem, safe="")


HEADER_VALUES = {"pem-url": pem_url, "rfc9440": rfc9440}


@pytest.fixture(scope="module")
def certificate() -> ClientCertificate:
    return client_certificate()


@pytest.fixture(scope="module")
def certificate_bound(oidc_provider: AuthorizationServer, certificate: ClientCertificate) -> str:
    return oidc_provider.certificate_bound_token(certificate.pem)


def mtls_guard(provider: AuthorizationServer, format: str = "pem-url") -> JWTGuard:
    return guard_for(provider, client_certificate={"header": CERT_HEADER, "format": format})


@pytest.mark.parametrize("format", ["pem-url", "rfc9440"])
def test_a_certificate_bound_token_with_its_certificate_is_accepted(
    oidc_provider: AuthorizationServer,
    certificate: ClientCertificate,
    certificate_bound: str,
    format: str,
) -> None:
    guard = mtls_guard(oidc_provider, format)
    headers = {**bearer(certificate_bound), CERT_HEADER: HEADER_VALUES[format](certificate)}
    response = send(guard, headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    seen = body(response)
    assert seen["remote_user"] == MTLS_APP.client_id
    assert seen["identity"]["subject"] == MTLS_APP.client_id
    assert seen["auth_type"] == "Bearer"
    # Again, from the verified-token cache: the certificate is checked every time.
    assert send(guard, headers).status_code == 200
    other = {**bearer(certificate_bound), CERT_HEADER: HEADER_VALUES[format](client_certificate())}
    refused(send(guard, other))


def test_a_certificate_bound_token_with_another_certificate_is_refused(
    oidc_provider: AuthorizationServer, certificate_bound: str
) -> None:
    guard = mtls_guard(oidc_provider)
    headers = {**bearer(certificate_bound), CERT_HEADER: pem_url(client_certificate())}
    response = send(guard, headers)
    message = refused(response)
    assert challenge_error(response, "Bearer") == "invalid_token", message
    assert "another client certificate" in message


def test_a_certificate_bound_token_without_the_header_is_refused(
    oidc_provider: AuthorizationServer, certificate: ClientCertificate, certificate_bound: str
) -> None:
    guard = mtls_guard(oidc_provider)
    for headers in (
        bearer(certificate_bound),
        {**bearer(certificate_bound), CERT_HEADER: ""},
        # The certificate in a header the guard was not told to read.
        {**bearer(certificate_bound), "Client-Cert": rfc9440(certificate)},
        {**bearer(certificate_bound), "X-Client-Cert": pem_url(certificate)},
    ):
        response = send(guard, headers)
        message = refused(response)
        assert challenge_error(response, "Bearer") == "invalid_token", (headers.keys(), message)


def test_a_certificate_bound_token_is_refused_without_client_certificate_configured(
    oidc_provider: AuthorizationServer, certificate: ClientCertificate, certificate_bound: str
) -> None:
    guard = guard_for(oidc_provider)
    for name in (CERT_HEADER, "Client-Cert"):
        value = pem_url(certificate) if name == CERT_HEADER else rfc9440(certificate)
        response = send(guard, {**bearer(certificate_bound), name: value})
        message = refused(response)
        assert challenge_error(response, "Bearer") == "invalid_token", message
        assert "none is read here" in message


def test_a_certificate_bound_token_is_not_a_dpop_token(
    oidc_provider: AuthorizationServer,
    certificate: ClientCertificate,
    certificate_bound: str,
    bound: DPoPBoundToken,
) -> None:
    # Sent as DPoP with a valid proof of some key (ath of this token): no cnf.jkt to match.
    guard = mtls_guard(oidc_provider)
    proof = bound.client_proof("GET", URL, access_token=certificate_bound)
    headers = {**dpop_headers(certificate_bound, proof), CERT_HEADER: pem_url(certificate)}
    response = send(guard, headers)
    message = refused(response)
    assert challenge_error(response, "DPoP") == "invalid_token", message
