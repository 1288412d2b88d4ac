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
divided by the calls, is the cost of one call. Needs Debian's ``valgrind``;
about four minutes with ``--against``, two without.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VALGRIND = shutil.which("valgrind")
SCENARIOS = {
    "header": "repeat token in Authorization, default settings (the guard sets the cookie)",
    "cookie-off": "repeat token in Authorization, cookie off (an API service)",
    "browser": "repeat token in Authorization and the cookie (a browser)",
    "first-seen": "a new ES256 token every call (one signature check each)",
}


def _workload(scenario: str, calls: int, prepared: int) -> None:
    """Runs in the child: build everything for ``prepared`` calls, make ``calls``."""
    from werkzeug.test import create_environ

    import wsgi_jwt_guard
    from bench.fixtures import AUDIENCE, ISSUER, PATH, Key, hello_app
    from wsgi_jwt_guard import CookieSettings, Issuer, JWTGuard

    assert wsgi_jwt_guard.__file__.startswith(os.environ["BENCH_GUARD"]), wsgi_jwt_guard.__file__

    key = Key.es256()
    issuer = Issuer(ISSUER, keys=[key.jwk()], audience=AUDIENCE, algorithms=["ES256"])
    options: dict[str, Any] = {"routes": {"/api": "protected"}}
    if scenario == "cookie-off":
        options["cookie"] = CookieSettings(enabled=False)
    guard = JWTGuard(hello_app, issuers=[issuer], **options)
    if scenario == "first-seen":
        tokens = key.tokens(prepared + 1)
    else:
        tokens = [key.token()] * (prepared + 1)
    environs = []
    for token in tokens:
        environ = create_environ(PATH)
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        if scenario == "browser":
            environ["HTTP_COOKIE"] = f"token={token}"
        environs.append(environ)

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        assert status.startswith("200"), status

    list(guard(environs[0], start_response))  # the token cache warmed, as in a running guard
    for environ in environs[1 : calls + 1]:
        list(guard(environ, start_response))


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
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        scenario, calls, prepared = args.child
        _workload(scenario, int(calls), int(prepared))
        return 0
    if VALGRIND is None:
        raise SystemExit("needs valgrind: sudo apt-get install valgrind")
    print("instructions per JWTGuard call (callgrind, PYTHONHASHSEED=0)")
    for scenario, meaning in SCENARIOS.items():
        here = per_call(ROOT, scenario, args.calls)
        line = f"  {scenario:<11} {here:>12,.0f}"
        if args.against is not None:
            there = per_call(args.against.resolve(), scenario, args.calls)
            line += f"   against {there:>12,.0f}   ratio {here / there:.3f}"
        print(f"{line}   {meaning}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
