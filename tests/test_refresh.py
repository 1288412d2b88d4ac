"""When keys are fetched again: ``wsgi_jwt_guard.refresh.RefreshPolicy``."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from wsgi_jwt_guard import ConfigError
from wsgi_jwt_guard.refresh import RefreshPolicy


@pytest.mark.parametrize(
    ("options", "max_age", "ttl"),
    [
        pytest.param({}, None, 600, id="default"),
        pytest.param({}, 120, 120, id="max-age"),
        pytest.param({}, 5, 60, id="below-min-ttl"),
        pytest.param({}, 10**6, 3600, id="above-max-ttl"),
        pytest.param({}, 0, 60, id="no-store"),
        pytest.param({"ttl": 900}, 120, 900, id="configured-ttl-wins"),
        pytest.param({"default_ttl": 5}, None, 60, id="default-within-bounds"),
        pytest.param({"min_ttl": 0}, 0, 0, id="no-store-allowed"),
    ],
)
def test_ttl_for(options: dict[str, Any], max_age: int | None, ttl: float) -> None:
    assert RefreshPolicy(**options).ttl_for(max_age) == ttl


def test_retries_double_from_retry_min_to_retry_max() -> None:
    policy = RefreshPolicy(retry_min=1, retry_max=10)
    assert [policy.retry_delay(n) for n in range(7)] == [0, 1, 2, 4, 8, 10, 10]
    assert policy.retry_delay(10**6) == 10


@pytest.mark.parametrize(
    ("options", "key"),
    [
        pytest.param({"cooldown": -1}, "cooldown", id="negative"),
        pytest.param({"max_stale": float("inf")}, "max_stale", id="infinite"),
        pytest.param({"ttl": "600"}, "ttl", id="text"),
        pytest.param({"wait": True}, "wait", id="bool-is-not-a-number"),
        pytest.param({"prefetch": "true"}, "prefetch", id="prefetch-not-a-bool"),
        pytest.param({"min_ttl": 100, "max_ttl": 10}, "min_ttl", id="min-above-max"),
        pytest.param({"retry_min": 20, "retry_max": 10}, "retry_min", id="retry-min-above-max"),
        pytest.param({"refresh_ahead": 0}, "refresh_ahead", id="refresh-ahead-zero"),
        pytest.param({"refresh_ahead": 1.5}, "refresh_ahead", id="refresh-ahead-above-one"),
    ],
)
def test_mistakes_name_the_setting(options: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        RefreshPolicy(**options)
    assert caught.value.key == key


def test_the_policy_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        RefreshPolicy().cooldown = 0  # type: ignore[misc]
