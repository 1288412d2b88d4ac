"""Requests written to the socket byte for byte, and what came back.

The corpus (``corpus.py``) writes requests as templates: ``{alice}``,
``{mallory}`` and the other token names, ``{host}``/``{origin}`` for the
address dialled and ``{probe}`` for the id the views log. Everything else is
sent exactly as written, through :func:`tests.hostile.servers.send_raw`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tests.hostile.servers import Response, send_raw


def render(template: str, values: Mapping[str, str]) -> str:
    for name, value in values.items():
        template = template.replace("{" + name + "}", value)
    return template


def new_probe() -> str:
    return uuid.uuid4().hex


def request_bytes(
    method: str,
    target: str,
    headers: Sequence[tuple[str, str]] = (),
    *,
    body: str = "",
    version: str = "HTTP/1.1",
    host: bool = True,
) -> str:
    """A request template with ``Host``, ``X-Probe-Id``, ``Content-Length`` and ``Connection: close``."""
    lines = [f"{method} {target} {version}"]
    if host:
        lines.append("Host: {host}")
    lines += [f"{name}: {value}" for name, value in headers]
    lines += ["X-Probe-Id: {probe}", f"Content-Length: {len(body.encode())}", "Connection: close"]
    return "\r\n".join(lines) + "\r\n\r\n" + body


@dataclass
class Exchange:
    """One request sent to one stack: the answer (or why there was none)."""

    probe: str
    response: Response | None
    error: str | None = None


def exchange(port: int, template: str, values: Mapping[str, str], *, timeout: float = 10.0) -> Exchange:
    probe = new_probe()
    filled = {**values, "probe": probe, "host": f"127.0.0.1:{port}", "origin": f"http://127.0.0.1:{port}"}
    raw = render(template, filled).encode("utf-8")
    try:
        return Exchange(probe, send_raw(port, raw, timeout=timeout))
    except (OSError, ValueError, IndexError) as exc:  # closed without an answer, or not HTTP
        return Exchange(probe, None, f"{type(exc).__name__}: {exc}")
