"""CORS answered by the guard (``wsgi_jwt_guard.cors``): preflights never reach the app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.test import Client

from tests.helpers import SigningKey, echo_app
from wsgi_jwt_guard import ConfigError, CORSSettings, JWTGuard, Rule, from_config

MakeGuard = Callable[..., JWTGuard]
APP = "https://app.example.test"
PREFLIGHT = {"Origin": APP, "Access-Control-Request-Method": "PUT"}


@pytest.fixture
def calls() -> list[str]:
    return []


@pytest.fixture
def cors_client(make_guard: MakeGuard, calls: list[str]) -> Callable[..., Client]:
    def build(**settings: Any) -> Client:
        def spy(environ: dict[str, Any], start_response: Any) -> Any:
            calls.append(environ["REQUEST_METHOD"])
            return echo_app(environ, start_response)

        settings.setdefault("allowed_origins", [APP])
        return Client(make_guard(app=spy, cors=CORSSettings(**settings)), use_cookies=False)

    return build


@pytest.mark.parametrize("path", ["/api/catalog/x", "/api/auth/x", "/api/search", "/elsewhere"])
def test_an_allowed_preflight_is_answered_by_the_guard_on_every_route(
    cors_client: Callable[..., Client], calls: list[str], path: str
) -> None:
    response = cors_client().open(path, method="OPTIONS", headers=PREFLIGHT)
    assert response.status_code == 204
    assert response.get_data() == b""
    assert response.headers["Access-Control-Allow-Origin"] == APP
    assert response.headers["Access-Control-Allow-Methods"] == "GET, HEAD, POST, PUT, PATCH, DELETE"
    assert response.headers["Access-Control-Allow-Headers"] == "Authorization, Content-Type"
    assert response.headers["Access-Control-Max-Age"] == "600"
    assert "Origin" in response.headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert calls == []


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        pytest.param({**PREFLIGHT, "Origin": "https://evil.example"}, "origin", id="other-origin"),
        pytest.param({**PREFLIGHT, "Origin": "null"}, "origin", id="null-origin"),
        pytest.param({**PREFLIGHT, "Origin": APP + ".evil.example"}, "origin", id="suffix"),
        pytest.param({**PREFLIGHT, "Access-Control-Request-Method": "TRACE"}, "method", id="method"),
        pytest.param({**PREFLIGHT, "Access-Control-Request-Method": "put"}, "method", id="lower"),
        pytest.param(
            {**PREFLIGHT, "Access-Control-Request-Headers": "authorization, x-admin"},
            "header",
            id="header",
        ),
    ],
)
def test_a_preflight_not_allowed_is_refused_and_never_reaches_the_app(
    cors_client: Callable[..., Client], calls: list[str], headers: dict[str, str], reason: str
) -> None:
    response = cors_client().open("/api/catalog/x", method="OPTIONS", headers=headers)
    assert response.status_code == 403
    assert reason in response.get_json()["error"]["message"]
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "WWW-Authenticate" not in response.headers
    assert calls == []


def test_requested_headers_are_compared_case_insensitively(
    cors_client: Callable[..., Client],
) -> None:
    headers = {**PREFLIGHT, "Access-Control-Request-Headers": " AUTHORIZATION ,content-type"}
    assert cors_client().open("/api/catalog", method="OPTIONS", headers=headers).status_code == 204


def test_wildcard_and_credentials(cors_client: Callable[..., Client]) -> None:
    anyone = cors_client(allowed_origins=["*"]).open(
        "/api/catalog", method="OPTIONS", headers={**PREFLIGHT, "Origin": "https://x.example"}
    )
    assert anyone.headers["Access-Control-Allow-Origin"] == "*"
    credentialed = cors_client(allow_credentials=True, expose_headers=["X-Total"]).open(
        "/api/catalog", method="OPTIONS", headers=PREFLIGHT
    )
    assert credentialed.headers["Access-Control-Allow-Credentials"] == "true"
    assert credentialed.headers["Access-Control-Expose-Headers"] == "X-Total"


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="plain-options"),
        pytest.param({"Origin": APP}, id="no-request-method"),
        pytest.param({"Access-Control-Request-Method": "PUT"}, id="no-origin"),
    ],
)
def test_an_options_request_that_is_not_a_preflight_follows_the_route(
    cors_client: Callable[..., Client], calls: list[str], headers: dict[str, str]
) -> None:
    # Django and Pyramid run the normal view for OPTIONS: it needs a token.
    response = cors_client().open("/api/catalog/x", method="OPTIONS", headers=headers)
    assert response.status_code == 401
    assert calls == []


def test_without_cors_a_preflight_on_a_protected_route_needs_a_token(
    make_guard: MakeGuard, calls: list[str]
) -> None:
    client = Client(make_guard(), use_cookies=False)
    assert client.open("/api/catalog", method="OPTIONS", headers=PREFLIGHT).status_code == 401


def test_answers_to_allowed_origins_carry_the_cors_headers(
    cors_client: Callable[..., Client], ec_key: SigningKey
) -> None:
    client = cors_client(allow_credentials=True)
    ok = client.get("/api/catalog", headers={"Origin": APP, "Authorization": f"Bearer {ec_key.token()}"})
    assert ok.status_code == 200
    assert ok.headers["Access-Control-Allow-Origin"] == APP
    assert ok.headers["Access-Control-Allow-Credentials"] == "true"
    assert ok.headers["Vary"] == "Origin"
    # The guard's own refusal too, so the page can read why and sign in again.
    refused = client.get("/api/catalog", headers={"Origin": APP})
    assert refused.status_code == 401
    assert refused.headers["Access-Control-Allow-Origin"] == APP
    public = client.get("/api/auth/x", headers={"Origin": APP})
    assert public.headers["Access-Control-Allow-Origin"] == APP
    # Another origin gets no grant; same-origin requests (no Origin) are untouched.
    other = client.get("/api/auth/x", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    assert other.headers["Vary"] == "Origin"
    assert "Vary" not in client.get("/api/auth/x").headers


def test_the_apps_own_cors_headers_are_kept(make_guard: MakeGuard) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Access-Control-Allow-Origin", "https://own.example")])
        return [b""]

    client = Client(make_guard(app=app, cors=CORSSettings(allowed_origins=[APP])))
    response = client.get("/api/auth/x", headers={"Origin": APP})
    assert response.headers.getlist("Access-Control-Allow-Origin") == ["https://own.example"]


def test_unless_methods_options_is_answered_with_the_cors_settings(
    make_guard: MakeGuard, calls: list[str]
) -> None:
    routes = {"/api/catalog": Rule("protected", unless_methods=["OPTIONS"])}
    guard = make_guard(routes=routes, cors=CORSSettings(allowed_origins=[APP]))
    response = Client(guard).open("/api/catalog", method="OPTIONS", headers=PREFLIGHT)
    assert response.status_code == 204


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        pytest.param({"allowed_origins": APP}, "allowed_origins", id="a-string"),
        pytest.param({"allowed_origins": ["null"]}, "allowed_origins[0]", id="null"),
        pytest.param({"allowed_origins": [APP + "/path"]}, "allowed_origins[0]", id="path"),
        pytest.param({"allowed_origins": ["*.example.test"]}, "allowed_origins[0]", id="glob"),
        pytest.param(
            {"allowed_origins": ["*"], "allow_credentials": True}, "allow_credentials", id="star"
        ),
        pytest.param({"allowed_methods": ["GET /"]}, "allowed_methods", id="method-junk"),
        pytest.param({"allowed_headers": "Authorization"}, "allowed_headers", id="headers-str"),
        pytest.param({"allowed_headers": ["X:Y"]}, "allowed_headers", id="header-junk"),
        pytest.param({"allow_credentials": "yes"}, "allow_credentials", id="credentials-str"),
        pytest.param({"max_age": -1}, "max_age", id="negative-age"),
        pytest.param({"max_age": 10.5}, "max_age", id="fractional-age"),
    ],
)
def test_config_mistakes_name_the_key(settings: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        CORSSettings(**settings)
    assert caught.value.key == key


def test_from_config(ec_key: SigningKey) -> None:
    guard = from_config(
        echo_app,
        {
            "issuers": [{"issuer": "https://i.test", "keys": [ec_key.public_jwk()]}],
            "cors": {"allowed_origins": [APP], "max_age": 60},
            "routes": {"/api": {"policy": "protected", "unless_methods": ["OPTIONS"]}},
        },
    )
    response = Client(guard).open("/api/x", method="OPTIONS", headers=PREFLIGHT)
    assert response.status_code == 204
    assert response.headers["Access-Control-Max-Age"] == "60"
    with pytest.raises(ConfigError) as caught:
        from_config(echo_app, {"issuers": [], "cors": {"origins": [APP]}})
    assert caught.value.key == "cors.origins"
