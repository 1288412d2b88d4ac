"""Measure every target row of issue 5 and print one table: ``python -m bench [--quick]``."""

from __future__ import annotations

import argparse
import json
import platform
import ssl
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from cryptography.hazmat.backends.openssl import backend as openssl_backend
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from bench import gunicorn_wrk, memory
from bench.fixtures import (
    AUDIENCE,
    INTROSPECTION_CLIENT,
    ISSUER,
    OPAQUE_TOKEN,
    PATH,
    Caller,
    DPoPKey,
    IntrospectionServer,
    Key,
    environ_for,
    environs,
    hello_app,
    jwks_server,
)
from bench.peers import JoseMiddleware, PyJWTMiddleware, flask_app
from bench.timing import Prepare, interleaved
from wsgi_jwt_guard import CookieSettings, Issuer, JWTGuard
from wsgi_jwt_guard.verification import Verifier


@dataclass(frozen=True)
class Size:
    """How much work each row does."""

    rounds: int
    first_seen: int  # distinct tokens per round, in-process rows
    repeat: int  # requests per round, repeat-token rows
    peer_first_seen: int
    peer_repeat: int
    http_rounds: int
    http_seconds: int
    memory_valid: int
    memory_garbage: int
    memory_bound: int


SIZES = {
    "full": Size(21, 400, 20_000, 300, 3_000, 7, 4, 100_000, 1_000_000, 10_000),
    "quick": Size(7, 200, 5_000, 100, 1_000, 3, 1, 5_000, 100_000, 1_000),
    "smoke": Size(2, 5, 50, 5, 20, 0, 0, 100, 1_000, 50),
}


@dataclass
class Row:
    what: str
    guard: str
    baseline: str
    ratio: float | None
    target: str
    met: bool | None  # None: informational, or not measured

    def cells(self) -> list[str]:
        ratio = "" if self.ratio is None else f"{self.ratio:.3f}"
        result = "" if self.met is None else ("PASS" if self.met else "MISS")
        return [self.what, self.guard, self.baseline, ratio, self.target, result]


# --- the floor: one signature check in OpenSSL -------------------------------

_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_PKCS1 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()


def raw_checks(key: Key, tokens: list[str]) -> Callable[[], None]:
    """``cryptography``'s verify of each token's signature, nothing else, everything prepared."""
    public = key.public
    items = []
    for token in tokens:
        signing_input, _, signature = token.rpartition(".")
        raw = _b64decode(signature)
        if key.alg == "ES256":
            raw = encode_dss_signature(
                int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
            )
        items.append((raw, signing_input.encode("ascii")))
    if key.alg == "ES256":

        def run() -> None:
            for signature, data in items:
                public.verify(signature, data, _ECDSA_SHA256)

    else:

        def run() -> None:
            for signature, data in items:
                public.verify(signature, data, _PKCS1, _SHA256)

    return run


def minimal_pipeline(key: Key, tokens: list[str]) -> Callable[[], None]:
    """The least any Python verifier does per new token: split, base64, ``json.loads``,
    one verify, ``exp``/``iss``/``aud`` -- no strictness, no identity, no WSGI. The
    floor issue 12 names for the first-seen targets, measured on this machine."""
    public = key.public
    ecdsa = key.alg == "ES256"

    def run() -> None:
        now = time.time()
        for token in tokens:
            head, body, signature = token.split(".")
            header = json.loads(_b64decode(head))
            claims = json.loads(_b64decode(body))
            raw = _b64decode(signature)
            data = f"{head}.{body}".encode("ascii")
            if ecdsa:
                r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
                public.verify(encode_dss_signature(r, s), data, _ECDSA_SHA256)
            else:
                public.verify(raw, data, _PKCS1, _SHA256)
            if header["alg"] != key.alg or claims["exp"] <= now or claims["iss"] != ISSUER:
                raise AssertionError("the minimal pipeline refused a good token")
            if claims["aud"] != AUDIENCE:
                raise AssertionError("the minimal pipeline refused a good token")

    return run


