"""Fixtures of the hostile suite: the attacker's keys, a listener that must stay silent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers import SERVICE_SECRET, SigningKey
from tests.hostile.forge import Forge, service_secret_bytes
from tests.jwks_server import JWKSServer, serving


@pytest.fixture(scope="session")
def listener(attacker_ec: SigningKey) -> Iterator[JWKSServer]:
    """A real server on 127.0.0.1 a guard must never contact (``jku``/``x5u`` targets):
    the suite's JWKS server, publishing the attacker's keys at ``listener.url`` + any path."""
    keys = {"keys": [attacker_ec.public_jwk(), attacker_ec.public_jwk(kid="attacker-1")]}
    with serving(JWKSServer(document=keys, path="")) as state:
        yield state


@pytest.fixture(scope="session")
def attacker_ec() -> SigningKey:
    return SigningKey.ec("ES256", kid="ec-1")


@pytest.fixture(scope="session")
def forge(ec_key: SigningKey, rsa_key: SigningKey, attacker_ec: SigningKey, listener: JWKSServer) -> Forge:
    return Forge(
        issuer_ec=ec_key,
        issuer_rsa=rsa_key,
        attacker_ec=attacker_ec,
        attacker_p384=SigningKey.ec("ES384", kid="ec-1"),
        listener=listener.url,
        service_secret=service_secret_bytes(SERVICE_SECRET),
    )
