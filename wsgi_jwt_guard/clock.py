"""The guard's one notion of time: seconds since the epoch, from a callable.

Everything that needs the time -- token expiry, cookie lifetimes, key refresh,
revocations, the shared cache's retry -- takes a ``clock`` argument of this
type and defaults to :func:`system_clock`. The guard hands its own ``clock``
to everything it builds, so one fake clock moves them all in a test::

    class FakeClock:
        now = 1_700_000_000.0
        def __call__(self) -> float:
            return self.now

    guard = JWTGuard(app, ..., clock=(clock := FakeClock()))
    clock.now += 3600          # every token, key and revocation sees the hour pass
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["Clock", "system_clock"]

#: A function returning the current time in seconds since the epoch.
Clock = Callable[[], float]

#: The wall clock, :func:`time.time`.
system_clock: Clock = time.time
