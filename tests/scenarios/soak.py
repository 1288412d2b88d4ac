"""A soak of the keys path as production sees it (issue 11).

Real parts only, all on 127.0.0.1:

* an issuer that rotates its ES256 key every ``period`` seconds, keeping the
  previous key published for one period, and serves its JWKS over HTTP;
* gunicorn (``--preload``, gthread workers) running ``soak_app`` -- a guard
  with ``prefetch`` whose workers share a real ``redis-server`` (HMAC-signed
  entries), with revocation;
* client threads sending tokens of the current key (re-minted at each
  rotation, so traffic with a new ``kid`` starts the instant it is published),
  plus forged, expired and foreign-issuer tokens, and one subject that gets
  revoked from another process;
* on a schedule: Redis killed and restarted, the JWKS endpoint down across
  rotations, a worker SIGKILLed.

:func:`run_soak` returns a :class:`SoakReport`; :meth:`SoakReport.problems`
lists every broken promise: a wrong identity, a wrong accept, a 5xx other than
a 503 for a key published while the issuer was down (until it recovered), a
valid token refused, a connection error away from the worker kill, fetches
beyond one per rotation for the fleet (outside the Redis outage), a
revocation slower than its interval. ``tests/scenarios/test_soak.py`` runs a
short soak in the suite; ``python -m bench.soak`` runs a long one and prints
the figures BENCHMARKS.md publishes.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import signal
import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric import ec

from tests.helpers import ISSUER, SigningKey
from tests.jwks_server import JWKSServer, answer, serving
from tests.processes import Process, free_port, gunicorn_command
from tests.scenarios.soak_app import config
from tests.servers import Server, redis_server
from wsgi_jwt_guard.caches import build_cache
from wsgi_jwt_guard.revocation import Revocations

CACHE_SECRET = "soak-" + "s" * 40  # the HMAC secret of a test rig
REVOKED = "user:default/revoked"
_CACHE_RETRY = 10.0  # SharedCache's default retry_after


@dataclass(frozen=True)
class SoakPlan:
    """What happens when, in seconds from the start of the load."""

    duration: float = 30.0
    workers: int = 3
    threads: int = 4
    clients: int = 6
    #: The issuer rotates its key this often; the previous key stays one period.
    period: float = 4.0
    #: The guard's refresh policy (``jwks_refresh``).
    ttl: float = 10.0
    cooldown: float = 2.0
    retry_min: float = 0.5
    retry_max: float = 2.0
    wait: float = 5.0
    check_interval: float = 1.0
    #: (start, length) of each outage. The JWKS outage spans rotations. The
    #: revocation comes once Redis is back (while it is down, revocations reach
    #: only the worker that makes them: documented, and not what is measured).
    redis_outage: tuple[float, float] = (2.0, 3.0)
    issuer_outage: tuple[float, float] = (14.5, 6.0)
    kill_at: float = 23.0
    revoke_at: float = 25.0
    #: Shares of client requests with a forged, expired or foreign-issuer token.
    forged: float = 0.04
    expired: float = 0.03
    foreign: float = 0.03


# --- the rotating issuer ------------------------------------------------------------


class RotatingIssuer:
    """Signs with its newest key; publishes it and the one before; counts JWKS fetches."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.keys: list[SigningKey] = []
        self.published_at: dict[str, float] = {}
        self.fetches: list[tuple[float, bool]] = []  # (when, answered with keys)
        self.down = False
        self.rotate()

    def rotate(self) -> str:
        key = SigningKey.ec(kid=f"k{len(self.published_at) + 1}")
        with self._lock:
            self.published_at[str(key.kid)] = time.time()
            self.keys = [key, *self.keys[:1]]  # the new key and the one before
        return str(key.kid)

    def current(self) -> SigningKey:
        return self.keys[0]

    def jwks(self) -> bytes | None:
        with self._lock:
            ok = not self.down
            self.fetches.append((time.time(), ok))
            keys = list(self.keys)
        return json.dumps({"keys": [k.public_jwk() for k in keys]}).encode() if ok else None

    @contextlib.contextmanager
    def serving(self) -> Iterator[str]:
        """Serve ``/jwks`` on 127.0.0.1; yields its URL."""

        def respond(handler: BaseHTTPRequestHandler) -> None:
            body = self.jwks()
            if body is None:
                answer(503, b'{"error": "down"}')(handler)
            else:
                answer(200, body)(handler)

        with serving(JWKSServer(respond=respond, path="/jwks"), protocol="HTTP/1.1") as server:
            yield server.url


# --- what the clients saw -------------------------------------------------------------


