"""The guard's counters as Prometheus metrics, read at scrape time.

The guard depends on no metrics library. It keeps counters
(``guard.metrics.snapshot()``); a custom ``prometheus_client`` collector turns
them into metrics whenever Prometheus scrapes::

    wsgi_jwt_guard_requests_total{outcome="allowed",reason=""} 1520
    wsgi_jwt_guard_requests_total{outcome="refused",reason="expired_token"} 12
    wsgi_jwt_guard_key_fetches_total{result="ok"} 3
    wsgi_jwt_guard_token_cache_lookups_total{result="hit"} 1411

Run it with an issuer in the environment (see ``guard.toml``)::

    gunicorn --workers 1 'examples.prometheus_metrics:app'
    curl http://127.0.0.1:8000/metrics

``/metrics`` is mounted beside the guard, not behind it, as scrapers usually
come without a token: serve it on an internal port or network. Counters live in
each process: with several gunicorn workers, each scrape sees one worker's.
Give each worker its own port, or push every increment elsewhere with
``JWTGuard(..., on_event=...)`` (statsd-style).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import make_wsgi_app
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from wsgi_jwt_guard import JWTGuard, from_config


class GuardCollector(Collector):
    """Reads ``guard.metrics.snapshot()`` at every scrape; keeps no state of its own."""

    def __init__(self, guard: JWTGuard) -> None:
        self.guard = guard

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "wsgi_jwt_guard_requests",
            "Requests the guard handled: allowed (token verified), public, or refused.",
            labels=["outcome", "reason"],
        )
        fetches = CounterMetricFamily(
            "wsgi_jwt_guard_key_fetches", "JWKS and discovery downloads.", labels=["result"]
        )
        cache = CounterMetricFamily(
            "wsgi_jwt_guard_token_cache_lookups",
            "Lookups in the verified-token cache.",
            labels=["result"],
        )
        for name, value in sorted(self.guard.metrics.snapshot().items()):
            group, _, detail = name.partition(".")
            if group == "requests":
                outcome, _, reason = detail.partition(".")
                requests.add_metric([outcome, reason], value)
            elif name.startswith("keys.fetch."):
                fetches.add_metric([name.removeprefix("keys.fetch.")], value)
            elif group == "token_cache":
                cache.add_metric([detail], value)
        yield from (requests, fetches, cache)


def application(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """The protected app: answers with the user the guard verified."""
    body = {"user": environ.get("REMOTE_USER")}
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]


guard = from_config(application, Path(__file__).with_name("guard.toml"))
registry = CollectorRegistry()  # or prometheus_client.REGISTRY, beside your other metrics
registry.register(GuardCollector(guard))
app = DispatcherMiddleware(guard, {"/metrics": make_wsgi_app(registry)})
