"""OIDC discovery: ``Issuer(discovery=True)`` finds its JWKS URL (DESIGN §4).

A real issuer on 127.0.0.1 serves ``/.well-known/openid-configuration`` and a
JWKS; each test bends one thing the guard must check.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from werkzeug.test import Client

from tests.helpers import AUDIENCE, SigningKey, echo_app
from wsgi_jwt_guard import ConfigError, Issuer, JWTGuard
from wsgi_jwt_guard.jwks import JWKSClient


@dataclass
class Provider:
    """An OIDC provider: ``issuer`` is its URL; tests may replace ``configuration``."""

    issuer: str = ""
    configuration: dict[str, Any] = field(default_factory=dict)
    jwks: dict[str, Any] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def provider(ec_key: SigningKey) -> Iterator[Provider]:
    state = Provider()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            if self.path == "/realms/main/.well-known/openid-configuration":
                body = json.dumps(state.configuration).encode()
            elif self.path == "/realms/main/protocol/openid-connect/certs":
                body = json.dumps(state.jwks).encode()
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    state.issuer = f"http://127.0.0.1:{server.server_address[1]}/realms/main"
    state.configuration = {
        "issuer": state.issuer,
        "jwks_uri": f"{state.issuer}/protocol/openid-connect/certs",
        "authorization_endpoint": f"{state.issuer}/protocol/openid-connect/auth",
    }
    state.jwks = {"keys": [ec_key.public_jwk()]}
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def guard(provider: Provider, **options: Any) -> Client:
    issuer = Issuer(provider.issuer, discovery=True, audience=AUDIENCE, **options)
    app = JWTGuard(echo_app, issuers=[issuer], routes={"/api/auth": "public"})
    return Client(app, use_cookies=False)


def get(client: Client, key: SigningKey, provider: Provider) -> Any:
    token = key.token(iss=provider.issuer)
    return client.get("/api/catalog", headers={"Authorization": f"Bearer {token}"})


def test_discovery_finds_the_jwks_and_tokens_verify(provider: Provider, ec_key: SigningKey) -> None:
    client = guard(provider)
    assert provider.requests == []  # nothing is fetched at start-up

    for _ in range(5):
        response = get(client, ec_key, provider)
        assert response.status_code == 200
        assert response.get_json()["identity"]["issuer"] == provider.issuer

    assert provider.requests == [
        "/realms/main/.well-known/openid-configuration",
        "/realms/main/protocol/openid-connect/certs",
    ]


def _set(field_name: str, value: Callable[[Provider], Any]) -> Callable[[Provider], None]:
    return lambda p: p.configuration.__setitem__(field_name, value(p))


@pytest.mark.parametrize(
    "bend",
    [
        pytest.param(_set("issuer", lambda p: p.issuer + "/"), id="issuer-trailing-slash"),
        pytest.param(_set("issuer", lambda p: p.issuer.upper()), id="issuer-case"),
        pytest.param(_set("issuer", lambda p: "https://evil.example"), id="issuer-other"),
        pytest.param(lambda p: p.configuration.pop("issuer"), id="issuer-missing"),
        pytest.param(lambda p: p.configuration.pop("jwks_uri"), id="jwks-uri-missing"),
        pytest.param(_set("jwks_uri", lambda p: 42), id="jwks-uri-not-a-string"),
        pytest.param(
            _set("jwks_uri", lambda p: "https://keys.evil.example/certs"), id="jwks-uri-other-host"
        ),
        pytest.param(
            _set("jwks_uri", lambda p: p.issuer.replace("127.0.0.1:", "localhost:") + "/certs"),
            id="jwks-uri-other-host-name",
        ),
        pytest.param(
            _set("jwks_uri", lambda p: p.issuer.replace("http://", "https://") + "/certs"),
            id="jwks-uri-other-scheme",
        ),
        pytest.param(
            _set("jwks_uri", lambda p: "http://127.0.0.1:1/certs"), id="jwks-uri-other-port"
        ),
        pytest.param(
            lambda p: setattr(p, "configuration", ["not", "an", "object"]), id="not-an-object"
        ),
    ],
)
def test_a_discovery_document_that_does_not_check_out_gives_503(
    provider: Provider, ec_key: SigningKey, bend: Callable[[Provider], None]
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
    provider: Provider, ec_key: SigningKey
) -> None:
    # accounts.google.com publishes its keys on www.googleapis.com: listing the
    # host is how a deployment says that is expected.
    provider.configuration["jwks_uri"] = "https://keys.example.test/certs"
    issuer = Issuer(provider.issuer, discovery=True, jwks_allowed_hosts=["keys.example.test"])
    client = issuer.key_source()
    # The URL is accepted; the fetch itself then fails (no such host), not the check.
    with pytest.raises(Exception, match="unavailable"):
        client.find("ec-1", "ES256")
    assert isinstance(client, JWKSClient)
    error = client.status().last_error
    assert error is not None
    assert "keys.example.test" in error  # it was fetched from there


def test_an_unknown_iss_causes_no_discovery(provider: Provider, ec_key: SigningKey) -> None:
    client = guard(provider)
    response = client.get(
        "/api/catalog",
        headers={"Authorization": f"Bearer {ec_key.token(iss=provider.issuer + '/other')}"},
    )
    assert response.status_code == 401
    assert provider.requests == []


def test_rotation_after_discovery_refetches_the_jwks_only(
    provider: Provider, ec_key: SigningKey
) -> None:
    client = guard(provider, jwks_refresh={"cooldown": 0})
    assert get(client, ec_key, provider).status_code == 200
    rotated = SigningKey.ec(kid="ec-2")
    provider.jwks = {"keys": [ec_key.public_jwk(), rotated.public_jwk()]}

    assert get(client, rotated, provider).status_code == 200
    assert provider.requests.count("/realms/main/.well-known/openid-configuration") == 1


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
