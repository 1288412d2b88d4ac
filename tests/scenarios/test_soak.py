"""A short soak (issue 11): keys through rotation, outages and a worker kill, under load.

About 35 s of real time: gunicorn with three gthread workers sharing a real
redis-server, an issuer rotating its ES256 key every 4 s, six clients and a
subject revoked from another process, with Redis killed and restarted, the
JWKS endpoint down across a rotation and a worker SIGKILLed
(:mod:`tests.scenarios.soak` has the plan and the verdict). The long version
is ``python -m bench.soak``; BENCHMARKS.md has its figures.
"""

from __future__ import annotations

import shutil

import pytest

from tests.scenarios.soak import SoakPlan, format_report, run_soak


def test_no_valid_token_is_refused_through_rotations_outages_and_a_worker_kill() -> None:
    pytest.importorskip("gunicorn")
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed: apt-get install redis-server (bash .ci/run does)")

    report = run_soak(SoakPlan())

    summary = format_report(report)
    assert report.problems() == [], summary
    outcomes = report.counts()
    assert outcomes["ok"] > 0, summary
    assert outcomes["refused"] > 0, summary  # forged, expired and foreign tokens
    assert outcomes["refused (revoked)"] > 0, summary
    assert len(report.rotations) >= 5, summary
    assert len(report.workers_seen) >= 2, summary
