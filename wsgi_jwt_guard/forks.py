"""Forks while keys are being fetched: every key source lets its fetch finish first.

Forking a process whose threads are busy is how locks end up held forever in
the child: by a fetch's import, its connection pool, the shared cache's client
(redis-py's pool hangs its children). gunicorn ``--preload`` forks workers
while the master may be prefetching keys. So before a fork every source
registered with :func:`track` (JWKS clients, ALB's PEM keys) lets the fetches
of this process finish, for up to :data:`FORK_WAIT` seconds, and keeps its
lock so that none starts; after the fork the parent releases the locks and the
child starts each source afresh: a lock of its own, no fetches in flight (their
threads did not come along), connections of its own.
"""

from __future__ import annotations

import os
import time
import weakref
from typing import Protocol

__all__ = [
    "FORK_WAIT",
    "ForkSafe",
    "after_fork_in_child",
    "after_fork_in_parent",
    "before_fork",
    "track",
]

#: How long a fork waits for fetches in flight (seconds); a hung one is left behind.
FORK_WAIT = 10.0


class ForkSafe(Protocol):
    """What a key source does around a fork."""

    def hold_for_fork(self, deadline: float) -> None:
        """Take its lock with no fetch of this process running (waiting until ``deadline``)."""

    def release_after_fork(self) -> None:
        """In the parent: release the lock :meth:`hold_for_fork` took."""

    def restart_after_fork(self) -> None:
        """In the child: a new lock, no fetches in flight, connections of its own."""


_SOURCES: weakref.WeakSet[ForkSafe] = weakref.WeakSet()
_held: list[ForkSafe] = []


def track(source: ForkSafe) -> None:
    """Have ``source`` held before every fork and restarted in the child (weakly)."""
    _SOURCES.add(source)


def before_fork() -> None:
    deadline = time.monotonic() + FORK_WAIT
    for source in list(_SOURCES):
        source.hold_for_fork(deadline)
        _held.append(source)


def after_fork_in_parent() -> None:
    while _held:
        _held.pop().release_after_fork()


def after_fork_in_child() -> None:
    _held.clear()
    for source in list(_SOURCES):
        source.restart_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=before_fork,
        after_in_parent=after_fork_in_parent,
        after_in_child=after_fork_in_child,
    )
