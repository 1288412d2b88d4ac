"""The ``wsgi-jwt-guard`` command: demo, serve, mint, inspect, and how it fails.

``mint`` and ``inspect`` run in process through ``main()``; ``demo`` and
``serve`` run as the installed console script, stopped with real signals.
Every failure must be one line on stderr with a non-zero status.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from jose import jwk
from werkzeug.test import Client

from tests.helpers import ISSUER, SERVICE_SECRET, SigningKey, service_token
from tests.processes import cli_command, free_port, running, running_demo
from tests.servers import werkzeug_server
from wsgi_jwt_guard import Issuer, ServiceTokens, __version__, from_config
from wsgi_jwt_guard.dev.cli import main
from wsgi_jwt_guard.verification import Verifier

# --- helpers ----------------------------------------------------------------------


NOW = 1_700_000_000  # 2023-11-14T22:13:20Z


def run_main(
    capsys: pytest.CaptureFixture[str], *argv: str, clock: Callable[[], float] = time.time
) -> tuple[int, str, str]:
    status = main(list(argv), clock=clock)
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(status: int, err: str, *fragments: str) -> None:
    assert status == 1
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("wsgi-jwt-guard: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def run_cli(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*cli_command(), *argv],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **(env or {})},
    )


def write_pem(path: Path, key: SigningKey) -> Path:
    path.write_bytes(
        key.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


@pytest.fixture
def guard_toml(tmp_path: Path, ec_key: SigningKey) -> Path:
    """A configuration trusting ``ec_key`` for ISSUER, plus the test service secret."""
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [ec_key.public_jwk()]}))
    config = tmp_path / "guard.toml"
    config.write_text(
        f"""
[[issuers]]
issuer = "{ISSUER}"
keys_file = "{tmp_path / "jwks.json"}"
audience = "backstage"
algorithms = ["ES256"]

[service_tokens]
secrets = ["{SERVICE_SECRET}"]

