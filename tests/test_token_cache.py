"""The verified-token cache: ``wsgi_jwt_guard.token_cache``, alone and inside the Verifier.

Correctness only (DESIGN §5): keyed on the full token, bounded, never past
``exp`` or ``max_age``, never holding a failure, thread-safe. Speed is measured
by ``bench/``, never asserted here.
"""

from __future__ import annotations

import threading
import time
from types import MappingProxyType
from typing import Any

import pytest

from tests.helpers import (
    AUDIENCE,
    ISSUER,
    SERVICE_SECRET,
    SigningKey,
    b64url,
    run_together,
    service_token,
    user_claims,
)
from wsgi_jwt_guard import (
    ConfigError,
    ExpiredToken,
    Identity,
    InvalidToken,
    Issuer,
    ServiceTokens,
)
from wsgi_jwt_guard.keys import PinnedKey
from wsgi_jwt_guard.token_cache import TokenCache
from wsgi_jwt_guard.verification import Verifier

NOW = 1_700_000_000.0


def identity(token: str = "a.b.c", *, exp: float = NOW + 600, source: Any = "header") -> Identity:
    return Identity(
        subject="user:default/alice",
        claims=MappingProxyType({"sub": "user:default/alice", "exp": exp}),
        issuer=ISSUER,
        kind="user",
        source=source,
        expires_at=exp,
        token=token,
    )


# --- TokenCache alone ------------------------------------------------------


def test_a_stored_identity_is_returned_and_counted() -> None:
    cache = TokenCache(10)
    assert cache.get("a.b.c", "header", NOW) is None
    stored = identity()
    cache.put(stored, NOW)
    assert cache.get("a.b.c", "header", NOW + 1) is stored
    assert (cache.hits, cache.misses) == (1, 1)


@pytest.mark.parametrize(
    "other",
    [
        pytest.param("a.b.", id="prefix"),
        pytest.param("a.b.cd", id="longer"),
        pytest.param("a.b.C", id="case"),
        pytest.param("a.b.c ", id="trailing-space"),
        pytest.param("x.b.c", id="other-header"),
    ],
)
def test_only_the_exact_token_matches(other: str) -> None:
    cache = TokenCache(10)
    cache.put(identity("a.b.c"), NOW)
    assert cache.get(other, "header", NOW) is None


@pytest.mark.parametrize(
    ("exp", "max_age", "served_until"),
    [
        pytest.param(NOW + 600, None, NOW + 600, id="until-exp"),
        pytest.param(NOW + 600, 60, NOW + 60, id="max-age-first"),
        pytest.param(NOW + 30, 60, NOW + 30, id="exp-first"),
    ],
)
def test_an_entry_never_outlives_exp_or_max_age(
    exp: float, max_age: float | None, served_until: float
) -> None:
    cache = TokenCache(10, max_age=max_age)
    cache.put(identity(exp=exp), NOW)
    assert cache.get("a.b.c", "header", served_until - 0.001) is not None
    assert cache.get("a.b.c", "header", served_until) is None
    assert len(cache) == 0  # dropped, not kept around
    # Nor does it come back when the clock goes back afterwards.
    assert cache.get("a.b.c", "header", NOW) is None


def test_an_entry_is_not_served_before_it_was_verified() -> None:
    # A clock that steps backwards must not serve what it has not checked at that time.
    cache = TokenCache(10)
    cache.put(identity(), NOW)
    assert cache.get("a.b.c", "header", NOW - 1) is None


def test_an_already_expired_identity_is_not_stored() -> None:
    cache = TokenCache(10)
    cache.put(identity(exp=NOW), NOW)
    cache.put(identity("x.y.z", exp=NOW - 5), NOW)
    assert len(cache) == 0


def test_the_bound_evicts_the_least_recently_used() -> None:
    cache = TokenCache(3)
    for name in "abc":
        cache.put(identity(f"{name}.t.s"), NOW)
    assert cache.get("a.t.s", "header", NOW) is not None  # a is now the most recent
    cache.put(identity("d.t.s"), NOW)
    assert len(cache) == 3
    assert "b.t.s" not in cache
    assert all(token in cache for token in ("a.t.s", "c.t.s", "d.t.s"))


def test_size_zero_disables_the_cache() -> None:
    cache = TokenCache(0)
    cache.put(identity(), NOW)
    assert len(cache) == 0
    assert cache.get("a.b.c", "header", NOW) is None
    assert cache.misses == 1


def test_another_source_gets_an_identity_with_its_own_source() -> None:
    cache = TokenCache(10)
    cache.put(identity(source="header"), NOW)
    from_cookie = cache.get("a.b.c", "cookie", NOW)
    assert from_cookie is not None
    assert from_cookie.source == "cookie"
    assert from_cookie.subject == "user:default/alice"
    assert cache.get("a.b.c", "header", NOW).source == "header"  # type: ignore[union-attr]
    assert cache.get("a.b.c", "cookie", NOW) is from_cookie


