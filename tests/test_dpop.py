"""DPoP (RFC 9449): ``wsgi_jwt_guard.dpop`` and its place in the guard.

Proofs come from PyJWT (:class:`tests.helpers.DPoPClient`), never from the
guard's own signer; access tokens from the tests' issuer key, bound to the
client's key by ``cnf.jkt``. Requests go through ``werkzeug.test.Client``,
whose requests are ``http://localhost/...``.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.test import Client, TestResponse, create_environ, run_wsgi_app

from tests.helpers import (
    DPOP_ALGS,
    NO_TOKEN_CHALLENGE,
    SERVICE_SECRET,
    DPoPClient,
    FakeClock,
    SigningKey,
    bearer,
    build_guard,
    compact,
    cookie,
    echo_app,
    issuer_of,
    run_together,
    service_token,
)
from tests.servers import redis_server
from wsgi_jwt_guard import (
    APIKey,
    ConfigError,
    CORSSettings,
    DPoPSettings,
    JWTGuard,
    Rule,
    from_config,
)
from wsgi_jwt_guard.caches import build_cache
from wsgi_jwt_guard.dpop import Nonces, ProofMemory, jwk_thumbprint, request_target

PATH = "/api/catalog/entities"
URL = f"http://localhost{PATH}"
CACHE_SECRET = "c" * 40
NONCE_SECRET = "n" * 40


@pytest.fixture(scope="module")
def client_key() -> DPoPClient:
    return DPoPClient()


@pytest.fixture(scope="module")
def other_client() -> DPoPClient:
    return DPoPClient()


@pytest.fixture
def bound(ec_key: SigningKey, client_key: DPoPClient) -> str:
    """An access token bound to ``client_key`` (RFC 9449 §6.1)."""
    return ec_key.token(cnf={"jkt": client_key.jkt})


def dpop_error(response: TestResponse) -> str | None:
    """The ``error`` of the response's DPoP challenge, ``None`` if it has none."""
    challenge = response.headers.get("WWW-Authenticate", "")
    dpop = challenge[challenge.find("DPoP ") :] if "DPoP " in challenge else ""
    for part in dpop.split(", "):
        if part.startswith("error="):
            return part[len('error="') : -1]
    return None


# -- the thumbprint and the request URL --------------------------------------------------


def test_the_thumbprint_is_rfc_7638s_example() -> None:
    # RFC 7638 §3.1: the RSA key of RFC 7517 Appendix A.1 and its thumbprint.
    jwk = {
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert jwk_thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_the_thumbprint_covers_the_required_members_only(client_key: DPoPClient) -> None:
    jwk = client_key.public_jwk
    assert jwk_thumbprint(jwk) == client_key.jkt
    assert jwk_thumbprint({**jwk, "kid": "k", "use": "sig", "alg": "ES256"}) == client_key.jkt
    assert jwk_thumbprint(dict(reversed(list(jwk.items())))) == client_key.jkt


@pytest.mark.parametrize(
    "jwk",
    [
        pytest.param({"kty": "oct", "k": "c2VjcmV0"}, id="symmetric"),
        pytest.param({"kty": "EC", "crv": "P-256", "x": "AA"}, id="member-missing"),
        pytest.param({"kty": "RSA", "n": 5, "e": "AQAB"}, id="member-not-a-string"),
    ],
)
def test_the_thumbprint_refuses_what_is_not_a_public_key(jwk: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"thumbprint|member"):
        jwk_thumbprint(jwk)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("http://localhost/a", ("http://localhost", "/a"), id="plain"),
        pytest.param("HTTP://LocalHost/a", ("http://localhost", "/a"), id="scheme-and-host-case"),
        pytest.param("https://h.test:443/a", ("https://h.test", "/a"), id="default-port"),
        pytest.param("http://h.test:8080/a", ("http://h.test:8080", "/a"), id="other-port"),
        pytest.param("http://h.test", ("http://h.test", "/"), id="empty-path"),
        pytest.param("http://h.test/a?x=1#f", ("http://h.test", "/a"), id="query-and-fragment"),
        pytest.param("http://h.test/%7Euser/caf%C3%A9", ("http://h.test", "/~user/café"), id="escapes"),
        pytest.param("http://h.test/a/./b/../c", ("http://h.test", "/a/c"), id="dot-segments"),
        pytest.param("http://h.test/a/b/..", ("http://h.test", "/a/"), id="final-dot-dot"),
        pytest.param("http://h.test/a/", ("http://h.test", "/a/"), id="trailing-slash-kept"),
        pytest.param("http://[::1]:8000/a", ("http://[::1]:8000", "/a"), id="ipv6"),
        pytest.param("/a", None, id="relative"),
        pytest.param("ftp://h.test/a", None, id="other-scheme"),
        pytest.param("http://user@h.test/a", None, id="userinfo"),
        pytest.param("http://h.test/a b", None, id="space"),
        pytest.param("http://h.test/%ff", None, id="not-utf8"),
        pytest.param("http://h.test:99999/a", None, id="port-out-of-range"),
        pytest.param("http://hé.test/a", None, id="not-ascii"),
    ],
)
def test_request_target_normalizes_per_rfc_3986(url: str, expected: tuple[str, str] | None) -> None:
    assert request_target(url) == expected


# -- a request with a bound token and its proof ------------------------------------------


