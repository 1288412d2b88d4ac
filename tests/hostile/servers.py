"""Real servers on 127.0.0.1 and a raw-bytes HTTP client for the hostile suite.

``http.client`` normalizes or refuses much of what an attacker sends (NUL,
raw backslashes, duplicated headers in a chosen order), so requests here are
written to the socket byte for byte and the answer is parsed by hand.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.processes import free_port, gunicorn_command

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 10.0


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    raw: bytes = field(repr=False, default=b"")

    def header(self, name: str) -> str | None:
        values = self.all(name)
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self) -> Any:
        return json.loads(self.body)



def _parse(raw: bytes) -> Response:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    for name, value in headers:
        if name.lower() == "transfer-encoding" and value.lower() == "chunked":
            body = _dechunk(body)
    return Response(status, headers, body, raw)


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2 :]
    return out


def send_raw(port: int, request: bytes, *, timeout: float = TIMEOUT) -> Response:
    """Send ``request`` exactly as given; read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw:
        raise ConnectionError("the server closed the connection without answering")
    return _parse(raw)


def request(
    port: int,
    target: bytes | str,
    headers: Sequence[tuple[str, str]] = (),
    *,
    method: str = "GET",
    body: bytes = b"",
) -> Response:
    """One HTTP/1.1 request with ``Connection: close``; ``target`` is sent verbatim."""
    if isinstance(target, str):
        target = target.encode("latin-1")
    lines = [method.encode() + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1:%d" % port]
    lines += [f"{k}: {v}".encode("latin-1") for k, v in headers]
    lines += [b"Content-Length: %d" % len(body), b"Connection: close"]
    return send_raw(port, b"\r\n".join(lines) + b"\r\n\r\n" + body)


def _wait_until_listening(port: int, process: subprocess.Popen[str] | None = None) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if process is not None and process.poll() is not None:
                raise RuntimeError("the server exited") from None
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start") from None
            time.sleep(0.05)


def _environment(keys: list[dict[str, Any]], secret: str, stack: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "HOSTILE_KEYS": json.dumps(keys),
        "HOSTILE_SECRET": secret,
        "HOSTILE_STACK": stack,
    }


@contextmanager
def subprocess_server(
    kind: str, keys: list[dict[str, Any]], secret: str, *, stack: str = "plain", extra: Sequence[str] = ()
) -> Iterator[int]:
    """gunicorn or waitress serving ``tests.hostile.app:application`` on a free port."""
    port = free_port()
    if kind == "gunicorn":
        command = gunicorn_command(
            "tests.hostile.app:application", port, "--workers", "1",
            "--worker-class", "gthread", "--threads", "8", "--log-level", "warning", *extra,
        )  # fmt: skip
    elif kind == "waitress":
        command = [
            sys.executable, "-m", "waitress", f"--listen=127.0.0.1:{port}", "--threads=8",
            *extra, "tests.hostile.app:application",
        ]
    else:
        raise ValueError(kind)
    # A file, not a pipe: a server that logs a lot must never block on a full pipe.
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=_environment(keys, secret, stack), stdout=log, stderr=log, text=True
        )
        try:
            try:
                _wait_until_listening(port, process)
            except RuntimeError as exc:
                log.seek(0)
                raise RuntimeError(f"{kind} did not start: {exc}\n{log.read()}") from None
            yield port
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
