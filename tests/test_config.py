"""from_config: the issue's schema from a dict and from a TOML file, and its errors."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import pytest
from werkzeug.test import Client

import wsgi_jwt_guard.config
from tests.helpers import (
    AUDIENCE,
    DPOP_ALGS,
    ISSUER,
    SERVICE_SECRET,
    SERVICE_SECRET_OLD,
    SigningKey,
    echo_app,
    service_token,
)
from wsgi_jwt_guard import ConfigError, CookieSettings, Issuer, JWTGuard, from_config, load_config
from wsgi_jwt_guard.clock import Clock, system_clock
from wsgi_jwt_guard.config import schema


def schema_toml(jwks_uri: str) -> str:
    """The issue's example schema, verbatim in shape, pointing at a real JWKS."""
    return f"""
default = "protected"

[[issuers]]
issuer = "{ISSUER}"
jwks_uri = "{jwks_uri}"
audience = ["{AUDIENCE}"]
algorithms = ["ES256"]
leeway = 0

[service_tokens]
secrets = ["{SERVICE_SECRET}", "{SERVICE_SECRET_OLD}"]
subject = "backstage-server"

[cookie]
name = "token"

[routes."/api/auth"]
policy = "public"

[routes."/api/techdocs"]
policy = "protected"
unless = ['/api/techdocs/static/docs/.+\\.css']
cookie = true

[routes."/api/catalog"]
policy = "protected"
"""