def _b64decode(segment: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def static_issuer(key: Key) -> Issuer:
    return Issuer(ISSUER, keys=[key.jwk()], audience=AUDIENCE, algorithms=[key.alg])


# --- rows ----------------------------------------------------------------------


def first_seen_rows(size: Size, es: Key, rs: Key) -> list[Row]:
    """What the guard adds to a whole WSGI call with a new token, ÷ one raw verify.

    The target rows measure what a user pays: the guard around the hello-world
    app, minus the bare app called the same way, each request a new token. The
    ``Verifier.verify`` rows beside them are information: they leave out the
    layer around the verifier (routing, extraction, the cookie, the identity).
    """
    rows = []
    caller = Caller()
    for key, limit in ((es, 1.25), (rs, 1.65)):
        tokens = key.tokens(size.first_seen, prefix="first-")
        warm = key.token("warm-up")
        issuer = static_issuer(key)
        requests = environs(tokens)

        def guard(
            _: int, issuer: Issuer = issuer, warm: str = warm, requests: Any = requests
        ) -> Callable[[], None]:
            # A new guard each round: every token is first-seen (its cache is
            # empty), warmed with one other token as a running guard would be.
            wrapped = JWTGuard(hello_app, issuers=[issuer], routes={"/api": "protected"})
            caller.call(wrapped, environ_for(warm))
            return _each(wrapped, requests, caller)

        def verifier(
            _: int, tokens: list[str] = tokens, issuer: Issuer = issuer, warm: str = warm
        ) -> Callable[[], None]:
            checker = Verifier([issuer])
            checker.verify(warm, "header")

            def run() -> None:
                for token in tokens:
                    checker.verify(token, "header")

            return run

        raw = raw_checks(key, tokens)
        samples = interleaved(
            {
                "guard": guard,
                "bare": lambda _, requests=requests: _each(hello_app, requests, caller),
                "verifier": verifier,
                "raw": lambda _, raw=raw: raw,
                "minimal": lambda _, key=key, tokens=tokens: minimal_pipeline(key, tokens),
            },
            rounds=size.rounds,
            operations=len(tokens),
        )
        caller.expect_ok()
        added = samples["guard"].median - samples["bare"].median
        ratio = added / samples["raw"].median
        rows.append(
            Row(
                f"first-seen {key.alg}, whole WSGI call: (wrapped - bare) ÷ raw verify",
                f"{added * 1e6:.2f} µs (wrapped {samples['guard'].us()}, "
                f"bare {samples['bare'].us()})",
                samples["raw"].us(),
                ratio,
                f"≤ {limit:.2f}",
                ratio <= limit,
            )
        )
        rows.append(
            Row(
                f"(info) first-seen {key.alg}: the minimal Python pipeline ÷ raw verify"
                " (the floor on this machine)",
                samples["minimal"].us(),
                samples["raw"].us(),
                samples["minimal"].median / samples["raw"].median,
                "",
                None,
            )
        )
        rows.append(
            Row(
                f"(info) first-seen {key.alg}: Verifier.verify alone ÷ raw verify",
                samples["verifier"].us(),
                samples["raw"].us(),
                samples["verifier"].median / samples["raw"].median,
                "",
                None,
            )
        )
    return rows


def dpop_rows(size: Size, es: Key) -> list[Row]:
    """What a DPoP request adds to a whole WSGI call, ÷ one raw verify (information).

    Each request carries a new proof made for it (outside the timing); the
    client's key is known to the guard from an earlier request, as a client's
    is after its first. A first-seen token costs the token's check and the
    proof's; a repeat token, served from the verified-token cache, still costs
    the proof's: two signature checks, then one.
    """
    client = DPoPKey.es256()
    url = f"https://localhost{PATH}"
    count = size.first_seen
    tokens = [es.token(f"dpop-{i}", cnf={"jkt": client.jkt}) for i in range(count)]
    repeat = es.token("dpop-repeat", cnf={"jkt": client.jkt})
    issuer = static_issuer(es)
    caller = Caller()

    def request(token: str, serial: str) -> dict[str, Any]:
        return environ_for(token, scheme="https", proof=client.proof(token, url, serial))

    def guard(first_seen: bool) -> Callable[[int], Callable[[], None]]:
        def prepare(number: int) -> Callable[[], None]:
            # A new guard each round, warmed with one request: the client's key is
            # known, the tokens are new (first-seen) or the one it verified (repeat).
            wrapped = JWTGuard(hello_app, issuers=[issuer], routes={"/api": "protected"})
            warm = es.token(f"dpop-warm-{number}", cnf={"jkt": client.jkt})
            caller.call(wrapped, request(warm if first_seen else repeat, f"warm-{number}"))
            sent = tokens if first_seen else [repeat] * count
            envs = [request(token, f"{number}-{i}") for i, token in enumerate(sent)]
            return _each(wrapped, envs, caller)

        return prepare

    bare = [request(repeat, f"bare-{i}") for i in range(count)]
    raw = raw_checks(es, tokens)
    samples = interleaved(
        {
            "first-seen": guard(True),
            "repeat": guard(False),
            "bare": lambda _: _each(hello_app, bare, caller),
            "raw": lambda _: raw,
        },
        rounds=size.rounds,
        operations=count,
    )
    caller.expect_ok()
    rows = []
    for name, what in (
        ("first-seen", "first-seen token + fresh proof"),
        ("repeat", "repeat token (cached) + fresh proof"),
    ):
        added = samples[name].median - samples["bare"].median
        rows.append(
            Row(
                f"(info) DPoP ES256, {what}, whole WSGI call: (wrapped - bare) ÷ raw verify",
                f"{added * 1e6:.2f} µs (wrapped {samples[name].us()}, bare {samples['bare'].us()})",
                samples["raw"].us(),
                added / samples["raw"].median,
                "",
                None,
            )
        )
    return rows


def _calls(app: Any, environ: dict[str, Any], count: int, caller: Caller) -> Callable[[], None]:
    def run() -> None:
        for _ in range(count):
            caller.call(app, environ)

    return run


def _each(app: Any, envs: Iterable[dict[str, Any]], caller: Caller) -> Callable[[], None]:
    def run() -> None:
        for environ in envs:
            caller.call(app, environ)

    return run


def _fresh(environ: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """``count`` copies of ``environ`` whose header values are new string objects
    each, as a server builds them: nothing keeps a hash cached between requests."""
    return [
        {key: "".join(value) if key.startswith("HTTP_") else value for key, value in items}
        for items in [list(environ.items())] * count
    ]


def repeat_rows(size: Size, es: Key) -> list[Row]:
    token = es.token("repeat")
    raw = raw_checks(es, es.tokens(200, prefix="floor-"))
    issuer = static_issuer(es)
    api = environ_for(token, scheme="https")
    browser = environ_for(token, cookie=token, scheme="https")
    browser["HTTP_SEC_FETCH_SITE"] = "same-origin"
    variants = {
        "API client over https, default settings": ({}, api),
        "header token over plain http, default settings (guard sets the cookie)": (
            {},
            environ_for(token),
        ),
        "header token, cookie off": ({"cookie": CookieSettings(enabled=False)}, api),
        "header + cookie token (browser, https)": ({}, browser),
    }
    caller = Caller()
    candidates: dict[str, Prepare] = {"raw": lambda _: raw}
    for name, (options, environ) in variants.items():
        guard = JWTGuard(hello_app, issuers=[issuer], routes={"/api": "protected"}, **options)
        caller.call(guard, environ)  # verified once: every measured call is a repeat
        requests = _fresh(environ, size.repeat)
        candidates[name] = lambda _, guard=guard, requests=requests: _each(guard, requests, caller)
        candidates[f"bare {name}"] = lambda _, requests=requests: _each(hello_app, requests, caller)
    # raw runs 200 checks per timing, the rest size.repeat calls: normalize afterwards.
    samples = interleaved(candidates, rounds=size.rounds, operations=size.repeat)
    caller.expect_ok()
    raw_median = samples.pop("raw").median * size.repeat / 200
    rows = []
    for name in variants:
        wrapped, bare = samples[name], samples[f"bare {name}"]
        overhead = wrapped.median - bare.median
        ratio = overhead / raw_median
        rows.append(
            Row(
                f"repeat token, in-process, {name}: (wrapped - bare) ÷ raw ES256",
                f"{overhead * 1e6:.2f} µs (wrapped {wrapped.us()}, bare {bare.us()})",
                f"{raw_median * 1e6:.2f} µs",
                ratio,
                "≤ 0.05",
                ratio <= 0.05,
            )
        )
    return rows


def introspection_rows(size: Size, es: Key) -> list[Row]:
    """Information, no target: an opaque token whose introspection answer is cached,
    through the whole WSGI call (issue 15). With default settings the verified-token
    cache answers; with ``token_cache_size = 0`` the introspection cache does (the
    guard's cache: a lookup, the entry's JSON and the claim checks). The endpoint is
    asked once per guard, before the measured calls."""
    raw = raw_checks(es, es.tokens(200, prefix="floor-"))
    environ = environ_for(OPAQUE_TOKEN, scheme="https")
    variants = {
        "token cache hit (default settings)": {},
        "introspection cache hit (token_cache_size = 0)": {"token_cache_size": 0},
    }
    caller = Caller()
    requests = _fresh(environ, size.repeat)
    candidates: dict[str, Prepare] = {
        "raw": lambda _: raw,
        "bare": lambda _: _each(hello_app, requests, caller),
    }
    with IntrospectionServer() as server:
        client_id, client_secret = INTROSPECTION_CLIENT
        introspection = {"endpoint": server.url, "client_id": client_id,
                         "client_secret": client_secret, "max_cache_age": 3600}  # fmt: skip
        issuer = Issuer(ISSUER, keys=[es.jwk()], audience=AUDIENCE, algorithms=[es.alg],
                        introspect="opaque", introspection=introspection)  # fmt: skip
        for name, options in variants.items():
            guard = JWTGuard(hello_app, issuers=[issuer], routes={"/api": "protected"}, **options)
            caller.call(guard, environ)  # introspected once: every measured call is a hit
            candidates[name] = lambda _, guard=guard: _each(guard, requests, caller)
        samples = interleaved(candidates, rounds=size.rounds, operations=size.repeat)
        if server.calls != len(variants):
            raise AssertionError(f"the endpoint was asked {server.calls} times, not once a guard")
    caller.expect_ok()
    raw_median = samples.pop("raw").median * size.repeat / 200
    bare = samples.pop("bare")
    rows = []
    for name in variants:
        wrapped = samples[name]
        overhead = wrapped.median - bare.median
        rows.append(
            Row(
                f"(info) introspected opaque token, {name}: (wrapped - bare) ÷ raw ES256",
                f"{overhead * 1e6:.2f} µs (wrapped {wrapped.us()}, bare {bare.us()})",
                f"{raw_median * 1e6:.2f} µs",
                overhead / raw_median,
                "",
                None,
            )
        )
    return rows


def peer_rows(size: Size, es: Key) -> list[Row]:
    caller = Caller()
    first = environs(es.tokens(size.peer_first_seen, prefix="peer-"))
    repeat = environ_for(es.token("peer-repeat"))
    warm = environ_for(es.token("peer-warm"))
    rows = []
    with jwks_server(es) as server:
        remote = Issuer(ISSUER, jwks_uri=server.url, audience=AUDIENCE, algorithms=["ES256"])
        pyjwt_app = PyJWTMiddleware(hello_app, server.url, ["ES256"])
        jose_app = JoseMiddleware(hello_app, server.url, ["ES256"])
        for app in (pyjwt_app, jose_app):
            caller.call(app, warm)

        def fresh_guard(_: int) -> Callable[[], None]:
            # A new guard each round, so every token is first-seen; its JWKS
            # fetch and first verification happen here, untimed.
            guard = JWTGuard(hello_app, issuers=[remote], routes={"/api": "protected"})
            caller.call(guard, warm)
            return _each(guard, first, caller)

        first_samples = interleaved(
            {
                "guard": fresh_guard,
                "pyjwt": lambda _: _each(pyjwt_app, first, caller),
                "jose": lambda _: _each(jose_app, first, caller),
            },
            rounds=size.rounds,
            operations=len(first),
        )
        guard = JWTGuard(hello_app, issuers=[remote], routes={"/api": "protected"})
        caller.call(guard, repeat)
        repeat_samples = interleaved(
            {
                "guard": lambda _: _calls(guard, repeat, size.peer_repeat, caller),
                "pyjwt": lambda _: _calls(pyjwt_app, repeat, size.peer_repeat, caller),
                "jose": lambda _: _calls(jose_app, repeat, size.peer_repeat, caller),
            },
            rounds=size.rounds,
            operations=size.peer_repeat,
        )
        caller.expect_ok()
    for label, samples, limit in (
        ("first-seen", first_samples, 1.5),
        ("repeat", repeat_samples, 10.0),
    ):
        ratio = samples["pyjwt"].median / samples["guard"].median
        rows.append(
            Row(
                f"throughput vs PyJWT + PyJWKClient middleware, {label} ES256 tokens",
                samples["guard"].per_second(),
                samples["pyjwt"].per_second(),
                ratio,
                f"≥ {limit:g}x",
                ratio >= limit,
            )
        )
        jose_ratio = samples["jose"].median / samples["guard"].median
        rows.append(
            Row(
                f"(info) throughput vs jose.jwt.decode per request, {label}",
                samples["guard"].per_second(),
                samples["jose"].per_second(),
                jose_ratio,
                "",
                None,
            )
        )
    return rows


def flask_rows(size: Size, es: Key) -> list[Row]:
    caller = Caller()
    environ = environ_for(es.token("flask"))
    guarded = flask_app()
    guarded.wsgi_app = JWTGuard(  # type: ignore[method-assign]
        guarded.wsgi_app, issuers=[static_issuer(es)], routes={"/api": "protected"}
    )
    extended = flask_app(public_pem=es.pem())
    bare = flask_app()
    for app in (guarded, extended, bare):
        caller.call(app, environ)
    samples = interleaved(
        {
            "guard": lambda _: _calls(guarded, environ, size.peer_repeat, caller),
            "flask-jwt-extended": lambda _: _calls(extended, environ, size.peer_repeat, caller),
            "bare": lambda _: _calls(bare, environ, size.peer_repeat, caller),
        },
        rounds=size.rounds,
        operations=size.peer_repeat,
    )
    caller.expect_ok()
    ratio = samples["flask-jwt-extended"].median / samples["guard"].median
    return [
        Row(
            "throughput vs Flask + flask-jwt-extended, same app, repeat ES256 token",
            samples["guard"].per_second(),
            samples["flask-jwt-extended"].per_second(),
            ratio,
            "≥ 2x",
            ratio >= 2.0,
        ),
        Row(
            "(info) the same Flask app with no authentication at all",
            samples["guard"].per_second(),
            samples["bare"].per_second(),
            samples["bare"].median / samples["guard"].median,
            "",
            None,
        ),
    ]


def http_rows(size: Size, es: Key, worker_class: str) -> list[Row]:
    what = f"gunicorn ({worker_class}, 1 worker) + wrk on 127.0.0.1, repeat token: wrapped ÷ bare"
    why_not = gunicorn_wrk.available()
    if why_not is not None or size.http_rounds == 0:
        return [Row(what, "not measured", why_not or "skipped in this mode", None, "≥ 0.95", None)]
    samples = gunicorn_wrk.measure(
        es, rounds=size.http_rounds, seconds=size.http_seconds, worker_class=worker_class
    )
    ratio = samples["bare"].median / samples["wrapped"].median
    return [
        Row(
            what,
            samples["wrapped"].per_second(),
            samples["bare"].per_second(),
            ratio,
            "≥ 0.95",
            ratio >= 0.95,
        )
    ]


def memory_rows(size: Size, es: Key) -> list[Row]:
    result = memory.measure(
        es, valid=size.memory_valid, garbage=size.memory_garbage, bound=size.memory_bound
    )
    per_entry = result.traced_after_valid / max(result.entries_after_valid, 1)
    return [
        Row(
            f"memory: {result.valid:,} valid tokens, then {result.garbage:,} garbage tokens",
            f"{result.entries_after_valid:,} → {result.entries_after_garbage:,} entries; "
            f"{result.traced_after_valid / 2**20:.1f} MiB → "
            f"{result.traced_after_garbage / 2**20:.1f} MiB "
            f"(garbage: {result.garbage_growth / 1024:+.0f} KiB; "
            f"≈{per_entry / 1024:.1f} KiB/entry)",
            f"bound {result.bound:,} entries",
            None,
            "≤ bound; garbage adds nothing",
            result.met,
        )
    ]


# --- output -----------------------------------------------------------------------


def machine() -> list[str]:
    versions = []
    for name in (
        "wsgi_jwt_guard",
        "python-jose",
        "cryptography",
        "PyJWT",
        "Flask",
        "Flask-JWT-Extended",
        "gunicorn",
        "Werkzeug",
    ):
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(
                line.split(":", 1)[1].strip() for line in info if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    import os

    return [
        f"CPU: {cpu}, {os.cpu_count()} logical CPUs; {platform.platform()}",
        f"Python {sys.version.split()[0]} ({platform.python_implementation()}); "
        f"cryptography's {openssl_backend.openssl_version_text()}; "
        f"Python's ssl: {ssl.OPENSSL_VERSION}",
        "; ".join(versions),
    ]


def table(rows: list[Row]) -> str:
    header = ["what", "guard", "baseline", "ratio", "target", "result"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--quick",
        action="store_const",
        const="quick",
        dest="mode",
        help="fewer rounds, smaller sizes (about a minute)",
    )
    mode.add_argument(
        "--smoke",
        action="store_const",
        const="smoke",
        dest="mode",
        help="a second or two; checks that it runs, figures meaningless",
    )
    parser.add_argument("--no-http", action="store_true", help="skip the gunicorn + wrk row")
    parser.add_argument(
        "--worker-class",
        default="sync",
        help="gunicorn worker class for the HTTP row (default: sync)",
    )
    args = parser.parse_args(argv)
    size = SIZES[args.mode or "full"]
    started = time.monotonic()
    es, rs = Key.es256(), Key.rs256()
    print("\n".join(machine()), flush=True)
    print(
        f"mode: {args.mode or 'full'}; {size.rounds} interleaved rounds per row; medians ±IQR",
        flush=True,
    )
    steps: list[Callable[[], list[Row]]] = [
        lambda: first_seen_rows(size, es, rs),
        lambda: repeat_rows(size, es),
        lambda: introspection_rows(size, es),
        lambda: dpop_rows(size, es),
        lambda: peer_rows(size, es),
        lambda: flask_rows(size, es),
        (lambda: http_rows(size, es, args.worker_class))
        if not args.no_http
        else (lambda: http_rows(SIZES["smoke"], es, args.worker_class)),
        lambda: memory_rows(size, es),
    ]
    rows: list[Row] = []
    for step in steps:
        new = step()
        for row in new:
            print(
                f"  {row.what}: {row.guard} vs {row.baseline} -> {row.cells()[3]} {row.cells()[5]}",
                file=sys.stderr,
                flush=True,
            )
        rows += new
    print()
    print(table(rows))
    met = sum(row.met is True for row in rows)
    missed = sum(row.met is False for row in rows)
    print(f"\n{met} met, {missed} missed; {time.monotonic() - started:.0f} s")
    return 0