[routes]
"/api/auth" = "public"
"""
    )
    return config


# --- mint -------------------------------------------------------------------------


def test_mint_user_token_from_an_ec_pem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], ec_key: SigningKey
) -> None:
    pem = write_pem(tmp_path / "key.pem", ec_key)
    status, out, err = run_main(
        capsys,
        "mint", "--key", str(pem), "--kid", "ec-1", "--iss", ISSUER, "--sub", "user:default/alice",
        "--aud", "backstage", "--typ", "vnd.backstage.user",
        "--claim", 'ent=["group:default/team-a"]', "--claim", "role=admin",
        "--claims", '{"scope": "catalog.read"}',
    )  # fmt: skip
    assert (status, err) == (0, "")
    verifier = Verifier([Issuer(ISSUER, keys=[ec_key.public_jwk()], audience="backstage")])
    identity = verifier.verify(out.strip(), "header")
    assert identity.subject == "user:default/alice"
    assert identity.ownership_refs == ["group:default/team-a"]
    assert identity.claims["role"] == "admin"
    assert identity.claims["scope"] == "catalog.read"
    assert 3590 <= identity.claims["exp"] - identity.claims["iat"] <= 3600


def test_mint_user_token_from_a_private_rsa_jwk(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rsa_key: SigningKey
) -> None:
    private = jwk.construct(rsa_key.private, "RS256").to_dict()
    (tmp_path / "key.json").write_text(json.dumps({**private, "kid": "rsa-1"}))
    status, out, _ = run_main(
        capsys, "mint", "--key", str(tmp_path / "key.json"), "--iss", ISSUER, "--sub", "svc",
        "--lifetime", "60",
    )  # fmt: skip
    assert status == 0
    header = json.loads(_b64json(out.split(".")[0]))
    assert header == {"alg": "RS256", "typ": "JWT", "kid": "rsa-1"}
    verifier = Verifier([Issuer(ISSUER, keys=[rsa_key.public_jwk()], algorithms=["RS256"])])
    assert verifier.verify(out.strip(), "header").expires_at - time.time() <= 60


def _b64json(segment: str) -> str:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)).decode()


@pytest.mark.parametrize("secret_from", ["file", "environment", "config"])
def test_mint_service_token(
    secret_from: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    guard_toml: Path,
) -> None:
    argv = ["mint", "--service", "--claim", "purpose=test"]
    if secret_from == "file":
        (tmp_path / "secret").write_text(SERVICE_SECRET + "\n")
        argv += ["--secret-file", str(tmp_path / "secret")]
    elif secret_from == "environment":
        monkeypatch.setenv("WSGI_JWT_GUARD_SERVICE_SECRET", SERVICE_SECRET)
    else:
        argv += ["--config", str(guard_toml)]
    status, out, err = run_main(capsys, *argv)
    assert (status, err) == (0, "")
    assert SERVICE_SECRET not in out
    identity = Verifier(service_tokens=ServiceTokens([SERVICE_SECRET])).verify(
        out.strip(), "header"
    )
    assert (identity.kind, identity.subject) == ("service", "backstage-server")
    assert identity.claims["purpose"] == "test"


def test_mint_service_token_without_a_secret(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run_main(capsys, "mint", "--service")
    assert_one_line_error(status, err, "no service secret", "WSGI_JWT_GUARD_SERVICE_SECRET")


def test_mint_never_echoes_a_bad_secret(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secret = "not base64 at all, but long enough to be a secret!"
    (tmp_path / "secret").write_text(secret)
    status, out, err = run_main(
        capsys, "mint", "--service", "--secret-file", str(tmp_path / "secret")
    )
    assert_one_line_error(status, err, "base64")
    assert secret not in out + err


@pytest.mark.parametrize(
    ("make_key", "fragments"),
    [
        pytest.param(lambda p: p / "absent.pem", ["cannot read"], id="missing-file"),
        pytest.param(
            lambda p: _write(p / "k.pem", "garbage"), ["not a PEM private key"], id="garbage"
        ),
        pytest.param(lambda p: _write(p / "k.json", "{"), ["not valid JSON"], id="bad-json"),
        pytest.param(
            lambda p: _write(p / "k.json", json.dumps(SigningKey.ec().public_jwk())),
            ["not a private JWK"],
            id="public-jwk",
        ),
        pytest.param(
            lambda p: _write(p / "k.pem", SigningKey.ec().public_pem()),
            ["not a PEM private key"],
            id="public-pem",
        ),
        pytest.param(lambda p: _encrypted_pem(p / "k.pem"), ["encrypted"], id="encrypted-pem"),
    ],
)
def test_mint_bad_key_files(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    make_key: Callable[[Path], Path],
    fragments: list[str],
) -> None:
    path = make_key(tmp_path)
    status, out, err = run_main(capsys, "mint", "--key", str(path), "--iss", ISSUER, "--sub", "a")
    assert_one_line_error(status, err, *fragments)
    assert out == ""


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _encrypted_pem(path: Path) -> Path:
    key = SigningKey.ec()
    path.write_bytes(
        key.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    return path


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        pytest.param(["--iss", ISSUER], "needs --iss and --sub", id="no-subject"),
        pytest.param(
            ["--iss", ISSUER, "--sub", "a", "--claim", "novalue"], "NAME=VALUE", id="claim"
        ),
        pytest.param(
            ["--iss", ISSUER, "--sub", "a", "--claims", "[1]"], "JSON object", id="claims"
        ),
        pytest.param(
            ["--iss", ISSUER, "--sub", "a", "--alg", "RS256"], "signs ES256 only", id="alg"
        ),
    ],
)
def test_mint_bad_arguments(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    ec_key: SigningKey,
    argv: list[str],
    fragment: str,
) -> None:
    pem = write_pem(tmp_path / "key.pem", ec_key)
    status, _, err = run_main(capsys, "mint", "--key", str(pem), *argv)
    assert_one_line_error(status, err, fragment)


# --- inspect ----------------------------------------------------------------------


def test_inspect_without_config_decodes_and_says_unverified(
    capsys: pytest.CaptureFixture[str], ec_key: SigningKey
) -> None:
    status, out, _ = run_main(capsys, "inspect", ec_key.token())
    assert status == 0
    assert "Header (unverified)" in out
    assert '"kid": "ec-1"' in out
    assert '"sub": "user:default/alice"' in out
    assert "exp: " in out
    assert "Not verified" in out


def test_inspect_verifies_against_a_config(
    capsys: pytest.CaptureFixture[str], ec_key: SigningKey, guard_toml: Path
) -> None:
    status, out, err = run_main(capsys, "inspect", ec_key.token(), "--config", str(guard_toml))
    assert (status, err) == (0, "")
    assert "Verified: a user token for 'user:default/alice'" in out
    assert ISSUER in out


def test_inspect_reads_the_token_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, guard_toml: Path
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(f"Bearer {service_token()}\n"))
    status, out, _ = run_main(capsys, "inspect", "-", "--config", str(guard_toml))
    assert status == 0
    assert "Verified: a service token" in out


@pytest.mark.parametrize(
    ("make_token", "fragments"),
    [
        pytest.param(
            lambda k, o: k.token(exp=1_700_000_000),
            ["401", "expired since 2023-11-14T22:13:20Z", "ago"],
            id="expired",
        ),
        pytest.param(
            lambda k, o: k.token(header={"kid": "nope"}), ["unknown kid 'nope'"], id="unknown-kid"
        ),
        pytest.param(
            lambda k, o: k.token(iss="https://evil.example"),
            ["issuer mismatch", "'https://evil.example'", ISSUER],
            id="issuer-mismatch",
        ),
        pytest.param(lambda k, o: o.token(), ["signature does not verify"], id="bad-signature"),
        pytest.param(
            lambda k, o: k.token(aud="other"),
            ["the token's aud 'other' is not the expected 'backstage'"],
            id="audience",
        ),
        pytest.param(
            lambda k, o: k.token(aud=["account"]),
            ["aud ['account']", "Keycloak's default audience"],
            id="keycloak-account-audience",
        ),
        pytest.param(
            lambda k, o: k.token(iss=ISSUER + "/"),
            ["issuer mismatch", "only a trailing slash differs"],
            id="trailing-slash",
        ),
        pytest.param(
            lambda k, o: k.token(aud="other", nonce="n-1", at_hash="x"),
            ["aud 'other'"],
            id="id-token-audience",
        ),
        pytest.param(
            lambda k, o: service_token(secret="b" * 43), ["signature does not verify"], id="service"
        ),
    ],
)
def test_inspect_says_exactly_why_a_token_is_refused(
    capsys: pytest.CaptureFixture[str],
    ec_key: SigningKey,
    other_ec_key: SigningKey,
    guard_toml: Path,
    make_token: Callable[[SigningKey, SigningKey], str],
    fragments: list[str],
) -> None:
    status, out, err = run_main(
        capsys, "inspect", make_token(ec_key, other_ec_key), "--config", str(guard_toml)
    )
    assert_one_line_error(status, err, "token refused", *fragments)
    assert "Claims (unverified)" in out


def test_inspect_hints_at_an_id_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], ec_key: SigningKey, guard_toml: Path
) -> None:
    toml = guard_toml.read_text().replace(
        'algorithms = ["ES256"]', 'algorithms = ["ES256"]\ntoken_types = ["at+jwt"]'
    )
    (tmp_path / "typed.toml").write_text(toml)
    token = ec_key.token(nonce="n-1", header={"typ": "JWT"})
    status, _, err = run_main(capsys, "inspect", token, "--config", str(tmp_path / "typed.toml"))
    assert_one_line_error(
        status, err, "typ 'JWT' is not one of ['at+jwt']", "an OpenID Connect ID token"
    )


def test_inspect_prints_the_fingerprint_of_the_guards_log_lines(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, ec_key: SigningKey
) -> None:
    token = ec_key.token(exp=NOW)
    status, out, _ = run_main(capsys, "inspect", token)
    assert status == 0
    printed = next(line for line in out.splitlines() if line.startswith("Fingerprint: "))
    guard = from_config(lambda e, s: [], {"issuers": [{"issuer": ISSUER, "keys": [ec_key.public_jwk()]}]})
    with caplog.at_level(logging.INFO, logger="wsgi_jwt_guard"):
        Client(guard).get("/x", headers={"Authorization": f"Bearer {token}"})
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("refused")]
    assert f"token {printed.split()[1]} " in line


def test_inspect_agrees_with_the_guard_on_a_revoked_subject(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], ec_key: SigningKey, guard_toml: Path
) -> None:
    # The revocation lives in the shared cache, where every worker (and inspect) reads it.
    shared = tmp_path / "shared.toml"
    shared.write_text(
        guard_toml.read_text()
        + f'\n[cache]\ntype = "filesystem"\ndir = "{tmp_path / "cache"}"\n'
        + f'secrets = ["{"k" * 32}"]\n\n[revocation]\n'
    )
    token = ec_key.token()
    assert run_main(capsys, "inspect", token, "--config", str(shared))[0] == 0
    guard = from_config(lambda e, s: [], str(shared))
    assert guard.revocations is not None
    guard.revocations.revoke_subject("user:default/alice", before=time.time() + 60)
    status, _, err = run_main(capsys, "inspect", token, "--config", str(shared))
    assert_one_line_error(status, err, "token refused (401)", "revoked")


@pytest.mark.parametrize(
    ("argv", "status", "fragment"),
    [
        pytest.param(["--path", "/api/auth/token"], 0, "Public: the guard lets GET /api/auth/token", id="public"),
        pytest.param(["--path", "/api/catalog"], 0, "lets it through on GET /api/catalog", id="protected"),
        pytest.param(
            ["--path", "/api/admin", "--method", "DELETE"],
            1,
            "token refused (403) on DELETE /api/admin",
            id="route-requirement",
        ),
    ],
)
def test_inspect_asks_about_a_route(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    ec_key: SigningKey,
    guard_toml: Path,
    argv: list[str],
    status: int,
    fragment: str,
) -> None:
    routed = tmp_path / "routed.toml"
    routed.write_text(guard_toml.read_text() + '"/api/admin" = { policy = "protected", claims = { role = "admin" } }\n')
    got, out, err = run_main(capsys, "inspect", ec_key.token(), "--config", str(routed), *argv)
    assert got == status
    assert fragment in (out if status == 0 else err)


def test_inspect_uses_the_environment_config(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, guard_toml: Path
) -> None:
    monkeypatch.setenv("WSGI_JWT_GUARD_CONFIG", str(guard_toml))
    status, out, _ = run_main(capsys, "inspect", service_token())
    assert status == 0
    assert "Verified" in out


@pytest.mark.parametrize(
    ("kind", "argv", "claim"),
    [
        pytest.param("user", ["--lifetime", "600"], ("iat", NOW), id="user-iat"),
        pytest.param("user", ["--lifetime", "600"], ("exp", NOW + 600), id="user-exp"),
        pytest.param("service", ["--lifetime", "60"], ("exp", NOW + 60), id="service-exp"),
        pytest.param("service", [], ("iat", NOW), id="service-iat"),
    ],
)
def test_mint_takes_the_time_from_the_clock(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    ec_key: SigningKey,
    kind: str,
    argv: list[str],
    claim: tuple[str, int],
) -> None:
    if kind == "user":
        pem = write_pem(tmp_path / "key.pem", ec_key)
        argv = ["--key", str(pem), "--iss", ISSUER, "--sub", "user:default/alice", *argv]
    else:
        (tmp_path / "secret").write_text(SERVICE_SECRET)
        argv = ["--service", "--secret-file", str(tmp_path / "secret"), *argv]
    status, out, _ = run_main(capsys, "mint", *argv, clock=lambda: NOW + 0.5)
    assert status == 0
    name, value = claim
    assert json.loads(_b64json(out.split(".")[1]))[name] == value


@pytest.mark.parametrize(
    ("exp", "shown"),
    [
        pytest.param(NOW + 3600, "exp: 2023-11-14T23:13:20Z (in 1 hour)", id="in-an-hour"),
        pytest.param(NOW - 180, "exp: 2023-11-14T22:10:20Z (3 minutes ago)", id="3-minutes-ago"),
        pytest.param(NOW + 2 * 86400, "(in 2 days)", id="in-2-days"),
    ],
)
def test_inspect_takes_the_time_from_the_clock(
    capsys: pytest.CaptureFixture[str], ec_key: SigningKey, exp: int, shown: str
) -> None:
    status, out, _ = run_main(capsys, "inspect", ec_key.token(exp=exp), clock=lambda: NOW)
    assert status == 0
    assert shown in out


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        pytest.param(lambda t: t.replace(".", "=.", 1), "header is not a valid base64url", id="padding"),
        pytest.param(lambda t: t.rsplit(".", 1)[0] + ".", "signature", id="no-signature"),
    ],
)
def test_inspect_shows_a_token_the_guard_refuses_and_why(
    capsys: pytest.CaptureFixture[str],
    ec_key: SigningKey,
    guard_toml: Path,
    mangle: Callable[[str], str],
    reason: str,
) -> None:
    token = mangle(ec_key.token())
    status, out, _ = run_main(capsys, "inspect", token)
    assert status == 0
    assert '"sub": "user:default/alice"' in out
    assert "Malformed: the guard refuses this token as it is: " in out
    assert reason in out
    status, out, err = run_main(capsys, "inspect", token, "--config", str(guard_toml))
    assert_one_line_error(status, err, "token refused (401)", reason)
    assert "Claims (unverified)" in out


def test_inspect_asks_about_an_opaque_token(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With an introspecting issuer configured, an opaque token is not "not a JWT":
    the guard asks the endpoint (a real one on 127.0.0.1), and so does inspect."""
    asked: list[str] = []

    def endpoint(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        form = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)).decode()
        asked.append(form)
        active = "token=the-opaque-one" in form
        answer = {"active": active, "sub": "user:default/alice", "exp": int(time.time()) + 60}
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(answer).encode()]

    with werkzeug_server(endpoint) as port:
        config = tmp_path / "guard.toml"
        config.write_text(
            f"""
[[issuers]]
issuer = "{ISSUER}"
introspect = "opaque"
insecure_http = true
introspection = {{ endpoint = "http://127.0.0.1:{port}/introspect", client_id = "cli", client_secret = "{"s" * 40}" }}
"""
        )
        status, out, err = run_main(capsys, "inspect", "the-opaque-one", "--config", str(config))
        assert (status, err) == (0, "")
        assert "Opaque: not a JWT" in out
        assert f"Verified: a user token for 'user:default/alice', vouched for by issuer {ISSUER}'s introspection endpoint" in out
        status, _, err = run_main(capsys, "inspect", "a-revoked-one", "--config", str(config))
        assert_one_line_error(status, err, "token refused (401)", "not active")
    assert len(asked) == 2


