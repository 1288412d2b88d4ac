"""One real oidc-provider for the whole session (``tests/oidc_provider_server.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.oidc_provider_server import AuthorizationServer, running_oidc_provider


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[AuthorizationServer]:
    """panva's oidc-provider on 127.0.0.1, with the suite's clients and resources."""
    with running_oidc_provider() as provider:
        yield provider
