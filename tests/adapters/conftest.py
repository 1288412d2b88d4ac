"""One signing key, one route table and one guard factory for the adapter tests.

Each adapter test puts a real framework app behind a real :class:`JWTGuard`
with this table, so what the adapter sees is what the guard injected:

* ``/public/...``: public -- the guard never injects an identity;
* ``/optional/...``: optional -- anonymous without a token;
* ``/ruled/...``: protected, and the guard itself demands ``role=admin``
  (what an adapter's per-view requirement must answer exactly like);
* anything else: protected (the table's default).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.test import Client

from tests.helpers import SigningKey, build_guard, issuer_of
from wsgi_jwt_guard import Issuer, JWTGuard, Rule

ADAPTER_ROUTES: dict[str, Any] = {
    "/public": "public",
    "/optional": "optional",
    "/ruled": Rule("protected", claims={"role": "admin"}),
}

Mint = Callable[..., str]


@pytest.fixture(scope="session")
def adapter_key() -> SigningKey:
    return SigningKey.ec("ES256", kid="adapters-1")


@pytest.fixture(scope="session")
def adapter_issuer(adapter_key: SigningKey) -> Issuer:
    return issuer_of([adapter_key])


@pytest.fixture
def mint(adapter_key: SigningKey) -> Mint:
    """``mint("user:default/bob", role="admin")``: a valid user token for that subject."""

    def token(subject: str = "user:default/alice", **claims: Any) -> str:
        return adapter_key.token(sub=subject, **claims)

    return token


@pytest.fixture
def guard(adapter_issuer: Issuer) -> Callable[..., JWTGuard]:
    """``guard(app)``: ``app`` behind a guard trusting ``adapter_key`` with ``ADAPTER_ROUTES``."""

    def build(app: Any, **options: Any) -> JWTGuard:
        options.setdefault("issuers", [adapter_issuer])
        options.setdefault("routes", ADAPTER_ROUTES)
        return build_guard(app, **options)

    return build


@pytest.fixture
def guarded(guard: Callable[..., JWTGuard]) -> Callable[[Any], Client]:
    """``guarded(app)``: a werkzeug ``Client`` over ``guard(app)``, no cookie jar."""
    return lambda app: Client(guard(app), use_cookies=False)
