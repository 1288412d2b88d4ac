"""One fetch for the whole fleet: :class:`FetchClaim`.

Workers sharing a cache -- one host's gunicorn workers through the file
system, many hosts through Redis or memcached -- should fetch an issuer's keys
once between them, not once each. Before fetching, a worker claims the fetch
with the cache's atomic ``add``; the others wait for its result to appear in
the cache. :meth:`FetchClaim.acquire` says which of three things happened:

* :class:`Claimed` -- fetch, then :meth:`FetchClaim.release` (also after a
  failure: a claim never outlives the fetch that made it, except a worker killed
  mid-fetch, whose claim expires after ``hold`` seconds);
* :class:`Answered` -- while waiting, a peer's result appeared that answers the
  question asked (the caller says what that is): use it;
* :class:`Busy` -- a peer is still fetching after ``wait``: do not fetch too.

The claim is an optimisation, never a gate: without a shared cache, or when
the claim's key holds an entry this worker cannot read (written by a worker
without the cache's HMAC secrets, or planted), :meth:`~FetchClaim.acquire`
answers ``Claimed`` and the worker fetches on its own, as if alone.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from .caches import SharedCache
from .clock import Clock, system_clock

__all__ = ["Answered", "Busy", "ClaimResult", "Claimed", "FetchClaim"]

T = TypeVar("T")


@dataclass(frozen=True)
class Claimed:
    """This worker fetches. ``token`` is what to release; ``None`` if nothing was stored."""

    token: str | None


@dataclass(frozen=True)
class Answered(Generic[T]):
    """A peer's fetch answered the question while this worker waited."""

    answer: T


@dataclass(frozen=True)
class Busy:
    """A peer has been fetching for longer than this worker may wait."""

    #: When the peer claimed the fetch (its clock), if readable.
    since: float | None


#: What :meth:`FetchClaim.acquire` can answer.
ClaimResult = Claimed | Answered[T] | Busy


class FetchClaim:
    """The right to fetch one resource, claimed through a shared cache.

    :param cache: the cache the workers share.
    :param key: the claim's key in it.
    :param hold: seconds a claim lasts if never released (its holder died):
        at least as long as the longest fetch.
    :param poll: seconds between looks at the cache while waiting.
    """

    def __init__(
        self,
        cache: SharedCache,
        key: str,
        *,
        hold: float,
        poll: float = 0.05,
        clock: Clock = system_clock,
    ) -> None:
        self.cache = cache
        self.key = key
        self.hold = max(1, math.ceil(hold))
        self.poll = poll
        self.clock = clock

    def acquire(self, answered: Callable[[], T | None], *, wait: float) -> ClaimResult[T]:
        """Claim the fetch, or wait up to ``wait`` seconds for the peer that has it.

        ``answered()`` looks for a result that answers the caller's question
        (in the shared cache) and returns it, or ``None``.
        """
        if not self.cache.is_shared:
            return Claimed(None)  # threads of one process take turns by other means
        token = json.dumps({"at": self.clock(), "id": uuid.uuid4().hex})
        deadline = time.monotonic() + wait
        unreadable = 0
        while True:
            if self.cache.add(self.key, token, timeout=self.hold):
                return Claimed(token)
            answer = answered()
            if answer is not None:
                return Answered(answer)
            holder = self.cache.get(self.key)
            if holder is None:
                # Released just now (try again at once), or an entry this worker
                # cannot read: then nobody it could wait for holds the claim.
                unreadable += 1
                if unreadable > 1:
                    return Claimed(None)
                continue
            if time.monotonic() >= deadline:
                return Busy(_claimed_at(holder))
            time.sleep(self.poll)

    def release(self, claimed: Claimed) -> None:
        """Give the claim up (the fetch succeeded or failed), if it is still ours."""
        if claimed.token is not None and self.cache.get(self.key) == claimed.token:
            self.cache.delete(self.key)


def _claimed_at(holder: str) -> float | None:
    try:
        at = json.loads(holder)["at"]
    except (ValueError, TypeError, KeyError):
        return None
    return float(at) if isinstance(at, (int, float)) else None
