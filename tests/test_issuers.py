"""Issuers and their key sources: ``wsgi_jwt_guard.issuers`` (the refresh settings).

How an issuer's keys are validated is in ``test_keys.py``/``test_verification.py``;
this module covers what issue 11 added: the refresh policy an ``Issuer``
embeds, from Python and from configuration.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import ISSUER, SigningKey, echo_app
from wsgi_jwt_guard import ConfigError, Issuer, from_config
from wsgi_jwt_guard.jwks import JWKSClient
from wsgi_jwt_guard.refresh import RefreshPolicy

JWKS = "https://auth.example.test/jwks"


def test_the_default_policy_is_shared_not_repeated() -> None:
    issuer = Issuer(ISSUER, jwks_uri=JWKS)
    assert issuer.jwks_refresh == RefreshPolicy()


@pytest.mark.parametrize(
    "refresh",
    [
        pytest.param(RefreshPolicy(cooldown=5, prefetch=False), id="object"),
        pytest.param({"cooldown": 5}, id="mapping"),
    ],
)
def test_the_client_gets_the_issuers_policy(refresh: Any) -> None:
    issuer = Issuer(ISSUER, jwks_uri=JWKS, jwks_refresh=refresh)
    assert issuer.jwks_refresh == RefreshPolicy(cooldown=5)
    source = issuer.key_source()
    assert isinstance(source, JWKSClient)
    assert source.policy is issuer.jwks_refresh


def test_static_keys_need_no_policy(ec_key: SigningKey) -> None:
    issuer = Issuer(ISSUER, keys=[ec_key.public_jwk()], jwks_refresh={"prefetch": True})
    assert not isinstance(issuer.key_source(), JWKSClient)


@pytest.mark.parametrize(
    ("refresh", "key"),
    [
        pytest.param({"cooldwn": 5}, "issuers[0].jwks_refresh.cooldwn", id="unknown-setting"),
        pytest.param({"cooldown": -5}, "issuers[0].jwks_refresh.cooldown", id="bad-value"),
        pytest.param(
            {"min_ttl": 10, "max_ttl": 5}, "issuers[0].jwks_refresh.min_ttl", id="inconsistent"
        ),
        pytest.param(30, "issuers[0].jwks_refresh", id="not-a-table"),
    ],
)
def test_configuration_mistakes_name_the_key(refresh: Any, key: str) -> None:
    config = {"issuers": [{"issuer": ISSUER, "jwks_uri": JWKS, "jwks_refresh": refresh}]}
    with pytest.raises(ConfigError) as caught:
        from_config(echo_app, config)
    assert caught.value.key == key


def test_configuration_builds_the_policy() -> None:
    refresh = {"ttl": 300, "cooldown": 10, "retry_max": 5, "prefetch": False}
    config = {"issuers": [{"issuer": ISSUER, "jwks_uri": JWKS, "jwks_refresh": refresh}]}
    guard = from_config(echo_app, config)
    source = guard.verifier.key_sources[ISSUER]
    assert isinstance(source, JWKSClient)
    assert source.policy == RefreshPolicy(ttl=300, cooldown=10, retry_max=5)
