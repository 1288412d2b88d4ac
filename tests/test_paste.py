"""``wsgi_jwt_guard.paste``: the ``paste.filter_app_factory`` entry point."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import pytest
from paste.deploy import loadapp
from werkzeug.test import Client

from tests.helpers import ISSUER, SERVICE_SECRET, SigningKey, echo_app, service_token
from wsgi_jwt_guard import ConfigError, JWTGuard
from wsgi_jwt_guard.paste import filter_app_factory

GUARD_TOML = f"""
[service_tokens]
secrets = ["{SERVICE_SECRET}"]

[routes]
"/public" = "public"
"""


def echo_factory(global_conf: dict[str, str], **settings: str) -> object:
    """A PasteDeploy app factory for the echo app."""
    return echo_app


@pytest.fixture
def here(tmp_path: Path) -> Path:
    (tmp_path / "guard.toml").write_text(GUARD_TOML)
    return tmp_path


def test_entry_point_is_registered() -> None:
    (entry,) = [
        ep
        for ep in importlib.metadata.entry_points(group="paste.filter_app_factory")
        if ep.dist is not None and ep.dist.name == "wsgi_jwt_guard"
    ]
    assert entry.name == "main"
    assert entry.load() is filter_app_factory


def test_relative_config_is_read_next_to_the_ini(here: Path) -> None:
    guard = filter_app_factory(echo_app, {"here": str(here)}, config="guard.toml")
    client = Client(guard)
    assert client.get("/public").status_code == 200
    assert client.get("/private").status_code == 401
    headers = {"Authorization": f"Bearer {service_token()}"}
    assert client.get("/private", headers=headers).status_code == 200


def test_absolute_config(here: Path) -> None:
    guard = filter_app_factory(echo_app, {"here": "/elsewhere"}, config=str(here / "guard.toml"))
    assert isinstance(guard, JWTGuard)


def test_no_config_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WSGI_JWT_GUARD_SERVICE_SECRET", SERVICE_SECRET)
    guard = filter_app_factory(echo_app, {})
    headers = {"Authorization": f"Bearer {service_token()}"}
    assert Client(guard).get("/x", headers=headers).status_code == 200


def test_other_settings_are_refused_by_name(here: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[filter\] default: unknown setting"):
        filter_app_factory(echo_app, {"here": str(here)}, config="guard.toml", default="public")


def test_missing_config_file_is_a_config_error(here: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        filter_app_factory(echo_app, {"here": str(here)}, config="absent.toml")


def test_ini_pipeline_with_egg_use(here: Path) -> None:
    """``use = egg:wsgi_jwt_guard`` resolves the entry point, as in a Pyramid .ini."""
    (here / "app.ini").write_text(
        """
[app:echo]
use = call:tests.test_paste:echo_factory

[filter:jwt]
use = egg:wsgi_jwt_guard
config = %(here)s/guard.toml

[pipeline:main]
pipeline = jwt echo
"""
    )
    app = loadapp(f"config:{here / 'app.ini'}")
    assert isinstance(app, JWTGuard)
    assert Client(app).get("/public").get_json()["path"] == "/public"


def test_key_files_are_read_next_to_the_guard_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ec_key: SigningKey
) -> None:
    """The .ini names the TOML relative to itself, the TOML its keys relative to itself."""
    (tmp_path / "deploy" / "guard").mkdir(parents=True)
    guard_dir = tmp_path / "deploy" / "guard"
    (guard_dir / "jwks.json").write_text(json.dumps({"keys": [ec_key.public_jwk()]}))
    (guard_dir / "guard.toml").write_text(
        f'[[issuers]]\nissuer = "{ISSUER}"\nkeys_file = "jwks.json"\n'
    )
    (tmp_path / "deploy" / "app.ini").write_text(
        """
[app:echo]
use = call:tests.test_paste:echo_factory

[filter:jwt]
use = egg:wsgi_jwt_guard
config = guard/guard.toml

[pipeline:main]
pipeline = jwt echo
"""
    )
    monkeypatch.chdir(tmp_path)  # not where either file is
    app = loadapp(f"config:{tmp_path / 'deploy' / 'app.ini'}")
    headers = {"Authorization": f"Bearer {ec_key.token()}"}
    assert Client(app).get("/x", headers=headers).status_code == 200


def test_errors_name_the_guard_toml(here: Path) -> None:
    (here / "guard.toml").write_text('reaml = "y"\n' + GUARD_TOML)
    with pytest.raises(ConfigError) as caught:
        filter_app_factory(echo_app, {"here": str(here)}, config="guard.toml")
    assert caught.value.key == "reaml"
    assert "did you mean 'realm'?" in caught.value.message
    assert caught.value.message.endswith(f"(in {here / 'guard.toml'})")
