"""``examples/prometheus_metrics.py``: the guard's counters, scraped in Prometheus' text format."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest
from prometheus_client.parser import text_string_to_metric_families
from werkzeug.test import Client

from wsgi_jwt_guard.dev.devissuer import DevIssuer


@pytest.fixture
def example(in_process_env: None) -> Iterator[ModuleType]:
    sys.modules.pop("examples.prometheus_metrics", None)  # a fresh guard, counters at zero
    yield importlib.import_module("examples.prometheus_metrics")
    sys.modules.pop("examples.prometheus_metrics", None)


def scrape(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200  # mounted beside the guard: no token needed
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
        if sample.name.startswith("wsgi_jwt_guard_") and sample.name.endswith("_total")
    }


def test_counters_are_scraped_as_prometheus_metrics(
    example: ModuleType, dev_issuer: DevIssuer
) -> None:
    client = Client(example.app)
    assert scrape(client) == {}
    token = dev_issuer.mint("user:default/alice")
    expired = dev_issuer.mint("user:default/alice", lifetime=-60)
    assert client.get("/health").status_code == 200
    assert client.get("/api/x").status_code == 401
    assert client.get("/api/x", headers={"Authorization": f"Bearer {expired}"}).status_code == 401
    for _ in range(2):
        response = client.get("/api/x", headers={"Authorization": f"Bearer {token}"})
        assert response.get_json() == {"user": "user:default/alice"}

    metrics = scrape(client)
    requests = "wsgi_jwt_guard_requests_total"
    assert metrics[(requests, (("outcome", "allowed"), ("reason", "")))] == 2
    assert metrics[(requests, (("outcome", "public"), ("reason", "")))] == 1
    assert metrics[(requests, (("outcome", "refused"), ("reason", "missing_token")))] == 1
    assert metrics[(requests, (("outcome", "refused"), ("reason", "expired_token")))] == 1
    assert metrics[("wsgi_jwt_guard_key_fetches_total", (("result", "ok"),))] >= 1
    assert ("wsgi_jwt_guard_key_fetches_total", (("result", "failed"),)) not in metrics


def test_the_collector_reads_the_guard_at_scrape_time(example: ModuleType) -> None:
    client = Client(example.app)
    client.get("/api/x")
    first = scrape(client)
    client.get("/api/x")
    second = scrape(client)
    key = ("wsgi_jwt_guard_requests_total", (("outcome", "refused"), ("reason", "missing_token")))
    assert (first[key], second[key]) == (1, 2)
