"""OIDC discovery: ``Issuer(discovery=True)`` finds its JWKS URL (DESIGN §4).

A real issuer on 127.0.0.1 (the suite's JWKS server) serves
``/.well-known/openid-configuration`` and a JWKS; each test bends one thing the guard must check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.test import Client

from tests.helpers import AUDIENCE, SigningKey, build_guard
from tests.jwks_server import JWKSServer, JWKSServers
from wsgi_jwt_guard import ConfigError, Issuer
from wsgi_jwt_guard.jwks import JWKSClient

CONFIGURATION = "/realms/main/.well-known/openid-configuration"
CERTS = "/realms/main/protocol/openid-connect/certs"


@pytest.fixture
def provider(jwks_servers: JWKSServers, ec_key: SigningKey) -> JWKSServer:
    """An OIDC provider at ``provider.url``: its discovery document and its keys, nothing else."""
    state = jwks_servers(document=None, path="/realms/main")
    state.documents = {
        CONFIGURATION: {
            "issuer": state.url,
            "jwks_uri": state.url + "/protocol/openid-connect/certs",
            "authorization_endpoint": state.url + "/protocol/openid-connect/auth",
        },
        CERTS: {"keys": [ec_key.public_jwk()]},
    }
    return state


def guard(provider: JWKSServer, **options: Any) -> Client:
    issuer = Issuer(provider.url, discovery=True, audience=AUDIENCE, **options)
    return Client(build_guard(issuers=[issuer], routes={"/api/auth": "public"}), use_cookies=False)


def get(client: Client, key: SigningKey, provider: JWKSServer) -> Any:
    token = key.token(iss=provider.url)
    return client.get("/api/catalog", headers={"Authorization": f"Bearer {token}"})


def test_discovery_finds_the_jwks_and_tokens_verify(provider: JWKSServer, ec_key: SigningKey) -> None:
    client = guard(provider)
    assert provider.requests == []  # nothing is fetched at start-up

    for _ in range(5):
        response = get(client, ec_key, provider)
        assert response.status_code == 200
        assert response.get_json()["identity"]["issuer"] == provider.url

    assert provider.requests == [CONFIGURATION, CERTS]


def _set(field_name: str, value: Callable[[JWKSServer], Any]) -> Callable[[JWKSServer], None]:
    return lambda p: p.documents[CONFIGURATION].__setitem__(field_name, value(p))


@pytest.mark.parametrize(
    "bend",
    [
        pytest.param(_set("issuer", lambda p: p.url + "/"), id="issuer-trailing-slash"),
        pytest.param(_set("issuer", lambda p: p.url.upper()), id="issuer-case"),
        pytest.param(_set("issuer", lambda p: "https://evil.example"), id="issuer-other"),
        pytest.param(lambda p: p.documents[CONFIGURATION].pop("issuer"), id="issuer-missing"),
        pytest.param(lambda p: p.documents[CONFIGURATION].pop("jwks_uri"), id="jwks-uri-missing"),
        pytest.param(_set("jwks_uri", lambda p: 42), id="jwks-uri-not-a-string"),
        pytest.param(
            _set("jwks_uri", lambda p: "https://keys.evil.example/certs"), id="jwks-uri-other-host"
        ),
        pytest.param(
            _set("jwks_uri", lambda p: p.url.replace("127.0.0.1:", "localhost:") + "/certs"),
            id="jwks-uri-other-host-name",
        ),
        pytest.param(
            _set("jwks_uri", lambda p: p.url.replace("http://", "https://") + "/certs"),
            id="jwks-uri-other-scheme",
        ),
        pytest.param(
            _set("jwks_uri", lambda p: "http://127.0.0.1:1/certs"), id="jwks-uri-other-port"
        ),
        pytest.param(
            lambda p: p.documents.__setitem__(CONFIGURATION, ["not", "an", "object"]), id="not-an-object"
        ),
    ],
)
def test_a_discovery_document_that_does_not_check_out_gives_503(
    provider: JWKSServer, ec_key: SigningKey, bend: Callable[[JWKSServer], None]
) -> None:
    bend(provider)
    client = guard(provider)

    response = get(client, ec_key, provider)

    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 1
    assert client.get("/api/auth/x").status_code == 200  # public routes keep working
    assert all("certs" not in path or "protocol" in path for path in provider.requests)
    assert "/certs" not in provider.requests


def test_a_jwks_uri_on_another_host_is_trusted_only_when_listed(
    provider: JWKSServer, ec_key: SigningKey
) -> None:
    # accounts.google.com publishes its keys on www.googleapis.com: listing the
    # host is how a deployment says that is expected.
    provider.documents[CONFIGURATION]["jwks_uri"] = "https://keys.example.test/certs"
    issuer = Issuer(provider.url, discovery=True, jwks_allowed_hosts=["keys.example.test"])
    client = issuer.key_source()
    # The URL is accepted; the fetch itself then fails (no such host), not the check.
    with pytest.raises(Exception, match="unavailable"):
        client.find("ec-1", "ES256")
    assert isinstance(client, JWKSClient)
    error = client.status().last_error
    assert error is not None
    assert "keys.example.test" in error  # it was fetched from there


def test_an_unknown_iss_causes_no_discovery(provider: JWKSServer, ec_key: SigningKey) -> None:
    client = guard(provider)
    response = client.get(
        "/api/catalog",
        headers={"Authorization": f"Bearer {ec_key.token(iss=provider.url + '/other')}"},
    )
    assert response.status_code == 401
    assert provider.requests == []


def test_rotation_after_discovery_refetches_the_jwks_only(
    provider: JWKSServer, ec_key: SigningKey
) -> None:
    client = guard(provider, jwks_refresh={"cooldown": 0})
    assert get(client, ec_key, provider).status_code == 200
    rotated = SigningKey.ec(kid="ec-2")
    provider.documents[CERTS] = {"keys": [ec_key.public_jwk(), rotated.public_jwk()]}

    assert get(client, rotated, provider).status_code == 200
    assert provider.requests.count(CONFIGURATION) == 1


@pytest.mark.parametrize(
    ("options", "key"),
    [
        pytest.param({"discovery": True, "jwks_uri": "https://a.test/jwks"}, "jwks_uri", id="both"),
        pytest.param({"discovery": "true"}, "discovery", id="not-a-bool"),
        pytest.param(
            {"discovery": True, "keys": [{"kty": "EC"}]}, "jwks_uri", id="discovery-and-static"
        ),
        pytest.param(
            {"discovery": True, "jwks_allowed_hosts": [1]}, "jwks_allowed_hosts", id="hosts"
        ),
    ],
)
def test_discovery_config_mistakes(options: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Issuer("https://auth.example.test", **options)
    assert caught.value.key == key


def test_discovery_needs_https_off_loopback() -> None:
    with pytest.raises(ConfigError, match="https"):
        Issuer("http://auth.example.test", discovery=True)
    Issuer("http://auth.example.test", discovery=True, insecure_http=True)
