"""``python -m bench.soak``: the long soak of issue 11, and the figures BENCHMARKS.md publishes.

The same machinery as the short soak in the test suite
(:mod:`tests.scenarios.soak`), run longer and harder: by default 90 s, four
gthread workers of four threads, sixteen clients, the issuer rotating every
10 s, Redis down for 10 s, the JWKS endpoint down for 15 s across a rotation,
a worker SIGKILLed and a subject revoked from another process. It prints the
figures and the verdict, and exits 1 if any promise broke::

    pip install -e '.[test]'           # gunicorn, redis (and redis-server from apt)
    python -m bench.soak               # about 100 s
    python -m bench.soak --duration 300 --clients 32 --markdown

Timings are printed, never asserted: the verdict is about correctness (no
wrong identity, no wrong accept, no unjustified 5xx or refusal, fetches
bounded, revocation within its interval).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from dataclasses import replace

from tests.scenarios.soak import SoakPlan, SoakReport, format_report, run_soak

LONG = SoakPlan(
    duration=90.0,
    workers=4,
    threads=4,
    clients=16,
    period=10.0,
    ttl=30.0,
    cooldown=5.0,
    retry_min=1.0,
    retry_max=4.0,
    wait=5.0,
    check_interval=1.0,
    redis_outage=(5.0, 10.0),
    issuer_outage=(35.0, 15.0),
    kill_at=55.0,
    revoke_at=60.0,
)


def cpu_model() -> str:
    """The CPU model from /proc/cpuinfo, and how many this process may use."""
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model}, {len(os.sched_getaffinity(0))} CPUs"


def markdown(report: SoakReport) -> str:
    """The run as the RELIABILITY table of BENCHMARKS.md."""
    plan, figures = report.plan, report.figures()
    rows = [
        ("machine", cpu_model()),
        (
            "setup",
            f"gunicorn --preload, {plan.workers} gthread workers x {plan.threads} threads,"
            f" {plan.clients} clients, Redis shared (HMAC secrets), {plan.duration:.0f} s",
        ),
        ("requests", f"{figures['requests']:,} ({figures['per second']:,}/s)"),
        ("outcomes", ", ".join(f"{name}: {n:,}" for name, n in figures["outcomes"].items())),
        ("rotations / JWKS fetches", f"{figures['rotations']} / {figures['fetches ok']} ok,"
         f" {figures['fetches failed']} failed (issuer down)"),
        ("latency of 200s", f"p50 {figures['p50 ms']} ms, p99 {figures['p99 ms']} ms,"
         f" max {figures['max ms']} ms"),
        ("revocation propagated in", f"{figures['revocation s']} s"
         f" (check_interval {plan.check_interval} s)"),
        ("503s end after the issuer returns", f"{figures['recovery s']} s"),
        ("workers that answered", str(figures["workers seen"])),
        ("problems", "; ".join(report.problems()) or "none"),
    ]  # fmt: skip
    lines = ["| what | result |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    summary = (__doc__ or "").split("\n")[0]
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=summary)
    parser.add_argument("--duration", type=float, default=LONG.duration)
    parser.add_argument("--workers", type=int, default=LONG.workers)
    parser.add_argument("--threads", type=int, default=LONG.threads)
    parser.add_argument("--clients", type=int, default=LONG.clients)
    parser.add_argument("--markdown", action="store_true", help="print the BENCHMARKS.md table")
    options = parser.parse_args(argv)
    scale = options.duration / LONG.duration
    plan = replace(
        LONG,
        duration=options.duration,
        workers=options.workers,
        threads=options.threads,
        clients=options.clients,
        redis_outage=(LONG.redis_outage[0] * scale, LONG.redis_outage[1] * scale),
        issuer_outage=(LONG.issuer_outage[0] * scale, LONG.issuer_outage[1] * scale),
        kill_at=LONG.kill_at * scale,
        revoke_at=LONG.revoke_at * scale,
    )
    print(f"soak: {plan}", file=sys.stderr)
    report = run_soak(plan, log=lambda text: print(text, file=sys.stderr))
    print(markdown(report) if options.markdown else format_report(report))
    return 1 if report.problems() else 0


if __name__ == "__main__":
    raise SystemExit(main())