def test_a_bound_token_with_a_valid_proof_is_accepted(
    make_guard: Callable[..., JWTGuard], client_key: DPoPClient, bound: str
) -> None:
    # A browser's request: a header token would earn the cookie, a DPoP one never.
    headers = {**client_key.headers("GET", URL, bound), "Sec-Fetch-Site": "same-origin"}
    response = Client(make_guard()).get(PATH, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["auth_type"] == "DPoP"
    assert body["remote_user"] == "user:default/alice"
    assert body["identity"]["source"] == "dpop"
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize(
    "alg", ["ES256", "ES384", "ES512", "PS256", "RS256", "EdDSA"]
)
def test_every_default_algorithm_makes_proofs(
    make_guard: Callable[..., JWTGuard], ec_key: SigningKey, alg: str
) -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    private: Any = {
        "ES256": lambda: ec.generate_private_key(ec.SECP256R1()),
        "ES384": lambda: ec.generate_private_key(ec.SECP384R1()),
        "ES512": lambda: ec.generate_private_key(ec.SECP521R1()),
        "PS256": lambda: rsa.generate_private_key(65537, 2048),
        "RS256": lambda: rsa.generate_private_key(65537, 2048),
        "EdDSA": ed25519.Ed25519PrivateKey.generate,
    }[alg]()
    client = DPoPClient(private, alg)
    token = ec_key.token(cnf={"jkt": client.jkt})
    response = Client(make_guard()).get(PATH, headers=client.headers("GET", URL, token))
    assert response.status_code == 200, response.get_data(as_text=True)


def test_a_client_from_its_private_jwk_is_the_same_client(
    make_guard: Callable[..., JWTGuard], client_key: DPoPClient, bound: str
) -> None:
    # What an end-to-end test against an authorization server holds: a token and a JWK.
    client = DPoPClient.from_private_jwk({**client_key.private_jwk, "alg": "ES256"})
    assert client.jkt == client_key.jkt
    response = Client(make_guard()).get(PATH, headers=client.headers("GET", URL, bound))
    assert response.status_code == 200


def test_a_repeat_token_needs_a_fresh_proof_every_time(
    make_guard: Callable[..., JWTGuard], client_key: DPoPClient, bound: str
) -> None:
    guard = make_guard()
    client = Client(guard)
    for _ in range(3):
        assert client.get(PATH, headers=client_key.headers("GET", URL, bound)).status_code == 200
    assert guard.verifier.token_cache.hits == 2  # the token was verified once ...
    stale = client_key.headers("GET", URL, bound, iat=0)
    response = client.get(PATH, headers=stale)  # ... its proofs every time
    assert response.status_code == 401
    assert dpop_error(response) == "invalid_dpop_proof"


def test_the_same_proof_is_refused_the_second_time(
    make_guard: Callable[..., JWTGuard], client_key: DPoPClient, bound: str
) -> None:
    client = Client(make_guard())
    headers = client_key.headers("GET", URL, bound)
    assert client.get(PATH, headers=headers).status_code == 200
    replayed = client.get(PATH, headers=headers)
    assert replayed.status_code == 401
    assert dpop_error(replayed) == "invalid_dpop_proof"
    assert "used before" in replayed.get_json()["error"]["message"]


def test_a_replayed_proof_is_refused_by_another_guard_sharing_redis(
    client_key: DPoPClient, bound: str, static_issuer: Any
) -> None:
    """Two hosts, each with its own connection to one Redis: a proof one accepted,
    the other refuses -- and of many simultaneous copies, exactly one gets in."""
    with redis_server() as server:
        config = {"type": "redis", "url": f"redis://127.0.0.1:{server.port}/0", "secrets": [CACHE_SECRET]}
        hosts = [build_guard(issuers=[static_issuer], cache=build_cache(config)) for _ in range(2)]
        headers = client_key.headers("GET", URL, bound)
        assert Client(hosts[0]).get(PATH, headers=headers).status_code == 200
        replayed = Client(hosts[1]).get(PATH, headers=headers)
        assert replayed.status_code == 401
        assert dpop_error(replayed) == "invalid_dpop_proof"

        race = client_key.headers("GET", URL, bound)
        statuses: list[int] = []
        run_together(lambda i: statuses.append(Client(hosts[i % 2]).get(PATH, headers=race).status_code), 8)
        assert sorted(statuses) == [200] + [401] * 7


def test_with_a_file_system_cache_each_process_remembers_its_proofs(
    make_guard: Callable[..., JWTGuard], client_key: DPoPClient, bound: str, tmp_path: Any
) -> None:
    # FileSystemCache.add is not atomic, and evicts live entries once over its
    # threshold: proofs are remembered in process memory instead.
    guard = make_guard(cache=build_cache({"type": "filesystem", "dir": str(tmp_path), "threshold": 2}))
    client = Client(guard)
    for _ in range(5):
        headers = client_key.headers("GET", URL, bound)
        assert client.get(PATH, headers=headers).status_code == 200
        assert "used before" in client.get(PATH, headers=headers).get_json()["error"]["message"]
    assert len(guard.binding.proofs.memory) == 5


def test_while_redis_is_down_each_process_remembers_its_proofs(
    client_key: DPoPClient, bound: str, static_issuer: Any
) -> None:
    with redis_server() as server:
        config = {"type": "redis", "url": f"redis://127.0.0.1:{server.port}/0", "secrets": [CACHE_SECRET]}
        guard = build_guard(issuers=[static_issuer], cache=build_cache(config))
        client = Client(guard)
        assert client.get(PATH, headers=client_key.headers("GET", URL, bound)).status_code == 200
        assert len(guard.binding.proofs.memory) == 0  # claimed in Redis
        server.stop()
        headers = client_key.headers("GET", URL, bound)
        assert client.get(PATH, headers=headers).status_code == 200
        assert "used before" in client.get(PATH, headers=headers).get_json()["error"]["message"]
        assert len(guard.binding.proofs.memory) == 1


def test_proof_memory_forgets_a_proof_only_once_it_expired() -> None:
    memory = ProofMemory(limit=3)
    assert memory.claim(1, until=100.5, now=50) is True
    assert memory.claim(1, until=100.5, now=100.9) is False  # kept to the whole second
    assert memory.claim(2, until=120, now=100.9) is True
    assert memory.claim(3, until=110, now=100.9) is True
    assert memory.claim(4, until=130, now=100.9) is None  # full: refused, nothing forgotten
    assert memory.claim(1, until=200, now=101) is True  # 1 expired at 101
    assert memory.claim(3, until=200, now=101) is False
    assert len(memory) == 3


def test_a_full_proof_memory_refuses_new_proofs(
    make_guard: Callable[..., JWTGuard], client_key: DPoPClient, bound: str
) -> None:
    guard = make_guard()
    guard.binding.proofs.memory.limit = 1
    client = Client(guard)
    assert client.get(PATH, headers=client_key.headers("GET", URL, bound)).status_code == 200
    refused = client.get(PATH, headers=client_key.headers("GET", URL, bound))
    assert refused.status_code == 401
    assert "too many recent DPoP proofs" in refused.get_json()["error"]["message"]


# -- what a proof must hold (RFC 9449 §4.3) ----------------------------------------------

Headers = Callable[[DPoPClient, DPoPClient, str], Any]


def _proof(**options: Any) -> Headers:
    return lambda client, other, token: client.headers("GET", URL, token, **options)


def _with_proof(value: Callable[[DPoPClient, str], str]) -> Headers:
    return lambda client, other, token: {"Authorization": f"DPoP {token}", "DPoP": value(client, token)}


def _private_jwk(client: DPoPClient, token: str) -> str:
    return client.proof("GET", URL, token, header={"jwk": client.private_jwk})


def _signed_by_another_key(client: DPoPClient, token: str) -> str:
    # The header names the client's key, the signature is another key's.
    return client.proof("GET", URL, token, key=ec.generate_private_key(ec.SECP256R1()))


def _hs256(client: DPoPClient, token: str) -> str:
    return client.proof("GET", URL, token, key="s" * 32, alg="HS256")


def _alg_none(client: DPoPClient, token: str) -> str:
    return client.proof("GET", URL, token, key="", alg="none")


def _padded_member(client: DPoPClient, token: str) -> str:
    jwk = client.public_jwk
    return client.proof("GET", URL, token, header={"jwk": {**jwk, "x": jwk["x"] + "="}})


def _short_coordinate(client: DPoPClient, token: str) -> str:
    jwk = client.public_jwk
    return client.proof("GET", URL, token, header={"jwk": {**jwk, "x": jwk["x"][:-4]}})


def _bearer_with_proof(client: DPoPClient, other: DPoPClient, token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "DPoP": client.proof("GET", URL, token)}


def _two_proofs(client: DPoPClient, other: DPoPClient, token: str) -> list[tuple[str, str]]:
    return [
        ("Authorization", f"DPoP {token}"),
        ("DPoP", client.proof("GET", URL, token)),
        ("DPoP", client.proof("GET", URL, token)),
    ]


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        pytest.param(lambda c, o, t: {"Authorization": f"DPoP {t}"}, "no DPoP proof", id="no-proof"),
        pytest.param(lambda c, o, t: {"Authorization": f"DPoP {t}", "DPoP": " "}, "no DPoP proof", id="empty-proof"),
        pytest.param(_two_proofs, "more than one DPoP header", id="two-dpop-headers"),
        pytest.param(_with_proof(lambda c, t: "not.a.jws"), "not a valid base64url", id="not-a-jws"),
        pytest.param(_with_proof(lambda c, t: "x" * 9000), "longer than", id="too-long"),
        pytest.param(_proof(header={"typ": "JWT"}), "'typ'", id="typ-jwt"),
        pytest.param(_proof(drop=["typ"]), "'typ'", id="typ-missing"),
        pytest.param(_with_proof(_alg_none), "signature", id="alg-none-no-signature"),
        pytest.param(_with_proof(_hs256), "algorithm", id="alg-hs256"),
        pytest.param(_proof(drop=["jwk"]), "'jwk'", id="jwk-missing"),
        pytest.param(_proof(header={"jwk": "key"}), "'jwk'", id="jwk-not-an-object"),
        pytest.param(_with_proof(_private_jwk), "private key", id="jwk-with-private-members"),
        pytest.param(_proof(header={"jwk": {"kty": "oct", "k": "c2VjcmV0c2VjcmV0"}}), "private key", id="jwk-symmetric"),
        pytest.param(_with_proof(_padded_member), "'jwk'", id="jwk-padded-base64"),
        pytest.param(_with_proof(_short_coordinate), "'jwk'", id="jwk-short-coordinate"),
        pytest.param(_proof(header={"x5c": ["MIIB"]}), "'x5c'", id="x5c-header"),
        pytest.param(_proof(header={"jku": "https://evil.test/jwks"}), "'jku'", id="jku-header"),
        pytest.param(_proof(header={"crit": ["exp"]}), "'crit'", id="crit-header"),
        pytest.param(_with_proof(_signed_by_another_key), "signature", id="signature-of-another-key"),
        pytest.param(lambda c, o, t: o.headers("GET", URL, t), "another key", id="proof-key-is-not-cnf-jkt"),
        pytest.param(_proof(htm="POST"), "'htm'", id="htm-other-method"),
        pytest.param(_proof(htm="get"), "'htm'", id="htm-lower-case"),
        pytest.param(_proof(drop=["htm"]), "'htm'", id="htm-missing"),
        pytest.param(_proof(htu="http://localhost/api/catalog/other"), "'htu'", id="htu-other-path"),
        pytest.param(_proof(htu="https://localhost/api/catalog/entities"), "'htu'", id="htu-https"),
        pytest.param(_proof(htu="http://evil.test/api/catalog/entities"), "'htu'", id="htu-other-host"),
        pytest.param(_proof(htu="http://localhost:8080/api/catalog/entities"), "'htu'", id="htu-other-port"),
        pytest.param(_proof(htu="http://localhost/api/catalog/entities/"), "'htu'", id="htu-trailing-slash"),
        pytest.param(_proof(htu="/api/catalog/entities"), "'htu'", id="htu-relative"),
        pytest.param(_proof(drop=["htu"]), "'htu'", id="htu-missing"),
        pytest.param(_proof(iat=1), "too old", id="iat-stale"),
        pytest.param(_proof(iat=4_000_000_000), "future", id="iat-future"),
        pytest.param(_proof(iat="now"), "'iat'", id="iat-string"),
        pytest.param(_proof(drop=["iat"]), "'iat'", id="iat-missing"),
        pytest.param(_proof(ath="x" * 43), "'ath'", id="ath-other-token"),
        pytest.param(_proof(drop=["ath"]), "'ath'", id="ath-missing"),
        pytest.param(_proof(drop=["jti"]), "'jti'", id="jti-missing"),
        pytest.param(_proof(jti=""), "'jti'", id="jti-empty"),
    ],
)
def test_a_proof_that_fails_a_check_is_refused(
    make_guard: Callable[..., JWTGuard],
    client_key: DPoPClient,
    other_client: DPoPClient,
    bound: str,
    headers: Headers,
    reason: str,
) -> None:
    response = Client(make_guard()).get(PATH, headers=headers(client_key, other_client, bound))
    assert response.status_code == 401
    assert dpop_error(response) == "invalid_dpop_proof", response.headers.get("WWW-Authenticate")
    assert reason in response.get_json()["error"]["message"]
    assert response.headers["WWW-Authenticate"].startswith('DPoP realm="wsgi-jwt-guard", error=')
    assert response.headers["WWW-Authenticate"].endswith(f'algs="{DPOP_ALGS}"')


