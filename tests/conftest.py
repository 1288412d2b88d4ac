"""Fixtures: keys generated once per session, real JWKS servers on 127.0.0.1, a guard.

Under ``NO_SKIPPED_TESTS=1`` (``.ci/run`` sets it) a skipped test fails
the run: CI installs everything the suite needs, so a skip there means a test
silently stopped running.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from werkzeug.test import Client

from tests.helpers import PROXY_HEADER, ROUTES, SigningKey, build_guard, echo_app, issuer_of
from tests.jwks_server import JWKSServer, JWKSServers
from wsgi_jwt_guard import Issuer, JWTGuard, Rule


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("NO_SKIPPED_TESTS") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter is not None else 0
    if skipped and session.exitstatus == pytest.ExitCode.OK:
        reporter.write_line(f"NO_SKIPPED_TESTS=1: {skipped} test(s) skipped", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def ec_key() -> SigningKey:
    return SigningKey.ec("ES256", kid="ec-1")


@pytest.fixture(scope="session")
def rsa_key() -> SigningKey:
    return SigningKey.rsa("RS256", kid="rsa-1")


@pytest.fixture(scope="session")
def other_ec_key() -> SigningKey:
    """A key nobody trusts, with the same kid as ``ec_key``."""
    return SigningKey.ec("ES256", kid="ec-1")


@pytest.fixture
def jwks_servers() -> Iterator[JWKSServers]:
    """``jwks_servers(respond, tls=...)``: JWKS servers for this test, stopped after it."""
    servers = JWKSServers()
    try:
        yield servers
    finally:
        servers.close()


@pytest.fixture
def jwks_server(jwks_servers: JWKSServers) -> JWKSServer:
    """A JWKS server publishing nothing yet: ``jwks_server.publish(key)``."""
    return jwks_servers()


@pytest.fixture
def static_issuer(ec_key: SigningKey, rsa_key: SigningKey) -> Issuer:
    return issuer_of([ec_key, rsa_key])


@pytest.fixture
def make_guard(static_issuer: Issuer) -> Callable[..., JWTGuard]:
    """``make_guard(**options)``: the echo app behind a guard with sensible test defaults."""

    def build(app: Any = echo_app, **options: Any) -> JWTGuard:
        options.setdefault("issuers", [static_issuer])
        return build_guard(app, **options)

    return build


@pytest.fixture
def reached() -> list[dict[str, Any]]:
    """The environs of the requests that reached the app of ``recording_client``."""
    return []


@pytest.fixture
def recording_client(
    make_guard: Callable[..., JWTGuard], reached: list[dict[str, Any]]
) -> Callable[..., Client]:
    """``recording_client(**options)``: a client of the echo app behind ``make_guard``
    that also reads tokens from ``PROXY_HEADER`` and has an admin-only ``/api/scoped``;
    what got through is in ``reached``."""

    def build(**options: Any) -> Client:
        def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
            reached.append(environ)
            return echo_app(environ, start_response)

        options.setdefault("routes", {**ROUTES, "/api/scoped": Rule("protected", scopes=["admin"])})
        options.setdefault("token_headers", [PROXY_HEADER])
        return Client(make_guard(app, **options), use_cookies=False)

    return build


@pytest.fixture
def client(make_guard: Callable[..., JWTGuard]) -> Client:
    return Client(make_guard(), use_cookies=False)
