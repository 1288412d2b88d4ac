"""The benchmark suite still runs (``python -m bench --smoke``); its figures are not checked.

Timings are never asserted in the test suite (machines are noisy): this only
keeps ``bench/`` from rotting as the package changes.
"""

from __future__ import annotations

import pytest


def test_the_benchmark_runs_in_smoke_mode(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.run import main

    assert main(["--smoke", "--no-http"]) == 0
    table = capsys.readouterr().out
    for row in (
        "first-seen ES256",
        "first-seen RS256",
        "repeat token, in-process",
        "PyJWT + PyJWKClient",
        "flask-jwt-extended",
        "gunicorn",
        "memory",
    ):
        assert row in table