def assert_schema_behaviour(client: Client, key: SigningKey) -> None:
    token = key.token()
    assert client.get("/api/auth/login").status_code == 200
    assert client.get("/api/catalog").status_code == 401
    assert client.get("/api/catalog", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.get("/api/techdocs/static/docs/a/main.css").status_code == 200
    assert client.get("/api/techdocs/static/docs/a/index.html").status_code == 401
    cookie = {"Cookie": f"token={token}"}
    assert client.get("/api/techdocs/static/docs/a/index.html", headers=cookie).status_code == 200
    assert client.get("/elsewhere").status_code == 401  # default = "protected"
    old = service_token(SERVICE_SECRET_OLD)
    assert client.get("/api/catalog", headers={"Authorization": f"Bearer {old}"}).status_code == 200


def test_schema_from_a_toml_file(tmp_path: Path, jwks_server: Any, ec_key: SigningKey) -> None:
    jwks_server.publish(ec_key)
    path = tmp_path / "guard.toml"
    path.write_text(schema_toml(jwks_server.url))
    assert_schema_behaviour(Client(from_config(echo_app, path), use_cookies=False), ec_key)
    assert jwks_server.fetches == 1


def test_schema_from_a_dict(jwks_server: Any, ec_key: SigningKey, tmp_path: Path) -> None:
    jwks_server.publish(ec_key)
    path = tmp_path / "guard.toml"
    path.write_text(schema_toml(jwks_server.url))
    config = load_config(str(path))
    # The same mapping as plain Python data, with a route given as a bare policy string.
    config = json.loads(json.dumps(config))
    config["routes"]["/api/auth"] = "public"
    assert_schema_behaviour(Client(from_config(echo_app, config), use_cookies=False), ec_key)


def test_static_keys_from_config(ec_key: SigningKey, tmp_path: Path) -> None:
    keys_file = tmp_path / "jwks.json"
    keys_file.write_text(json.dumps({"keys": [ec_key.public_jwk()]}))
    for issuer in (
        {"issuer": ISSUER, "keys": [ec_key.public_jwk()]},
        {"issuer": ISSUER, "keys_file": str(keys_file)},
        {"issuer": ISSUER, "pem": ec_key.public_pem()},
    ):
        client = Client(from_config(echo_app, {"issuers": [issuer]}), use_cookies=False)
        response = client.get("/x", headers={"Authorization": f"Bearer {ec_key.token()}"})
        assert response.status_code == 200, issuer


def test_optional_settings(ec_key: SigningKey) -> None:
    config = {
        "issuers": [{"issuer": ISSUER, "keys": [ec_key.public_jwk()]}],
        "default": "public",
        "realm": "backstage",
        "remote_user_claim": "sub",
        "max_token_size": 4096,
        "routes": {"/api": {"policy": "protected", "tokens": ["user"], "scopes": []}},
    }
    client = Client(from_config(echo_app, config), use_cookies=False)
    assert client.get("/anything").status_code == 200
    assert client.get("/api/x").headers["WWW-Authenticate"] == (
        f'Bearer realm="backstage", DPoP realm="backstage", algs="{DPOP_ALGS}"'
    )
    long_token = "a" * 5000
    response = client.get("/api/x", headers={"Authorization": f"Bearer {long_token}"})
    assert "4096" in response.json["error"]["message"]


VALID_ISSUER = {"issuer": ISSUER, "jwks_uri": "https://auth.example.test/jwks.json"}


@pytest.mark.parametrize(
    ("config", "key"),
    [
        pytest.param({"issuers": [VALID_ISSUER], "polcy": "public"}, "polcy", id="unknown-top-level"),
        pytest.param({}, "issuers", id="no-issuer-and-no-service-secret"),
        pytest.param({"issuers": VALID_ISSUER}, "issuers", id="issuers-not-a-list"),
        pytest.param(
            {"issuers": [{**VALID_ISSUER, "audiences": ["x"]}]},
            "issuers[0].audiences",
            id="unknown-issuer-key",
        ),
        pytest.param(
            {"issuers": [{**VALID_ISSUER, "algorithms": ["none"]}]},
            "issuers[0].algorithms",
            id="alg-none",
        ),
        pytest.param(
            {"issuers": [{**VALID_ISSUER, "algorithms": ["HS256"]}]},
            "issuers[0].algorithms",
            id="hs256-for-an-issuer",
        ),
        pytest.param(
            {"issuers": [{**VALID_ISSUER, "algorithms": ["ES999"]}]},
            "issuers[0].algorithms",
            id="unknown-algorithm",
        ),
        pytest.param(
            {"issuers": [{"issuer": ISSUER}]}, "issuers[0].issuer", id="issuer-without-keys"
        ),
        pytest.param(
            {"issuers": [{**VALID_ISSUER, "leeway": "5"}]}, "issuers[0].leeway", id="leeway-string"
        ),
        pytest.param(
            {"issuers": [VALID_ISSUER, VALID_ISSUER]}, "issuers[1].issuer", id="issuer-twice"
        ),
        pytest.param({"service_tokens": {"secrets": ["short"]}}, "service_tokens.secrets[0]", id="short-secret"),
        pytest.param({"service_tokens": {"secret": "x"}}, "service_tokens.secret", id="secret-singular"),
        pytest.param({"service_tokens": "x" * 40}, "service_tokens", id="service-tokens-not-a-table"),
        pytest.param(
            {"issuers": [VALID_ISSUER], "routes": {"/api": "open"}},
            "routes.'/api'.policy",
            id="unknown-policy",
        ),
        pytest.param(
            {"issuers": [VALID_ISSUER], "routes": {"/api": {"policy": "protected", "unless": ["("]}}},
            "routes.'/api'.unless[0]",
            id="invalid-regex",
        ),
        pytest.param(
            {"issuers": [VALID_ISSUER], "routes": {"/api": {"polciy": "public"}}},
            "routes.'/api'.polciy",
            id="unknown-route-key",
        ),
        pytest.param(
            {"issuers": [VALID_ISSUER], "routes": {"api": "public"}}, "routes.'api'", id="relative-prefix"
        ),
        pytest.param(
            {"issuers": [VALID_ISSUER], "routes": ["/api"]}, "routes", id="routes-not-a-table"
        ),
        pytest.param(
            {"issuers": [VALID_ISSUER], "cookie": {"name": "to ken"}}, "cookie.name", id="bad-cookie-name"
        ),
        pytest.param(
            {"issuers": [VALID_ISSUER], "cookie": {"name": "__Host-token", "domain": "example.test"}},
            "cookie.domain",
            id="host-cookie-with-domain",
        ),
        pytest.param(
            {"issuers": [VALID_ISSUER], "cookie": {"samesite": "lax"}}, "cookie.samesite", id="samesite-case"
        ),
        pytest.param({"issuers": [VALID_ISSUER], "default": "open"}, "default.policy", id="bad-default"),
        pytest.param({"issuers": [{"jwks_uri": VALID_ISSUER["jwks_uri"]}]}, "issuers[0].issuer", id="issuer-url-missing"),
        pytest.param({"issuers": [VALID_ISSUER], "cookie": "token"}, "cookie", id="cookie-not-a-table"),
        pytest.param({"issuers": [VALID_ISSUER], "api_keys": {"key": "k"}}, "api_keys", id="api-keys-not-a-list"),
        pytest.param({"issuers": [VALID_ISSUER], "revocation": {"enabled": "false"}}, "revocation.enabled", id="revocation-enabled-string"),
        pytest.param({"issuers": [VALID_ISSUER], "revocation": {"clock": 0}}, "revocation.clock", id="revocation-clock-is-python-only"),
        pytest.param({"issuers": [VALID_ISSUER], "on_event": "print"}, "on_event", id="on-event-is-python-only"),
        pytest.param({"issuers": [VALID_ISSUER], "clock": 0}, "clock", id="clock-is-python-only"),
    ],
)
def test_bad_config_names_the_key(config: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        from_config(echo_app, config)
    assert caught.value.key == key
    assert str(caught.value).startswith(f"{key}: ")


# --- unknown keys: a suggestion, and the file -------------------------------------------


@pytest.mark.parametrize(
    ("config", "key", "suggestion"),
    [
        pytest.param({"isuers": []}, "isuers", "issuers", id="top-level"),
        pytest.param({"issuers": [{**VALID_ISSUER, "audiance": "x"}]}, "issuers[0].audiance", "audience", id="issuer"),
        pytest.param({"issuers": [{**VALID_ISSUER, "jwks_refresh": {"cooldwn": 5}}]}, "issuers[0].jwks_refresh.cooldwn", "cooldown", id="nested-table"),
        pytest.param({"issuers": [VALID_ISSUER], "cookie": {"nme": "t"}}, "cookie.nme", "name", id="cookie"),
        pytest.param({"issuers": [VALID_ISSUER], "routes": {"/api": {"polcy": "public"}}}, "routes.'/api'.polcy", "policy", id="route"),
        pytest.param({"issuers": [VALID_ISSUER], "revocation": {"check_intervl": 5}}, "revocation.check_intervl", "check_interval", id="revocation"),
        pytest.param({"service_tokens": {"secret": [SERVICE_SECRET]}}, "service_tokens.secret", "secrets", id="service-tokens"),
    ],
)
def test_an_unknown_key_gets_a_suggestion(config: dict[str, Any], key: str, suggestion: str) -> None:
    with pytest.raises(ConfigError) as caught:
        from_config(echo_app, config)
    assert caught.value.key == key
    assert caught.value.message.startswith(f"unknown setting; did you mean {suggestion!r}? expected one of [")


def test_no_suggestion_when_nothing_is_close() -> None:
    with pytest.raises(ConfigError) as caught:
        from_config(echo_app, {"issuers": [VALID_ISSUER], "xyzzy": 1})
    assert caught.value.message.startswith("unknown setting; expected one of ['api_keys', ")
    assert "(in " not in caught.value.message  # a mapping is no file


def test_errors_in_a_file_name_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "guard.toml").write_text(f'isuers = []\n[service_tokens]\nsecrets = ["{SERVICE_SECRET}"]\n')
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        from_config(echo_app, "guard.toml")
    assert str(caught.value).startswith("isuers: unknown setting; did you mean 'issuers'? ")
    assert str(caught.value).endswith(f"(in {tmp_path / 'guard.toml'})")


# --- paths (relative to a file: test_config_file) ---------------------------------------


def test_a_mapping_keeps_paths_as_given() -> None:
    issuer = {"issuer": ISSUER, "keys_file": "keys.json"}
    assert load_config({"issuers": [issuer]})["issuers"][0]["keys_file"] == "keys.json"


# --- the schema is JWTGuard's signature --------------------------------------------------


def test_the_schema_is_the_guards_keyword_arguments() -> None:
    keywords = {
        name
        for name, parameter in inspect.signature(JWTGuard).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    }
    derived = schema()
    assert set(derived.values()) <= keywords
    assert derived["revocation"] == "revocations"  # the one key spelt differently
    for python_only in ("on_event", "clock"):
        assert python_only not in derived
    for key in ("issuers", "routes", "default", "cache", "cookie", "csrf", "cors", "api_keys"):
        assert derived[key] == key


class FutureGuard:
    """A JWTGuard with keyword arguments it does not have yet, recording what it gets."""

    received: dict[str, Any] = {}  # noqa: RUF012 - the test's record

    def __init__(
        self,
        app: Any,
        *,
        issuers: Sequence[Issuer] = (),
        set_cookie: Literal["browser", "always", "never"] = "browser",
        forwarded_headers: Sequence[str] = (),
        upstream_timeout: float | None = None,
        session_cookie: CookieSettings | None = None,
        on_refusal: Callable[[str], None] | None = None,
        clock: Clock = system_clock,
    ) -> None:
        FutureGuard.received = {"issuers": issuers, "set_cookie": set_cookie, "forwarded_headers": forwarded_headers, "upstream_timeout": upstream_timeout, "session_cookie": session_cookie}


def test_a_new_keyword_argument_is_in_the_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wsgi_jwt_guard.config, "JWTGuard", FutureGuard)
    assert set(schema()) == {"issuers", "set_cookie", "forwarded_headers", "upstream_timeout", "session_cookie"}
    from_config(
        echo_app,
        {
            "issuers": [VALID_ISSUER],
            "set_cookie": "always",
            "forwarded_headers": ["X-Forwarded-Prefix"],
            "upstream_timeout": 2.5,
            "session_cookie": {"name": "session"},
        },
    )
    received = FutureGuard.received
    assert received["set_cookie"] == "always"
    assert received["forwarded_headers"] == ["X-Forwarded-Prefix"]
    assert received["upstream_timeout"] == 2.5
    assert received["session_cookie"] == CookieSettings(name="session")
    assert [issuer.issuer for issuer in received["issuers"]] == [ISSUER]


@pytest.mark.parametrize("key", ["on_refusal", "clock"])
def test_a_callable_keyword_is_python_only(monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    monkeypatch.setattr(wsgi_jwt_guard.config, "JWTGuard", FutureGuard)
    with pytest.raises(ConfigError) as caught:
        from_config(echo_app, {key: "print"})
    assert caught.value.key == key
