"""Real servers for the tests on 127.0.0.1: redis-server, memcached, and
Werkzeug's development server running a WSGI app in a thread.

Each runs as a subprocess on a free loopback port for the test (or module)
that asks for it and is killed afterwards. Without the binary the test is
skipped with the reason; ``.ci/run`` installs both, so CI always runs them.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from tests.processes import free_port


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@dataclass
class Server:
    """A running server process; ``stop()`` and ``start()`` simulate an outage."""

    binary: str
    port: int
    args: list[str]
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, *self.args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _wait_for_port(self.port, self.process)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


@contextmanager
def running(binary_name: str, args: list[str], port: int) -> Iterator[Server]:
    binary = shutil.which(binary_name)
    if binary is None:
        pytest.skip(
            f"{binary_name} is not installed: apt-get install {binary_name} (bash .ci/run does)"
        )
    server = Server(binary, port, args)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def redis_server() -> Iterator[Server]:
    port = free_port()
    args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    with running("redis-server", args, port) as server:
        yield server


@contextmanager
def memcached_server() -> Iterator[Server]:
    port = free_port()
    args = ["-l", "127.0.0.1", "-p", str(port), "-U", "0", "-u", "nobody"]
    with running("memcached", args, port) as server:
        yield server


@contextmanager
def werkzeug_server(app: Any, *, threaded: bool = True) -> Iterator[int]:
    """Werkzeug's development server in a thread."""
    from werkzeug.serving import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log(self, type: str, message: str, *args: Any) -> None:
            pass

    server = make_server("127.0.0.1", 0, app, threaded=threaded, request_handler=Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield int(server.server_port)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