@pytest.mark.parametrize(
    ("token", "fragment"),
    [
        pytest.param("abc", "expected 3 dot-separated segments", id="one-segment"),
        pytest.param("a.b.c", "header is not base64url JSON", id="not-json"),
        pytest.param("WzFd.e30.c2ln", "header is not a JSON object", id="json-list"),
    ],
)
def test_inspect_not_a_jwt(capsys: pytest.CaptureFixture[str], token: str, fragment: str) -> None:
    status, _, err = run_main(capsys, "inspect", token)
    assert_one_line_error(status, err, "not a JWT", fragment)


def test_inspect_bad_config_names_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], ec_key: SigningKey
) -> None:
    (tmp_path / "bad.toml").write_text('[[issuers]]\nissuer = "x"\njwks_uri = "ftp://x"\n')
    status, _, err = run_main(
        capsys, "inspect", ec_key.token(), "--config", str(tmp_path / "bad.toml")
    )
    assert_one_line_error(status, err, "issuers[0].jwks_uri")


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        pytest.param(["--config", "/nonexistent/guard.toml"], "cannot read", id="missing"),
        pytest.param(["--config", __file__], "not valid TOML", id="not-toml"),
    ],
)
def test_inspect_unreadable_config(
    capsys: pytest.CaptureFixture[str], ec_key: SigningKey, argv: list[str], fragment: str
) -> None:
    status, _, err = run_main(capsys, "inspect", ec_key.token(), *argv)
    assert_one_line_error(status, err, fragment)


