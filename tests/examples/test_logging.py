"""The README's Logging section, run as written: each snippet turns the refusal lines on.

The snippets are read out of README.md itself, so the README cannot drift
from what works: gunicorn with the ``gunicorn.conf.py`` shown, and a plain
module with the ``basicConfig`` lines shown, each answering one refused request
whose line must name the reason and the token's fingerprint.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import requests

from tests.helpers import ISSUER, SigningKey
from tests.processes import ROOT, free_port, gunicorn_command, running
from wsgi_jwt_guard.errors import RequestRefused
from wsgi_jwt_guard.metrics import reason_of
from wsgi_jwt_guard.responses import fingerprint

README = (ROOT / "README.md").read_text()
LOGGING = README[README.index("## Logging") : README.index("## Responses")]

APP = """
from wsgi_jwt_guard import Issuer, JWTGuard

def inner(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]

app = JWTGuard(inner, issuers=[Issuer({issuer!r}, keys=[{jwk!r}])])
"""


def snippet(first_line: str) -> str:
    """The README's Logging code block that starts with ``first_line``."""
    for block in re.findall(r"```python\n(.*?)```", LOGGING, re.DOTALL):
        if block.startswith(first_line):
            return str(block)
    raise AssertionError(f"no snippet starting {first_line!r} in the README's Logging section")


def test_the_gunicorn_snippet_shows_refusals(tmp_path: Path, ec_key: SigningKey) -> None:
    (tmp_path / "gunicorn.conf.py").write_text(snippet("# gunicorn.conf.py"))
    (tmp_path / "guarded.py").write_text(APP.format(issuer=ISSUER, jwk=ec_key.public_jwk()))
    token = ec_key.token(exp=1)
    port = free_port()
    command = gunicorn_command("guarded:app", port, "--config", str(tmp_path / "gunicorn.conf.py"))
    with running(command, ready_url=f"http://127.0.0.1:{port}/ready", cwd=tmp_path) as server:
        answer = requests.get(
            f"http://127.0.0.1:{port}/api/x", headers={"Authorization": f"Bearer {token}"}, timeout=5
        )
        assert answer.status_code == 401
        line = server.wait_for_line(r"refused GET /api/x: expired_token .*").group(0)
    assert f"token {fingerprint(token)} iss={ISSUER}" in line
    assert token not in server.output


def test_the_plain_snippet_shows_refusals(tmp_path: Path, ec_key: SigningKey) -> None:
    program = (
        snippet("# plain WSGI")
        + APP.format(issuer=ISSUER, jwk=ec_key.public_jwk())
        + textwrap.dedent(
            """
            from werkzeug.test import Client
            Client(app).get("/api/x")
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=30, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "refused GET /api/x: missing_token" in result.stderr


def test_the_readme_names_every_refusal_reason() -> None:
    def kinds(cls: type) -> list[type]:
        return [cls, *(kind for sub in cls.__subclasses__() for kind in kinds(sub))]

    reasons = {reason_of(kind) for kind in kinds(RequestRefused)} - {
        "request_refused",
        "authentication_error",  # abstract: only their subclasses are raised
    }
    listed = set(re.findall(r"`([a-z_]+)`", LOGGING[: LOGGING.index("```text")]))
    assert reasons <= listed, sorted(reasons - listed)


@pytest.mark.parametrize("line", re.findall(r"^refused .*$", LOGGING, re.MULTILINE))
def test_the_example_lines_have_the_guards_shape(line: str) -> None:
    assert re.fullmatch(
        r"refused [A-Z]+ \S+: [a-z_]+ \(.+\), token (-|[0-9a-f]{12}( [a-z]+=\S+)+)", line
    ), line
