"""One real Backstage backend for the whole session (``tests/backstage_backend.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.backstage_backend import Backstage, running_backstage


@pytest.fixture(scope="session")
def backstage() -> Iterator[Backstage]:
    with running_backstage() as backend:
        yield backend


@pytest.fixture(scope="session")
def user_token(backstage: Backstage) -> str:
    """One guest user token, shared: Backstage signs a new one per sign-in."""
    return backstage.user_token()
