"""Service-to-service tokens: ``wsgi_jwt_guard.service`` (DESIGN §4).

HS256 over shared base64 secrets, as Backstage's ``ServerTokenManager``: the
first secret signs, every secret verifies, the subject is fixed. Tokens go
through a real guard; minted tokens are read back with the strict parser.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.test import Client

from tests.helpers import (
    SERVICE_SECRET,
    SERVICE_SECRET_OLD,
    SigningKey,
    bearer,
    compact,
    hs256,
    service_token,
)
from wsgi_jwt_guard import ConfigError, JWTGuard, ServiceTokens, mint_service_token
from wsgi_jwt_guard.jws import parse

OTHER_SECRET = base64.urlsafe_b64encode(b"x" * 32).decode().rstrip("=")
# Bytes whose base64 uses "+" and "/" (url-safe: "-" and "_") and needs padding.
RAW_KEY = bytes([0xFB, 0xFF, 0xBF] * 10 + [0xFB, 0xFF])
STANDARD_PADDED = base64.b64encode(RAW_KEY).decode()
URL_SAFE = base64.urlsafe_b64encode(RAW_KEY).decode().rstrip("=")
SECRET_PADDED = SERVICE_SECRET + "=" * (-len(SERVICE_SECRET) % 4)


def guard_with(make_guard: Callable[..., JWTGuard], *secrets: str, **options: Any) -> Client:
    return Client(
        make_guard(service_tokens=ServiceTokens(list(secrets), **options)), use_cookies=False
    )


def call(client: Client, token: str) -> Any:
    # As a browser sends it (fetch metadata): the only requests that get the cookie.
    return client.get("/api/catalog", headers={**bearer(token), "Sec-Fetch-Site": "same-origin"})


def assert_refused(response: Any) -> None:
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert response.get_json()["error"]["name"] == "AuthenticationError"


def claims_of(token: str) -> dict[str, Any]:
    return parse(token).claims


# --- accepted tokens --------------------------------------------------------------


def test_a_minted_token_is_a_service_identity(make_guard: Callable[..., JWTGuard]) -> None:
    client = guard_with(make_guard, SERVICE_SECRET)

    response = call(client, ServiceTokens([SERVICE_SECRET]).mint())

    assert response.status_code == 200
    body = response.get_json()
    assert body["remote_user"] == "backstage-server"
    assert body["auth_type"] == "Bearer"
    assert body["identity"]["kind"] == "service"
    assert body["identity"]["subject"] == "backstage-server"
    assert body["identity"]["issuer"] is None
    assert body["identity"]["source"] == "header"


@pytest.mark.parametrize(
    ("make_token", "sets_cookie"),
    [
        pytest.param(lambda key: ServiceTokens([SERVICE_SECRET]).mint(), False, id="service"),
        pytest.param(lambda key: key.token(), True, id="user"),
    ],
)
def test_only_user_tokens_are_copied_into_the_cookie(
    client: Client,
    ec_key: SigningKey,
    make_token: Callable[[SigningKey], str],
    sets_cookie: bool,
) -> None:
    response = call(client, make_token(ec_key))

    assert response.status_code == 200
    assert ("Set-Cookie" in response.headers) is sets_cookie


def test_mint_service_token_is_accepted(client: Client) -> None:
    response = call(client, mint_service_token(SERVICE_SECRET))

    assert response.status_code == 200
    assert response.get_json()["remote_user"] == "backstage-server"


# --- rotation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "status"),
    [
        pytest.param(SERVICE_SECRET, 200, id="new-secret"),
        pytest.param(SERVICE_SECRET_OLD, 200, id="old-secret"),
        pytest.param(OTHER_SECRET, 401, id="unknown-secret"),
    ],
)
def test_every_configured_secret_verifies(
    make_guard: Callable[..., JWTGuard], secret: str, status: int
) -> None:
    client = guard_with(make_guard, SERVICE_SECRET, SERVICE_SECRET_OLD)

    assert call(client, service_token(secret)).status_code == status


@pytest.mark.parametrize(
    ("verifier_secrets", "status"),
    [
        pytest.param([SERVICE_SECRET], 200, id="knows-the-first"),
        pytest.param([SERVICE_SECRET_OLD], 401, id="knows-only-the-second"),
        pytest.param([SERVICE_SECRET_OLD, SERVICE_SECRET], 200, id="knows-both"),
    ],
)
def test_mint_signs_with_the_first_secret(
    make_guard: Callable[..., JWTGuard], verifier_secrets: list[str], status: int
) -> None:
    token = ServiceTokens([SERVICE_SECRET, SERVICE_SECRET_OLD]).mint()
    client = guard_with(make_guard, *verifier_secrets)

    assert call(client, token).status_code == status


def test_a_dropped_secret_stops_verifying(make_guard: Callable[..., JWTGuard]) -> None:
    token = service_token(SERVICE_SECRET_OLD)
    assert (
        call(guard_with(make_guard, SERVICE_SECRET, SERVICE_SECRET_OLD), token).status_code == 200
    )

    assert_refused(call(guard_with(make_guard, SERVICE_SECRET), token))


# --- subject, times, algorithm ----------------------------------------------------------


def _drop(name: str) -> Callable[[], str]:
    def make() -> str:
        now = int(time.time())
        payload = {"sub": "backstage-server", "iat": now, "exp": now + 600}
        del payload[name]
        return compact({"alg": "HS256"}, payload, hs256(base64.urlsafe_b64decode(SECRET_PADDED)))

    return make


@pytest.mark.parametrize(
    ("make_token", "status"),
    [
        pytest.param(lambda: service_token(), 200, id="valid"),
        pytest.param(lambda: service_token(sub="someone-else"), 401, id="other-subject"),
        pytest.param(_drop("sub"), 401, id="no-subject"),
        pytest.param(lambda: service_token(sub=["backstage-server"]), 401, id="subject-list"),
        pytest.param(lambda: service_token(exp=int(time.time()) - 10), 401, id="expired"),
        pytest.param(_drop("exp"), 401, id="no-exp"),
        pytest.param(lambda: service_token(exp=str(int(time.time()) + 600)), 401, id="exp-string"),
        pytest.param(lambda: service_token(exp=True), 401, id="exp-boolean"),
        pytest.param(lambda: service_token(exp=None), 401, id="exp-null"),
        pytest.param(lambda: service_token(nbf=int(time.time()) + 600), 401, id="nbf-future"),
        pytest.param(lambda: service_token(iat=int(time.time()) + 600), 401, id="iat-future"),
    ],
)
def test_service_token_claims(client: Client, make_token: Callable[[], str], status: int) -> None:
    response = call(client, make_token())

    assert response.status_code == status
    if status == 401:
        assert_refused(response)


def test_an_expired_token_says_so(client: Client) -> None:
    response = call(client, ServiceTokens([SERVICE_SECRET]).mint(now=time.time() - 7200))

    assert_refused(response)
    assert "expired" in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    ("leeway", "status"),
    [
        pytest.param(0, 401, id="no-leeway"),
        pytest.param(30, 200, id="within-leeway"),
    ],
)
def test_leeway_applies_to_exp(
    make_guard: Callable[..., JWTGuard], leeway: float, status: int
) -> None:
    client = guard_with(make_guard, SERVICE_SECRET, leeway=leeway)

    assert call(client, service_token(exp=int(time.time()) - 10)).status_code == status


def test_a_custom_subject_is_the_only_one_accepted(make_guard: Callable[..., JWTGuard]) -> None:
    tokens = ServiceTokens([SERVICE_SECRET], subject="catalog-backend")
    client = guard_with(make_guard, SERVICE_SECRET, subject="catalog-backend")

    response = call(client, tokens.mint())
    assert response.status_code == 200
    assert response.get_json()["remote_user"] == "catalog-backend"
    assert response.get_json()["identity"]["subject"] == "catalog-backend"

    assert_refused(call(client, service_token(sub="backstage-server")))


def _signed(alg: str, key: bytes) -> Callable[[SigningKey], str]:
    def make(ec_key: SigningKey) -> str:
        now = int(time.time())
        payload = {"sub": "backstage-server", "iat": now, "exp": now + 600}
        return compact({"alg": alg}, payload, hs256(key))

    return make


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(_signed("HS384", base64.urlsafe_b64decode(SECRET_PADDED)), id="HS384"),
        pytest.param(_signed("hs256", base64.urlsafe_b64decode(SECRET_PADDED)), id="hs256"),
        pytest.param(_signed("HS256", SERVICE_SECRET.encode()), id="secret-text-not-decoded"),
        pytest.param(
            lambda key: _signed("HS256", key.public_pem().encode())(key), id="issuer-public-key"
        ),
        pytest.param(
            lambda key: compact({"alg": "none"}, {"sub": "backstage-server"}, lambda _: b"x"),
            id="alg-none",
        ),
    ],
)
def test_only_hs256_over_the_decoded_secret_verifies(
    client: Client, ec_key: SigningKey, make_token: Callable[[SigningKey], str]
) -> None:
    assert_refused(call(client, make_token(ec_key)))


def test_a_guard_without_service_tokens_refuses_hs256(
    make_guard: Callable[..., JWTGuard], ec_key: SigningKey
) -> None:
    client = Client(make_guard(service_tokens=None), use_cookies=False)

    assert_refused(call(client, ServiceTokens([SERVICE_SECRET]).mint()))
    assert call(client, ec_key.token()).status_code == 200  # user tokens still work


# --- minting ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mint", "lifetime"),
    [
        pytest.param(lambda: mint_service_token(SERVICE_SECRET), 3600, id="helper-default"),
        pytest.param(lambda: mint_service_token(SERVICE_SECRET, lifetime=60), 60, id="helper-60"),
        pytest.param(lambda: ServiceTokens([SERVICE_SECRET]).mint(), 3600, id="default"),
        pytest.param(
            lambda: ServiceTokens([SERVICE_SECRET], lifetime=120).mint(), 120, id="lifetime-120"
        ),
    ],
)
def test_lifetime_sets_exp_minus_iat(mint: Callable[[], str], lifetime: int) -> None:
    before = int(time.time())
    claims = claims_of(mint())

    assert claims["exp"] - claims["iat"] == lifetime
    assert before <= claims["iat"] <= time.time()


NOW = 1_700_000_000


@pytest.mark.parametrize(
    ("mint", "iat"),
    [
        pytest.param(
            lambda: ServiceTokens([SERVICE_SECRET], clock=lambda: NOW + 0.9).mint(), NOW, id="clock"
        ),
        pytest.param(
            lambda: ServiceTokens([SERVICE_SECRET], clock=lambda: NOW).mint(now=NOW - 60),
            NOW - 60,
            id="now-wins-over-clock",
        ),
        pytest.param(
            lambda: mint_service_token(SERVICE_SECRET, clock=lambda: NOW), NOW, id="helper-clock"
        ),
    ],
)
def test_mint_takes_the_time_from_its_clock(mint: Callable[[], str], iat: int) -> None:
    claims = claims_of(mint())

    assert (claims["iat"], claims["exp"]) == (iat, iat + 3600)


def test_mint_writes_an_hs256_token_with_the_subject_and_extra_claims() -> None:
    token = ServiceTokens([SERVICE_SECRET], subject="scaffolder").mint(
        now=1_700_000_000, claims={"scope": "catalog.read"}
    )

    jws = parse(token)
    assert jws.alg == "HS256"
    assert jws.claims == {
        "sub": "scaffolder",
        "iat": 1_700_000_000,
        "exp": 1_700_003_600,
        "scope": "catalog.read",
    }


def test_mint_service_token_honours_the_subject(make_guard: Callable[..., JWTGuard]) -> None:
    token = mint_service_token(SERVICE_SECRET, subject="search-indexer")
    client = guard_with(make_guard, SERVICE_SECRET, subject="search-indexer")

    assert claims_of(token)["sub"] == "search-indexer"
    assert call(client, token).get_json()["remote_user"] == "search-indexer"


# --- secrets: base64 forms and configuration errors ---------------------------------------

SECRET_FORMS = [
    pytest.param(STANDARD_PADDED, id="standard-padded"),
    pytest.param(STANDARD_PADDED.rstrip("="), id="standard-unpadded"),
    pytest.param(URL_SAFE + "=", id="url-safe-padded"),
    pytest.param(URL_SAFE, id="url-safe-unpadded"),
]


def test_the_secret_forms_are_what_they_claim() -> None:
    assert {"+", "/"} <= set(STANDARD_PADDED)
    assert STANDARD_PADDED.endswith("=")
    assert {"-", "_"} <= set(URL_SAFE)
    assert "=" not in URL_SAFE


@pytest.mark.parametrize("secret", SECRET_FORMS)
def test_every_base64_form_decodes_to_the_same_key(
    make_guard: Callable[..., JWTGuard], secret: str
) -> None:
    now = int(time.time())
    signed_with_raw_key = compact(
        {"alg": "HS256"}, {"sub": "backstage-server", "iat": now, "exp": now + 600}, hs256(RAW_KEY)
    )

    assert call(guard_with(make_guard, secret), signed_with_raw_key).status_code == 200
    assert call(guard_with(make_guard, URL_SAFE), mint_service_token(secret)).status_code == 200


def test_a_backstage_sized_secret_is_accepted(make_guard: Callable[..., JWTGuard]) -> None:
    secret = base64.b64encode(bytes(range(24))).decode()  # 24 bytes, 32 characters
    assert len(secret) == 32

    assert call(guard_with(make_guard, secret), mint_service_token(secret)).status_code == 200


@pytest.mark.parametrize(
    ("options", "key"),
    [
        pytest.param({"secrets": ["A" * 31]}, "secrets[0]", id="short-secret"),
        pytest.param({"secrets": [SERVICE_SECRET, "A" * 31]}, "secrets[1]", id="short-second"),
        pytest.param({"secrets": ["!" * 40]}, "secrets[0]", id="not-base64"),
        pytest.param({"secrets": ["A" * 33]}, "secrets[0]", id="impossible-length"),
        pytest.param({"secrets": ["abcd efgh " * 4]}, "secrets[0]", id="whitespace"),
        pytest.param({"secrets": ["A" * 40 + "==="]}, "secrets[0]", id="too-much-padding"),
        pytest.param({"secrets": [None]}, "secrets[0]", id="secret-not-a-string"),
        pytest.param({"secrets": [b"A" * 40]}, "secrets[0]", id="secret-bytes"),
        pytest.param({"secrets": []}, "secrets", id="empty-list"),
        pytest.param({"secrets": SERVICE_SECRET}, "secrets", id="bare-string"),
        pytest.param({"secrets": None}, "secrets", id="none"),
        pytest.param({"subject": ""}, "subject", id="empty-subject"),
        pytest.param({"subject": None}, "subject", id="subject-none"),
        pytest.param({"lifetime": -1}, "lifetime", id="negative-lifetime"),
        pytest.param({"lifetime": 0}, "lifetime", id="zero-lifetime"),
        pytest.param({"lifetime": "3600"}, "lifetime", id="lifetime-string"),
        pytest.param({"lifetime": True}, "lifetime", id="lifetime-boolean"),
        pytest.param({"leeway": -1}, "leeway", id="negative-leeway"),
        pytest.param({"leeway": float("nan")}, "leeway", id="leeway-nan"),
        pytest.param({"lifetime": float("inf")}, "lifetime", id="lifetime-infinite"),
        pytest.param({"clock": 1_700_000_000}, "clock", id="clock-not-callable"),
    ],
)
def test_configuration_errors_name_the_setting(options: dict[str, Any], key: str) -> None:
    options.setdefault("secrets", [SERVICE_SECRET])

    with pytest.raises(ConfigError) as caught:
        ServiceTokens(**options)

    assert caught.value.key == key
    secrets = options["secrets"]
    for secret in [secrets] if isinstance(secrets, str) else secrets or []:
        if isinstance(secret, str):
            assert secret not in str(caught.value)  # a secret is never echoed


def test_mint_service_token_validates_its_secret() -> None:
    with pytest.raises(ConfigError) as caught:
        mint_service_token("too-short")

    assert caught.value.key == "secrets[0]"
