"""The views every framework in the stack suite routes to, and how they testify.

Each framework app (``apps.py``, ``django_site.py``) maps its own routes onto
these view functions with its own router; the view never looks at the path to
decide *which* view it is. A view body that runs appends one JSON line to the
file named by ``STACK_VIEW_LOG`` -- ``{"probe", "view", "kind", "user", ...}``
-- opened with ``O_APPEND``, so lines from many processes and threads never
interleave. That log, not the guard's status code, is the suite's oracle: a
``protected`` line with no user, or with the wrong one, is a bypass.
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

#: The guard exempts this from its protected ``/api/techdocs`` rule (the seed's
#: stylesheet exemption); the static view applies the same test to the asset
#: name *its* router extracted, so a disagreement shows as a protected line.
CSS = re.compile(r".+\.css")

#: Which views are protected, public or optional, by what the view serves.
KINDS = {
    "auth": "public",
    "search": "optional",
    "catalog": "protected",
    "catalog-secret": "protected",
    "catalog-cached": "protected",
    "techdocs": "protected",
    "cors": "protected",
    "catch-all": "protected",
}

Reply = tuple[int, list[tuple[str, str]], bytes]


def record(environ: dict[str, Any], view: str, kind: str, **extra: Any) -> dict[str, Any]:
    """Append what ran, for whom, to the view log; return the entry."""
    entry = {
        "probe": environ.get("HTTP_X_PROBE_ID"),
        "view": view,
        "kind": kind,
        "user": environ.get("REMOTE_USER"),
        "method": environ.get("REQUEST_METHOD"),
        "script_name": environ.get("SCRIPT_NAME"),
        "path_info": environ.get("PATH_INFO"),
        **extra,
    }
    path = os.environ.get("STACK_VIEW_LOG")
    if path:
        line = (json.dumps(entry, ensure_ascii=True) + "\n").encode()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    return entry


def run_view(environ: dict[str, Any], view: str, asset: str | None = None) -> Reply:
    """The body of view ``view``: record, then answer with the user it saw."""
    kind = KINDS[view]
    extra: dict[str, Any] = {}
    if asset is not None:  # techdocs' static files: public only if a stylesheet
        kind = "public" if CSS.fullmatch(asset) else "protected"
        extra["asset"] = asset
    entry = record(environ, view, kind, **extra)
    headers = [("Content-Type", "application/json")]
    if view == "catalog-cached":
        # A response the app lets shared caches store: it must never carry the
        # guard's Set-Cookie with the bearer token (issue 10, class 8).
        headers.append(("Cache-Control", "public, max-age=60"))
    body = json.dumps({"view": view, "kind": kind, "user": entry["user"]}).encode()
    return 200, headers, body


class MethodOverride:
    """What many apps put inside their stack: ``X-HTTP-Method-Override`` and a
    POSTed ``_method`` form field change ``REQUEST_METHOD`` (Rails-style)."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        override = environ.get("HTTP_X_HTTP_METHOD_OVERRIDE")
        if override:
            environ["REQUEST_METHOD"] = override.split(",")[0].strip().upper()
        elif environ.get("REQUEST_METHOD") == "POST" and str(
            environ.get("CONTENT_TYPE", "")
        ).startswith("application/x-www-form-urlencoded"):
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            body = environ["wsgi.input"].read(length) if length > 0 else b""
            environ["wsgi.input"] = io.BytesIO(body)
            method = parse_qs(body.decode("latin-1")).get("_method")
            if method:
                environ["REQUEST_METHOD"] = method[0].strip().upper()
        return self.app(environ, start_response)
