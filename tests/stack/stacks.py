"""Real servers in front of real frameworks: every combination, started once.

Servers: gunicorn with its sync and gthread workers, waitress, Werkzeug's
development server (``run_simple``) and gunicorn behind a same-host TCP relay
(``relay.py``). gunicorn runs with its *defaults* -- ``forwarded_allow_ips``
is ``127.0.0.1`` and ``forwarder_headers`` includes ``SCRIPT_NAME`` -- since
that is how it is deployed and where the bypass of issue 10 lives.

Each server x framework pair is a process of its own with its own view log;
the relay stacks reach the gunicorn sync process of their framework through
the relay. All processes start at once and are then polled until they answer.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from tests.processes import Process, free_port, gunicorn_command
from tests.stack.apps import FRAMEWORKS
from tests.stack.relay import relay

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.stack.apps:application"
SERVERS = ("gunicorn-sync", "gunicorn-gthread", "waitress", "werkzeug", "relay")
#: The guard configured with ``mount``, under gunicorn serving below ``SCRIPT_NAME``.
MOUNT = "/svc"
MOUNTED_FRAMEWORKS = ("flask", "django")
#: Servers that run requests on threads in one process.
THREADED = ("gunicorn-gthread", "waitress")


@dataclass
class Stack:
    """One server in front of one framework's app, behind the guard."""

    server: str
    framework: str
    port: int
    log: Path
    process: Process
    #: Why it did not start (only the optional mounted stacks may fail to).
    startup_error: str | None = None

    @property
    def name(self) -> str:
        return f"{self.server}/{self.framework}"

    def records(self, probe: str | None = None) -> list[dict[str, Any]]:
        """Every view that ran in this stack's process (for ``probe``: only its own)."""
        if not self.log.exists():
            return []
        lines = self.log.read_text().splitlines()
        if probe is None:
            return [json.loads(line) for line in lines if line]
        # Parse only the lines that can be this probe's: the log grows all session.
        found = (json.loads(line) for line in lines if probe in line)
        return [entry for entry in found if entry.get("probe") == probe]


def _command(server: str, port: int) -> list[str]:
    if server == "gunicorn-sync":
        return gunicorn_command(APP, port, "--workers", "1", "--log-level", "warning")
    if server == "gunicorn-gthread":
        return gunicorn_command(
            APP, port, "--workers", "1", "--worker-class", "gthread", "--threads", "8",
            "--log-level", "warning",
        )  # fmt: skip
    if server == "waitress":
        return [sys.executable, "-m", "waitress", f"--listen=127.0.0.1:{port}", "--threads=8", APP]
    if server == "werkzeug":
        return [sys.executable, "-m", "tests.stack.serve_werkzeug", str(port)]
    if server == "gunicorn-mounted":
        return _command("gunicorn-gthread", port)
    raise ValueError(server)


def _wait_until_serving(stack: Stack, timeout: float = 90.0) -> None:
    """Poll until the app answers: twenty processes importing frameworks at once on
    two cores take a while, and a listening socket is not yet a booted worker."""
    deadline = time.monotonic() + timeout
    prefix = MOUNT if stack.server == "gunicorn-mounted" else ""
    url = f"http://127.0.0.1:{stack.port}{prefix}/api/auth/ready"
    while True:
        try:
            requests.get(url, timeout=5)
            return
        except (requests.ConnectionError, requests.Timeout):
            if stack.process.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{stack.name} did not start:\n{stack.process.output}") from None
            time.sleep(0.05)


def _start(
    server: str, framework: str, keys: list[dict[str, Any]], secret: str, directory: Path
) -> Stack:
    port = free_port()
    log = directory / f"{server}-{framework}.jsonl"
    env = {
        "PYTHONPATH": str(ROOT),
        "STACK_FRAMEWORK": framework,
        "STACK_KEYS": json.dumps(keys),
        "STACK_SECRET": secret,
        "STACK_VIEW_LOG": str(log),
    }
    if server == "gunicorn-mounted":
        # gunicorn serves below the SCRIPT_NAME of its environment; the guard is told.
        env.update(SCRIPT_NAME=MOUNT, STACK_MOUNT=MOUNT)
    return Stack(server, framework, port, log, Process(_command(server, port), env=env))


@contextlib.contextmanager
def running_stacks(
    keys: list[dict[str, Any]], secret: str, directory: Path
) -> Iterator[dict[str, Stack]]:
    """Every server x framework, keyed by ``"server/framework"``, plus the
    ``gunicorn-mounted`` ones (not part of the corpus runs); stopped afterwards."""
    started: list[Stack] = []
    try:
        for framework in FRAMEWORKS:
            for server in SERVERS:
                if server != "relay":
                    started.append(_start(server, framework, keys, secret, directory))
        for framework in MOUNTED_FRAMEWORKS:
            started.append(_start("gunicorn-mounted", framework, keys, secret, directory))
        for stack in started:  # all are starting already; now wait for each
            try:
                _wait_until_serving(stack)
            except AssertionError as exc:
                if stack.server != "gunicorn-mounted":
                    raise
                stack.startup_error = str(exc)  # fails the tests that use it, only
        with contextlib.ExitStack() as relays:
            stacks = {stack.name: stack for stack in started}
            for framework in FRAMEWORKS:
                behind = stacks[f"gunicorn-sync/{framework}"]
                port = relays.enter_context(relay(behind.port))
                stacks[f"relay/{framework}"] = Stack("relay", framework, port, behind.log, behind.process)
            yield stacks
    finally:
        for stack in started:  # all stop at once, then each is waited for
            with contextlib.suppress(ProcessLookupError):
                if stack.process.process.poll() is None:
                    stack.process.process.send_signal(signal.SIGTERM)
        for stack in started:
            stack.process.stop()
