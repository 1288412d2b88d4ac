"""A development issuer on 127.0.0.1 for the examples, and its settings as environment variables.

The examples read their issuer from the environment (``examples/guard.toml``
holds only routes), so each test hands them these variables -- to a
subprocess's environment, or through ``monkeypatch`` for in-process apps.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

from wsgi_jwt_guard.dev.devissuer import DevIssuer


@pytest.fixture(scope="session")
def dev_issuer() -> Iterator[DevIssuer]:
    server = make_server("127.0.0.1", 0, lambda environ, start_response: [], threaded=True)
    issuer = DevIssuer(f"http://127.0.0.1:{server.port}")
    server.app = issuer
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield issuer
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def issuer_env(dev_issuer: DevIssuer) -> dict[str, str]:
    return {
        "WSGI_JWT_GUARD_ISSUER": dev_issuer.issuer,
        "WSGI_JWT_GUARD_JWKS_URI": dev_issuer.jwks_uri,
        "WSGI_JWT_GUARD_AUDIENCE": dev_issuer.audience,
    }


@pytest.fixture
def in_process_env(issuer_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The issuer variables in this process, for examples that build their guard on import."""
    for name, value in issuer_env.items():
        monkeypatch.setenv(name, value)
