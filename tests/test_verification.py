"""Token verification, end to end through the guard: ``wsgi_jwt_guard.verification``.

Every refusal is checked the way a client sees it (DESIGN §2 step 4, §6): a
401 with ``error="invalid_token"``, a reason that does not echo the token, and
a wrapped app that never ran.
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from werkzeug.test import Client, TestResponse

import wsgi_jwt_guard.verification
from tests.helpers import (
    AUDIENCE,
    ISSUER,
    SERVICE_SECRET,
    FakeClock,
    SigningKey,
    b64url,
    b64url_json,
    compact,
    echo_app,
    hs256,
    service_token,
    user_claims,
)
from tests.jwks_server import JWKSServer
from wsgi_jwt_guard import (
    ConfigError,
    ExpiredToken,
    Identity,
    InvalidToken,
    Issuer,
    JWTGuard,
    Rule,
    ServiceTokens,
)
from wsgi_jwt_guard.keys import PinnedKey
from wsgi_jwt_guard.verification import Verifier

PROTECTED = "/api/catalog"
OTHER_ISSUER = "https://other.example.test/auth"


@dataclass
class Guarded:
    """A guard around the echo app that records whether the app ran."""

    guard: JWTGuard
    calls: list[str] = field(default_factory=list)

    @property
    def client(self) -> Client:
        return Client(self.guard, use_cookies=False)

    def get(self, token: str, path: str = PROTECTED) -> TestResponse:
        return self.client.get(path, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def guarded(make_guard: Callable[..., JWTGuard]) -> Callable[..., Guarded]:
    """``guarded(**options)``: ``make_guard`` with an app that records its calls."""

    def build(**options: Any) -> Guarded:
        calls: list[str] = []

        def app(environ: dict[str, Any], start_response: Any) -> Any:
            calls.append(environ["PATH_INFO"])
            return echo_app(environ, start_response)

        return Guarded(make_guard(app, **options), calls)

    return build


@pytest.fixture
def default(guarded: Callable[..., Guarded]) -> Guarded:
    return guarded()


def issuer(*keys: SigningKey, **options: Any) -> Issuer:
    """A static-key issuer for ``ISSUER`` with the test audience."""
    options.setdefault("audience", AUDIENCE)
    if "keys" not in options and not any(o in options for o in ("pem", "pem_file", "keys_file")):
        options["keys"] = [key.public_jwk() for key in keys]
    return Issuer(options.pop("issuer", ISSUER), **options)


def sign(key: SigningKey, header: dict[str, Any], claims: dict[str, Any]) -> str:
    """A token with exactly ``header`` (no ``typ``/``kid`` added), signed by ``key``."""
    return compact(header, claims, key.sign)


def assert_accepted(response: TestResponse, guarded: Guarded) -> dict[str, Any]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert guarded.calls == [PROTECTED]
    body: dict[str, Any] = response.get_json()
    return body


def assert_refused(
    response: TestResponse,
    token: str,
    guarded: Guarded,
    reason: str | None = None,
    *,
    error: str = "invalid_token",
) -> str:
    """401, the RFC 6750 challenge, a reason without the token, and the app never ran."""
    assert response.status_code == 401, response.get_data(as_text=True)
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert f'error="{error}"' in challenge
    body = response.get_json()
    assert body["error"]["name"] == "AuthenticationError"
    message: str = body["error"]["message"]
    assert message
    if reason is not None:
        assert re.search(reason, message), message
    text = response.get_data(as_text=True)
    # Neither the token nor any of its segments is echoed (short garbage like
    # "a" is skipped: it is a letter of every English sentence).
    for part in {token, *token.split(".")}:
        if len(part) >= 8:
            assert part not in text
            assert part not in challenge
    assert guarded.calls == []
    return message


# --- valid tokens ----------------------------------------------------------


@pytest.mark.parametrize("which", ["ec", "rsa"])
def test_valid_user_token(
    default: Guarded, ec_key: SigningKey, rsa_key: SigningKey, which: str
) -> None:
    key = ec_key if which == "ec" else rsa_key
    claims = user_claims()
    token = key.token(claims)
    body = assert_accepted(default.get(token), default)
    assert body["remote_user"] == "user:default/alice"
    assert body["auth_type"] == "Bearer"
    assert body["identity"] == {
        "subject": "user:default/alice",
        "issuer": ISSUER,
        "kind": "user",
        "source": "header",
        "expires_at": claims["exp"],
        "ownership_refs": ["user:default/alice", "group:default/team-a"],
    }


def test_valid_service_token(default: Guarded) -> None:
    body = assert_accepted(default.get(service_token()), default)
    assert body["identity"]["kind"] == "service"
    assert body["identity"]["issuer"] is None
    assert body["remote_user"] == "backstage-server"


def test_audience_may_be_a_list(default: Guarded, ec_key: SigningKey) -> None:
    token = ec_key.token(aud=["someone-else", AUDIENCE])
    assert_accepted(default.get(token), default)


# --- times -----------------------------------------------------------------


def test_expired(default: Guarded, ec_key: SigningKey) -> None:
    now = int(time.time())
    token = ec_key.token(iat=now - 700, exp=now - 60)
    assert_refused(default.get(token), token, default, "expired")


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        pytest.param({"nbf": 3600}, "not valid yet", id="nbf-in-the-future"),
        pytest.param({"iat": 3600}, "issued in the future", id="iat-in-the-future"),
        pytest.param({"nbf": 5, "iat": 5}, "future", id="just-in-the-future"),
    ],
)
def test_not_yet_valid(
    default: Guarded, ec_key: SigningKey, claims: dict[str, int], reason: str
) -> None:
    now = int(time.time())
    token = ec_key.token(**{name: now + offset for name, offset in claims.items()})
    message = assert_refused(default.get(token), token, default, reason)
    assert "expired" not in message


def test_a_token_from_a_clock_milliseconds_ahead_is_accepted(
    guarded: Callable[..., Guarded], ec_key: SigningKey
) -> None:
    """The issuer's clock is 5 ms ahead and the token is used at once: its 'iat' and
    'nbf' (whole seconds, as every issuer writes them) name the second that began
    there, 4 ms from now here. With no leeway, a valid user is not refused."""
    clock = FakeClock(1_700_000_000.996)
    guard = guarded(clock=clock)
    issued = 1_700_000_001  # the issuer's time 1_700_000_001.001, truncated
    token = ec_key.token(iat=issued, nbf=issued, exp=issued + 600)
    assert_accepted(guard.get(token), guard)
    later = ec_key.token(iat=issued + 1, exp=issued + 600)  # a clock a second ahead
    guard.calls.clear()
    assert_refused(guard.get(later), later, guard, "issued in the future")


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"exp": str(int(time.time()) + 600)}, id="exp-string"),
        pytest.param({"exp": None}, id="exp-null"),
        pytest.param({"exp": True}, id="exp-true"),
        pytest.param({"iat": "now"}, id="iat-string"),
        pytest.param({"nbf": [0]}, id="nbf-list"),
    ],
)
def test_times_must_be_numbers(
    default: Guarded, ec_key: SigningKey, overrides: dict[str, Any]
) -> None:
    token = ec_key.token(**overrides)
    assert_refused(default.get(token), token, default, "not a number")


def test_exp_is_required(default: Guarded, ec_key: SigningKey) -> None:
    token = ec_key.token(drop=["exp"])
    assert_refused(default.get(token), token, default, "'exp'")


def test_issuer_leeway_accepts_a_just_expired_token(
    guarded: Callable[..., Guarded], ec_key: SigningKey, rsa_key: SigningKey
) -> None:
    now = int(time.time())
    token = ec_key.token(iat=now - 700, exp=now - 10)
    strict = guarded()
    assert_refused(strict.get(token), token, strict, "expired")
    lenient = guarded(issuers=[issuer(ec_key, rsa_key, leeway=60)])
    assert_accepted(lenient.get(token), lenient)


def test_issuer_leeway_accepts_a_slightly_early_token(
    guarded: Callable[..., Guarded], ec_key: SigningKey
) -> None:
    now = int(time.time())
    token = ec_key.token(nbf=now + 10, iat=now + 10)
    lenient = guarded(issuers=[issuer(ec_key, leeway=60)])
    assert_accepted(lenient.get(token), lenient)


def test_clock_comes_from_the_verifier(static_issuer: Issuer, ec_key: SigningKey) -> None:
    token = ec_key.token(iat=946_684_800, exp=946_688_400)  # 2000-01-01, for one hour
    with pytest.raises(ExpiredToken):
        Verifier([static_issuer]).verify(token, "header")
    then = Verifier([static_issuer], clock=lambda: 946_686_000.0)
    assert then.verify(token, "header").expires_at == 946_688_400


# --- issuer ----------------------------------------------------------------


@pytest.mark.parametrize(
    "iss",
    [
        pytest.param("https://evil.example/api/auth", id="unknown"),
        pytest.param(ISSUER + "/", id="trailing-slash"),
        pytest.param(ISSUER.replace("auth.example", "Auth.Example"), id="host-case"),
        pytest.param(ISSUER.upper(), id="upper-case"),
        pytest.param(ISSUER.replace("https", "http"), id="http-scheme"),
        pytest.param(ISSUER + "?", id="query"),
        pytest.param(" " + ISSUER, id="leading-space"),
        pytest.param("", id="empty"),
        pytest.param(None, id="null"),
        pytest.param([ISSUER], id="list"),
        pytest.param({"url": ISSUER}, id="object"),
        pytest.param(1, id="number"),
    ],
)
def test_issuer_must_match_exactly(default: Guarded, ec_key: SigningKey, iss: Any) -> None:
    token = ec_key.token(iss=iss)
    assert_refused(default.get(token), token, default, "issuer")


def test_missing_issuer(default: Guarded, ec_key: SigningKey) -> None:
    token = ec_key.token(drop=["iss"])
    assert_refused(default.get(token), token, default, "issuer")


def test_unknown_issuer_causes_no_network_io(
    guarded: Callable[..., Guarded], ec_key: SigningKey, jwks_server: JWKSServer
) -> None:
    jwks_server.publish(ec_key)
    remote = Issuer(ISSUER, jwks_uri=jwks_server.url, audience=AUDIENCE, algorithms=["ES256"])
    guard = guarded(issuers=[remote])
    tokens = [
        ec_key.token(iss="https://evil.example/api/auth"),
        ec_key.token(iss=jwks_server.url),
        ec_key.token(iss=ISSUER + "/", header={"kid": "never-seen"}),
        ec_key.token(drop=["iss"]),
    ]
    for token in tokens:
        assert_refused(guard.get(token), token, guard, "issuer")
    # A token cannot name where keys come from either.
    token = ec_key.token(header={"jku": jwks_server.url})
    assert_refused(guard.get(token), token, guard, "jku")
    assert jwks_server.fetches == 0
    # The server is really wired: a token of the configured issuer fetches once.
    assert_accepted(guard.get(ec_key.token()), guard)
    assert jwks_server.fetches == 1


def test_each_issuer_verifies_with_its_own_keys(
    guarded: Callable[..., Guarded], ec_key: SigningKey, other_ec_key: SigningKey
) -> None:
    # Both issuers have a key "ec-1"; the token's iss decides whose is used.
    ours = issuer(ec_key)
    theirs = issuer(other_ec_key, issuer=OTHER_ISSUER)
    guard = guarded(issuers=[ours, theirs])
    token = other_ec_key.token(iss=ISSUER)
    assert_refused(guard.get(token), token, guard, "signature")
    body = assert_accepted(guard.get(other_ec_key.token(iss=OTHER_ISSUER)), guard)
    assert body["identity"]["issuer"] == OTHER_ISSUER


# --- audience --------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "drop"),
    [
        pytest.param({"aud": "someone-else"}, [], id="wrong"),
        pytest.param({}, ["aud"], id="missing"),
        pytest.param({"aud": AUDIENCE.upper()}, [], id="wrong-case"),
        pytest.param({"aud": AUDIENCE + " "}, [], id="trailing-space"),
        pytest.param({"aud": ["someone-else", "Backstage"]}, [], id="list-without-match"),
        pytest.param({"aud": []}, [], id="empty-list"),
        pytest.param({"aud": [AUDIENCE, 1]}, [], id="list-with-number"),
        pytest.param({"aud": None}, [], id="null"),
    ],
)
def test_audience_must_match(
    default: Guarded, ec_key: SigningKey, overrides: dict[str, Any], drop: list[str]
) -> None:
    token = ec_key.token(drop=drop, **overrides)
    assert_refused(default.get(token), token, default, "aud")


@pytest.mark.parametrize(
    ("overrides", "drop"),
    [
        pytest.param({"aud": "someone-else"}, [], id="other-audience"),
        pytest.param({}, ["aud"], id="no-audience"),
    ],
)
def test_audience_not_configured_is_not_checked(
    guarded: Callable[..., Guarded],
    ec_key: SigningKey,
    overrides: dict[str, Any],
    drop: list[str],
) -> None:
    guard = guarded(issuers=[issuer(ec_key, audience=())])
    assert_accepted(guard.get(ec_key.token(drop=drop, **overrides)), guard)


# --- keys, signatures and algorithms ---------------------------------------


def test_signed_by_another_key_with_the_same_kid(
    default: Guarded, other_ec_key: SigningKey
) -> None:
    token = other_ec_key.token()
    assert_refused(default.get(token), token, default, "signature does not verify")


@pytest.mark.parametrize(
    "kid",
    [
        pytest.param("unknown", id="unknown"),
        pytest.param("EC-1", id="case-changed"),
        pytest.param(None, id="missing"),
    ],
)
def test_unknown_kid(default: Guarded, ec_key: SigningKey, kid: str | None) -> None:
    header = {"alg": "ES256", "typ": "JWT"} | ({} if kid is None else {"kid": kid})
    token = sign(ec_key, header, user_claims())
    assert_refused(default.get(token), token, default, "kid")


def test_tampered_payload(default: Guarded, ec_key: SigningKey) -> None:
    header, _, signature = ec_key.token().split(".")
    token = f"{header}.{b64url_json(user_claims(sub='user:default/admin'))}.{signature}"
    assert_refused(default.get(token), token, default, "signature")


@pytest.mark.parametrize("spelling", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize(
    "signature",
    [
        pytest.param("", id="empty-signature"),
        pytest.param(b64url(b"\x00" * 64), id="zero-signature"),
        pytest.param(b64url(b"signature"), id="short-signature"),
    ],
)
@pytest.mark.parametrize("with_service_tokens", [True, False], ids=["service", "no-service"])
def test_alg_none_is_refused(
    guarded: Callable[..., Guarded],
    spelling: str,
    signature: str,
    with_service_tokens: bool,
) -> None:
    options: dict[str, Any] = {} if with_service_tokens else {"service_tokens": None}
    guard = guarded(**options)
    head = b64url_json({"alg": spelling, "typ": "JWT", "kid": "ec-1"})
    token = f"{head}.{b64url_json(user_claims())}.{signature}"
    assert_refused(guard.get(token), token, guard)


def _public_key_encodings(key: SigningKey) -> dict[str, bytes]:
    public = key.private.public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    jwk = key.public_jwk()
    return {
        "pem": pem,
        "pem-stripped": pem.strip(),
        "der": der,
        "der-base64": base64.b64encode(der),
        "jwk-json": json.dumps(jwk).encode(),
        "jwk-json-compact": json.dumps(jwk, separators=(",", ":")).encode(),
        "jwk-json-sorted": json.dumps(jwk, sort_keys=True).encode(),
    }


ENCODINGS = [
    "pem",
    "pem-stripped",
    "der",
    "der-base64",
    "jwk-json",
    "jwk-json-compact",
    "jwk-json-sorted",
]


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("which", ["ec", "rsa"])
@pytest.mark.parametrize("with_service_tokens", [True, False], ids=["service", "no-service"])
def test_hs256_with_the_issuers_public_key_as_secret(
    guarded: Callable[..., Guarded],
    ec_key: SigningKey,
    rsa_key: SigningKey,
    encoding: str,
    which: str,
    with_service_tokens: bool,
) -> None:
    key = ec_key if which == "ec" else rsa_key
    secret = _public_key_encodings(key)[encoding]
    options: dict[str, Any] = {} if with_service_tokens else {"service_tokens": None}
    guard = guarded(**options)
    token = compact({"alg": "HS256", "typ": "JWT", "kid": key.kid}, user_claims(), hs256(secret))
    assert_refused(guard.get(token), token, guard)


@pytest.mark.parametrize(
    ("signer", "alg", "kid"),
    [
        pytest.param("rsa", "ES256", "rsa-1", id="rsa-signed-claims-ES256-rsa-kid"),
        pytest.param("rsa", "ES256", "ec-1", id="rsa-signed-claims-ES256-ec-kid"),
        pytest.param("ec", "RS256", "ec-1", id="ec-signed-claims-RS256-ec-kid"),
        pytest.param("ec", "RS256", "rsa-1", id="ec-signed-claims-RS256-rsa-kid"),
    ],
)
def test_algorithm_confusion_between_key_types(
    default: Guarded,
    ec_key: SigningKey,
    rsa_key: SigningKey,
    signer: str,
    alg: str,
    kid: str,
) -> None:
    key = ec_key if signer == "ec" else rsa_key
    token = sign(key, {"alg": alg, "typ": "JWT", "kid": kid}, user_claims())
    assert_refused(default.get(token), token, default, "pinned|signature")


def test_rs384_with_a_key_pinned_to_rs256(
    guarded: Callable[..., Guarded], rsa_key: SigningKey
) -> None:
    rs384 = SigningKey(rsa_key.private, "RS384", rsa_key.kid)
    token = rs384.token()
    # The issuer allows RS384, but this key is pinned to RS256.
    both = guarded(issuers=[issuer(rsa_key, algorithms=["RS256", "RS384"])])
    assert_refused(both.get(token), token, both, "pinned")
    # With the issuer's default algorithms, RS384 is not allowed at all.
    default = guarded()
    assert_refused(default.get(token), token, default, "not allowed")
    # The same key, pinned to RS384 by its JWK, verifies the token.
    pinned_384 = guarded(issuers=[issuer(rs384, algorithms=["RS256", "RS384"])])
    assert_accepted(pinned_384.get(token), pinned_384)


@pytest.mark.parametrize("alg", ["ES384", "ES512", "PS256", "EdDSA", "HS384", "HS512", "es256"])
def test_algorithms_the_issuer_does_not_allow(
    default: Guarded, ec_key: SigningKey, alg: str
) -> None:
    token = sign(ec_key, {"alg": alg, "typ": "JWT", "kid": "ec-1"}, user_claims())
    assert_refused(default.get(token), token, default)


# --- garbage ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "error"),
    [
        pytest.param("", "invalid_request", id="empty"),
        pytest.param("abc", "invalid_token", id="abc"),
        pytest.param("a.b.c", "invalid_token", id="a.b.c"),
        pytest.param("....", "invalid_token", id="four-dots"),
        pytest.param(".", "invalid_token", id="one-dot"),
        pytest.param("..", "invalid_token", id="two-dots"),
        pytest.param("a.b", "invalid_token", id="two-segments"),
        pytest.param("e30.e30.e30", "invalid_token", id="empty-objects"),
        pytest.param("bnVsbA.bnVsbA.bnVsbA", "invalid_token", id="nulls"),
        pytest.param(
            base64.b64encode(os.urandom(48)).decode(), "invalid_token", id="random-base64"
        ),
        pytest.param(
            base64.b64encode(os.urandom(47)).decode(), "invalid_token", id="random-base64-padded"
        ),
        pytest.param(
            ".".join(b64url(os.urandom(30)) for _ in range(3)), "invalid_token", id="random-jws"
        ),
        pytest.param(
            ".".join(b64url(os.urandom(30)) for _ in range(5)), "invalid_token", id="random-jwe"
        ),
        pytest.param("~~~", "invalid_token", id="tildes"),
        pytest.param("=", "invalid_request", id="only-padding"),
    ],
)
def test_garbage_is_a_401_never_a_500(default: Guarded, token: str, error: str) -> None:
    assert_refused(default.get(token), token, default, error=error)


def test_deeply_nested_header_is_a_401(default: Guarded) -> None:
    token = f"{b64url(b'[' * 3000)}.{b64url_json(user_claims())}.{b64url(b'x' * 64)}"
    assert len(token) < 8192
    assert_refused(default.get(token), token, default, "header")


# --- subject and extra rules -----------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "drop"),
    [
        pytest.param({}, ["sub"], id="missing"),
        pytest.param({"sub": 42}, [], id="number"),
        pytest.param({"sub": None}, [], id="null"),
        pytest.param({"sub": ["user:default/alice"]}, [], id="list"),
        pytest.param({"sub": ""}, [], id="empty"),
        pytest.param({"sub": "alice\nadmin"}, [], id="newline"),
        pytest.param({"sub": "alice\x00"}, [], id="nul"),
    ],
)
def test_bad_subject(
    default: Guarded, ec_key: SigningKey, overrides: dict[str, Any], drop: list[str]
) -> None:
    token = ec_key.token(drop=drop, **overrides)
    assert_refused(default.get(token), token, default, "'sub'")


def test_remote_user_from_another_claim(
    guarded: Callable[..., Guarded], ec_key: SigningKey
) -> None:
    guard = guarded(remote_user_claim="email")
    body = assert_accepted(guard.get(ec_key.token(email="alice@example.com")), guard)
    assert body["remote_user"] == "alice@example.com"
    assert body["identity"]["subject"] == "alice@example.com"


@pytest.mark.parametrize(
    ("overrides", "drop", "reason"),
    [
        pytest.param({}, [], "'email'", id="claim-missing"),
        pytest.param({"email": 7}, [], "'email'", id="claim-not-a-string"),
        pytest.param({"email": "a@b\r\n"}, [], "'email'", id="claim-with-newline"),
        pytest.param({"email": "alice@example.com"}, ["sub"], "'sub'", id="sub-still-required"),
    ],
)
def test_remote_user_claim_is_required(
    guarded: Callable[..., Guarded],
    ec_key: SigningKey,
    overrides: dict[str, Any],
    drop: list[str],
    reason: str,
) -> None:
    guard = guarded(remote_user_claim="email")
    token = ec_key.token(drop=drop, **overrides)
    assert_refused(guard.get(token), token, guard, reason)


def _with_typ(key: SigningKey, typ: str | None) -> str:
    header: dict[str, Any] = {"alg": key.alg, "kid": key.kid}
    if typ is not None:
        header["typ"] = typ
    return sign(key, header, user_claims())


@pytest.mark.parametrize(
    "typ",
    [
        "vnd.backstage.user",
        "application/vnd.backstage.user",
        "Application/VND.Backstage.User",
    ],
)
def test_token_types_accepted(
    guarded: Callable[..., Guarded], ec_key: SigningKey, typ: str
) -> None:
    guard = guarded(issuers=[issuer(ec_key, token_types=["vnd.backstage.user"])])
    assert_accepted(guard.get(_with_typ(ec_key, typ)), guard)


@pytest.mark.parametrize(
    "typ",
    [
        pytest.param("JWT", id="JWT"),
        pytest.param(None, id="missing"),
        pytest.param("at+jwt", id="at+jwt"),
        pytest.param("vnd.backstage.user+jwt", id="suffixed"),
        # RFC 8725 §3.11: a limited-user token (Backstage's cookie token for
        # static assets) or a plugin token must not pass where a full user
        # access token is required, nor an OIDC ID token ("JWT" above).
        pytest.param("vnd.backstage.limited-user", id="backstage-limited-user"),
        pytest.param("vnd.backstage.plugin", id="backstage-plugin"),
        pytest.param("text/vnd.backstage.user", id="other-media-type"),
        pytest.param("", id="empty"),
    ],
)
def test_token_types_refused(
    guarded: Callable[..., Guarded], ec_key: SigningKey, typ: str | None
) -> None:
    guard = guarded(issuers=[issuer(ec_key, token_types=["vnd.backstage.user"])])
    token = _with_typ(ec_key, typ)
    assert_refused(guard.get(token), token, guard, "typ")


def test_any_typ_when_token_types_not_configured(default: Guarded, ec_key: SigningKey) -> None:
    assert_accepted(default.get(_with_typ(ec_key, None)), default)


def test_required_claims(guarded: Callable[..., Guarded], ec_key: SigningKey) -> None:
    guard = guarded(issuers=[issuer(ec_key, required_claims=["ent"])])
    token = ec_key.token(drop=["ent"])
    assert_refused(guard.get(token), token, guard, "'ent'")
    assert_accepted(guard.get(ec_key.token()), guard)


# --- static key sources ----------------------------------------------------


def test_keys_file_issuer(
    guarded: Callable[..., Guarded], ec_key: SigningKey, rsa_key: SigningKey, tmp_path: Path
) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [ec_key.public_jwk(), rsa_key.public_jwk()]}))
    guard = guarded(issuers=[issuer(keys_file=str(path))])
    assert_accepted(guard.get(rsa_key.token()), guard)
    guard.calls.clear()
    assert_accepted(guard.get(ec_key.token()), guard)


def test_keys_file_with_a_single_jwk(
    guarded: Callable[..., Guarded], ec_key: SigningKey, other_ec_key: SigningKey, tmp_path: Path
) -> None:
    path = tmp_path / "key.json"
    path.write_text(json.dumps(ec_key.public_jwk()))
    guard = guarded(issuers=[issuer(keys_file=str(path))])
    token = other_ec_key.token()
    assert_refused(guard.get(token), token, guard, "signature")
    assert_accepted(guard.get(ec_key.token()), guard)


@pytest.mark.parametrize("which", ["ec", "rsa"])
@pytest.mark.parametrize("source", ["pem", "pem_file"])
def test_pem_issuer(
    guarded: Callable[..., Guarded],
    ec_key: SigningKey,
    rsa_key: SigningKey,
    tmp_path: Path,
    which: str,
    source: str,
) -> None:
    key = ec_key if which == "ec" else rsa_key
    if source == "pem":
        options: dict[str, Any] = {"pem": key.public_pem()}
    else:
        path = tmp_path / "key.pem"
        path.write_text(key.public_pem())
        options = {"pem_file": str(path)}
    guard = guarded(issuers=[issuer(algorithms=[key.alg], **options)])
    # A PEM key has no kid: it serves tokens with any kid, and without one.
    token_without_kid = sign(key, {"alg": key.alg, "typ": "JWT"}, user_claims())
    assert_accepted(guard.get(token_without_kid), guard)
    guard.calls.clear()
    assert_accepted(guard.get(key.token()), guard)
    guard.calls.clear()
    wrong = SigningKey.ec() if which == "ec" else SigningKey.rsa()
    token = wrong.token()
    assert_refused(guard.get(token), token, guard, "signature")


# --- configuration errors (the Issuer's own are in test_issuers.py) ----------


def test_verifier_needs_an_issuer_or_service_tokens() -> None:
    with pytest.raises(ConfigError) as excinfo:
        Verifier()
    assert excinfo.value.key == "issuers"
    with pytest.raises(ConfigError):
        JWTGuard(echo_app, issuers=[], service_tokens=None)


def test_verifier_with_service_tokens_only(ec_key: SigningKey) -> None:
    verifier = Verifier(service_tokens=ServiceTokens([SERVICE_SECRET]))
    assert verifier.verify(service_token(), "header").kind == "service"
    with pytest.raises(InvalidToken, match="issuer"):
        verifier.verify(ec_key.token(), "header")


def test_verifier_refuses_the_same_issuer_twice(ec_key: SigningKey, rsa_key: SigningKey) -> None:
    first = issuer(ec_key)
    second = issuer(rsa_key)
    with pytest.raises(ConfigError) as excinfo:
        Verifier([first, second])
    assert excinfo.value.key == "issuers[1].issuer"


@pytest.mark.parametrize(
    ("options", "key"),
    [
        pytest.param({"token_cache_size": 1.5}, "token_cache_size", id="size-fraction"),
        pytest.param({"token_cache_size": True}, "token_cache_size", id="size-bool"),
        pytest.param({"token_cache_max_age": -5}, "token_cache_max_age", id="max-age-negative"),
        pytest.param({"token_cache_max_age": "300"}, "token_cache_max_age", id="max-age-string"),
        pytest.param({"token_cache_max_age": float("nan")}, "token_cache_max_age", id="max-age-nan"),
    ],
)
def test_verifier_settings_name_the_key(
    static_issuer: Issuer, options: dict[str, Any], key: str
) -> None:
    """The Verifier checks its token-cache settings itself (see also test_token_cache)."""
    with pytest.raises(ConfigError) as caught:
        Verifier([static_issuer], **options)
    assert caught.value.key == key
    # The setting's own words, not those of the TokenCache it configures.
    assert "maxsize" not in str(caught.value)
    assert "max_age must" not in str(caught.value)


# --- Verifier unit checks --------------------------------------------------


def test_verifier_returns_the_identity(static_issuer: Issuer, ec_key: SigningKey) -> None:
    claims = user_claims()
    token = ec_key.token(claims)
    identity = Verifier([static_issuer]).verify(token, "cookie")
    assert isinstance(identity, Identity)
    assert identity.subject == "user:default/alice"
    assert identity.issuer == ISSUER
    assert identity.kind == "user"
    assert identity.source == "cookie"
    assert identity.token == token
    assert identity.expires_at == claims["exp"]
    assert dict(identity.claims) == claims
    assert token not in repr(identity)


def test_verifier_expired_is_an_expired_token(static_issuer: Issuer, ec_key: SigningKey) -> None:
    token = ec_key.token()
    exp = user_claims()["exp"]
    verifier = Verifier([static_issuer], clock=lambda: exp + 1.0)
    with pytest.raises(ExpiredToken):
        verifier.verify(token, "header")


# --- nothing unexpected becomes a 500 --------------------------------------


@pytest.mark.parametrize(
    "exception",
    [RuntimeError("boom"), KeyError("alg"), TypeError("x"), RecursionError(), AttributeError()],
    ids=lambda e: type(e).__name__,
)
def test_exception_inside_parse_is_a_401(
    default: Guarded,
    ec_key: SigningKey,
    monkeypatch: pytest.MonkeyPatch,
    exception: Exception,
) -> None:
    def exploding(token: str) -> Any:
        raise exception

    monkeypatch.setattr(wsgi_jwt_guard.verification, "parse", exploding)
    token = ec_key.token()
    assert_refused(default.get(token), token, default, "could not be verified")


def test_exception_inside_key_verify_is_a_401(
    default: Guarded, ec_key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    def exploding(self: PinnedKey, signing_input: bytes, signature: bytes) -> bool:
        raise RuntimeError("library surprise")

    monkeypatch.setattr(PinnedKey, "verify", exploding)
    token = ec_key.token()
    assert_refused(default.get(token), token, default, "could not be verified")


def test_exception_inside_claim_checks_is_a_401(
    default: Guarded, ec_key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    def exploding(*args: Any, **kwargs: Any) -> float:
        raise ZeroDivisionError

    monkeypatch.setattr(wsgi_jwt_guard.verification, "check_times", exploding)
    token = ec_key.token()
    assert_refused(default.get(token), token, default, "could not be verified")


# --- claim paths in required_claims, scope_claims, issuer templates ----------


def test_required_claims_may_be_paths(guarded: Callable[..., Guarded], ec_key: SigningKey) -> None:
    guard = guarded(issuers=[issuer(ec_key, required_claims=["realm_access.roles"])])
    assert_accepted(guard.get(ec_key.token(realm_access={"roles": []})), guard)
    guard.calls.clear()
    token = ec_key.token(realm_access={"groups": []})
    assert_refused(guard.get(token), token, guard, "lacks the required 'realm_access.roles' claim")


@pytest.mark.parametrize(
    ("claims", "accepted"),
    [
        pytest.param({"typ": "Bearer", "ext": {"tier": "gold"}}, True, id="both"),
        pytest.param({"typ": "ID", "ext": {"tier": "gold"}}, False, id="other-value"),
        pytest.param({"ext": {"tier": "gold"}}, False, id="missing"),
        pytest.param({"typ": "Bearer", "ext": {"tier": ["gold"]}}, True, id="in-a-list"),
        pytest.param({"typ": "Bearer", "ext": "gold"}, False, id="not-an-object"),
    ],
)
def test_required_claims_may_require_values(
    guarded: Callable[..., Guarded], ec_key: SigningKey, claims: dict[str, Any], accepted: bool
) -> None:
    required = {"typ": "Bearer", "ext.tier": "gold"}
    guard = guarded(issuers=[issuer(ec_key, required_claims=required)])
    token = ec_key.token(**claims)
    if accepted:
        assert_accepted(guard.get(token), guard)
    else:
        assert_refused(guard.get(token), token, guard, "claim is not as required")


def test_scope_claims_choose_where_scopes_are_read(
    guarded: Callable[..., Guarded], ec_key: SigningKey
) -> None:
    guard = guarded(
        issuers=[issuer(ec_key, scope_claims=["permissions"])],
        routes={PROTECTED: Rule("protected", scopes=["read:x"])},
    )
    assert_accepted(guard.get(ec_key.token(permissions=["read:x"])), guard)
    # The same scope in `scope` does not count for this issuer.
    response = guard.get(ec_key.token(scope="read:x"))
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]


TEMPLATE = "https://login.example.test/{tenant}/v2.0"


@pytest.mark.parametrize(
    ("iss", "tid", "reason"),
    [
        pytest.param("https://login.example.test/t-1/v2.0", "t-1", None, id="first-tenant"),
        pytest.param("https://login.example.test/t-2/v2.0", "t-2", None, id="second-tenant"),
        pytest.param("https://login.example.test/t-3/v2.0", "t-3", "issuer", id="other-tenant"),
        pytest.param("https://login.example.test/{tenant}/v2.0", "t-1", "issuer", id="template"),
        pytest.param("https://login.example.test/common/v2.0", "t-1", "issuer", id="common"),
        pytest.param("https://login.example.test/T-1/v2.0", "T-1", "issuer", id="case"),
        pytest.param("https://login.example.test/t-1/v2.0/", "t-1", "issuer", id="slash"),
        pytest.param("https://login.example.test/t-1/v2.0", "t-2", "'tid'", id="tid-other"),
        pytest.param("https://login.example.test/t-1/v2.0", None, "'tid'", id="tid-missing"),
        pytest.param("https://login.example.test/t-1/v2.0", ["t-1"], "'tid'", id="tid-list"),
    ],
)
def test_an_issuer_template_accepts_listed_tenants(
    guarded: Callable[..., Guarded], ec_key: SigningKey, iss: str, tid: Any, reason: str | None
) -> None:
    template = issuer(ec_key, issuer=TEMPLATE, tenants=["t-1", "t-2"], tenant_claim="tid")
    guard = guarded(issuers=[template])
    token = ec_key.token(iss=iss, tid=tid) if tid is not None else ec_key.token(iss=iss)
    if reason is None:
        body = assert_accepted(guard.get(token), guard)
        assert body["identity"]["issuer"] == iss
    else:
        assert_refused(guard.get(token), token, guard, reason)