def test_a_method_override_header_is_not_the_proofs_method(
    make_guard: Callable[..., JWTGuard], client_key: DPoPClient, bound: str
) -> None:
    headers = {**client_key.headers("POST", URL, bound), "X-HTTP-Method-Override": "DELETE"}
    response = Client(make_guard()).post(PATH, headers=headers)
    assert response.status_code == 401
    assert "'htm'" in response.get_json()["error"]["message"]


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [
        pytest.param(-64, True, id="64s-old-within-max-age-and-leeway"),
        pytest.param(-66, False, id="66s-old"),
        pytest.param(4, True, id="4s-ahead-within-leeway"),
        pytest.param(6, False, id="6s-ahead"),
    ],
)
def test_the_iat_window_is_max_age_and_leeway(
    make_guard: Callable[..., JWTGuard], client_key: DPoPClient, bound: str, offset: int, accepted: bool
) -> None:
    clock = FakeClock()
    guard = make_guard(clock=clock)
    headers = client_key.headers("GET", URL, bound, iat=int(clock.now) + offset)
    assert (Client(guard).get(PATH, headers=headers).status_code == 200) is accepted


def test_a_proof_is_remembered_as_long_as_it_could_be_accepted(
    make_guard: Callable[..., JWTGuard], client_key: DPoPClient, bound: str
) -> None:
    clock = FakeClock()
    guard = make_guard(clock=clock, dpop=DPoPSettings(max_age=30, leeway=2))
    headers = client_key.headers("GET", URL, bound, iat=int(clock.now))
    assert Client(guard).get(PATH, headers=headers).status_code == 200
    clock.advance(31)  # still acceptable by iat (30 + 2): refused as a replay
    assert "used before" in Client(guard).get(PATH, headers=headers).get_json()["error"]["message"]
    clock.advance(2)  # past the window: refused by iat, its jti may be forgotten
    assert "too old" in Client(guard).get(PATH, headers=headers).get_json()["error"]["message"]


