"""The one clock: ``wsgi_jwt_guard.clock``.

Everything that needs the time takes a ``clock`` defaulting to
``system_clock``, and nothing else in the package reads the wall clock, so one
fake clock in a test moves every part (``test_middleware`` shows it on a whole
guard). Monotonic time stays allowed: it measures waits, not the time of day.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import wsgi_jwt_guard
from tests.helpers import FakeClock
from wsgi_jwt_guard.clock import Clock, system_clock

PACKAGE = Path(wsgi_jwt_guard.__file__).parent


def modules() -> Iterator[Any]:
    """Every module of the package but the framework adapters (importing them needs the framework set up)."""
    for info in pkgutil.walk_packages(wsgi_jwt_guard.__path__, "wsgi_jwt_guard."):
        if not info.name.startswith("wsgi_jwt_guard.adapters"):
            yield importlib.import_module(info.name)


def takers_of_a_clock() -> Iterator[tuple[str, inspect.Parameter]]:
    """Every function, method and class of the package with a ``clock`` parameter."""
    seen: set[int] = set()
    for module in modules():
        for name, value in vars(module).items():
            if getattr(value, "__module__", None) != module.__name__ or id(value) in seen:
                continue
            seen.add(id(value))
            callables = [(name, value)]
            if inspect.isclass(value):
                callables += [
                    (f"{name}.{attr}", member)
                    for attr, member in vars(value).items()
                    if inspect.isfunction(member) and attr != "__init__"
                ]
            for qualified, candidate in callables:
                try:
                    parameters = inspect.signature(candidate).parameters
                except (TypeError, ValueError):
                    continue
                if "clock" in parameters:
                    yield f"{module.__name__}.{qualified}", parameters["clock"]


def test_system_clock_is_the_wall_clock() -> None:
    assert system_clock is time.time
    assert abs(system_clock() - time.time()) < 1


def test_the_fake_clock_is_a_clock() -> None:
    clock: Clock = FakeClock(100.0)
    assert clock() == 100.0
    clock.advance(5)  # type: ignore[attr-defined]
    assert clock() == 105.0


def test_every_clock_parameter_defaults_to_the_system_clock() -> None:
    found = dict(takers_of_a_clock())
    # The guard and what it builds; a name lost here means the walk broke.
    assert {
        "wsgi_jwt_guard.middleware.JWTGuard",
        "wsgi_jwt_guard.verification.Verifier",
        "wsgi_jwt_guard.caches.SharedCache",
        "wsgi_jwt_guard.revocation.Revocations",
        "wsgi_jwt_guard.service.ServiceTokens",
    } <= set(found)
    wrong = {name: p.default for name, p in found.items() if p.default is not system_clock}
    assert wrong == {}


_WALL_CLOCK = {"time", "time_ns"}
_TODAY = {"now", "utcnow", "today"}


def _reads_the_wall_clock(node: ast.AST) -> bool:
    """``time.time()``, ``from time import time``, ``datetime.now()`` and kin."""
    if isinstance(node, ast.ImportFrom):
        return node.module == "time" and any(alias.name in _WALL_CLOCK for alias in node.names)
    if not isinstance(node, ast.Attribute):
        return False
    on_time = isinstance(node.value, ast.Name) and node.value.id == "time"
    return node.attr in _TODAY or (on_time and node.attr in _WALL_CLOCK)


def _wall_clock_reads(tree: ast.AST) -> Iterator[int]:
    return (node.lineno for node in ast.walk(tree) if _reads_the_wall_clock(node))  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("source", "found"),
    [
        pytest.param("import time\nx = time.time()", True, id="time.time"),
        pytest.param("from time import time", True, id="from-time-import-time"),
        pytest.param("import datetime\nx = datetime.datetime.now()", True, id="datetime.now"),
        pytest.param("import time\nx = time.monotonic()", False, id="monotonic"),
        pytest.param("clock = lambda: 0.0\nx = clock()", False, id="a-clock"),
    ],
)
def test_the_scan_finds_wall_clock_reads(source: str, found: bool) -> None:
    assert any(_wall_clock_reads(ast.parse(source))) is found


def test_only_the_clock_module_reads_the_wall_clock() -> None:
    reads = [
        f"{path.relative_to(PACKAGE)}:{line}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "clock.py"
        for line in _wall_clock_reads(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert reads == []
