"""The differential suite: every corpus request through every server x framework.

For each request of ``corpus.py``, sent byte for byte to gunicorn (sync,
gthread, behind a relay), waitress and Werkzeug's server in front of Flask,
Django, Pyramid, Bottle and a ``DispatcherMiddleware`` tree -- each routing with
its own router -- no protected view body may run without a valid identity or
as anyone but the case's user, and nothing may answer 5xx. See ``oracle.py``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.stack.corpus import CASES, Case
from tests.stack.oracle import send_everywhere, violations
from tests.stack.stacks import Stack


@pytest.mark.parametrize("case", CASES)
def test_no_view_runs_without_a_valid_identity_or_as_another_user(
    stacks: dict[str, Stack], tokens: dict[str, str], pool: ThreadPoolExecutor, case: Case
) -> None:
    results = send_everywhere(pool, list(stacks.values()), case.template, tokens)
    problems = [p for stack, result in results for p in violations(stack, result, case.expect, case.second)]
    assert not problems, "\n".join(problems)
