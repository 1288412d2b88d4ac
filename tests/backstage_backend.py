"""A real Backstage backend (``tests/backstage/``) started by the suite, and its tokens.

The backend is ``@backstage/backend-defaults``' ``createBackend()`` with the auth
plugin, its guest provider, and two plugins of ours (``probe``, ``target``):
see ``tests/backstage/README.md``. It listens on ``127.0.0.1`` on a free port
and keeps everything in memory, so every start has fresh keys.

    with running_backstage() as backstage:
        user = backstage.user_token()
        plugin = backstage.plugin_token("target")

Its ``node_modules`` come from ``npm ci`` (``.ci/run`` runs it); without them
the fixture fails, naming the command, since CI runs every test.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import requests

from tests.processes import ROOT, Process, free_port

BACKEND_DIR = ROOT / "tests" / "backstage"
READY_LINE = r"BACKSTAGE TEST BACKEND READY (http://\S+)"
# Startup takes about 3 s on two cores; the margin is for a loaded CI host.
START_TIMEOUT = 90.0
TIMEOUT = 10.0
#: The cookie Backstage's ``/.backstage/auth/v1/cookie`` endpoint sets.
COOKIE_NAME = "backstage-auth"
#: The plugin that asks Backstage's auth service for tokens, and the one it targets.
PROBE = "probe"
TARGET = "target"


class BackstageNotInstalled(AssertionError):
    """``tests/backstage/node_modules`` is missing: a failure, never a skip."""


@dataclass(frozen=True)
class Backstage:
    """A running test backend: its base URL and ways to get each kind of token."""

    base_url: str
    process: Process

    @property
    def auth_issuer(self) -> str:
        """The ``iss`` of Backstage user tokens."""
        return f"{self.base_url}/api/auth"

    @property
    def auth_jwks_uri(self) -> str:
        """The keys of user tokens (and of the limited tokens derived from them)."""
        return f"{self.base_url}/api/auth/.well-known/jwks.json"

    def plugin_jwks_uri(self, plugin: str) -> str:
        """The keys ``plugin`` signs its plugin-to-plugin tokens with."""
        return f"{self.base_url}/api/{plugin}/.backstage/auth/v1/jwks.json"

    def _get(self, path: str, *, token: str | None = None, **params: str) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = requests.get(
            f"{self.base_url}{path}", headers=headers, params=params, timeout=TIMEOUT
        )
        if response.status_code != 200:
            raise AssertionError(
                f"GET {path} answered {response.status_code}: {response.text}\n"
                f"backend output:\n{self.process.output[-4000:]}"
            )
        return response

    def sign_in(self) -> dict[str, Any]:
        """The auth plugin's answer to a guest sign-in (``GET /api/auth/guest/refresh``)."""
        body: dict[str, Any] = self._get("/api/auth/guest/refresh").json()
        return body

    def user_token(self) -> str:
        """A full user token for ``user:development/guest`` (a new one per call)."""
        return str(self.sign_in()["backstageIdentity"]["token"])

    def jwks(self, url: str) -> list[dict[str, Any]]:
        """The keys a JWKS URL of the backend publishes right now."""
        keys: list[dict[str, Any]] = requests.get(url, timeout=TIMEOUT).json()["keys"]
        return keys

    def plugin_token(self, target: str = TARGET) -> str:
        """A plugin-to-plugin token from ``probe`` to ``target`` (probe's own credentials)."""
        return str(self._get("/api/probe/plugin-token", target=target).json()["token"])

    def obo_token(self, user_token: str, target: str = TARGET) -> str:
        """A plugin token from ``probe`` to ``target`` on behalf of ``user_token``'s user."""
        response = self._get("/api/probe/obo-token", token=user_token, target=target)
        return str(response.json()["token"])

    def limited_token(self, user_token: str) -> str:
        """``auth.getLimitedUserToken`` for ``user_token``'s user, as the probe plugin gets it."""
        return str(self._get("/api/probe/limited-token", token=user_token).json()["token"])

    def cookie_response(self, user_token: str, plugin: str = PROBE) -> requests.Response:
        """Backstage's own ``GET /api/<plugin>/.backstage/auth/v1/cookie`` response."""
        return self._get(f"/api/{plugin}/.backstage/auth/v1/cookie", token=user_token)

    def limited_cookie(self, user_token: str, plugin: str = PROBE) -> str:
        """The ``backstage-auth`` cookie value that endpoint sets (a limited-user token)."""
        value = self.cookie_response(user_token, plugin).cookies.get(COOKIE_NAME)
        if not value:
            raise AssertionError(f"{plugin}'s cookie endpoint set no {COOKIE_NAME} cookie")
        return str(value)


def check_installed() -> None:
    """Fail (never skip) with the command to run when the backend is not installed."""
    if shutil.which("node") is None:
        raise BackstageNotInstalled("node is not installed: the Backstage tests need Node.js 20+")
    if not (BACKEND_DIR / "node_modules" / "@backstage" / "backend-defaults").is_dir():
        raise BackstageNotInstalled(
            "the test Backstage backend is not installed: run "
            "`cd tests/backstage && npm ci` (.ci/run does it)"
        )


@contextlib.contextmanager
def running_backstage() -> Iterator[Backstage]:
    """Start the backend on a free 127.0.0.1 port, wait until it serves, always stop it."""
    check_installed()
    port = free_port()
    process = Process(
        ["node", "backend.js", "--config", "app-config.yaml"],
        # A fixed NODE_ENV, whatever the developer's shell says: not "development",
        # so the guest provider works only because app-config.yaml allows it.
        env={"PORT": str(port), "NODE_ENV": "test", "NODE_OPTIONS": ""},
        cwd=BACKEND_DIR,
    )
    try:
        base_url = process.wait_for_line(READY_LINE, timeout=START_TIMEOUT).group(1)
        yield Backstage(base_url=base_url, process=process)
    finally:
        process.stop()