def test_the_query_string_is_not_part_of_htu(
    make_guard: Callable[..., JWTGuard], client_key: DPoPClient, bound: str
) -> None:
    client = Client(make_guard())
    for htu in (URL, URL + "?a=1", URL + "?other=2#fragment"):
        headers = client_key.headers("GET", htu, bound)
        assert client.get(PATH + "?a=1", headers=headers).status_code == 200, htu


def test_htu_is_compared_normalized(
    make_guard: Callable[..., JWTGuard], client_key: DPoPClient, bound: str
) -> None:
    client = Client(make_guard())
    for htu in ("HTTP://LOCALHOST:80/api/catalog/entities", "http://localhost/api/./catalog/%65ntities"):
        assert client.get(PATH, headers=client_key.headers("GET", htu, bound)).status_code == 200, htu


def test_htu_behind_a_mount_names_the_prefix(
    ec_key: SigningKey, client_key: DPoPClient, static_issuer: Any
) -> None:
    api = build_guard(issuers=[static_issuer], mount="/api", routes={"/api/catalog": "protected"})
    app = DispatcherMiddleware(echo_app, {"/api": api})
    token = ec_key.token(cnf={"jkt": client_key.jkt})
    client = Client(app)
    ok = client.get("/api/catalog/x", headers=client_key.headers("GET", "http://localhost/api/catalog/x", token))
    assert ok.status_code == 200
    assert ok.get_json()["path"] == "/api/catalog/x"
    inner = client.get("/api/catalog/x", headers=client_key.headers("GET", "http://localhost/catalog/x", token))
    assert inner.status_code == 401
    assert "'htu'" in inner.get_json()["error"]["message"]


