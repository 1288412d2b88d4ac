"""Instructions per whole WSGI call, counted by callgrind: a figure noise cannot move.

Timing rows need a quiet machine; on a shared one their spreads can reach
±50 %. Instruction counts do not depend on what else the machine is doing:
the same code, inputs and hash seed give the same count twice. This compares
the guard of this checkout with another copy of the package (an older commit,
say) on the paths a user pays for, end to end through ``JWTGuard.__call__``::

    git worktree add /tmp/before <commit>      # or git archive <commit> | tar -x -C /tmp/before
    python -m bench.instructions --against /tmp/before

Each scenario runs twice under ``valgrind --tool=callgrind`` -- with 0 and with
``--calls`` guard calls, everything else identical -- and the difference,
divided by the calls, is the cost of one call. The floors -- one prepared
``cryptography`` verify, and the bare app called the same way -- make the
ratios of the timing table (what the guard adds ÷ one signature check) in a
unit noise cannot move. Needs Debian's ``valgrind``; about five minutes, eight
with ``--against``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

ROOT = Path(__file__).resolve().parent.parent
VALGRIND = shutil.which("valgrind")
SCENARIOS = {
    "header": "repeat token in Authorization, default settings",
    "cookie-off": "repeat token in Authorization, cookie off (an API service)",
    "browser": "repeat token in Authorization and the cookie, https, fetch metadata",
    "first-seen": "a new ES256 token every call (one signature check each)",
    "first-seen-rs256": "a new RS256 token every call",
    "dpop-repeat": "repeat DPoP-bound token, a fresh ES256 proof every call",
    "dpop-first-seen": "a new DPoP-bound ES256 token and a fresh proof every call",
}
# Scenarios an older checkout may not know (DPoP, issue 15): not compared --against.
_NEW = frozenset({"dpop-repeat", "dpop-first-seen"})
#: What the rows are divided by: one prepared ``cryptography`` verify, and the bare app.
FLOORS = {
    "floor-es256": "one ES256 verify in cryptography, everything prepared",
    "floor-rs256": "one RS256 verify in cryptography, everything prepared",
    "bare": "the hello-world app alone, called the same way",
}
_FLOOR_OF = {"first-seen-rs256": "floor-rs256"}


_KEYS: dict[str, str] = json.loads(os.environ.get("BENCH_KEYS", "{}"))


def _private_pem(private: Any) -> str:
    return str(
        private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode("ascii")
    )


def _workload(scenario: str, calls: int, prepared: int) -> None:
    """Runs in the child: build everything for ``prepared`` calls, make ``calls``."""
    from werkzeug.test import create_environ

    import wsgi_jwt_guard
    from bench.fixtures import AUDIENCE, ISSUER, PATH, DPoPKey, Key, hello_app
    from bench.run import raw_checks
    from wsgi_jwt_guard import CookieSettings, Issuer, JWTGuard

    assert wsgi_jwt_guard.__file__.startswith(os.environ["BENCH_GUARD"]), wsgi_jwt_guard.__file__

    # The same keys in every child (made once by the parent): generating an RSA
    # key costs a different number of instructions each time.
    alg = "RS256" if scenario.endswith("rs256") else "ES256"
    key = Key(alg, f"bench-{alg.lower()}", load_pem_private_key(_KEYS[alg].encode(), None))
    if scenario.startswith("floor"):
        checks = [raw_checks(key, [token]) for token in key.tokens(prepared + 1)]
        gc.collect()
        gc.freeze()
        for check in checks[1 : calls + 1]:
            check()
        return
    issuer = Issuer(ISSUER, keys=[key.jwk()], audience=AUDIENCE, algorithms=[key.alg])
    options: dict[str, Any] = {"routes": {"/api": "protected"}}
    if scenario == "cookie-off":
        options["cookie"] = CookieSettings(enabled=False)
    app = hello_app if scenario == "bare" else JWTGuard(hello_app, issuers=[issuer], **options)
    client = None
    if scenario.startswith("dpop"):
        client = DPoPKey(Key("ES256", "dpop", load_pem_private_key(_KEYS["DPOP"].encode(), None)))
    bound = None if client is None else {"jkt": client.jkt}
    if scenario.endswith("first-seen") or scenario.startswith("first-seen"):
        tokens = [key.token(i, cnf=bound) for i in range(prepared + 1)]
    else:
        tokens = [key.token(cnf=bound)]
    environs = []
    for index in range(prepared + 1):
        token = tokens[index % len(tokens)]
        # A new string object per request, as a server makes: no hash cached on it.
        environ = create_environ(PATH, f"{'https' if scenario == 'browser' else 'http'}://x/")
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        if client is not None:  # a proof made for this call, as a DPoP client does
            environ["HTTP_AUTHORIZATION"] = f"DPoP {token}"
            environ["HTTP_DPOP"] = client.proof(token, f"http://x{PATH}", index)
        if scenario == "browser":
            environ["HTTP_COOKIE"] = f"token={token}"
            environ["HTTP_SEC_FETCH_SITE"] = "same-origin"
        environs.append(environ)

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        assert status.startswith("200"), status

    list(app(environs[0], start_response))  # the token cache warmed, as in a running guard
    # Everything prepared so far out of the collector's sight: otherwise whether
    # a full collection of that heap falls inside the calls or not moves the
    # per-call figure by ±1,000 (the same code measured 36,359 and 12,699). The
    # calls still pay for collecting what they allocate.
    gc.collect()
    gc.freeze()
    for environ in environs[1 : calls + 1]:
        list(app(environ, start_response))


def _count(package: Path, scenario: str, calls: int, prepared: int) -> int:
    """Instructions of one child process, the guard imported from ``package``."""
    with tempfile.TemporaryDirectory() as tmp:
        # Only the package comes from there: bench/ (this file) is always this checkout's.
        os.symlink(package / "wsgi_jwt_guard", Path(tmp) / "wsgi_jwt_guard")
        env = {
            **os.environ,
            "PYTHONHASHSEED": "0",
            "PYTHONPATH": f"{tmp}{os.pathsep}{ROOT}",
            "BENCH_GUARD": tmp,
            "BENCH_KEYS": os.environ["BENCH_KEYS"],
        }
        assert VALGRIND is not None
        result = subprocess.run(  # noqa: S603 - fixed arguments, no shell
            [
                VALGRIND,
                "--tool=callgrind",
                f"--callgrind-out-file={tmp}/out",
                os.path.realpath(sys.executable),  # not a pyenv shim: callgrind follows no exec
                "-m",
                "bench.instructions",
                "--child",
                scenario,
                str(calls),
                str(prepared),
            ],
            env=env,
            cwd=tmp,  # "-m" puts the working directory first on sys.path
            capture_output=True,
            text=True,
            check=False,
        )
    found = re.search(r"Collected : (\d+)", result.stderr)
    if result.returncode != 0 or found is None:
        raise SystemExit(f"callgrind failed for {scenario}:\n{result.stderr[-2000:]}")
    return int(found.group(1))


def per_call(package: Path, scenario: str, calls: int) -> float:
    return (_count(package, scenario, calls, calls) - _count(package, scenario, 0, calls)) / calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__)
    parser.add_argument("--against", type=Path, help="another checkout to compare with")
    # Each run's preparation differs a little (new keys, new signatures): spread
    # over 2,000 calls that is noise of a few instructions per call.
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument(
        "--only", help="comma-separated scenarios to count (default: all): header,browser"
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    only = set(args.only.split(",")) if args.only else set(SCENARIOS)
    if only - set(SCENARIOS):
        parser.error(f"unknown scenarios {sorted(only - set(SCENARIOS))}: {list(SCENARIOS)}")
    if args.child:
        scenario, calls, prepared = args.child
        _workload(scenario, int(calls), int(prepared))
        return 0
    if VALGRIND is None:
        raise SystemExit("needs valgrind: sudo apt-get install valgrind")
    os.environ["BENCH_KEYS"] = json.dumps(
        {
            "ES256": _private_pem(ec.generate_private_key(ec.SECP256R1())),
            "RS256": _private_pem(rsa.generate_private_key(65537, 2048)),
            "DPOP": _private_pem(ec.generate_private_key(ec.SECP256R1())),
        }
    )
    print("instructions per call (callgrind, PYTHONHASHSEED=0)")
    floors = {name: per_call(ROOT, name, args.calls) for name in FLOORS}
    for name, meaning in FLOORS.items():
        print(f"  {name:<17} {floors[name]:>12,.0f}   {meaning}")
    print("whole JWTGuard calls; 'guard' is the call minus the bare app, ÷ the floor")
    for scenario, meaning in SCENARIOS.items():
        if scenario not in only:
            continue
        here = per_call(ROOT, scenario, args.calls)
        floor = floors[_FLOOR_OF.get(scenario, "floor-es256")]
        ratio = (here - floors["bare"]) / floor
        line = f"  {scenario:<17} {here:>12,.0f}   guard ÷ floor {ratio:.3f}"
        if args.against is not None and scenario not in _NEW:
            there = per_call(args.against.resolve(), scenario, args.calls)
            line += f"   against {there:>12,.0f} ({here / there:.3f})"
        print(f"{line}   {meaning}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