# --- the console script: usage, serve and demo ------------------------------------


def test_console_script_usage_errors_exit_2() -> None:
    result = run_cli("frobnicate")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
    assert "Traceback" not in result.stderr


def test_console_script_reports_errors_in_one_line() -> None:
    result = run_cli("inspect", "not-a-token")
    assert_one_line_error(result.returncode, result.stderr, "not a JWT")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_demo_stops_cleanly(sig: signal.Signals) -> None:
    with running_demo() as demo:
        assert requests.get(f"{demo.base}/", timeout=5).status_code == 200
        status = demo.process.stop(sig)
        assert status == 0, demo.process.output
        assert "Traceback" not in demo.process.output
        assert "Stopped." in demo.process.output


def test_demo_on_a_busy_port_fails_in_one_line() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = run_cli("demo", "--port", str(busy.getsockname()[1]))
    assert_one_line_error(
        result.returncode, result.stderr, "cannot listen on 127.0.0.1:", "--port 0 picks a free port"
    )


def test_version() -> None:
    result = run_cli("--version")
    assert (result.returncode, result.stdout.strip()) == (0, f"wsgi-jwt-guard {__version__}")


def test_serve_help_shows_the_defaults() -> None:
    result = run_cli("serve", "--help")
    assert result.returncode == 0
    assert "(default 127.0.0.1)" in result.stdout
    assert "(default 8000)" in result.stdout


