"""A development issuer on 127.0.0.1 for the examples, and its settings as environment variables.

The examples read their issuer from the environment (``examples/guard.toml``
holds only routes), so each test hands them these variables -- to a
subprocess's environment, or through ``monkeypatch`` for in-process apps.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers import werkzeug_server
from wsgi_jwt_guard.dev.devissuer import DevIssuer


@pytest.fixture(scope="session")
def dev_issuer() -> Iterator[DevIssuer]:
    issuer: list[DevIssuer] = []  # it needs its own URL, known once the server listens
    with werkzeug_server(lambda environ, start_response: issuer[0](environ, start_response)) as port:
        issuer.append(DevIssuer(f"http://127.0.0.1:{port}"))
        yield issuer[0]


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
