"""App servers the tests run as real processes: the CLI demo, gunicorn, Bottle.

Every process starts in its own session (process group), so :meth:`Process.stop`
can kill whatever it spawned (gunicorn workers) even if the leader hangs.
Output is collected line by line by a thread, so a chatty server never blocks
on a full pipe. Every wait is bounded; nothing here can hang the suite.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli_command() -> list[str]:
    """The installed ``wsgi-jwt-guard`` console script (``python -m`` if absent)."""
    script = Path(sys.executable).with_name("wsgi-jwt-guard")
    if script.exists():
        return [str(script)]
    found = shutil.which("wsgi-jwt-guard")
    return [found] if found else [sys.executable, "-m", "wsgi_jwt_guard"]


def _no_control_socket() -> list[str]:
    """gunicorn 25+ opens a control socket at one fixed path per user: the suite's
    many gunicorns at once would fight over it and log errors. Older ones have none."""
    try:
        from gunicorn.config import KNOWN_SETTINGS
    except ImportError:
        return []
    if any(setting.name == "control_socket_disable" for setting in KNOWN_SETTINGS):
        return ["--no-control-socket"]
    return []


def gunicorn_command(app: str, port: int, *options: str) -> list[str]:
    """``python -m gunicorn`` serving ``app`` on ``127.0.0.1:port``, quick to stop."""
    return [
        sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
        "--graceful-timeout", "3", *_no_control_socket(), *options, app,
    ]  # fmt: skip


class Process:
    """A subprocess whose combined stdout and stderr are collected line by line."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | str = ROOT,
    ) -> None:
        self.command = list(command)
        self.process = subprocess.Popen(
            self.command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            cwd=cwd,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def output(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def wait_for_line(self, pattern: str, timeout: float = START_TIMEOUT) -> re.Match[str]:
        """The first output line matching ``pattern``; fails if the process ends first."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines:
                    found = regex.search(line)
                    if found:
                        return found
                remaining = deadline - time.monotonic()
                ended = self.process.poll() is not None and not self._reader.is_alive()
                if remaining <= 0 or ended:
                    output = "\n".join(self.lines)
                    raise AssertionError(f"{self.command} never printed {pattern!r}:\n{output}")
                self._changed.wait(min(remaining, 0.2))

    def wait_for_http(self, url: str, timeout: float = START_TIMEOUT) -> None:
        """Poll ``url`` until the server answers at all (any status)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                requests.get(url, timeout=2)
                return
            except (requests.ConnectionError, requests.Timeout):  # a loaded machine: retry
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        f"{self.command} did not serve {url}:\n{self.output}"
                    ) from None
                time.sleep(0.1)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int | None:
        """Send ``sig``, wait, then kill the process group; the exit status, if it exited."""
        status: int | None = None
        try:
            if self.process.poll() is None:
                self.process.send_signal(sig)
            status = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        finally:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)
            self._reader.join(timeout=5)
        return status


@contextlib.contextmanager
def running(
    command: Sequence[str],
    *,
    ready_url: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | str = ROOT,
) -> Iterator[Process]:
    """Start ``command``, wait until ``ready_url`` answers, and always stop it."""
    process = Process(command, env=env, cwd=cwd)
    try:
        process.wait_for_http(ready_url)
        yield process
    finally:
        process.stop()


class Demo:
    """A running ``wsgi-jwt-guard demo --port 0`` and what it printed."""

    def __init__(self, process: Process) -> None:
        self.process = process
        process.wait_for_line(r"Press Ctrl-C to stop\.")
        self.banner = process.output
        self.base = process.wait_for_line(r"Web page \(cookie flow\)\s+(http://\S+?)/?$").group(1)
        self.token = process.wait_for_line(r"^export TOKEN=(\S+)$").group(1)


@contextlib.contextmanager
def running_demo(env: Mapping[str, str] | None = None) -> Iterator[Demo]:
    """The demo on a free port that the demo picks itself (``--port 0``)."""
    process = Process([*cli_command(), "demo", "--port", "0"], env=env)
    try:
        yield Demo(process)
    finally:
        process.stop()