def test_a_closed_pipe_ends_inspect_quietly(ec_key: SigningKey) -> None:
    # `inspect ... | head -1`: the reader leaves after one line.
    reader = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.readline()"], stdin=subprocess.PIPE
    )
    assert reader.stdin is not None
    result = subprocess.run(
        [*cli_command(), "inspect", "-"],
        input=ec_key.token(claims={"big": "x" * 200_000}),
        stdout=reader.stdin,
        stderr=subprocess.PIPE,
        text=True,
        timeout=30,
    )
    reader.stdin.close()
    reader.wait(timeout=10)
    assert result.returncode == 128 + signal.SIGPIPE
    assert result.stderr == ""


def test_serve_runs_an_app_behind_the_guard(ec_key: SigningKey, guard_toml: Path) -> None:
    port = free_port()
    command = [*cli_command(), "serve", "tests.helpers:echo_app", "--config", str(guard_toml)]
    command += ["--port", str(port)]
    base = f"http://127.0.0.1:{port}"
    with running(command, ready_url=f"{base}/api/auth") as process:
        assert requests.get(f"{base}/api/auth/x", timeout=5).status_code == 200
        assert requests.get(f"{base}/api/catalog", timeout=5).status_code == 401
        response = requests.get(
            f"{base}/api/catalog", headers={"Authorization": f"Bearer {ec_key.token()}"}, timeout=5
        )
        assert response.status_code == 200
        assert response.json()["remote_user"] == "user:default/alice"
        assert process.stop(signal.SIGTERM) == 0


