"""Reading the TOML file: ``wsgi_jwt_guard.config_file``.

A file path inside the file is read relative to the file, wherever the process
runs; unreadable and broken files name the absolute path. The schema itself
is ``test_config``'s; the environment's use of the file is ``test_environment``'s.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from werkzeug.test import Client

from tests.helpers import ISSUER, SigningKey, bearer, echo_app
from wsgi_jwt_guard import ConfigError, Issuer, from_config
from wsgi_jwt_guard.config_file import read_config_file, relative_to


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The directory of the configuration; the process runs in another one."""
    config_dir = tmp_path / "etc"
    config_dir.mkdir()
    run = tmp_path / "run"
    run.mkdir()
    monkeypatch.chdir(run)
    return config_dir


def test_reads_the_toml_file(elsewhere: Path) -> None:
    (elsewhere / "guard.toml").write_text('default = "public"\n[cookie]\nname = "jwt"\n')
    assert read_config_file("../etc/guard.toml") == {"default": "public", "cookie": {"name": "jwt"}}


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        pytest.param("missing.toml", None, "cannot read '{path}': No such file or directory", id="missing"),
        pytest.param("a-directory", "", "cannot read '{path}': Is a directory", id="directory"),
        pytest.param("broken.toml", "default = ", "'{path}' is not valid TOML: ", id="not-toml"),
        pytest.param("twice.toml", "a = 1\na = 2\n", "'{path}' is not valid TOML: ", id="key-twice"),
    ],
)
def test_an_unreadable_or_invalid_file_names_its_absolute_path(
    elsewhere: Path, name: str, content: str | None, message: str
) -> None:
    path = elsewhere / name
    if name == "a-directory":
        path.mkdir()
    elif content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError) as caught:
        read_config_file(f"../etc/{name}")
    assert caught.value.key == ""
    assert str(caught.value).startswith(message.format(path=path))


def test_from_config_reports_the_same_error(elsewhere: Path) -> None:
    with pytest.raises(ConfigError, match=f"cannot read '{elsewhere / 'missing.toml'}'"):
        from_config(echo_app, "../etc/missing.toml")


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        pytest.param('[[issuers]]\nissuer = "i"\nkeys_file = "k.json"\npem_file = "../k.pem"\nca_bundle = "ca/b.pem"\n', {"keys_file": "{root}/etc/k.json", "pem_file": "{root}/k.pem", "ca_bundle": "{root}/etc/ca/b.pem"}, id="issuer-files"),
        pytest.param('[[issuers]]\nissuer = "i"\nkeys_file = "./a/../k.json"\n', {"keys_file": "{root}/etc/k.json"}, id="normalized"),
        pytest.param('[[issuers]]\nissuer = "i"\nkeys_file = "/abs/k.json"\n', {"keys_file": "/abs/k.json"}, id="absolute-kept"),
        pytest.param('[[issuers]]\nissuer = "i"\nkeys_file = ""\n', {"keys_file": ""}, id="empty-kept"),
        pytest.param('[[issuers]]\nissuer = "i"\njwks_uri = "jwks.json"\n', {"jwks_uri": "jwks.json"}, id="a-url-is-not-a-path"),
        pytest.param('[cache]\ntype = "filesystem"\ndir = "cache"\n', {"dir": "{root}/etc/cache"}, id="cache-dir"),
        pytest.param('[cache]\ntype = "redis"\nurl = "redis://h/0"\n', {"url": "redis://h/0"}, id="not-a-path"),
        pytest.param('[backstage]\nbase_url = "https://b"\nca_bundle = "ca.pem"\n', {"ca_bundle": "{root}/etc/ca.pem", "base_url": "https://b"}, id="backstage-ca-bundle"),
    ],
)
def test_file_paths_are_relative_to_the_file(elsewhere: Path, table: str, expected: dict[str, str]) -> None:
    (elsewhere / "guard.toml").write_text(table)
    config = read_config_file("../etc/guard.toml")
    found = config["issuers"][0] if "issuers" in config else config.get("cache", config.get("backstage"))
    for name, value in expected.items():
        assert found[name] == value.format(root=elsewhere.parent)