def test_htu_behind_a_proxy_is_the_public_url_once_proxyfix_runs_first(
    make_guard: Callable[..., JWTGuard], client_key: DPoPClient, bound: str
) -> None:
    app = ProxyFix(make_guard(), x_proto=1, x_host=1)
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example.com"}
    public = "https://api.example.com" + PATH
    client = Client(app)
    assert client.get(PATH, headers={**forwarded, **client_key.headers("GET", public, bound)}).status_code == 200
    internal = client.get(PATH, headers={**forwarded, **client_key.headers("GET", URL, bound)})
    assert internal.status_code == 401


# -- which tokens need DPoP, and which scheme may carry them -----------------------------


def test_a_bound_token_sent_as_bearer_is_refused(
    make_guard: Callable[..., JWTGuard], client_key: DPoPClient, other_client: DPoPClient, bound: str
) -> None:
    client = Client(make_guard())
    for headers in (bearer(bound), _bearer_with_proof(client_key, other_client, bound)):
        response = client.get(PATH, headers=headers)
        assert response.status_code == 401
        assert "bound to a DPoP key" in response.get_json()["error"]["message"]
        assert response.headers["WWW-Authenticate"].startswith('Bearer realm="wsgi-jwt-guard", error="invalid_token"')


def test_a_bound_token_in_the_cookie_is_refused_and_cleared(
    make_guard: Callable[..., JWTGuard], bound: str
) -> None:
    headers = {**cookie(bound), "Sec-Fetch-Site": "same-origin"}
    response = Client(make_guard(), use_cookies=False).get(PATH, headers=headers)
    assert response.status_code == 401
    assert "bound to a DPoP key" in response.get_json()["error"]["message"]
    assert response.headers["Set-Cookie"].startswith("token=;")


def test_an_unbound_token_sent_as_dpop_is_refused(
    make_guard: Callable[..., JWTGuard], ec_key: SigningKey, client_key: DPoPClient
) -> None:
    plain = ec_key.token()
    response = Client(make_guard()).get(PATH, headers=client_key.headers("GET", URL, plain))
    assert response.status_code == 401
    assert "not bound to a DPoP key" in response.get_json()["error"]["message"]
    assert dpop_error(response) == "invalid_token"


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(lambda: service_token(), id="service-token"),
        pytest.param(lambda: "k" * 40, id="api-key"),
    ],
)
def test_service_tokens_and_api_keys_are_never_dpop(
    make_guard: Callable[..., JWTGuard], client_key: DPoPClient, token: Callable[[], str]
) -> None:
    guard = make_guard(api_keys=[APIKey("k" * 40, subject="ci")])
    response = Client(guard).get(PATH, headers=client_key.headers("GET", URL, token()))
    assert response.status_code == 401
    assert "not bound to a DPoP key" in response.get_json()["error"]["message"]


def test_a_plain_token_is_still_a_bearer_token_by_default(
    make_guard: Callable[..., JWTGuard], ec_key: SigningKey
) -> None:
    response = Client(make_guard()).get(PATH, headers=bearer(ec_key.token()))
    assert response.status_code == 200
    assert response.get_json()["auth_type"] == "Bearer"


def test_without_a_token_both_schemes_are_challenged(make_guard: Callable[..., JWTGuard]) -> None:
    response = Client(make_guard()).get(PATH)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == NO_TOKEN_CHALLENGE


@pytest.mark.parametrize(
    ("where", "token_kind", "status", "challenge"),
    [
        pytest.param("route", "plain", 401, "DPoP only", id="route-required-refuses-plain"),
        pytest.param("route", "bound", 200, None, id="route-required-takes-bound"),
        pytest.param("issuer", "plain", 401, "Bearer error", id="issuer-required-refuses-plain"),
        pytest.param("issuer", "bound", 200, None, id="issuer-required-takes-bound"),
        pytest.param("guard", "plain", 401, "DPoP only", id="guard-required-refuses-plain"),
        pytest.param("guard", "service", 401, "DPoP only", id="guard-required-refuses-service-tokens"),
    ],
)
def test_dpop_required(
    ec_key: SigningKey,
    rsa_key: SigningKey,
    client_key: DPoPClient,
    where: str,
    token_kind: str,
    status: int,
    challenge: str | None,
) -> None:
    options: dict[str, Any] = {"issuers": [issuer_of([ec_key, rsa_key], dpop="required" if where == "issuer" else None)]}
    if where == "route":
        options["routes"] = {"/api/catalog": Rule("protected", dpop="required")}
    if where == "guard":
        options["dpop"] = DPoPSettings(mode="required")
    token = {
        "plain": lambda: ec_key.token(),
        "bound": lambda: ec_key.token(cnf={"jkt": client_key.jkt}),
        "service": lambda: service_token(),
    }[token_kind]()
    headers = client_key.headers("GET", URL, token) if token_kind == "bound" else bearer(token)
    response = Client(build_guard(**options)).get(PATH, headers=headers)
    assert response.status_code == status, response.get_data(as_text=True)
    if challenge == "DPoP only":
        assert response.headers["WWW-Authenticate"].startswith('DPoP realm="wsgi-jwt-guard", error="invalid_token"')
        assert "Bearer" not in response.headers["WWW-Authenticate"]
    elif challenge == "Bearer error":
        assert response.headers["WWW-Authenticate"].startswith('Bearer realm="wsgi-jwt-guard", error="invalid_token"')
    if status == 401:
        assert "only DPoP-bound tokens" in response.get_json()["error"]["message"]


