"""The suite's oracle: which view bodies ran, for whom, and did anything break.

Never "the guard said 401": a request passes when every view that ran for it
(as the stack's view log shows, by probe id) ran as the one user the case
allows -- and a *protected* view ran only with that identity. Answers of 500
and up fail too, with one exception that is not the guard's or the app's:
gunicorn's own refusal of a ``SCRIPT_NAME`` header that does not prefix the
path, sent before any application code runs. A connection closed without an
answer fails as well: that is what a worker dying mid-request looks like.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.stack.client import Exchange, exchange
from tests.stack.stacks import Stack
from tests.stack.users import SUBJECTS

#: gunicorn answers ``500`` ("Configuration problem") itself, before the app.
GUNICORN_SCRIPT_NAME_REFUSAL = b"does not start with SCRIPT_NAME"


def describe(entry: dict[str, Any]) -> str:
    where = f"SCRIPT_NAME={entry.get('script_name')!r} PATH_INFO={entry.get('path_info')!r}"
    return f"{entry['kind']} view {entry['view']!r} ran as {entry['user']!r} ({entry['method']} {where})"


def view_violations(entries: list[dict[str, Any]], expect: str | None) -> list[str]:
    """Views that ran without the identity ``expect`` names, or as someone else."""
    allowed = SUBJECTS[expect] if expect is not None else None
    problems = []
    for entry in entries:
        user = entry["user"]
        anonymous_protected = entry["kind"] == "protected" and user is None
        if anonymous_protected or (user is not None and user != allowed):
            problems.append(describe(entry))
    return problems


def server_error(stack: Stack, result: Exchange) -> str | None:
    response = result.response
    if response is None:  # a worker that died mid-request looks like this
        return f"no answer: {result.error}"
    if response.status < 500:
        return None
    if stack.server in ("gunicorn-sync", "gunicorn-gthread", "relay") and (
        GUNICORN_SCRIPT_NAME_REFUSAL in response.body
    ):
        return None
    return f"answered {response.status}: {response.body[:300]!r}"


def violations(stack: Stack, result: Exchange, expect: str | None, second: str | None = None) -> list[str]:
    """Everything wrong with one request's outcome in one stack, as readable lines."""
    problems = [f"{stack.name}: {p}" for p in view_violations(stack.records(result.probe), expect)]
    problems += [
        f"{stack.name} (second request): {p}"
        for p in view_violations(stack.records(result.probe + ".2"), second)
    ]
    error = server_error(stack, result)
    if error is not None:
        problems.append(f"{stack.name}: {error}")
    return problems


def send_everywhere(
    pool: ThreadPoolExecutor, stacks: list[Stack], template: str, tokens: dict[str, str]
) -> list[tuple[Stack, Exchange]]:
    """The same request template to every stack at once."""
    results = pool.map(lambda stack: exchange(stack.port, template, tokens), stacks)
    return list(zip(stacks, results, strict=True))
