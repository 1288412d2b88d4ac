"""Keys as fetched and as workers share them: ``wsgi_jwt_guard.fetched``.

Whole-client behaviour with poisoned entries is in ``test_jwks.py``; this is
the entry format on its own.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.helpers import SigningKey
from wsgi_jwt_guard.fetched import NEVER, FetchedKeys, holds, read_entry
from wsgi_jwt_guard.keys import KeySet
from wsgi_jwt_guard.refresh import RefreshPolicy

URI = "https://auth.example.test/jwks"
POLICY = RefreshPolicy(max_stale=3600, refresh_ahead=0.5)


def only(uri: object) -> str:
    if uri != URI:
        raise ValueError("another URL")
    return URI


def fetched(key: SigningKey, **options: Any) -> FetchedKeys:
    keys = KeySet.from_jwks({"keys": [key.public_jwk()]}, ["ES256"], strict=True)
    options = {"fetched_at": 1000.0, "ttl": 600.0, "uri": URI, "kid_missed_at": NEVER, **options}
    return FetchedKeys.of(keys, policy=POLICY, **options)


def read(text: str) -> FetchedKeys | None:
    return read_entry(text, algorithms=["ES256"], policy=POLICY, check_uri=only)


def test_the_moments_come_from_the_policy(ec_key: SigningKey) -> None:
    keys = fetched(ec_key)
    assert (keys.refresh_at, keys.expires_at, keys.stale_at) == (1300, 1600, 4600)
    assert keys.quiet_until == keys.refresh_at
    assert keys.kids == frozenset({"ec-1"})
    assert holds(keys.keys, ("ec-1", "ES256"))
    assert not holds(keys.keys, ("ec-2", "ES256"))


def test_an_entry_reads_back_as_it_was_written(ec_key: SigningKey) -> None:
    keys = fetched(ec_key, kid_missed_at=990.0)
    text = keys.entry({"keys": [ec_key.public_jwk()]})
    again = read(text)
    assert again is not None
    assert (again.fetched_at, again.ttl, again.uri, again.kid_missed_at, again.kids) == (
        1000.0,
        600.0,
        URI,
        990.0,
        frozenset({"ec-1"}),
    )
    assert "kid_missed_at" not in json.loads(fetched(ec_key).entry({}))  # never: not written


@pytest.mark.parametrize(
    ("change", "readable"),
    [
        pytest.param({}, True, id="as-written"),
        pytest.param({"uri": "https://evil.example.test/jwks"}, False, id="another-url"),
        pytest.param({"ttl": 10**9}, False, id="ttl-too-long"),
        pytest.param({"fetched_at": "NaN"}, False, id="fetched-at-nan"),
        pytest.param({"jwks": {"keys": []}}, False, id="no-keys"),
        pytest.param({"kid_missed_at": 10**12}, True, id="miss-in-the-future-clamped"),
    ],
)
def test_entries_are_validated_like_downloads(
    ec_key: SigningKey, change: dict[str, Any], readable: bool
) -> None:
    entry = json.loads(fetched(ec_key).entry({"keys": [ec_key.public_jwk()]}))
    entry.update(change)
    keys = read(json.dumps(entry))
    assert (keys is not None) == readable
    if keys is not None:
        assert keys.kid_missed_at <= keys.fetched_at