def test_a_route_requiring_dpop_challenges_dpop_alone(make_guard: Callable[..., JWTGuard]) -> None:
    guard = make_guard(routes={"/api/catalog": Rule("protected", dpop="required")})
    response = Client(guard).get(PATH)
    assert response.headers["WWW-Authenticate"] == f'DPoP realm="wsgi-jwt-guard", algs="{DPOP_ALGS}"'


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"routes": {"/api/catalog": Rule("protected", dpop="off")}}, id="route-off"),
        pytest.param({"dpop": DPoPSettings(mode="off")}, id="guard-off"),
    ],
)
def test_dpop_off_refuses_the_dpop_scheme(
    make_guard: Callable[..., JWTGuard], client_key: DPoPClient, bound: str, options: dict[str, Any]
) -> None:
    client = Client(make_guard(**options))
    response = client.get(PATH, headers=client_key.headers("GET", URL, bound))
    assert response.status_code == 401
    assert "not accepted here" in response.get_json()["error"]["message"]
    assert client.get(PATH).headers["WWW-Authenticate"] == 'Bearer realm="wsgi-jwt-guard"'


def test_an_issuer_off_refuses_its_bound_tokens_only(
    ec_key: SigningKey, rsa_key: SigningKey, client_key: DPoPClient
) -> None:
    guard = build_guard(issuers=[issuer_of([ec_key], dpop="off"), issuer_of([rsa_key], issuer="https://other.test")])
    client = Client(guard)
    refused = client.get(PATH, headers=client_key.headers("GET", URL, ec_key.token(cnf={"jkt": client_key.jkt})))
    assert refused.status_code == 401
    other = rsa_key.token(iss="https://other.test", cnf={"jkt": client_key.jkt})
    assert client.get(PATH, headers=client_key.headers("GET", URL, other)).status_code == 200


def test_a_malformed_dpop_authorization_header_is_refused(make_guard: Callable[..., JWTGuard]) -> None:
    for value in ("DPoP", "DPoP a b", "DPoP a.b.c, Bearer x"):
        response = Client(make_guard()).get(PATH, headers={"Authorization": value})
        assert response.status_code == 401
        assert dpop_error(response) == "invalid_request", value


def test_the_dpop_scheme_is_case_insensitive(
    make_guard: Callable[..., JWTGuard], client_key: DPoPClient, bound: str
) -> None:
    headers = client_key.headers("GET", URL, bound)
    headers["Authorization"] = "dpop " + bound
    assert Client(make_guard()).get(PATH, headers=headers).status_code == 200


def test_a_refusal_after_the_proof_keeps_the_dpop_challenge(
    make_guard: Callable[..., JWTGuard], client_key: DPoPClient, bound: str
) -> None:
    guard = make_guard(routes={"/api/catalog": Rule("protected", scopes=["admin"])})
    response = Client(guard).get(PATH, headers=client_key.headers("GET", URL, bound))
    assert response.status_code == 403
    assert response.headers["WWW-Authenticate"].startswith('DPoP realm="wsgi-jwt-guard", error="insufficient_scope"')


# -- server nonces (RFC 9449 §9) ---------------------------------------------------------


def test_the_nonce_flow(make_guard: Callable[..., JWTGuard], client_key: DPoPClient, bound: str) -> None:
    settings = DPoPSettings(nonce=True, nonce_secrets=[NONCE_SECRET])
    guard = make_guard(dpop=settings)
    client = Client(guard)
    first = client.get(PATH, headers=client_key.headers("GET", URL, bound))
    assert first.status_code == 401
    assert dpop_error(first) == "use_dpop_nonce"
    nonce = first.headers["DPoP-Nonce"]
    assert nonce
    retried = client.get(PATH, headers=client_key.headers("GET", URL, bound, nonce=nonce))
    assert retried.status_code == 200
    # Stateless: another worker with the same secret takes it too.
    other_worker = Client(make_guard(dpop=settings))
    assert other_worker.get(PATH, headers=client_key.headers("GET", URL, bound, nonce=nonce)).status_code == 200
    wrong = client.get(PATH, headers=client_key.headers("GET", URL, bound, nonce="made-up"))
    assert dpop_error(wrong) == "use_dpop_nonce"
    assert guard.metrics.snapshot().get("requests.refused.use_dpop_nonce") == 2


