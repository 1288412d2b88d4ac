"""The adapters stay outside the core: ``import wsgi_jwt_guard`` (and every core
module) works with no framework installed, and never imports an adapter."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.processes import ROOT

FRAMEWORKS = ("flask", "django", "pyramid", "bottle", "webob")

# Runs in a fresh interpreter in which the frameworks cannot be imported.
PROBE = textwrap.dedent(
    """
    import importlib, pkgutil, sys

    class NoFrameworks:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {frameworks!r}:
                raise ImportError(f"{{name}} is not installed (blocked by the test)")
            return None

    sys.meta_path.insert(0, NoFrameworks())
    import wsgi_jwt_guard
    for module in pkgutil.walk_packages(wsgi_jwt_guard.__path__, "wsgi_jwt_guard."):
        if not module.name.startswith("wsgi_jwt_guard.adapters."):
            importlib.import_module(module.name)
    importlib.import_module("wsgi_jwt_guard.adapters")  # the package itself: a docstring
    loaded = sorted(name for name in sys.modules if name.startswith("wsgi_jwt_guard.adapters."))
    assert not loaded, loaded
    print("ok")
    """
).format(frameworks=FRAMEWORKS)


def test_core_imports_without_any_framework_and_never_an_adapter() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
