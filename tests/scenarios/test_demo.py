"""``wsgi-jwt-guard demo`` as a newcomer meets it: every printed curl line does what it says.

The demo runs as a real subprocess on a port it picks itself. Its banner is
parsed, the ``export TOKEN=...`` line taken as the shell would, and each
``curl`` line is run -- with curl itself when installed, and always through a
translation to ``requests`` (the shell still expands the line, so ``$TOKEN``
and ``$(wsgi-jwt-guard mint --service)`` mean what they mean to a user).
Each line's trailing comment names the status it must get.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.helpers import SERVICE_SECRET
from tests.processes import Demo, cli_command, running_demo

BASH = shutil.which("bash") or "/bin/bash"
_EXPECTED = re.compile(r"#[^#]*?(\d{3})\b[^#]*$")


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    with running_demo(env={"WSGI_JWT_GUARD_SERVICE_SECRET": SERVICE_SECRET}) as running:
        yield running


def _shell_env(demo: Demo) -> dict[str, str]:
    """What a user's shell has after pasting the export line: TOKEN, and the CLI on PATH."""
    bin_dir = str(Path(cli_command()[0]).parent)
    return {
        **os.environ,
        "TOKEN": demo.token,
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        "WSGI_JWT_GUARD_SERVICE_SECRET": SERVICE_SECRET,
    }


def _curl_lines(demo: Demo) -> list[tuple[str, int]]:
    lines = [line for line in demo.banner.splitlines() if line.startswith("curl ")]
    cases = []
    for line in lines:
        expected = _EXPECTED.search(line)
        assert expected, f"the demo printed a curl line without its expected status: {line}"
        cases.append((line, int(expected.group(1))))
    return cases


def _with_curl(line: str, env: dict[str, str], cwd: Path) -> tuple[int, str]:
    result = subprocess.run(
        [BASH, "-c", line], env=env, cwd=cwd, capture_output=True, text=True, timeout=20
    )
    assert result.returncode == 0, f"{line}\n{result.stderr}"
    head, _, body = result.stdout.replace("\r\n", "\n").partition("\n\n")
    status = re.match(r"HTTP/[\d.]+ (\d{3})", head)
    assert status, result.stdout
    return int(status.group(1)), body


def _with_requests(
    line: str, env: dict[str, str], jars: dict[str, requests.cookies.RequestsCookieJar]
) -> tuple[int, str]:
    """Run a curl line through requests, after bash has expanded it exactly as it would."""
    dump_argv = (
        f"{shlex.quote(sys.executable)} -c 'import json,sys; print(json.dumps(sys.argv[1:]))'"
    )
    expanded = subprocess.run(
        [BASH, "-c", dump_argv + line.removeprefix("curl")],
        env=env,
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    )
    argv = json.loads(expanded.stdout)
    headers: dict[str, str] = {}
    save_to = send_from = url = None
    args = iter(argv)
    for arg in args:
        if arg == "-i":
            continue
        if arg == "-H":
            name, _, value = next(args).partition(":")
            headers[name.strip()] = value.strip()
        elif arg == "-c":
            save_to = next(args)
        elif arg == "-b":
            send_from = next(args)
        elif arg.startswith("http"):
            url = arg
        else:
            raise AssertionError(f"the translation does not know curl's {arg!r}: {line}")
    assert url is not None, line
    cookies = jars.get(send_from) if send_from else None
    response = requests.get(url, headers=headers, cookies=cookies, timeout=10)
    if save_to:
        jars[save_to] = response.cookies
    return response.status_code, response.text


@pytest.mark.parametrize("runner", ["curl", "requests"])
def test_every_printed_curl_line_behaves_as_printed(
    demo: Demo, runner: str, tmp_path: Path
) -> None:
    if runner == "curl" and shutil.which("curl") is None:
        pytest.skip("curl is not installed: apt-get install curl (bash .ci/run does)")
    env = _shell_env(demo)
    jars: dict[str, requests.cookies.RequestsCookieJar] = {}
    cases = _curl_lines(demo)
    assert len(cases) >= 7
    for line, expected in cases:
        if runner == "curl":
            status, body = _with_curl(line, env, tmp_path)
        else:
            status, body = _with_requests(line, env, jars)
        assert status == expected, f"{line}\n-> {status}\n{body}"
        if "your identity" in line:
            identity = json.loads(body)["identity"]
            assert identity["user"] == "user:default/alice"
            assert identity["source"] == "header"
            assert identity["kind"] == "user"
        if "service token" in line:
            assert json.loads(body)["identity"]["kind"] == "service"
    if runner == "curl":
        jar = (tmp_path / "cookies.txt").read_text()
        assert f"\ttoken\t{demo.token}" in jar
        assert "#HttpOnly_127.0.0.1" in jar


def test_banner_shows_the_issuer_endpoints_and_they_answer(demo: Demo) -> None:
    jwks_url = re.search(r"JWKS\s+(\S+)", demo.banner)
    discovery_url = re.search(r"OIDC discovery\s+(\S+)", demo.banner)
    assert jwks_url
    assert discovery_url
    discovery = requests.get(discovery_url.group(1), timeout=5).json()
    assert discovery["issuer"] == f"{demo.base}/api/auth"
    assert discovery["jwks_uri"] == jwks_url.group(1)
    keys = requests.get(jwks_url.group(1), timeout=5).json()["keys"]
    assert [(key["kty"], key["crv"], key["alg"]) for key in keys] == [("EC", "P-256", "ES256")]
    assert not {"d", "p", "q"} & set(keys[0])


@pytest.mark.parametrize(
    "request_kwargs",
    [
        pytest.param({"method": "GET", "params": {"sub": "user:default/carol"}}, id="get"),
        pytest.param({"method": "POST", "data": {"sub": "user:default/carol"}}, id="post-form"),
        pytest.param({"method": "POST", "json": {"sub": "user:default/carol"}}, id="post-json"),
    ],
)
def test_token_endpoint_signs_for_the_subject_asked(demo: Demo, request_kwargs: dict) -> None:
    issued = requests.request(url=f"{demo.base}/api/auth/token", timeout=5, **request_kwargs)
    assert issued.status_code == 200
    assert issued.json()["token_type"] == "Bearer"
    response = requests.get(
        f"{demo.base}/api/scaffolder/v2/tasks",
        headers={"Authorization": f"Bearer {issued.json()['token']}"},
        timeout=5,
    )
    assert response.status_code == 200
    assert response.json()["identity"]["user"] == "user:default/carol"


def test_page_is_public_and_the_rest_is_authenticated_first(demo: Demo) -> None:
    page = requests.get(f"{demo.base}/", timeout=5)
    assert page.status_code == 200
    assert "/api/techdocs/assets/logo.svg" in page.text
    assert requests.get(f"{demo.base}/anything-else", timeout=5).status_code == 401
    authorized = {"Authorization": f"Bearer {demo.token}"}
    assert (
        requests.get(f"{demo.base}/anything-else", headers=authorized, timeout=5).status_code == 404
    )