def test_a_nonce_expires_after_one_to_two_lifetimes(
    make_guard: Callable[..., JWTGuard], client_key: DPoPClient, bound: str
) -> None:
    clock = FakeClock(now=(time.time() // 60 + 1) * 60)  # the start of the next bucket
    guard = make_guard(clock=clock, dpop=DPoPSettings(nonce=True, nonce_secrets=[NONCE_SECRET], nonce_lifetime=60))
    client = Client(guard)

    def at_now(**claims: Any) -> TestResponse:
        return client.get(PATH, headers=client_key.headers("GET", URL, bound, iat=int(clock.now), **claims))

    nonce = at_now().headers["DPoP-Nonce"]
    clock.advance(119)
    assert at_now(nonce=nonce).status_code == 200
    clock.advance(2)
    expired = at_now(nonce=nonce)
    assert dpop_error(expired) == "use_dpop_nonce"
    assert expired.headers["DPoP-Nonce"] != nonce


def test_a_nonce_about_to_expire_is_replaced_on_a_success(
    make_guard: Callable[..., JWTGuard], client_key: DPoPClient, bound: str
) -> None:
    """RFC 9449 §8.2: a proof with the previous period's nonce passes, and the
    response hands out the current one, so a client that keeps it never meets
    the 401 of an expired nonce. A current nonce gets no header."""
    clock = FakeClock(now=(time.time() // 60 + 1) * 60)
    cors = CORSSettings(allowed_origins=["https://app.example.test"], expose_headers=["DPoP-Nonce"])
    settings = DPoPSettings(nonce=True, nonce_secrets=[NONCE_SECRET], nonce_lifetime=60)
    guard = make_guard(clock=clock, dpop=settings, cors=cors)
    client = Client(guard)

    def at_now(nonce: str, **headers: str) -> TestResponse:
        proof = client_key.headers("GET", URL, bound, iat=int(clock.now), nonce=nonce)
        return client.get(PATH, headers={**proof, **headers})

    nonce = at_now("").headers["DPoP-Nonce"]
    current = at_now(nonce)
    assert current.status_code == 200
    assert "DPoP-Nonce" not in current.headers
    clock.advance(61)  # the next period: the nonce still passes, the response renews it
    renewed = at_now(nonce, Origin="https://app.example.test")
    assert renewed.status_code == 200
    fresh = renewed.headers["DPoP-Nonce"]
    assert fresh != nonce
    assert renewed.headers["Access-Control-Allow-Origin"] == "https://app.example.test"
    assert "DPoP-Nonce" not in at_now(fresh).headers  # the client took it
    clock.advance(60)  # the old nonce has expired; the renewed one holds, and is renewed
    assert dpop_error(at_now(nonce)) == "use_dpop_nonce"
    last = at_now(fresh)
    assert last.status_code == 200
    assert last.headers["DPoP-Nonce"] not in (nonce, fresh)


def test_nonces_use_the_cache_secrets_by_default(
    make_guard: Callable[..., JWTGuard], client_key: DPoPClient, bound: str
) -> None:
    from wsgi_jwt_guard import SharedCache

    with pytest.raises(ConfigError, match=r"dpop\.nonce_secrets"):
        make_guard(dpop=DPoPSettings(nonce=True))
    guard = make_guard(dpop=DPoPSettings(nonce=True), cache=SharedCache(secrets=[CACHE_SECRET]))
    nonce = Client(guard).get(PATH, headers=client_key.headers("GET", URL, bound)).headers["DPoP-Nonce"]
    assert Nonces([CACHE_SECRET], 300.0, guard.clock).accepts(nonce)


# -- configuration ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        pytest.param({"algorithms": ["HS256"]}, "algorithms", id="hmac"),
        pytest.param({"algorithms": ["none"]}, "algorithms", id="none"),
        pytest.param({"algorithms": []}, "algorithms", id="no-algorithm"),
        pytest.param({"mode": "sometimes"}, "mode", id="unknown-mode"),
        pytest.param({"max_age": 0}, "max_age", id="max-age-zero"),
        pytest.param({"leeway": 600}, "leeway", id="leeway-too-large"),
        pytest.param({"nonce": "yes"}, "nonce", id="nonce-not-a-flag"),
        pytest.param({"nonce_secrets": ["short"], "nonce": True}, "nonce_secrets[0]", id="short-nonce-secret"),
        pytest.param({"nonce_secrets": [NONCE_SECRET]}, "nonce_secrets", id="nonce-secrets-without-nonce"),
    ],
)
def test_bad_dpop_settings_are_refused(settings: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        DPoPSettings(**settings)
    assert caught.value.key == key


def test_the_nonce_secrets_stay_out_of_repr() -> None:
    assert NONCE_SECRET not in repr(DPoPSettings(nonce=True, nonce_secrets=[NONCE_SECRET]))


def test_dpop_from_configuration(ec_key: SigningKey, client_key: DPoPClient) -> None:
    config = {
        "issuers": [{"issuer": "https://auth.example.test/api/auth", "keys": [ec_key.public_jwk()], "dpop": "allowed"}],
        "service_tokens": {"secrets": [SERVICE_SECRET]},
        "dpop": {"algorithms": ["ES256"], "max_age": 30, "nonce": True, "nonce_secrets": [NONCE_SECRET]},
        "routes": {"/api/catalog": {"policy": "protected", "dpop": "required"}},
    }
    guard = from_config(echo_app, config)
    token = ec_key.token(cnf={"jkt": client_key.jkt})
    client = Client(guard)
    first = client.get(PATH, headers=client_key.headers("GET", URL, token))
    assert first.headers["WWW-Authenticate"].endswith('algs="ES256"')
    nonce = first.headers["DPoP-Nonce"]
    assert client.get(PATH, headers=client_key.headers("GET", URL, token, nonce=nonce)).status_code == 200
    with pytest.raises(ConfigError, match=r"routes.'/api'.dpop"):
        from_config(echo_app, {**config, "routes": {"/api": {"dpop": "always"}}})
    with pytest.raises(ConfigError, match=r"issuers\[0\].dpop"):
        from_config(echo_app, {**config, "issuers": [{**config["issuers"][0], "dpop": "yes"}]})


def test_an_algorithm_left_out_is_refused(
    make_guard: Callable[..., JWTGuard], ec_key: SigningKey
) -> None:
    client = DPoPClient(rsa.generate_private_key(65537, 2048), "PS256")
    token = ec_key.token(cnf={"jkt": client.jkt})
    guard = make_guard(dpop=DPoPSettings(algorithms=["ES256"]))
    response = Client(guard).get(PATH, headers=client.headers("GET", URL, token))
    assert response.status_code == 401
    assert "algorithm" in response.get_json()["error"]["message"]


def test_the_proof_hash_is_of_the_token_as_sent(client_key: DPoPClient, bound: str) -> None:
    # ath: base64url SHA-256 of the token's ASCII (RFC 9449 §4.2), checked independently.
    proof = jwt.decode(client_key.proof("GET", URL, bound), options={"verify_signature": False})
    digest = hashlib.sha256(bound.encode("ascii")).digest()
    assert proof["ath"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_the_readme_client_gets_through_a_real_server(ec_key: SigningKey, static_issuer: Any) -> None:
    """The README's worked example, run as written against a guard with nonces
    behind werkzeug's server: its proofs pass, and it retries with the nonce."""
    from pathlib import Path

    from tests.servers import werkzeug_server

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme[readme.index("### Sender-constrained tokens") :]
    block = section[section.index("```python\n") + 10 : section.index("```\n", section.index("```python\n"))]
    assert "def proof(" in block
    settings = DPoPSettings(nonce=True, nonce_secrets=[NONCE_SECRET])
    guard = build_guard(issuers=[static_issuer], dpop=settings)
    with werkzeug_server(guard) as port:
        url = f"http://127.0.0.1:{port}{PATH}"
        code = block.replace('url = "https://api.example.com/api/catalog/entities"', f'url = "{url}"')
        assert code != block
        namespace: dict[str, Any] = {}
        # The client's key is made by the example; the token is bound to it after.
        prelude, rest = code.split("url = ", 1)
        exec(prelude, namespace)  # noqa: S102 - the README's own code
        jkt = DPoPClient(namespace["key"]).jkt
        namespace["access_token"] = ec_key.token(cnf={"jkt": jkt})
        exec("url = " + rest, namespace)  # noqa: S102
        assert namespace["response"].status_code == 200, namespace["response"].text
        assert namespace["response"].json()["auth_type"] == "DPoP"
        assert namespace["call"]().status_code == 200  # the nonce kept: no second 401


def test_a_views_own_refusal_of_a_dpop_request_challenges_dpop() -> None:
    # The framework adapters' 403 (a view's `requires`) names the scheme the client used.
    from werkzeug.test import create_environ

    from wsgi_jwt_guard import InsufficientScope
    from wsgi_jwt_guard.adapters._requirement import refusal_response

    environ = create_environ("/x")
    environ["AUTH_TYPE"] = "DPoP"
    response = refusal_response(InsufficientScope("token lacks a required scope"), environ)
    assert response.status_code == 403
    assert response.headers["WWW-Authenticate"] == (
        'DPoP realm="wsgi-jwt-guard", error="insufficient_scope",'
        ' error_description="token lacks a required scope"'
    )


# -- fuzzing: a proof can only be refused, never crash the guard -------------------------

_FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


@_FUZZ
@given(
    data=st.data(),
    header=st.dictionaries(st.sampled_from(["typ", "alg", "jwk", "kid", "crit", "x5c", "b64"]), _JSON),
    claims=st.dictionaries(st.sampled_from(["jti", "htm", "htu", "iat", "ath", "nonce"]), _JSON),
)
def test_fuzzed_proofs_are_refused_never_crash(
    make_guard: Callable[..., JWTGuard],
    client_key: DPoPClient,
    bound: str,
    data: st.DataObject,
    header: dict[str, Any],
    claims: dict[str, Any],
) -> None:
    """A valid bound token with a proof the client's key really signed, whose
    header and claims hold anything JSON can, or whose text is mangled: 401,
    never a 500, never a 200 (a fuzzed proof lacks a valid htu, ath or jti)."""
    head = {"typ": "dpop+jwt", "alg": "ES256", "jwk": client_key.public_jwk, **header}
    proof = compact(head, claims, SigningKey(client_key.private, "ES256").sign)
    mangled = [proof, proof[:-5], proof + ",x", proof.replace(".", "..", 1), proof[::-1]]
    proof = data.draw(st.sampled_from(mangled))
    response = Client(make_guard()).get(PATH, headers={"Authorization": f"DPoP {bound}", "DPoP": proof})
    assert response.status_code == 401, response.get_data(as_text=True)
    assert dpop_error(response) == "invalid_dpop_proof"


@_FUZZ
@given(st.text(max_size=300))
def test_fuzzed_dpop_header_text_is_refused(
    make_guard: Callable[..., JWTGuard], bound: str, value: str
) -> None:
    environ = create_environ(PATH)
    environ["HTTP_AUTHORIZATION"] = f"DPoP {bound}"
    environ["HTTP_DPOP"] = value.encode("utf-8", "surrogatepass").decode("latin-1")
    app_iter, status, _ = run_wsgi_app(make_guard(), environ)
    b"".join(app_iter)
    assert status.startswith("401")


def test_configured_origins_replace_the_host_header(
    make_guard: Callable[..., JWTGuard], client_key: DPoPClient, bound: str
) -> None:
    """Behind a proxy that rewrites Host (and no ProxyFix), or to keep a client's
    Host out of it: the htu's origin must be one configured."""
    guard = make_guard(dpop=DPoPSettings(origins=["https://API.example.com:443"]))
    client = Client(guard)
    public = client_key.headers("GET", "https://api.example.com" + PATH, bound)
    assert client.get(PATH, headers=public).status_code == 200  # Host: localhost
    spoofed = {**client_key.headers("GET", "https://evil.test" + PATH, bound), "Host": "evil.test"}
    assert "'htu'" in client.get(PATH, headers=spoofed).get_json()["error"]["message"]
    own = client_key.headers("GET", URL, bound)  # the Host the request carries: not configured
    assert client.get(PATH, headers=own).status_code == 401
    with pytest.raises(ConfigError, match="origins"):
        DPoPSettings(origins=["https://api.example.com/path"])


def test_two_dpop_headers_through_a_real_server_are_refused(
    client_key: DPoPClient, bound: str, static_issuer: Any
) -> None:
    """A server joins repeated headers (PEP 3333): the guard sees two proofs, not the first."""
    import http.client

    from tests.servers import werkzeug_server

    with werkzeug_server(build_guard(issuers=[static_issuer])) as port:
        url = f"http://127.0.0.1:{port}{PATH}"
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.putrequest("GET", PATH)
        connection.putheader("Authorization", f"DPoP {bound}")
        connection.putheader("DPoP", client_key.proof("GET", url, bound))
        connection.putheader("DPoP", client_key.proof("GET", url, bound))
        connection.endheaders()
        response = connection.getresponse()
        assert response.status == 401
        assert "more than one DPoP header" in response.read().decode()
        connection.close()
        one = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        one.request("GET", PATH, headers={"Authorization": f"DPoP {bound}", "DPoP": client_key.proof("GET", url, bound)})
        assert one.getresponse().status == 200
        one.close()