@dataclass
class Sample:
    """One request: when, what it carried, what came back (``status`` None: no answer)."""

    sent: float
    latency: float
    kind: str  # valid | revocable | forged | expired | foreign
    subject: str
    kid: str | None
    status: int | None
    sub: str | None = None
    pid: int | None = None


@dataclass
class SoakReport:
    """Everything a soak observed, and the verdict."""

    plan: SoakPlan
    started: float = 0.0
    samples: list[Sample] = field(default_factory=list)
    rotations: list[tuple[float, str]] = field(default_factory=list)
    fetches: list[tuple[float, bool]] = field(default_factory=list)
    events: dict[str, float] = field(default_factory=dict)
    published_at: dict[str, float] = field(default_factory=dict)
    workers_seen: set[int] = field(default_factory=set)

    # -- windows ------------------------------------------------------------------

    def _at(self, name: str) -> float:
        return self.events[name]

    def _issuer_window(self) -> tuple[float, float]:
        """Requests whose key was published while the JWKS was down may get 503 in here."""
        recovery = self.plan.retry_max + self.plan.wait + 1.0
        return self._at("issuer_down"), self._at("issuer_up") + recovery

    def _unreachable_kid(self, sample: Sample) -> bool:
        published = self.published_at.get(sample.kid or "", 0.0)
        # A key published just before the outage may not have been fetched yet.
        return published >= self._at("issuer_down") - self.plan.wait

    def _kill_window(self) -> tuple[float, float]:
        return self._at("kill") - 0.5, self._at("kill") + 3.0

    def _fragmented_window(self) -> tuple[float, float]:
        # While Redis is down each worker keeps to its own memory, and tries
        # Redis again every 10 s from its first failure (SharedCache.retry_after).
        down, up = self._at("redis_down"), self._at("redis_up")
        return down, down + _CACHE_RETRY * max(1, math.ceil((up - down) / _CACHE_RETRY)) + 1.0

    # -- the verdict ----------------------------------------------------------------

    def counts(self) -> Counter[str]:
        """Each sample's outcome, by category."""
        counts: Counter[str] = Counter()
        for sample in self.samples:
            counts[self._classify(sample)] += 1
        return counts

    def _classify(self, s: Sample) -> str:
        if s.status is None:
            low, high = self._kill_window()
            return "no answer (worker kill)" if low <= s.sent <= high else "no answer"
        if s.status >= 500:
            low, high = self._issuer_window()
            justified = s.status == 503 and low <= s.sent <= high and self._unreachable_kid(s)
            return "503 (issuer down, key published meanwhile)" if justified else f"{s.status} !"
        if s.kind in ("forged", "expired", "foreign"):
            return "refused" if s.status == 401 else "wrong accept"
        # Refused once answered after the revocation; must be, once sent an interval later.
        revoked = s.kind == "revocable" and s.sent + s.latency >= self._at("revoke")
        propagated = revoked and s.sent >= self._at("revoke") + self.plan.check_interval + 0.5
        if s.status == 200:
            if s.sub != s.subject:
                return "wrong identity"
            return "wrong accept (revoked)" if propagated else "ok"
        if s.status == 401 and revoked:
            return "refused (revoked)"
        return f"valid refused ({s.status})"

    def problems(self) -> list[str]:
        """Every promise the run broke; empty when all held."""
        found = []
        bad = {
            name: n
            for name, n in self.counts().items()
            if name not in ("ok", "refused", "refused (revoked)", "no answer (worker kill)")
            and not name.startswith("503 (issuer down")
        }
        if bad:
            found.append(f"unexpected outcomes: {bad}")
        if not any(s.status == 200 and s.kind == "valid" for s in self.samples):
            found.append("no request succeeded at all")
        low, high = self._fragmented_window()
        for start, end, kid in self._rotation_intervals():
            if low <= start <= high or low <= end <= high:
                continue
            ok = sum(1 for at, good in self.fetches if good and start <= at < end)
            if ok > 2:
                found.append(f"{ok} JWKS fetches for the rotation to {kid}, not one for the fleet")
        failed = sum(1 for _, good in self.fetches if not good)
        down = self._at("issuer_up") - self._at("issuer_down")
        budget = (self.plan.workers + 1) * (down / self.plan.retry_min + 2)
        if failed > budget:
            found.append(f"{failed} failed fetches during a {down:.0f} s outage (over {budget})")
        late = self.revocation_delay()
        if late is not None and late > self.plan.check_interval + 0.5:
            found.append(f"the revocation took {late:.2f} s (interval {self.plan.check_interval})")
        if not any(s.kind == "revocable" and s.status == 401 for s in self.samples):
            found.append("the revocation never took effect")
        return found

    def _rotation_intervals(self) -> list[tuple[float, float, str]]:
        times = [*self.rotations, (self.started + self.plan.duration, "")]
        return [(t, times[i + 1][0], kid) for i, (t, kid) in enumerate(times[:-1])]

    # -- figures --------------------------------------------------------------------

    def revocation_delay(self) -> float | None:
        """From the revocation to the last request of the subject that still got through."""
        revoked = self._at("revoke") if "revoke" in self.events else None
        if revoked is None:
            return None
        late = [s.sent + s.latency for s in self.samples if s.kind == "revocable"]
        through = [
            s.sent + s.latency
            for s in self.samples
            if s.kind == "revocable" and s.status == 200 and s.sent >= revoked
        ]
        return max(through) - revoked if through else (0.0 if late else None)

    def recovery(self) -> float | None:
        """From the issuer's return to the last 503 for a key published while it was down."""
        last = [s.sent for s in self.samples if s.status == 503]
        return max(0.0, max(last) - self._at("issuer_up")) if last else None

    def figures(self) -> dict[str, Any]:
        """The numbers BENCHMARKS.md publishes."""
        ok = sorted(s.latency for s in self.samples if s.status == 200)
        rotations = len(self.rotations)
        good_fetches = sum(1 for _, good in self.fetches if good)
        return {
            "requests": len(self.samples),
            "per second": round(len(self.samples) / self.plan.duration),
            "outcomes": dict(self.counts().most_common()),
            "rotations": rotations,
            "fetches ok": good_fetches,
            "fetches failed": sum(1 for _, good in self.fetches if not good),
            "workers seen": len(self.workers_seen),
            "p50 ms": round(1000 * statistics.median(ok), 1) if ok else None,
            "p99 ms": round(1000 * ok[int(0.99 * (len(ok) - 1))], 1) if ok else None,
            "max ms": round(1000 * ok[-1], 1) if ok else None,
            "revocation s": _round(self.revocation_delay()),
            "recovery s": _round(self.recovery()),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


# --- running it ------------------------------------------------------------------------


def run_soak(plan: SoakPlan, *, log: Any = None) -> SoakReport:
    """Run the soak of ``plan``; ``log(text)`` hears about each scheduled event."""
    say = log or (lambda text: None)
    issuer = RotatingIssuer()
    report = SoakReport(plan)
    with issuer.serving() as jwks_url, redis_server() as redis:
        env = {
            "SOAK_ISSUER": ISSUER,
            "SOAK_JWKS_URI": jwks_url,
            "SOAK_REDIS_URL": f"redis://127.0.0.1:{redis.port}/0",
            "SOAK_CACHE_SECRET": CACHE_SECRET,
            "SOAK_CHECK_INTERVAL": str(plan.check_interval),
            "SOAK_REFRESH": json.dumps(
                {
                    "ttl": plan.ttl,
                    "cooldown": plan.cooldown,
                    "retry_min": plan.retry_min,
                    "retry_max": plan.retry_max,
                    "wait": plan.wait,
                    "prefetch": True,
                }
            ),
        }
        port = free_port()
        command = gunicorn_command(
            "tests.scenarios.soak_app:app", port, "--preload",
            "--workers", str(plan.workers), "--worker-class", "gthread",
            "--threads", str(plan.threads), "--log-level", "warning",
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        gunicorn = Process(command, env=env)
        try:
            _wait_ready(f"{base}/healthz/keys", gunicorn)
            _load(plan, issuer, redis, gunicorn, base, env, report, say)
        finally:
            gunicorn.stop()
    report.published_at = dict(issuer.published_at)
    report.fetches = list(issuer.fetches)
    return report


def _wait_ready(url: str, process: Process, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.process.poll() is not None:
            break
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"the soak app never turned ready:\n{process.output}")


def _load(
    plan: SoakPlan,
    issuer: RotatingIssuer,
    redis: Server,
    gunicorn: Process,
    base: str,
    env: dict[str, str],
    report: SoakReport,
    say: Any,
) -> None:
    revocations = _revocations(env)  # built beforehand, as an admin tool runs apart
    stop = threading.Event()
    report.started = start = time.time()
    per_thread: list[list[Sample]] = []

    def rotate() -> None:
        while not stop.wait(plan.period - (time.time() - start) % plan.period):
            kid = issuer.rotate()
            report.rotations.append((time.time(), kid))

    threads = [threading.Thread(target=rotate, daemon=True)]
    for index in range(plan.clients):
        samples: list[Sample] = []
        per_thread.append(samples)
        threads.append(
            threading.Thread(
                target=_client, args=(index, plan, issuer, base, start, stop, samples), daemon=True
            )
        )
    revocable: list[Sample] = []
    per_thread.append(revocable)
    threads.append(
        threading.Thread(
            target=_client, args=(-1, plan, issuer, base, start, stop, revocable), daemon=True
        )
    )
    for thread in threads:
        thread.start()

    outage_r, outage_i = plan.redis_outage, plan.issuer_outage
    schedule = sorted(
        [
            (outage_r[0], "redis_down"),
            (outage_r[0] + outage_r[1], "redis_up"),
            (outage_i[0], "issuer_down"),
            (outage_i[0] + outage_i[1], "issuer_up"),
            (plan.kill_at, "kill"),
            (plan.revoke_at, "revoke"),
            (plan.duration, "end"),
        ]
    )
    try:
        for at, event in schedule:
            stop.wait(max(0.0, start + at - time.time()))
            report.events[event] = time.time()
            say(f"{time.time() - start:6.2f}s {event}")
            if event == "redis_down":
                redis.stop()
            elif event == "redis_up":
                redis.start()
            elif event == "issuer_down":
                issuer.down = True
            elif event == "issuer_up":
                issuer.down = False
            elif event == "kill":
                workers = _workers(gunicorn.process.pid)
                victim = random.choice(workers)
                os.kill(victim, signal.SIGKILL)  # one of the gunicorn workers this soak started
                say(f"        killed worker {victim} of {workers}")
            elif event == "revoke":
                assert revocations.revoke_subject(REVOKED, before=time.time())
                report.events["revoke"] = time.time()  # written: workers may see it from now
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    for samples in per_thread:
        report.samples.extend(samples)
    report.samples.sort(key=lambda s: s.sent)
    report.workers_seen = {s.pid for s in report.samples if s.pid is not None}


def _workers(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def _revocations(env: dict[str, str]) -> Revocations:
    """What an admin tool uses to log a subject out everywhere, from another process."""
    settings = config(env)
    return Revocations(build_cache(settings["cache"]), **settings["revocation"])


def _client(
    index: int,
    plan: SoakPlan,
    issuer: RotatingIssuer,
    base: str,
    start: float,
    stop: threading.Event,
    samples: list[Sample],
) -> None:
    rng = random.Random(index)
    session = requests.Session()
    attacker = ec.generate_private_key(ec.SECP256R1())
    subject = REVOKED if index < 0 else f"user:default/soak-{index}"
    issued = int(start) - 1  # the revocable subject's tokens all predate the revocation
    token, kid, minted = "", "", 0.0
    url = f"{base}/api/soak"
    sent_on_connection = 0
    while not stop.is_set():
        if sent_on_connection >= 20:  # a new connection: spread over the workers
            session.close()
            session, sent_on_connection = requests.Session(), 0
        sent_on_connection += 1
        now = time.time()
        key = issuer.current()
        if key.kid != kid or now - minted > 1.0:
            iat = issued if index < 0 else int(now)
            token, kid, minted = (
                key.token(sub=subject, iat=iat, exp=int(now) + 600),
                str(key.kid),
                now,
            )
        kind, sent = ("revocable" if index < 0 else "valid"), token
        roll = rng.random() if index >= 0 else 1.0
        if roll < plan.forged:
            kind, sent = "forged", SigningKey(attacker, "ES256", kid).token(sub=subject)
        elif roll < plan.forged + plan.expired:
            kind = "expired"
            sent = key.token(sub=subject, iat=int(now) - 700, exp=int(now) - 100)
        elif roll < plan.forged + plan.expired + plan.foreign:
            kind, sent = "foreign", key.token(sub=subject, iss="https://evil.example.test")
        began = time.time()
        try:
            response = session.get(url, headers={"Authorization": f"Bearer {sent}"}, timeout=30)
            status: int | None = response.status_code
            body = response.json() if status == 200 else {}
        except (requests.RequestException, ValueError):
            status, body = None, {}
            session = requests.Session()  # its connection died with the worker
        samples.append(
            Sample(
                began,
                time.time() - began,
                kind,
                subject,
                kid,
                status,
                body.get("sub"),
                body.get("pid"),
            )
        )
        if status is None or status >= 500:
            stop.wait(0.05)  # as a client honouring Retry-After, roughly


def format_report(report: SoakReport) -> str:
    """A plain-text summary of a run's figures and problems."""
    lines = [f"{name}: {value}" for name, value in report.figures().items()]
    problems = report.problems()
    lines.append("problems: " + ("none" if not problems else "; ".join(problems)))
    return "\n".join(lines)


__all__ = ["SoakPlan", "SoakReport", "format_report", "run_soak"]