def test_every_issuer_in_the_file_gets_its_paths_resolved(elsewhere: Path) -> None:
    (elsewhere / "guard.toml").write_text(
        '[[issuers]]\nissuer = "a"\nkeys_file = "a.json"\n[[issuers]]\nissuer = "b"\npem_file = "b.pem"\n'
    )
    issuers = read_config_file(elsewhere / "guard.toml")["issuers"]
    assert [issuers[0]["keys_file"], issuers[1]["pem_file"]] == [
        str(elsewhere / "a.json"),
        str(elsewhere / "b.pem"),
    ]


def test_the_settings_that_name_files_are_the_issuer_fields_marked_as_paths(tmp_path: Path) -> None:
    marked = {f.name for f in dataclasses.fields(Issuer) if f.metadata.get("path")}
    assert marked == {"keys_file", "pem_file", "ca_bundle"}
    resolved = relative_to({"issuers": [dict.fromkeys(marked, "f")]}, str(tmp_path))
    assert resolved["issuers"][0] == dict.fromkeys(marked, str(tmp_path / "f"))


@pytest.mark.parametrize(
    "config",
    [
        pytest.param({"issuers": "keys.json"}, id="issuers-a-string"),
        pytest.param({"issuers": ["keys.json", 3]}, id="issuer-not-a-table"),
        pytest.param({"issuers": [{"keys_file": 3}]}, id="path-not-a-string"),
        pytest.param({"issuers": [{"keys_file": ["k.json"]}]}, id="path-a-list"),
        pytest.param({"cache": "dir"}, id="cache-a-string"),
        pytest.param({"keys_file": "k.json", "dir": "c"}, id="top-level-names-are-not-paths"),
    ],
)
def test_values_of_the_wrong_shape_are_left_for_the_schema(config: dict[str, object]) -> None:
    assert relative_to(config, "/etc/guard") == config


def test_a_table_or_an_array_of_tables_is_resolved_alike() -> None:
    # [issuers] instead of [[issuers]], [[cache]] instead of [cache]: the schema
    # reports the shape, with the path it names already absolute.
    assert relative_to(
        {"issuers": {"keys_file": "k.json"}, "cache": [{"dir": "c"}]}, "/etc/guard"
    ) == {"issuers": {"keys_file": "/etc/guard/k.json"}, "cache": [{"dir": "/etc/guard/c"}]}


def test_the_configuration_passed_in_is_not_changed() -> None:
    config = {"issuers": [{"keys_file": "k.json"}], "cache": {"dir": "c"}}
    original = json.loads(json.dumps(config))
    relative_to(config, "/etc/guard")
    assert config == original


# --- through the guard: the files are found next to the TOML file -------------------------


@pytest.mark.parametrize("source", ["keys_file", "pem_file"])
def test_key_files_are_read_next_to_the_toml_file(elsewhere: Path, ec_key: SigningKey, source: str) -> None:
    if source == "keys_file":
        (elsewhere / "keys").mkdir()
        (elsewhere / "keys" / "jwks.json").write_text(json.dumps({"keys": [ec_key.public_jwk()]}))
        line = 'keys_file = "keys/jwks.json"'
    else:
        (elsewhere / "key.pem").write_text(ec_key.public_pem())
        line = 'pem_file = "key.pem"'
    (elsewhere / "guard.toml").write_text(f'[[issuers]]\nissuer = "{ISSUER}"\n{line}\n')
    client = Client(from_config(echo_app, "../etc/guard.toml"), use_cookies=False)
    assert client.get("/x", headers=bearer(ec_key.token())).status_code == 200


def test_a_missing_key_file_names_the_path_tried_and_the_toml_file(elsewhere: Path) -> None:
    (elsewhere / "guard.toml").write_text(f'[[issuers]]\nissuer = "{ISSUER}"\nkeys_file = "keys.json"\n')
    with pytest.raises(ConfigError) as caught:
        from_config(echo_app, elsewhere / "guard.toml")
    assert str(caught.value) == (
        f"issuers[0].keys_file: cannot read {str(elsewhere / 'keys.json')!r}: No such file or directory"
        f" (in {elsewhere / 'guard.toml'})"
    )
