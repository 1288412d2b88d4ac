"""After everything else ran: every server is still up and nothing crashed.

Runs last (files are collected in order). A request that made a worker die,
or an app raise, shows here even if its own answer looked fine: the process
is gone, or its log holds a traceback. And a sweep of every view log finds no
protected view that ran without a user -- whatever request it was.
"""

from __future__ import annotations

import re

from tests.stack.apps import GUARD_LOG_PREFIX
from tests.stack.stacks import Stack

# What gunicorn, waitress and Werkzeug's server print when something broke.
BROKEN = re.compile(r"Traceback \(most recent call last\)|\[ERROR\]|\[CRITICAL\]|Exception while serving|Error on request")


def test_every_server_process_is_still_running(all_stacks: dict[str, Stack]) -> None:
    gone = {name: stack.process.process.poll() for name, stack in all_stacks.items()}
    assert {name: code for name, code in gone.items() if code is not None} == {}


def test_no_server_logged_a_crash(all_stacks: dict[str, Stack]) -> None:
    crashed = {
        name: stack.process.output[-3000:]
        for name, stack in all_stacks.items()
        if any(
            BROKEN.search(line)
            for line in stack.process.output.splitlines()
            if not line.startswith(GUARD_LOG_PREFIX)  # refusals quote request paths
        )
    }
    assert not crashed, "\n\n".join(f"{name}:\n{output}" for name, output in crashed.items())


def test_no_protected_view_ever_ran_anonymously(all_stacks: dict[str, Stack]) -> None:
    logs = {stack.log: stack for stack in all_stacks.values()}
    anonymous = [
        (stack.name, entry)
        for stack in logs.values()
        for entry in stack.records()
        if entry["kind"] == "protected" and entry["user"] is None
    ]
    assert not anonymous
