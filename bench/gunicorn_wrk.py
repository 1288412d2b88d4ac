"""gunicorn + ``wrk`` on 127.0.0.1: the hello-world app bare, and wrapped with the guard.

Both servers run side by side with the same settings (``gunicorn -w 1`` and
the default sync worker unless told otherwise); ``wrk`` sends the same request
with the same repeat token to each in turn, bare / wrapped / bare / ..., and
the ratio is taken from the median requests per second of each.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.fixtures import PATH, Key
from bench.timing import Sample

ROOT = Path(__file__).resolve().parent.parent


def available() -> str | None:
    """Why the HTTP row cannot run here, or ``None`` when it can."""
    if shutil.which("wrk") is None:
        return "wrk is not installed (Debian: apt-get install wrk)"
    try:
        import gunicorn  # noqa: F401
    except ImportError:
        return "gunicorn is not installed (pip install -e '.[bench]')"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def gunicorn(app: str, env: dict[str, str], worker_class: str) -> Iterator[str]:
    port = _free_port()
    command = [
        sys.executable, "-m", "gunicorn", "--workers", "1", "--worker-class", worker_class,
        "--threads", "2", "--bind", f"127.0.0.1:{port}", "--log-level", "warning", app,
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env)  # noqa: S603
    url = f"http://127.0.0.1:{port}{PATH}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(url, timeout=1).close()
                break
            except urllib.error.HTTPError:
                break  # it answers (a 401 without a token): it is up
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"gunicorn did not start: {' '.join(command)}") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def wrk(url: str, token: str, seconds: int, connections: int) -> float:
    """Requests per second ``wrk`` measured; every response must have been a 2xx."""
    header = f"Authorization: Bearer {token}"
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-H", header, url]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603
    if "Non-2xx" in output:
        raise AssertionError(f"wrk saw errors from {url}:\n{output}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if match is None:
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    return float(match.group(1))


def measure(
    key: Key, *, rounds: int, seconds: int, connections: int = 4, worker_class: str = "sync"
) -> dict[str, Sample]:
    """Seconds per request (``1 / requests per second``) of each app, interleaved."""
    env = {**os.environ, "BENCH_JWK": json.dumps(key.jwk()), "PYTHONPATH": str(ROOT)}
    token = key.token("http")
    results: dict[str, list[float]] = {"bare": [], "wrapped": []}
    with (
        gunicorn("bench.apps:bare", env, worker_class) as bare,
        gunicorn("bench.apps:wrapped()", env, worker_class) as wrapped,
    ):
        urls = {"bare": bare, "wrapped": wrapped}
        for url in urls.values():  # warm up: imports, first verification, caches
            wrk(url, token, 1, connections)
        for number in range(rounds):
            order = ["bare", "wrapped"] if number % 2 == 0 else ["wrapped", "bare"]
            for name in order:
                results[name].append(1 / wrk(urls[name], token, seconds, connections))
    return {name: Sample(tuple(times)) for name, times in results.items()}