def test_serve_reads_the_environment_without_config(ec_key: SigningKey, guard_toml: Path) -> None:
    port = free_port()
    command = [*cli_command(), "serve", "tests.helpers:echo_app", "--port", str(port)]
    base = f"http://127.0.0.1:{port}"
    env = {"WSGI_JWT_GUARD_CONFIG": str(guard_toml)}
    with running(command, ready_url=f"{base}/api/auth", env=env):
        headers = {"Authorization": f"Bearer {service_token()}"}
        assert requests.get(f"{base}/x", headers=headers, timeout=5).status_code == 200


@pytest.mark.parametrize(
    ("argv", "env", "fragments"),
    [
        pytest.param(["no_such_module:app"], {}, ["cannot import 'no_such_module'"], id="module"),
        pytest.param(["tests.helpers:nothing"], {}, ["has no attribute 'nothing'"], id="attribute"),
        pytest.param(["tests.helpers:ISSUER"], {}, ["not callable"], id="not-callable"),
        pytest.param(
            ["tests.helpers:echo_app"],
            {},
            ["WSGI_JWT_GUARD_CONFIG", "no configuration"],
            id="no-config",
        ),
        pytest.param(
            ["tests.helpers:echo_app"],
            {
                "WSGI_JWT_GUARD_ISSUER": ISSUER,
                "WSGI_JWT_GUARD_JWKS_URI": "http://auth.example/jwks",
            },
            ["WSGI_JWT_GUARD_JWKS_URI", "https"],
            id="bad-env",
        ),
    ],
)
def test_serve_errors(argv: list[str], env: dict[str, str], fragments: list[str]) -> None:
    result = run_cli("serve", *argv, "--port", "0", env=env)
    assert_one_line_error(result.returncode, result.stderr, *fragments)


def test_python_dash_m_runs_the_same_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "wsgi_jwt_guard", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0
    assert all(name in result.stdout for name in ("demo", "serve", "mint", "inspect"))
