"""One fetch for the fleet: ``wsgi_jwt_guard.fleet.FetchClaim``.

Claims go through a real cachelib cache shared by several ``SharedCache``
views, as workers of one host share a file-system cache or hosts share Redis.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from cachelib import SimpleCache

from wsgi_jwt_guard.caches import SharedCache
from wsgi_jwt_guard.fleet import Answered, Busy, Claimed, FetchClaim

KEY = "wsgi_jwt_guard:jwks:test:fetch"


def claim_in(cache: Any, **options: Any) -> FetchClaim:
    """A worker's view of the claim, through its own ``SharedCache`` of ``cache``."""
    options.setdefault("hold", 30)
    return FetchClaim(SharedCache(cache), KEY, poll=0.01, **options)


def nothing() -> None:
    return None


def test_without_a_shared_cache_every_worker_fetches_on_its_own() -> None:
    claim = FetchClaim(SharedCache(None), KEY, hold=30)
    assert claim.acquire(nothing, wait=5) == Claimed(None)


def test_the_first_worker_claims_and_the_next_may_claim_after_release() -> None:
    shared = SimpleCache()
    first, second = claim_in(shared), claim_in(shared)

    won = first.acquire(nothing, wait=5)
    assert isinstance(won, Claimed)
    assert won.token is not None
    assert isinstance(second.acquire(nothing, wait=0), Busy)

    first.release(won)
    assert isinstance(second.acquire(nothing, wait=0), Claimed)


@pytest.mark.parametrize(
    ("answered", "expected"),
    [
        pytest.param(lambda: "the peer's keys", Answered("the peer's keys"), id="answered"),
        pytest.param(nothing, Busy, id="busy-after-the-wait"),
    ],
)
def test_a_waiting_worker_takes_the_peers_answer_or_gives_up(
    answered: Callable[[], Any], expected: Any
) -> None:
    shared = SimpleCache()
    holder = claim_in(shared, clock=lambda: 1234.5)
    assert isinstance(holder.acquire(nothing, wait=0), Claimed)

    outcome = claim_in(shared).acquire(answered, wait=0.05)

    if expected is Busy:
        assert outcome == Busy(since=1234.5)  # when the peer claimed: from its entry
    else:
        assert outcome == expected


def test_a_claim_the_worker_cannot_read_does_not_stop_it_fetching() -> None:
    # An entry a worker without the cache's secrets wrote, or one planted:
    # add() fails while get() reads nothing. Waiting for it would let whoever
    # wrote it hold every fetch up; the worker fetches as if alone instead.
    shared = SimpleCache()
    shared.set(KEY, 12345.0)  # not text: SharedCache reads it as absent
    claim = claim_in(shared)

    outcome = claim.acquire(nothing, wait=5)

    assert outcome == Claimed(None)
    claim.release(outcome)
    assert shared.get(KEY) == 12345.0  # not ours: left alone


def test_release_leaves_a_claim_that_is_no_longer_ours() -> None:
    # Held past `hold` (a very slow fetch), the claim expired and a peer took it.
    shared = SimpleCache()
    first = claim_in(shared)
    won = first.acquire(nothing, wait=0)
    assert isinstance(won, Claimed)
    shared.delete(KEY)
    peer = claim_in(shared).acquire(nothing, wait=0)
    assert isinstance(peer, Claimed)

    first.release(won)

    assert SharedCache(shared).get(KEY) == peer.token


def test_a_claim_expires_after_hold_if_its_holder_dies() -> None:
    shared = SimpleCache()
    assert claim_in(shared, hold=0.2).hold == 1  # whole seconds, at least one
    assert claim_in(shared, hold=12.1).hold == 13
