"""``wsgi_jwt_guard.environment``: ``WSGI_JWT_GUARD_CONFIG`` and the single-issuer variables.

Precedence under test: a mapping passed in code is used as is; a file (given,
or named by ``WSGI_JWT_GUARD_CONFIG``) is completed by the variables; a
variable and the file setting the same thing is an error naming the variable.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from werkzeug.test import Client

import wsgi_jwt_guard.config
from tests.helpers import (
    AUDIENCE,
    ISSUER,
    SERVICE_SECRET,
    SERVICE_SECRET_OLD,
    SigningKey,
    echo_app,
    service_token,
)
from tests.jwks_server import JWKSServer
from wsgi_jwt_guard import ConfigError, from_config, load_config
from wsgi_jwt_guard.environment import environment_config, with_environment

JWKS = "https://auth.example.test/api/auth/.well-known/jwks.json"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("WSGI_JWT_GUARD_"):
            monkeypatch.delenv(name)


SetEnv = Callable[..., None]


@pytest.fixture
def setenv(monkeypatch: pytest.MonkeyPatch) -> SetEnv:
    def set_all(**variables: str) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(f"WSGI_JWT_GUARD_{name}", value)

    return set_all


def test_nothing_set_means_no_configuration() -> None:
    assert environment_config() is None
    with pytest.raises(ConfigError, match="WSGI_JWT_GUARD_CONFIG: no configuration given"):
        from_config(echo_app)


def test_single_issuer_variables_alone(setenv: SetEnv) -> None:
    setenv(ISSUER=ISSUER, JWKS_URI=JWKS, AUDIENCE=f"{AUDIENCE}, other")
    assert environment_config() == {
        "issuers": [{"issuer": ISSUER, "jwks_uri": JWKS, "audience": [AUDIENCE, "other"]}]
    }


def test_a_multi_tenant_issuer_from_the_environment(
    setenv: SetEnv, jwks_server: JWKSServer, ec_key: SigningKey
) -> None:
    # Entra ID's shape: one template, the tenants allowed, the common keys.
    jwks_server.publish(ec_key)
    template = "https://login.microsoftonline.com/{tenant}/v2.0"
    setenv(ISSUER=template, JWKS_URI=jwks_server.url, AUDIENCE=AUDIENCE, TENANTS="t-1 , t-2")
    assert environment_config() == {
        "issuers": [
            {"issuer": template, "jwks_uri": jwks_server.url, "audience": [AUDIENCE],
             "tenants": ["t-1", "t-2"]}
        ]
    }  # fmt: skip
    client = Client(from_config(echo_app), use_cookies=False)

    def status(tenant: str) -> int:
        iss = f"https://login.microsoftonline.com/{tenant}/v2.0"
        token = ec_key.token({"iss": iss, "aud": AUDIENCE, "sub": "alice", "exp": 2**31})
        return client.get("/api/x", headers={"Authorization": f"Bearer {token}"}).status_code

    assert (status("t-2"), status("t-3")) == (200, 401)


def test_the_introspection_secret_completes_the_introspecting_issuer(
    tmp_path: Path, setenv: SetEnv
) -> None:
    (tmp_path / "guard.toml").write_text(
        '[[issuers]]\nissuer = "https://a"\n'
        '[[issuers]]\nissuer = "https://b"\nintrospect = "always"\n'
        '[issuers.introspection]\nclient_id = "api"\n'
    )
    setenv(CONFIG=str(tmp_path / "guard.toml"), INTROSPECTION_SECRET="s" * 40)
    assert environment_config() == {
        "issuers": [
            {"issuer": "https://a"},
            {"issuer": "https://b", "introspect": "always",
             "introspection": {"client_id": "api", "client_secret": "s" * 40}},
        ]
    }  # fmt: skip


def test_issuer_alone_uses_oidc_discovery(setenv: SetEnv) -> None:
    setenv(ISSUER=ISSUER)
    assert environment_config() == {"issuers": [{"issuer": ISSUER, "discovery": True}]}


def test_service_secrets_rotate_comma_separated(setenv: SetEnv) -> None:
    setenv(SERVICE_SECRET=f"{SERVICE_SECRET},{SERVICE_SECRET_OLD}")
    guard = from_config(echo_app)
    for secret in (SERVICE_SECRET, SERVICE_SECRET_OLD):
        headers = {"Authorization": f"Bearer {service_token(secret)}"}
        assert Client(guard).get("/x", headers=headers).status_code == 200


def test_config_file_completed_by_a_variable(tmp_path: Path, setenv: SetEnv) -> None:
    (tmp_path / "guard.toml").write_text(
        '[service_tokens]\nsubject = "svc"\n[routes]\n"/public" = "public"\n'
    )
    setenv(CONFIG=str(tmp_path / "guard.toml"), SERVICE_SECRET=SERVICE_SECRET)
    config = environment_config()
    assert config == {
        "service_tokens": {"subject": "svc", "secrets": [SERVICE_SECRET]},
        "routes": {"/public": "public"},
    }


def test_explicit_file_is_completed_too_and_beats_the_config_variable(
    tmp_path: Path,
    setenv: SetEnv,
) -> None:
    (tmp_path / "mine.toml").write_text('[[issuers]]\nissuer = "https://mine.example"\n')
    setenv(CONFIG=str(tmp_path / "absent.toml"), JWKS_URI=JWKS)
    assert load_config(tmp_path / "mine.toml") == {
        "issuers": [{"issuer": "https://mine.example", "jwks_uri": JWKS}]
    }


def test_a_mapping_in_code_ignores_the_environment(setenv: SetEnv) -> None:
    setenv(ISSUER="https://env.example", JWKS_URI=JWKS)
    config = {"service_tokens": {"secrets": [SERVICE_SECRET]}}
    assert load_config(config) == config


def test_empty_variables_count_as_unset(setenv: SetEnv) -> None:
    setenv(ISSUER="", AUDIENCE=" ", CONFIG="")
    assert environment_config() is None


@pytest.mark.parametrize(
    ("file", "variables", "message"),
    [
        pytest.param(
            '[[issuers]]\nissuer = "a"\njwks_uri = "https://a/jwks"\n',
            {"ISSUER": ISSUER},
            "WSGI_JWT_GUARD_ISSUER: the configuration file already has [[issuers]]",
            id="issuer-twice",
        ),
        pytest.param(
            '[[issuers]]\nissuer = "a"\njwks_uri = "https://a/jwks"\n',
            {"JWKS_URI": JWKS},
            "WSGI_JWT_GUARD_JWKS_URI: the configuration file already sets jwks_uri",
            id="jwks-uri-twice",
        ),
        pytest.param(
            '[[issuers]]\nissuer = "a"\npem_file = "k.pem"\n',
            {"JWKS_URI": JWKS},
            "WSGI_JWT_GUARD_JWKS_URI: the configuration file already sets pem_file",
            id="jwks-uri-and-static-keys",
        ),
        pytest.param(
            '[[issuers]]\nissuer = "a"\naudience = "x"\n',
            {"AUDIENCE": "y"},
            "WSGI_JWT_GUARD_AUDIENCE: the configuration file already sets audience",
            id="audience-twice",
        ),
        pytest.param(
            '[[issuers]]\nissuer = "https://a/{tenant}"\ntenants = ["x"]\n',
            {"TENANTS": "y"},
            "WSGI_JWT_GUARD_TENANTS: the configuration file already sets tenants",
            id="tenants-twice",
        ),
        pytest.param(
            '[[issuers]]\nissuer = "a"\n[[issuers]]\nissuer = "b"\n',
            {"AUDIENCE": "y"},
            "WSGI_JWT_GUARD_AUDIENCE: which issuer? the file has several",
            id="which-issuer",
        ),
        pytest.param(
            f'[service_tokens]\nsecrets = ["{SERVICE_SECRET}"]\n',
            {"SERVICE_SECRET": SERVICE_SECRET_OLD},
            "WSGI_JWT_GUARD_SERVICE_SECRET: the configuration file already sets",
            id="secret-twice",
        ),
        pytest.param(
            '[[issuers]]\nissuer = "https://a"\nintrospect = "opaque"\n'
            f'introspection = {{ client_id = "api", client_secret = "{"s" * 40}" }}\n',
            {"INTROSPECTION_SECRET": "t" * 40},
            "WSGI_JWT_GUARD_INTROSPECTION_SECRET: the configuration already sets"
            " issuers[0].introspection.client_secret",
            id="introspection-secret-twice",
        ),
        pytest.param(
            '[[issuers]]\nissuer = "https://a"\n',
            {"INTROSPECTION_SECRET": "t" * 40},
            "WSGI_JWT_GUARD_INTROSPECTION_SECRET: expected exactly one issuer with introspect",
            id="introspection-secret-unused",
        ),
        pytest.param(
            '[[issuers]]\nissuer = "https://a"\nintrospect = "opaque"\n',
            {"INTROSPECTION_SECRET": "short"},
            "WSGI_JWT_GUARD_INTROSPECTION_SECRET: expected at least 32 characters",
            id="introspection-secret-short",
        ),
    ],
)
def test_a_setting_in_both_places_is_refused(
    tmp_path: Path,
    setenv: SetEnv,
    file: str,
    variables: dict[str, str],
    message: str,
) -> None:
    (tmp_path / "guard.toml").write_text(file)
    setenv(CONFIG=str(tmp_path / "guard.toml"), **variables)
    with pytest.raises(ConfigError) as raised:
        environment_config()
    assert str(raised.value).startswith(message)
    for name, value in variables.items():
        if name.endswith("SECRET"):
            assert value not in str(raised.value)


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        pytest.param(
            {"JWKS_URI": JWKS},
            "WSGI_JWT_GUARD_JWKS_URI: which issuer? set WSGI_JWT_GUARD_ISSUER too",
            id="uri-without-issuer",
        ),
        pytest.param(
            {"ISSUER": ISSUER, "JWKS_URI": "ftp://x/jwks"},
            "WSGI_JWT_GUARD_JWKS_URI: expected an absolute https",
            id="bad-scheme",
        ),
        pytest.param(
            {"ISSUER": ISSUER, "JWKS_URI": "http://auth.example/jwks"},
            "WSGI_JWT_GUARD_JWKS_URI: keys must be fetched over https",
            id="plain-http",
        ),
        pytest.param(
            {"ISSUER": "http://auth.example"},
            "WSGI_JWT_GUARD_ISSUER: keys must be fetched over https",
            id="discovery-over-http",
        ),
        pytest.param(
            {"ISSUER": ISSUER, "AUDIENCE": ",,"},
            "WSGI_JWT_GUARD_AUDIENCE: expected one or more",
            id="empty-audience",
        ),
        pytest.param(
            {"ISSUER": ISSUER, "TENANTS": " , "},
            "WSGI_JWT_GUARD_TENANTS: expected one or more comma-separated tenant IDs",
            id="empty-tenants",
        ),
        pytest.param(
            {"TENANTS": "t-1"},
            "WSGI_JWT_GUARD_TENANTS: which issuer? set WSGI_JWT_GUARD_ISSUER too",
            id="tenants-without-issuer",
        ),
        pytest.param(
            {"SERVICE_SECRET": "short"},
            "WSGI_JWT_GUARD_SERVICE_SECRET: a secret must be at least",
            id="short-secret",
        ),
        pytest.param(
            {"SERVICE_SECRET": "not base64 but long enough to pass the length"},
            "WSGI_JWT_GUARD_SERVICE_SECRET: a secret must be a base64",
            id="not-base64",
        ),
        pytest.param(
            {"CONFIG": "/nonexistent/guard.toml"},
            "WSGI_JWT_GUARD_CONFIG: cannot read",
            id="missing-file",
        ),
        pytest.param(
            {"AUDEINCE": "backstage"},
            "WSGI_JWT_GUARD_AUDEINCE: unknown variable; did you mean WSGI_JWT_GUARD_AUDIENCE?",
            id="typo",
        ),
        pytest.param(
            {"VERBOSE": "1"},
            "WSGI_JWT_GUARD_VERBOSE: unknown variable; expected one of",
            id="nothing-close",
        ),
    ],
)
def test_bad_values_name_the_variable(
    setenv: SetEnv, variables: dict[str, str], message: str
) -> None:
    setenv(**variables)
    with pytest.raises(ConfigError) as raised:
        from_config(echo_app)
    assert str(raised.value).startswith(message)
    secret = variables.get("SERVICE_SECRET")
    if secret:
        assert secret not in str(raised.value)


def test_bad_file_named_by_the_variable(tmp_path: Path, setenv: SetEnv) -> None:
    (tmp_path / "guard.toml").write_text("this is = = not toml")
    setenv(CONFIG=str(tmp_path / "guard.toml"))
    with pytest.raises(ConfigError, match=r"WSGI_JWT_GUARD_CONFIG: .* is not valid TOML"):
        environment_config()


def test_the_overlay_is_still_importable_from_config() -> None:
    """It moved to ``wsgi_jwt_guard.environment``; code importing it from config keeps working."""
    from wsgi_jwt_guard.config import environment_config as old_environment_config
    from wsgi_jwt_guard.config import with_environment as old_with_environment

    assert old_environment_config is environment_config
    assert old_with_environment is with_environment
    assert {"environment_config", "with_environment"} <= set(wsgi_jwt_guard.config.__all__)


def test_paths_in_the_config_file_are_relative_to_it(
    tmp_path: Path, setenv: SetEnv, monkeypatch: pytest.MonkeyPatch, ec_key: SigningKey
) -> None:
    config_dir = tmp_path / "etc"
    config_dir.mkdir()
    (config_dir / "keys.json").write_text(json.dumps({"keys": [ec_key.public_jwk()]}))
    (config_dir / "guard.toml").write_text(f'[[issuers]]\nissuer = "{ISSUER}"\nkeys_file = "keys.json"\n')
    elsewhere = tmp_path / "run"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    setenv(CONFIG="../etc/guard.toml", AUDIENCE=AUDIENCE)
    config = environment_config()
    assert config is not None
    assert config["issuers"][0]["keys_file"] == str(config_dir / "keys.json")
    guard = from_config(echo_app)
    headers = {"Authorization": f"Bearer {ec_key.token()}"}
    assert Client(guard).get("/x", headers=headers).status_code == 200


def test_errors_from_the_named_file_name_it(tmp_path: Path, setenv: SetEnv) -> None:
    path = tmp_path / "guard.toml"
    path.write_text('[[issuers]]\nissuer = "https://a.example"\njwks_uri = "https://a.example/jwks"\nleway = 5\n')
    setenv(CONFIG=str(path))
    with pytest.raises(ConfigError) as raised:
        from_config(echo_app)
    assert raised.value.key == "issuers[0].leway"
    assert "did you mean 'leeway'?" in raised.value.message
    assert raised.value.message.endswith(f"(in {path})")
