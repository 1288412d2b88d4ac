"""Sender-constrained tokens: ``wsgi_jwt_guard.binding``.

Certificate-bound tokens (RFC 8705): the thumbprint in ``cnf.x5t#S256`` against
the client certificate a TLS terminator forwards in a trusted header (RFC 9440
``Client-Cert``, or a percent-encoded PEM). Thumbprints here are computed by
the test (SHA-256 of the DER, base64url), never by the guard.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from werkzeug.test import Client

from tests.helpers import DPoPClient, SigningKey, b64url, bearer, echo_app, self_signed_certificate
from wsgi_jwt_guard import ClientCertificate, ConfigError, JWTGuard, from_config
from wsgi_jwt_guard.binding import certificate_thumbprint

PATH = "/api/catalog/entities"
URL = f"http://localhost{PATH}"


def certificate() -> x509.Certificate:
    return self_signed_certificate(ec.generate_private_key(ec.SECP256R1()), name="client.example.test")


@pytest.fixture(scope="module")
def mine() -> x509.Certificate:
    return certificate()


@pytest.fixture(scope="module")
def theirs() -> x509.Certificate:
    return certificate()


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def x5t(cert: x509.Certificate) -> str:
    """RFC 8705 §3.1: base64url SHA-256 of the DER."""
    return b64url(hashlib.sha256(der(cert)).digest())


def rfc9440(cert: x509.Certificate) -> str:
    """RFC 9440 §2.2: an RFC 8941 byte sequence of the DER."""
    return ":" + base64.b64encode(der(cert)).decode("ascii") + ":"


@pytest.fixture
def guard(make_guard: Callable[..., JWTGuard]) -> JWTGuard:
    return make_guard(client_certificate=ClientCertificate())


# -- reading the header ----------------------------------------------------------------


def test_the_thumbprint_of_each_format(mine: x509.Certificate) -> None:
    expected = x5t(mine)
    assert certificate_thumbprint(rfc9440(mine)) == expected
    assert certificate_thumbprint(" " + rfc9440(mine) + " ") == expected
    assert certificate_thumbprint(rfc9440(mine).replace("=", "")) == expected  # padding optional
    assert certificate_thumbprint(quote(pem(mine), safe=""), "pem-url") == expected  # nginx
    assert certificate_thumbprint(quote(pem(mine), safe="+=/"), "pem-url") == expected  # AWS ALB


@pytest.mark.parametrize(
    ("value", "format"),
    [
        pytest.param(lambda c: base64.b64encode(der(c)).decode(), "rfc9440", id="no-colons"),
        pytest.param(lambda c: "::", "rfc9440", id="empty"),
        pytest.param(lambda c: rfc9440(c) + ";v=1", "rfc9440", id="with-a-parameter"),
        pytest.param(lambda c: rfc9440(c) + ", " + rfc9440(c), "rfc9440", id="two-certificates"),
        pytest.param(lambda c: rfc9440(c).replace("A", "-"), "rfc9440", id="base64url-alphabet"),
        pytest.param(lambda c: ":" + "A" * 5 + ":", "rfc9440", id="not-base64-length"),
        pytest.param(lambda c: ":" + base64.b64encode(der(c)).decode() + "=:", "rfc9440", id="bad-padding"),
        pytest.param(lambda c: ":AAAA=:", "rfc9440", id="padding-after-a-full-quantum"),
        pytest.param(lambda c: ":AAA==:", "rfc9440", id="padding-too-long"),
        pytest.param(lambda c: quote(pem(c) + pem(c), safe=""), "pem-url", id="pem-two-certificates"),
        pytest.param(lambda c: quote(pem(c).replace("CERTIFICATE", "PUBLIC KEY"), safe=""), "pem-url", id="pem-other-kind"),
        pytest.param(lambda c: quote("junk" + pem(c), safe=""), "pem-url", id="pem-after-junk"),
        pytest.param(lambda c: pem(c).replace("\n", "%0A").replace("A", "%C3%A9", 1), "pem-url", id="pem-not-ascii"),
        pytest.param(lambda c: rfc9440(c), "pem-url", id="rfc9440-read-as-pem"),
    ],
)
def test_a_malformed_header_has_no_thumbprint(
    mine: x509.Certificate, value: Callable[[x509.Certificate], str], format: str
) -> None:
    with pytest.raises((ValueError, UnicodeError)):
        certificate_thumbprint(value(mine), format)


# -- certificate-bound tokens ------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "status", "reason"),
    [
        pytest.param(lambda m, t: {"Client-Cert": rfc9440(m)}, 200, None, id="matching-certificate"),
        pytest.param(lambda m, t: {"Client-Cert": rfc9440(t)}, 401, "another client certificate", id="other-certificate"),
        pytest.param(lambda m, t: {}, 401, "none was presented", id="no-header"),
        pytest.param(lambda m, t: {"Client-Cert": ""}, 401, "none was presented", id="empty-header"),
        pytest.param(lambda m, t: {"Client-Cert": "not a certificate"}, 401, "malformed", id="malformed-header"),
        pytest.param(lambda m, t: {"X-Client-Cert": rfc9440(m)}, 401, "none was presented", id="another-header"),
    ],
)
def test_a_certificate_bound_token(
    guard: JWTGuard,
    ec_key: SigningKey,
    mine: x509.Certificate,
    theirs: x509.Certificate,
    header: Callable[[x509.Certificate, x509.Certificate], dict[str, str]],
    status: int,
    reason: str | None,
) -> None:
    token = ec_key.token(cnf={"x5t#S256": x5t(mine)})
    response = Client(guard).get(PATH, headers={**bearer(token), **header(mine, theirs)})
    assert response.status_code == status
    if reason is not None:
        assert reason in response.get_json()["error"]["message"]
        assert response.headers["WWW-Authenticate"].startswith('Bearer realm="wsgi-jwt-guard", error="invalid_token"')


def test_without_the_setting_a_certificate_bound_token_is_refused(
    make_guard: Callable[..., JWTGuard], ec_key: SigningKey, mine: x509.Certificate
) -> None:
    # The header is never read unless configured: a client could send it itself.
    token = ec_key.token(cnf={"x5t#S256": x5t(mine)})
    response = Client(make_guard()).get(PATH, headers={**bearer(token), "Client-Cert": rfc9440(mine)})
    assert response.status_code == 401
    assert "none is read here" in response.get_json()["error"]["message"]


def test_an_unbound_token_ignores_the_header(
    guard: JWTGuard, ec_key: SigningKey, theirs: x509.Certificate
) -> None:
    response = Client(guard).get(PATH, headers={**bearer(ec_key.token()), "Client-Cert": rfc9440(theirs)})
    assert response.status_code == 200


def test_a_configured_pem_url_header(
    make_guard: Callable[..., JWTGuard], ec_key: SigningKey, mine: x509.Certificate, theirs: x509.Certificate
) -> None:
    guard = make_guard(client_certificate=ClientCertificate("X-Amzn-Mtls-Clientcert", "pem-url"))
    token = ec_key.token(cnf={"x5t#S256": x5t(mine)})
    client = Client(guard)
    ok = client.get(PATH, headers={**bearer(token), "X-Amzn-Mtls-Clientcert": quote(pem(mine), safe="+=/")})
    assert ok.status_code == 200
    other = client.get(PATH, headers={**bearer(token), "X-Amzn-Mtls-Clientcert": quote(pem(theirs), safe="")})
    assert other.status_code == 401
    rfc = client.get(PATH, headers={**bearer(token), "Client-Cert": rfc9440(mine)})
    assert rfc.status_code == 401  # the configured header only


def test_a_token_bound_twice_needs_both_the_certificate_and_the_proof(
    guard: JWTGuard, ec_key: SigningKey, mine: x509.Certificate
) -> None:
    client_key = DPoPClient()
    token = ec_key.token(cnf={"x5t#S256": x5t(mine), "jkt": client_key.jkt})
    client = Client(guard)
    both = {**client_key.headers("GET", URL, token), "Client-Cert": rfc9440(mine)}
    assert client.get(PATH, headers=both).status_code == 200
    assert client.get(PATH, headers=client_key.headers("GET", URL, token)).status_code == 401
    assert client.get(PATH, headers={**bearer(token), "Client-Cert": rfc9440(mine)}).status_code == 401


@pytest.mark.parametrize(
    ("cnf", "reason"),
    [
        pytest.param({"jwk": {"kty": "EC"}}, "cnf 'jwk'", id="jwk-method"),
        pytest.param({"kid": "k"}, "cnf 'kid'", id="kid-method"),
        pytest.param({"x5t#S256": "a", "jku": "https://x"}, "cnf 'jku'", id="one-known-one-not"),
        pytest.param("jkt", "not an object", id="cnf-a-string"),
        pytest.param({"x5t#S256": 5}, "another client certificate", id="thumbprint-not-a-string"),
        pytest.param({"x5t#S256": "é"}, "another client certificate", id="thumbprint-not-ascii"),
    ],
)
def test_a_binding_the_guard_cannot_check_is_refused(
    guard: JWTGuard, ec_key: SigningKey, mine: x509.Certificate, cnf: Any, reason: str
) -> None:
    token = ec_key.token(cnf=cnf)
    response = Client(guard).get(PATH, headers={**bearer(token), "Client-Cert": rfc9440(mine)})
    assert response.status_code == 401
    assert reason in response.get_json()["error"]["message"]


def test_an_empty_cnf_binds_nothing(guard: JWTGuard, ec_key: SigningKey) -> None:
    assert Client(guard).get(PATH, headers=bearer(ec_key.token(cnf={}))).status_code == 200


# -- configuration ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        pytest.param({"header": "Authorization"}, "header", id="authorization"),
        pytest.param({"header": "DPoP"}, "header", id="dpop"),
        pytest.param({"header": "Client Cert"}, "header", id="not-a-header-name"),
        pytest.param({"format": "xfcc"}, "format", id="envoy-xfcc"),
    ],
)
def test_bad_certificate_settings_are_refused(settings: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ClientCertificate(**settings)
    assert caught.value.key == key


def test_certificate_binding_from_configuration(
    ec_key: SigningKey, mine: x509.Certificate
) -> None:
    config = {
        "issuers": [{"issuer": "https://auth.example.test/api/auth", "keys": [ec_key.public_jwk()]}],
        "client_certificate": {"header": "X-SSL-Client-Cert", "format": "pem-url"},
    }
    client = Client(from_config(echo_app, config))
    token = ec_key.token(cnf={"x5t#S256": x5t(mine)})
    response = client.get(PATH, headers={**bearer(token), "X-SSL-Client-Cert": quote(pem(mine), safe="")})
    assert response.status_code == 200
    with pytest.raises(ConfigError, match=r"client_certificate\.format"):
        from_config(echo_app, {**config, "client_certificate": {"format": "der"}})