def test_clear() -> None:
    cache = TokenCache(10)
    cache.put(identity(), NOW)
    cache.clear()
    assert cache.get("a.b.c", "header", NOW) is None


@pytest.mark.parametrize(
    ("options", "key"),
    [
        pytest.param({"maxsize": -1}, "maxsize", id="negative-size"),
        pytest.param({"maxsize": 1.5}, "maxsize", id="fractional-size"),
        pytest.param({"maxsize": True}, "maxsize", id="bool-size"),
        pytest.param({"maxsize": 10, "max_age": 0}, "max_age", id="zero-age"),
        pytest.param({"maxsize": 10, "max_age": -1}, "max_age", id="negative-age"),
        pytest.param({"maxsize": 10, "max_age": "60"}, "max_age", id="string-age"),
        pytest.param({"maxsize": 10, "max_age": float("nan")}, "max_age", id="nan-age"),
        pytest.param({"maxsize": 10, "max_age": True}, "max_age", id="bool-age"),
    ],
)
def test_bad_settings_are_config_errors_naming_them(options: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        TokenCache(**options)
    assert caught.value.key == key


def test_threads_share_one_consistent_cache() -> None:
    cache = TokenCache(50)
    tokens = [f"t{i}.p.s" for i in range(200)]
    errors: list[str] = []
    def worker(offset: int) -> None:
        for round_ in range(300):
            token = tokens[(offset * 37 + round_) % len(tokens)]
            cache.put(identity(token), NOW)
            found = cache.get(token, "cookie" if round_ % 2 else "header", NOW)
            # Either evicted by another thread meanwhile, or exactly this token's identity.
            if found is not None and found.token != token:
                errors.append(f"{token} answered with {found.token}")
            if len(cache) > 50:
                errors.append(f"size {len(cache)}")

    run_together(worker, 8)
    assert errors == []
    assert len(cache) <= 50
    assert cache.hits + cache.misses == 8 * 300


# --- inside the Verifier ---------------------------------------------------


@pytest.fixture
def verifier(ec_key: SigningKey, rsa_key: SigningKey) -> Verifier:
    issuer = Issuer(ISSUER, keys=[ec_key.public_jwk(), rsa_key.public_jwk()], audience=AUDIENCE)
    return Verifier([issuer])


@pytest.fixture
def signature_checks(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Records every signature check that reaches a key."""
    calls: list[bytes] = []
    original = PinnedKey.verify

    def counting(self: PinnedKey, signing_input: bytes, signature: bytes) -> bool:
        calls.append(signing_input)
        return original(self, signing_input, signature)

    monkeypatch.setattr(PinnedKey, "verify", counting)
    return calls


def test_a_repeat_token_skips_the_signature_check(
    verifier: Verifier, ec_key: SigningKey, signature_checks: list[bytes]
) -> None:
    token = ec_key.token()
    first = verifier.verify(token, "header")
    again = verifier.verify(token, "header")
    assert again is first
    assert len(signature_checks) == 1
    assert (verifier.token_cache.hits, verifier.token_cache.misses) == (1, 1)


def test_a_repeat_token_from_another_source_carries_that_source(
    verifier: Verifier, ec_key: SigningKey, signature_checks: list[bytes]
) -> None:
    token = ec_key.token()
    assert verifier.verify(token, "header").source == "header"
    from_cookie = verifier.verify(token, "cookie")
    assert from_cookie.source == "cookie"
    assert from_cookie.token == token
    assert len(signature_checks) == 1


def test_a_cached_token_expires_on_the_verifiers_clock(
    verifier: Verifier, ec_key: SigningKey, signature_checks: list[bytes]
) -> None:
    claims = user_claims(iat=int(NOW), exp=int(NOW) + 600)
    token = ec_key.token(claims)
    verifier.now = lambda: NOW + 10  # type: ignore[method-assign]
    verifier.verify(token, "header")
    verifier.verify(token, "header")
    assert len(signature_checks) == 1
    verifier.now = lambda: NOW + 600  # type: ignore[method-assign]
    with pytest.raises(ExpiredToken):
        verifier.verify(token, "header")
    assert len(signature_checks) == 2  # verified again, and refused


def test_max_age_sends_a_token_back_to_full_verification(
    ec_key: SigningKey, static_issuer: Issuer, signature_checks: list[bytes]
) -> None:
    verifier = Verifier([static_issuer], token_cache_max_age=30)
    token = ec_key.token()
    now = time.time()
    verifier.now = lambda: now  # type: ignore[method-assign]
    verifier.verify(token, "header")
    verifier.verify(token, "header")
    verifier.now = lambda: now + 31  # type: ignore[method-assign]
    verifier.verify(token, "header")
    assert len(signature_checks) == 2


def test_failures_are_never_cached(
    verifier: Verifier, ec_key: SigningKey, other_ec_key: SigningKey
) -> None:
    good = ec_key.token()
    verifier.verify(good, "header")
    forged = other_ec_key.token()
    for _ in range(3):
        with pytest.raises(InvalidToken):
            verifier.verify(forged, "header")
        with pytest.raises(InvalidToken):
            verifier.verify("garbage", "header")
    assert len(verifier.token_cache) == 1
    assert good in verifier.token_cache


def test_garbage_cannot_evict_good_entries(static_issuer: Issuer, ec_key: SigningKey) -> None:
    verifier = Verifier([static_issuer], token_cache_size=2)
    good = [ec_key.token(jti=str(i)) for i in range(2)]
    for token in good:
        verifier.verify(token, "header")
    header, payload, _ = good[0].split(".")
    for i in range(200):
        # A well-formed token with a forged signature: refused at the last step.
        forged = b64url(i.to_bytes(64, "big"))
        with pytest.raises(InvalidToken):
            verifier.verify(f"{header}.{payload}.{forged}", "header")
        with pytest.raises(InvalidToken):
            verifier.verify(f"garbage-{i}", "header")
    assert all(token in verifier.token_cache for token in good)
    # The known-header table only learns from verified tokens, too.
    assert len(verifier._known_headers) == 1


def test_a_wrong_signature_on_a_known_header_is_still_refused(
    verifier: Verifier, ec_key: SigningKey, other_ec_key: SigningKey
) -> None:
    # The header table skips re-decoding the header, never the signature check.
    verifier.verify(ec_key.token(), "header")
    header, payload, signature = other_ec_key.token(sub="user:default/mallory").split(".")
    assert header == ec_key.token().split(".")[0]
    with pytest.raises(InvalidToken, match="signature"):
        verifier.verify(f"{header}.{payload}.{signature}", "header")


def test_per_issuer_rules_still_apply_to_a_known_header(
    ec_key: SigningKey, rsa_key: SigningKey
) -> None:
    # Two issuers, one header: the header is known from the first, but the
    # second issuer does not allow ES256.
    ours = Issuer(ISSUER, keys=[ec_key.public_jwk()], audience=AUDIENCE, algorithms=["ES256"])
    other = "https://other.example.test"
    theirs = Issuer(other, keys=[rsa_key.public_jwk()], algorithms=["RS256"])
    verifier = Verifier([ours, theirs])
    verifier.verify(ec_key.token(), "header")
    with pytest.raises(InvalidToken, match="algorithm"):
        verifier.verify(ec_key.token(iss=other), "header")


def test_service_tokens_are_cached_too(
    static_issuer: Issuer, signature_checks: list[bytes]
) -> None:
    verifier = Verifier([static_issuer], service_tokens=ServiceTokens([SERVICE_SECRET]))
    token = service_token()
    assert verifier.verify(token, "header").kind == "service"
    assert verifier.verify(token, "header").kind == "service"
    assert verifier.token_cache.hits == 1


def test_the_cache_can_be_turned_off(
    static_issuer: Issuer, ec_key: SigningKey, signature_checks: list[bytes]
) -> None:
    verifier = Verifier([static_issuer], token_cache_size=0)
    token = ec_key.token()
    verifier.verify(token, "header")
    verifier.verify(token, "header")
    assert len(signature_checks) == 2


@pytest.mark.parametrize(
    ("options", "key"),
    [
        pytest.param({"token_cache_size": -1}, "token_cache_size", id="negative-size"),
        pytest.param({"token_cache_size": "10"}, "token_cache_size", id="string-size"),
        pytest.param({"token_cache_max_age": 0}, "token_cache_max_age", id="zero-age"),
    ],
)
def test_verifier_settings_are_config_errors(
    static_issuer: Issuer, options: dict[str, Any], key: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        Verifier([static_issuer], **options)
    assert caught.value.key == key


def test_many_threads_verifying_the_same_tokens(verifier: Verifier, ec_key: SigningKey) -> None:
    tokens = [ec_key.token(jti=str(i)) for i in range(20)]
    results: list[tuple[str, str]] = []
    lock = threading.Lock()
    def worker(_: int) -> None:
        for _ in range(5):
            for token in tokens:
                found = verifier.verify(token, "header")
                with lock:
                    results.append((token, found.token))

    run_together(worker, 6)
    assert len(results) == 6 * 5 * 20
    assert all(sent == got for sent, got in results)
    assert len(verifier.token_cache) == 20


def test_guard_and_config_settings_reach_the_cache(ec_key: SigningKey) -> None:
    from tests.helpers import echo_app
    from wsgi_jwt_guard import JWTGuard, from_config

    issuer = {"issuer": ISSUER, "keys": [ec_key.public_jwk()]}
    guard = from_config(
        echo_app, {"issuers": [issuer], "token_cache_size": 5, "token_cache_max_age": 60}
    )
    assert (guard.verifier.token_cache.maxsize, guard.verifier.token_cache.max_age) == (5, 60)
    default = JWTGuard(echo_app, issuers=[Issuer(**issuer)])
    assert default.verifier.token_cache.maxsize == 10_000
    with pytest.raises(ConfigError) as caught:
        from_config(echo_app, {"issuers": [issuer], "token_cache_size": -1})
    assert caught.value.key == "token_cache_size"
