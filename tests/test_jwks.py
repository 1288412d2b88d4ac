"""Keys fetched from a JWKS URL: ``wsgi_jwt_guard.jwks`` (DESIGN §4, §5).

Two levels, as in the module: ``JWKSClient.find`` driven by a fake clock for
TTL, cooldown and staleness, and whole requests through a guard (real time,
real HTTP to 127.0.0.1) for what a client of the protected app sees.
"""

from __future__ import annotations

import gzip
import json
import random
import string
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from cachelib import BaseCache, FileSystemCache, SimpleCache
from werkzeug.test import Client

from tests.helpers import (
    ISSUER,
    FakeClock,
    SigningKey,
    b64url,
    bearer,
    build_guard,
    issuer_of,
    run_together,
    tls_server,
)
from tests.jwks_server import JWKSServer, JWKSServers, Responder, answer, jwks_bytes
from wsgi_jwt_guard import Issuer, JWTGuard
from wsgi_jwt_guard.caches import SharedCache
from wsgi_jwt_guard.errors import KeysUnavailable, UnknownKey
from wsgi_jwt_guard.fetch import Downloader
from wsgi_jwt_guard.jwks import JWKSClient
from wsgi_jwt_guard.jws import parse
from wsgi_jwt_guard.refresh import RefreshPolicy

ALGORITHMS = ["ES256", "RS256"]


# --- helpers -----------------------------------------------------------------


def assert_verifies(client: JWKSClient, key: SigningKey, token: str | None = None) -> None:
    """``client`` finds a key for ``key``'s token and that key checks its signature."""
    jws = parse(token or key.token())
    pinned = client.find(jws.kid, jws.alg)
    assert pinned.verify(jws.signing_input, jws.signature)


def warmed(server: JWKSServer, key: SigningKey, clock: FakeClock, **options: Any) -> JWKSClient:
    """A client of ``server`` on ``clock`` (``options`` as for :func:`client_for`) that
    has fetched ``server``'s keys, ``key``'s public half published first."""
    server.publish(key)
    client = client_for(server.url, clock=clock, **options)
    assert_verifies(client, key)
    return client


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_000_000.0)


def guard_for(url: str, *, cache: BaseCache | None = None, **issuer: Any) -> Client:
    """A client of the echo app behind a guard whose one issuer publishes keys at ``url``."""
    guard = build_guard(issuers=[issuer_of(jwks_uri=url, **issuer)], cache=cache)
    return Client(guard, use_cookies=False)


def random_kid() -> str:
    return "".join(random.choices(string.ascii_letters + string.digits, k=16))


def assert_unavailable_after_one_fetch(server: JWKSServer, **options: Any) -> None:
    """A client of ``server`` (``options``: its downloader, ...) gives up after one fetch."""
    client = JWKSClient(server.url, algorithms=ALGORITHMS, **options)
    with pytest.raises(KeysUnavailable):
        client.find("ec-1", "ES256")
    assert server.fetches == 1


def assert_unavailable(response: Any) -> None:
    """The 503 of DESIGN §6, in Backstage's error shape, with ``Retry-After``."""
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 1
    body = response.get_json()
    assert body["error"]["name"] == "ServiceUnavailableError"
    assert body["error"]["message"]
    assert body["response"] == {"statusCode": 503}


# --- end to end ----------------------------------------------------------------


def test_a_token_signed_by_a_published_key_verifies_with_one_fetch(
    jwks_server: JWKSServer, ec_key: SigningKey, rsa_key: SigningKey
) -> None:
    jwks_server.publish(ec_key, rsa_key)
    client = guard_for(jwks_server.url)
    assert jwks_server.fetches == 0  # nothing is fetched before the first request

    for index in range(20):
        key = ec_key if index % 2 else rsa_key
        response = client.get("/api/catalog", headers=bearer(key.token()))
        assert response.status_code == 200
        assert response.get_json()["remote_user"] == "user:default/alice"
    assert jwks_server.fetches == 1


def test_the_fetch_asks_for_json_and_forwards_nothing_from_the_request(
    jwks_server: JWKSServer, ec_key: SigningKey
) -> None:
    jwks_server.publish(ec_key)
    client = guard_for(jwks_server.url)

    response = client.get(
        "/api/catalog", headers={**bearer(ec_key.token()), "Cookie": "session=secret"}
    )

    assert response.status_code == 200
    (sent,) = jwks_server.headers
    assert sent["Accept"] == "application/json"
    assert "Authorization" not in sent
    assert "Cookie" not in sent


def test_concurrent_first_requests_share_one_fetch(jwks_servers: JWKSServers, ec_key: SigningKey) -> None:
    document = jwks_bytes(ec_key)

    def slow(handler: BaseHTTPRequestHandler) -> None:
        jwks_servers.stopping.wait(0.3)  # long enough for every request to miss at once
        answer(200, document)(handler)

    origin = jwks_servers(slow)
    guard = guard_for(origin.url).application
    statuses: list[int] = []

    def request(_: int) -> None:
        response = Client(guard, use_cookies=False).get(
            "/api/catalog", headers=bearer(ec_key.token())
        )
        statuses.append(response.status_code)

    run_together(request, 12)

    assert statuses == [200] * 12
    assert origin.fetches == 1


# --- no keys: 503 on protected routes, public routes unaffected ---------------


def test_an_issuer_down_at_start_gives_503_and_is_not_hammered(
    jwks_server: JWKSServer, ec_key: SigningKey
) -> None:
    jwks_server.publish(ec_key)
    jwks_server.status = 500
    client = guard_for(jwks_server.url)

    for _ in range(10):
        assert_unavailable(client.get("/api/catalog", headers=bearer(ec_key.token())))
    assert client.get("/api/auth/refresh").status_code == 200
    assert jwks_server.fetches == 1  # the cooldown also spares an issuer that is down


def _redirect(status: int) -> Callable[[str, bytes], Responder]:
    return lambda target, good: answer(status, b"", {"Location": target})


@pytest.mark.parametrize(
    "make_responder",
    [
        pytest.param(_redirect(302), id="redirect-302"),
        pytest.param(_redirect(301), id="redirect-301"),
        pytest.param(_redirect(307), id="redirect-307"),
        pytest.param(_redirect(308), id="redirect-308"),
        pytest.param(lambda target, good: answer(500, good), id="status-500-with-a-jwks"),
        pytest.param(lambda target, good: answer(404, good), id="status-404-with-a-jwks"),
        pytest.param(
            lambda target, good: answer(
                200, b"<html>maintenance</html>", {"Content-Type": "text/html"}
            ),
            id="html-body",
        ),
        pytest.param(lambda target, good: answer(200, good[:-7]), id="truncated-json"),
        pytest.param(lambda target, good: answer(200, b""), id="empty-body"),
        pytest.param(lambda target, good: answer(200, b'["keys"]'), id="json-not-a-jwks"),
        pytest.param(lambda target, good: answer(200, b'{"keys": {}}'), id="keys-not-a-list"),
        pytest.param(lambda target, good: answer(200, b'{"keys": []}'), id="no-keys"),
    ],
)
def test_no_usable_answer_gives_503_on_protected_routes_only(
    jwks_servers: JWKSServers,
    jwks_server: JWKSServer,
    ec_key: SigningKey,
    make_responder: Callable[[str, bytes], Responder],
) -> None:
    # The good document is published elsewhere: only a followed redirect reaches it.
    jwks_server.publish(ec_key)
    origin = jwks_servers(make_responder(jwks_server.url, jwks_bytes(ec_key)))
    client = guard_for(origin.url)

    assert_unavailable(client.get("/api/catalog", headers=bearer(ec_key.token())))
    public = client.get("/api/auth/refresh", headers=bearer(ec_key.token()))
    assert public.status_code == 200
    assert public.get_json()["remote_user"] is None
    assert origin.fetches == 1
    assert jwks_server.fetches == 0  # redirects are never followed


def test_keys_unavailable_carries_a_retry_after(jwks_server: JWKSServer) -> None:
    jwks_server.status = 503
    client = JWKSClient(
        jwks_server.url, algorithms=ALGORITHMS, policy=RefreshPolicy(retry_min=45, retry_max=45)
    )

    with pytest.raises(KeysUnavailable) as caught:
        client.find("ec-1", "ES256")

    assert caught.value.status == 503
    assert caught.value.retry_after == 45


# --- size cap --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("max_bytes", "verifies"),
    [
        pytest.param(1024, False, id="over-the-cap"),
        pytest.param(64 * 1024, True, id="under-the-cap"),
    ],
)
def test_documents_over_max_bytes_are_refused(
    jwks_server: JWKSServer, ec_key: SigningKey, max_bytes: int, verifies: bool
) -> None:
    # A valid JWKS padded to ~2 KB: only its size can make it unacceptable.
    jwks_server.document = {"keys": [ec_key.public_jwk()], "padding": "x" * 2000}
    client = JWKSClient(
        jwks_server.url, algorithms=ALGORITHMS, downloader=Downloader(max_bytes=max_bytes)
    )

    if verifies:
        assert_verifies(client, ec_key)
    else:
        with pytest.raises(KeysUnavailable):
            client.find("ec-1", "ES256")
    assert jwks_server.fetches == 1


def _huge(keys_json: bytes, *, compress: bool, length: bool) -> Responder:
    """A valid JWKS carrying 10 MB of padding, sent in 64 KiB writes."""
    body = b'{"padding": "' + b"x" * (10 * 1024 * 1024) + b'", "keys": ' + keys_json + b"}"
    if compress:
        body = gzip.compress(body)  # ~10 KB on the wire

    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        if compress:
            handler.send_header("Content-Encoding", "gzip")
        if length:
            handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        for start in range(0, len(body), 65536):
            handler.wfile.write(body[start : start + 65536])

    return respond


@pytest.mark.parametrize(
    ("compress", "length"),
    [
        pytest.param(False, True, id="content-length"),
        pytest.param(False, False, id="until-close"),
        pytest.param(True, True, id="gzip-bomb"),
    ],
)
def test_a_10_mb_document_is_refused_with_the_default_cap(
    jwks_servers: JWKSServers, ec_key: SigningKey, compress: bool, length: bool
) -> None:
    keys_json = json.dumps([ec_key.public_jwk()]).encode()
    assert_unavailable_after_one_fetch(
        jwks_servers(_huge(keys_json, compress=compress, length=length))
    )


# --- timeouts and TLS -----------------------------------------------------------


def test_a_server_slower_than_the_read_timeout_fails_instead_of_hanging(
    jwks_servers: JWKSServers, ec_key: SigningKey
) -> None:
    document = jwks_bytes(ec_key)

    def sleepy(handler: BaseHTTPRequestHandler) -> None:
        jwks_servers.stopping.wait(2.0)  # then a perfectly good answer, too late
        answer(200, document)(handler)

    assert_unavailable_after_one_fetch(
        jwks_servers(sleepy), downloader=Downloader(timeout=(0.5, 0.5))
    )


def test_a_server_trickling_bytes_is_cut_off_by_the_total_deadline(
    jwks_servers: JWKSServers, ec_key: SigningKey
) -> None:
    document = jwks_bytes(ec_key)

    def trickle(handler: BaseHTTPRequestHandler) -> None:
        # Each byte arrives well within the read timeout; the whole takes far longer.
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(document)))
        handler.end_headers()
        for index in range(len(document)):
            if jwks_servers.stopping.wait(0.05):
                return
            try:
                handler.wfile.write(document[index : index + 1])
                handler.wfile.flush()
            except OSError:
                return

    assert_unavailable_after_one_fetch(
        jwks_servers(trickle), downloader=Downloader(timeout=(1.0, 1.0), total_timeout=0.5)
    )


def test_tls_certificates_are_verified(
    jwks_servers: JWKSServers, ec_key: SigningKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # requests lets these override a session's own `verify`: let the client decide.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    context, cert_path = tls_server(tmp_path)
    origin = jwks_servers(answer(200, jwks_bytes(ec_key)), tls=context)

    with pytest.raises(KeysUnavailable):
        JWKSClient(origin.url, algorithms=ALGORITHMS).find("ec-1", "ES256")
    assert origin.fetches == 0  # the handshake failed; nothing was requested

    # The same origin is fine once its certificate is trusted: the refusal was TLS.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert_path))
    assert_verifies(JWKSClient(origin.url, algorithms=ALGORITHMS), ec_key)
    assert origin.fetches == 1


# --- fetch URLs come from configuration only ----------------------------------


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda key, url: key.token(header={"jku": url}), id="jku"),
        pytest.param(lambda key, url: key.token(header={"x5u": url}), id="x5u"),
        pytest.param(lambda key, url: key.token(iss=url), id="iss-is-the-url"),
        pytest.param(
            lambda key, url: key.token(iss=url.removesuffix("/.well-known/jwks.json")),
            id="iss-is-the-origin",
        ),
    ],
)
def test_a_token_cannot_choose_where_keys_are_fetched(
    make_guard: Callable[..., JWTGuard],
    jwks_server: JWKSServer,
    forge: Callable[[SigningKey, str], str],
) -> None:
    attacker = SigningKey.ec(kid="ec-1")
    jwks_server.publish(attacker)  # the attacker's own keys, at a URL the token names
    client = Client(make_guard(), use_cookies=False)  # the issuer has static keys

    response = client.get("/api/catalog", headers=bearer(forge(attacker, jwks_server.url)))

    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert jwks_server.fetches == 0


# --- rotation and the cooldown --------------------------------------------------


def test_an_unknown_kid_refetches_and_the_rotated_key_verifies(
    jwks_server: JWKSServer, ec_key: SigningKey
) -> None:
    jwks_server.publish(ec_key)
    client = guard_for(jwks_server.url, jwks_refresh={"cooldown": 0})
    assert client.get("/api/catalog", headers=bearer(ec_key.token())).status_code == 200

    rotated = SigningKey.ec(kid="ec-2")
    jwks_server.publish(ec_key, rotated)
    response = client.get("/api/catalog", headers=bearer(rotated.token()))

    assert response.status_code == 200
    assert jwks_server.fetches == 2


def test_rotations_refetch_at_once_and_the_cooldown_follows_a_kid_not_found(
    jwks_server: JWKSServer, ec_key: SigningKey
) -> None:
    # The cooldown counts from the last refetch that came back without its kid
    # (junk, or a dropped key): a refetch that found its kid was a rotation, and
    # the next rotation, seconds later, must not get 401 for a whole cooldown.
    jwks_server.publish(ec_key)
    client = guard_for(jwks_server.url)  # default cooldown, 30 s
    assert client.get("/api/catalog", headers=bearer(ec_key.token())).status_code == 200

    published = [ec_key]
    for number in (2, 3, 4):
        rotated = SigningKey.ec(kid=f"ec-{number}")
        published.append(rotated)
        jwks_server.publish(*published)
        assert client.get("/api/catalog", headers=bearer(rotated.token())).status_code == 200
    assert jwks_server.fetches == 4

    junk = ec_key.token(header={"kid": "junk"})
    assert client.get("/api/catalog", headers=bearer(junk)).status_code == 401
    assert jwks_server.fetches == 5  # looked: it is not published
    late = SigningKey.ec(kid="ec-5")
    jwks_server.publish(*published, late)
    response = client.get("/api/catalog", headers=bearer(late.token()))
    assert response.status_code == 401  # within the cooldown of the junk refetch
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert jwks_server.fetches == 5


def test_unknown_kids_refetch_at_most_once_per_cooldown(
    jwks_server: JWKSServer, ec_key: SigningKey, clock: FakeClock
) -> None:
    client = warmed(jwks_server, ec_key, clock, cooldown=30)
    assert jwks_server.fetches == 1

    clock.advance(60)
    with pytest.raises(UnknownKey):
        client.find("not-published", "ES256")
    assert jwks_server.fetches == 2

    clock.advance(10)
    second = SigningKey.ec(kid="ec-2")
    jwks_server.publish(ec_key, second)
    with pytest.raises(UnknownKey):
        client.find("ec-2", "ES256")
    assert jwks_server.fetches == 2
    assert_verifies(client, ec_key)  # known kids are unaffected

    clock.advance(20)  # 30 s after the refetch that found nothing
    assert_verifies(client, second)
    assert jwks_server.fetches == 3


def test_a_flood_of_random_kids_costs_one_refetch(
    jwks_server: JWKSServer, ec_key: SigningKey, clock: FakeClock
) -> None:
    client = warmed(jwks_server, ec_key, clock)
    clock.advance(31)  # the cooldown is over: the next unknown kid may refetch

    for index in range(200):
        with pytest.raises(UnknownKey):
            client.find(random_kid(), "ES256")
        if index % 20 == 0:
            assert_verifies(client, ec_key)
        clock.advance(0.1)  # 20 s in all, within one cooldown

    assert jwks_server.fetches == 2


def test_concurrent_unknown_kids_share_one_refetch(
    jwks_server: JWKSServer, ec_key: SigningKey, clock: FakeClock
) -> None:
    client = warmed(jwks_server, ec_key, clock)
    clock.advance(31)
    outcomes: list[str] = []

    def look_up(_: int) -> None:
        try:
            client.find(random_kid(), "ES256")
        except UnknownKey:
            outcomes.append("unknown")

    run_together(look_up, 32)

    assert outcomes == ["unknown"] * 32
    assert jwks_server.fetches == 2


def test_a_flood_of_random_kids_over_http_leaves_known_kids_working(
    jwks_server: JWKSServer, ec_key: SigningKey
) -> None:
    jwks_server.publish(ec_key)
    client = guard_for(jwks_server.url)

    for index in range(200):
        forged = ec_key.token(header={"kid": random_kid()})
        assert client.get("/api/catalog", headers=bearer(forged)).status_code == 401
        if index % 20 == 0:
            good = client.get("/api/catalog", headers=bearer(ec_key.token()))
            assert good.status_code == 200

    assert jwks_server.fetches <= 2


# --- TTL and stale-if-error -------------------------------------------------------


def test_keys_are_refetched_after_the_ttl_and_not_before(
    jwks_server: JWKSServer, ec_key: SigningKey, clock: FakeClock
) -> None:
    client = warmed(jwks_server, ec_key, clock, ttl=600, refresh_ahead=1)  # only the TTL

    clock.advance(599)
    assert_verifies(client, ec_key)
    assert jwks_server.fetches == 1

    rotated = SigningKey.ec(kid="ec-2")
    jwks_server.publish(rotated)  # ec-1 retired by the issuer
    clock.advance(1)
    assert_verifies(client, rotated)
    assert jwks_server.fetches == 2
    with pytest.raises(UnknownKey):
        client.find("ec-1", "ES256")  # a retired key stops verifying after the refresh


def _status(status: int) -> Callable[[JWKSServer, SigningKey], None]:
    return lambda server, key: setattr(server, "status", status)


def _document(make: Callable[[SigningKey], Any]) -> Callable[[JWKSServer, SigningKey], None]:
    return lambda server, key: setattr(server, "document", make(key))


@pytest.mark.parametrize(
    "break_issuer",
    [
        pytest.param(_status(500), id="status-500"),
        pytest.param(_status(404), id="status-404"),
        pytest.param(_document(lambda key: {"keys": []}), id="empty-jwks"),
        pytest.param(_document(lambda key: {"keys": "none"}), id="not-a-jwks"),
        pytest.param(
            _document(lambda key: {"keys": [key.public_jwk(use="enc")]}), id="only-bad-keys"
        ),
    ],
)
def test_a_failed_refresh_keeps_the_good_keys_until_max_stale(
    jwks_server: JWKSServer,
    ec_key: SigningKey,
    break_issuer: Callable[[JWKSServer, SigningKey], None],
) -> None:
    clock = FakeClock(1_000_000.0)
    jwks_server.publish(ec_key)
    client = JWKSClient(
        jwks_server.url,
        algorithms=ALGORITHMS,
        policy=RefreshPolicy(ttl=600, max_stale=3600),
        clock=clock,
    )
    assert_verifies(client, ec_key)
    break_issuer(jwks_server, ec_key)

    clock.advance(601)
    assert_verifies(client, ec_key)
    assert jwks_server.fetches == 2  # it did try

    clock.advance(3600 - 601)  # exactly max_stale old
    assert_verifies(client, ec_key)

    clock.advance(1)
    with pytest.raises(KeysUnavailable):
        client.find("ec-1", "ES256")


def test_keys_come_back_within_seconds_once_the_issuer_recovers(
    jwks_server: JWKSServer, ec_key: SigningKey
) -> None:
    # A cold worker is useless until the issuer answers: it retries after
    # retry_min, doubling up to retry_max, not after a whole cooldown.
    clock = FakeClock(1_000_000.0)
    jwks_server.publish(ec_key)
    jwks_server.status = 500
    policy = RefreshPolicy(cooldown=30, retry_min=1, retry_max=4)
    client = JWKSClient(jwks_server.url, algorithms=ALGORITHMS, policy=policy, clock=clock)
    with pytest.raises(KeysUnavailable) as caught:
        client.find("ec-1", "ES256")
    assert caught.value.retry_after == 1

    clock.advance(0.5)  # too early: the issuer is spared
    with pytest.raises(KeysUnavailable):
        client.find("ec-1", "ES256")
    assert jwks_server.fetches == 1

    clock.advance(0.5)  # 1 s: the second try, failing again, doubles the delay
    with pytest.raises(KeysUnavailable) as caught:
        client.find("ec-1", "ES256")
    assert (jwks_server.fetches, caught.value.retry_after) == (2, 2)

    jwks_server.status = 200
    clock.advance(1)
    with pytest.raises(KeysUnavailable):
        client.find("ec-1", "ES256")
    assert jwks_server.fetches == 2

    clock.advance(1)  # 2 s after the second failure
    assert_verifies(client, ec_key)
    assert jwks_server.fetches == 3
    assert client.status().failures == 0


# --- one bad key among good ones -----------------------------------------------------


def _private_ec() -> tuple[Any, SigningKey | None]:
    key = SigningKey.ec(kid="private")
    d = key.private.private_numbers().private_value.to_bytes(32, "big")
    return key.public_jwk(d=b64url(d)), key


def _signer(key: SigningKey, **extra: Any) -> tuple[Any, SigningKey | None]:
    return key.public_jwk(**extra), key


@pytest.mark.parametrize(
    "make_bad",
    [
        pytest.param(lambda: _signer(SigningKey.ec(kid="enc"), use="enc"), id="use-enc"),
        pytest.param(
            lambda: _signer(SigningKey.ec(kid="ops"), key_ops=["encrypt"]), id="key-ops-encrypt"
        ),
        pytest.param(lambda: _signer(SigningKey.rsa(kid="weak", bits=1024)), id="rsa-1024"),
        pytest.param(lambda: _signer(SigningKey.ec("ES384", kid="p384")), id="alg-not-allowed"),
        pytest.param(_private_ec, id="private-parts"),
        pytest.param(
            lambda: ({"kty": "oct", "kid": "hmac", "k": b64url(b"k" * 32), "alg": "HS256"}, None),
            id="kty-oct",
        ),
        pytest.param(
            lambda: ({"kty": "RSA", "kid": "junk", "n": "!!", "e": "AQAB", "alg": "RS256"}, None),
            id="garbage-modulus",
        ),
        pytest.param(lambda: ("not a key", None), id="not-an-object"),
        pytest.param(lambda: ({"kid": "no-kty"}, None), id="no-kty"),
    ],
)
def test_one_bad_key_does_not_poison_the_good_ones(
    jwks_server: JWKSServer,
    ec_key: SigningKey,
    rsa_key: SigningKey,
    make_bad: Callable[[], tuple[Any, SigningKey | None]],
) -> None:
    bad_jwk, bad_signer = make_bad()
    jwks_server.document = {"keys": [ec_key.public_jwk(), bad_jwk, rsa_key.public_jwk()]}
    client = guard_for(jwks_server.url)

    for key in (ec_key, rsa_key):
        assert client.get("/api/catalog", headers=bearer(key.token())).status_code == 200
    if bad_signer is not None:
        response = client.get("/api/catalog", headers=bearer(bad_signer.token()))
        assert response.status_code == 401
    # A dropped key's kid is unknown to the client: at most one refetch for it.
    assert jwks_server.fetches <= (1 if bad_signer is None else 2)


def test_keys_sharing_a_kid_are_both_dropped(
    jwks_server: JWKSServer, ec_key: SigningKey, other_ec_key: SigningKey, rsa_key: SigningKey
) -> None:
    jwks_server.publish(ec_key, other_ec_key, rsa_key)  # ec_key and other_ec_key: kid "ec-1"
    client = guard_for(jwks_server.url)

    assert client.get("/api/catalog", headers=bearer(rsa_key.token())).status_code == 200
    for key in (ec_key, other_ec_key):
        assert client.get("/api/catalog", headers=bearer(key.token())).status_code == 401


# --- the shared cache ------------------------------------------------------------------

CACHES = [
    pytest.param(lambda tmp_path: SimpleCache(), id="SimpleCache"),
    pytest.param(lambda tmp_path: FileSystemCache(str(tmp_path / "jwks")), id="FileSystemCache"),
]


@pytest.mark.parametrize("make_cache", CACHES)
def test_clients_sharing_a_cache_share_one_fetch(
    jwks_server: JWKSServer,
    ec_key: SigningKey,
    tmp_path: Path,
    make_cache: Callable[[Path], BaseCache],
) -> None:
    clock = FakeClock(1_000_000.0)
    cache = make_cache(tmp_path)
    jwks_server.publish(ec_key)
    first = JWKSClient(jwks_server.url, algorithms=ALGORITHMS, cache=cache, clock=clock)
    assert_verifies(first, ec_key)

    clock.advance(5)
    second = JWKSClient(jwks_server.url, algorithms=ALGORITHMS, cache=cache, clock=clock)
    assert_verifies(second, ec_key)

    assert jwks_server.fetches == 1
    stored = SharedCache(cache).get(first.cache_key)
    assert isinstance(stored, str)  # JSON text, never a pickled object
    entry = json.loads(stored)
    assert entry["jwks"] == jwks_server.document
    assert entry["fetched_at"] == clock.now - 5


def test_guards_sharing_a_file_system_cache_share_one_fetch(
    jwks_server: JWKSServer, ec_key: SigningKey, tmp_path: Path
) -> None:
    jwks_server.publish(ec_key)
    workers = [guard_for(jwks_server.url, cache=FileSystemCache(str(tmp_path))) for _ in range(3)]

    for worker in workers:
        assert worker.get("/api/catalog", headers=bearer(ec_key.token())).status_code == 200

    assert jwks_server.fetches == 1


@pytest.mark.parametrize(
    "poison",
    [
        pytest.param(lambda key, now: "not json", id="not-json"),
        pytest.param(lambda key, now: "[]", id="json-list"),
        pytest.param(lambda key, now: json.dumps({"fetched_at": now}), id="no-jwks"),
        pytest.param(
            lambda key, now: json.dumps({"jwks": {"keys": [key.public_jwk()]}}), id="no-fetched-at"
        ),
        pytest.param(
            lambda key, now: {"fetched_at": now, "jwks": {"keys": [key.public_jwk()]}},
            id="an-object-not-json-text",
        ),
        pytest.param(
            lambda key, now: json.dumps(
                {"fetched_at": now, "jwks": {"keys": [key.public_jwk(use="enc")]}}
            ),
            id="bad-key-use-enc",
        ),
        pytest.param(
            lambda key, now: json.dumps(
                {"fetched_at": now, "jwks": {"keys": [key.public_jwk(alg="ES384")]}}
            ),
            id="bad-key-wrong-alg",
        ),
        pytest.param(
            lambda key, now: json.dumps(
                {"fetched_at": now + 3600, "jwks": {"keys": [key.public_jwk()]}}
            ),
            id="fetched-in-the-future",
        ),
        pytest.param(
            lambda key, now: json.dumps(
                {"fetched_at": now - 601, "jwks": {"keys": [key.public_jwk()]}}
            ),
            id="older-than-the-ttl",
        ),
    ],
)
def test_a_corrupt_cache_entry_is_ignored_and_replaced(
    jwks_server: JWKSServer, ec_key: SigningKey, poison: Callable[[SigningKey, float], Any]
) -> None:
    clock = FakeClock(1_000_000.0)
    cache = SimpleCache()
    jwks_server.publish(ec_key)
    client = JWKSClient(
        jwks_server.url,
        algorithms=ALGORITHMS,
        cache=cache,
        policy=RefreshPolicy(ttl=600),
        clock=clock,
    )
    # Each entry would let ec_key's token verify with no fetch if it were adopted.
    cache.set(client.cache_key, poison(ec_key, clock.now))

    assert_verifies(client, ec_key)

    assert jwks_server.fetches == 1
    entry = json.loads(cache.get(client.cache_key))
    assert entry == {
        "fetched_at": clock.now,
        "ttl": 600,
        "uri": jwks_server.url,
        "jwks": jwks_server.document,
    }


def test_a_new_worker_uses_the_shared_keys_while_the_issuer_is_down(
    jwks_server: JWKSServer, ec_key: SigningKey
) -> None:
    # DESIGN §5: the cache shares one host's workers, and a failed refresh
    # never evicts good keys (stale-if-error up to max_stale). A worker that
    # gunicorn restarts during an outage must not answer 503 while the cache
    # it shares with the others still holds good keys.
    clock = FakeClock(1_000_000.0)
    cache = SimpleCache()
    jwks_server.publish(ec_key)
    options: dict[str, Any] = {
        "algorithms": ALGORITHMS,
        "cache": cache,
        "policy": RefreshPolicy(ttl=600),
    }
    running = JWKSClient(jwks_server.url, clock=clock, **options)
    assert_verifies(running, ec_key)

    jwks_server.status = 500
    clock.advance(700)
    assert_verifies(running, ec_key)  # stale-if-error in the worker that fetched
    restarted = JWKSClient(jwks_server.url, clock=clock, **options)
    assert_verifies(restarted, ec_key)


# --- TTL from Cache-Control --------------------------------------------------------


@pytest.mark.parametrize(
    ("cache_control", "options", "ttl"),
    [
        pytest.param("public, max-age=120", {}, 120, id="max-age"),
        pytest.param('max-age="300"', {}, 300, id="max-age-quoted"),
        pytest.param("max-age=5", {}, 60, id="below-min-ttl"),
        pytest.param("max-age=999999", {}, 3600, id="above-max-ttl"),
        pytest.param("no-store", {}, 60, id="no-store-means-min-ttl"),
        pytest.param("no-cache, max-age=600", {}, 60, id="no-cache-wins"),
        pytest.param("", {}, 600, id="absent-means-default"),
        pytest.param("s-maxage=30, private", {}, 600, id="other-directives-only"),
        pytest.param("max-age=120", {"ttl": 900}, 900, id="configured-ttl-wins"),
        pytest.param("max-age=100000", {"max_ttl": 7200}, 7200, id="configured-max"),
        pytest.param("max-age=10", {"min_ttl": 5}, 10, id="configured-min"),
    ],
)
def test_the_ttl_follows_cache_control_within_bounds(
    jwks_servers: JWKSServers, ec_key: SigningKey, cache_control: str, options: dict[str, Any], ttl: int
) -> None:
    headers = {"Cache-Control": cache_control} if cache_control else {}
    origin = jwks_servers(answer(200, jwks_bytes(ec_key), headers))
    clock = FakeClock(1_000_000.0)
    # Refreshing only when due (no refresh ahead) puts the TTL where a test sees it.
    policy = RefreshPolicy(refresh_ahead=1, **options)
    client = JWKSClient(origin.url, algorithms=ALGORITHMS, clock=clock, policy=policy)
    assert_verifies(client, ec_key)
    assert client.status().ttl == ttl

    clock.advance(ttl - 1)
    assert_verifies(client, ec_key)
    assert origin.fetches == 1
    clock.advance(1)
    assert_verifies(client, ec_key)
    assert origin.fetches == 2


def test_issuer_ttl_settings_reach_the_client(jwks_servers: JWKSServers, ec_key: SigningKey) -> None:
    origin = jwks_servers(answer(200, jwks_bytes(ec_key), {"Cache-Control": "max-age=50000"}))
    issuer = Issuer(ISSUER, jwks_uri=origin.url, jwks_refresh={"min_ttl": 10, "max_ttl": 20})
    client = issuer.key_source()
    assert isinstance(client, JWKSClient)
    assert client.policy is issuer.jwks_refresh
    assert (client.policy.ttl, client.policy.min_ttl, client.policy.max_ttl) == (None, 10, 20)
    assert_verifies(client, ec_key)
    assert client.status().ttl == 20


# --- redirects: same origin only --------------------------------------------------


def test_a_redirect_on_the_same_host_is_followed(jwks_servers: JWKSServers, ec_key: SigningKey) -> None:
    document = jwks_bytes(ec_key)

    def respond(handler: BaseHTTPRequestHandler) -> None:
        if handler.path == "/.well-known/jwks.json":
            answer(301, b"", {"Location": "/keys/v2"})(handler)
        else:
            answer(200, document)(handler)

    origin = jwks_servers(respond)
    assert_verifies(JWKSClient(origin.url, algorithms=ALGORITHMS), ec_key)
    assert origin.fetches == 2


def test_a_redirect_loop_on_the_same_host_ends(jwks_servers: JWKSServers) -> None:
    origin = jwks_servers(answer(302, b"", {"Location": "/.well-known/jwks.json"}))
    with pytest.raises(KeysUnavailable):
        JWKSClient(origin.url, algorithms=ALGORITHMS).find("ec-1", "ES256")
    assert origin.fetches == 4  # the first request and three redirects


# --- a private CA ---------------------------------------------------------------------


def test_a_configured_ca_bundle_is_used_even_against_the_environment(
    jwks_servers: JWKSServers, ec_key: SigningKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    context, cert_path = tls_server(tmp_path)
    origin = jwks_servers(answer(200, jwks_bytes(ec_key)), tls=context)
    other_ca = tmp_path / "other"
    other_ca.mkdir()
    _, unrelated = tls_server(other_ca)
    # An environment pointing elsewhere must not override the issuer's own setting.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(unrelated))

    issuer = Issuer(ISSUER, jwks_uri=origin.url, ca_bundle=str(cert_path))
    source = issuer.key_source()
    assert isinstance(source, JWKSClient)
    assert_verifies(source, ec_key)

    wrong = Issuer(ISSUER, jwks_uri=origin.url, ca_bundle=str(unrelated)).key_source()
    with pytest.raises(KeysUnavailable):
        wrong.find("ec-1", "ES256")


# --- metrics -----------------------------------------------------------------------------


def test_fetches_are_counted(jwks_server: JWKSServer, ec_key: SigningKey) -> None:
    jwks_server.publish(ec_key)
    guard = build_guard(
        issuers=[issuer_of(jwks_uri=jwks_server.url, jwks_refresh=RefreshPolicy(cooldown=0))]
    )
    client = Client(guard, use_cookies=False)
    assert client.get("/api/catalog", headers=bearer(ec_key.token())).status_code == 200
    jwks_server.status = 500
    client.get("/api/catalog", headers=bearer(ec_key.token(header={"kid": "unknown"})))
    counts = guard.metrics.snapshot()
    assert counts["keys.fetch.ok"] == 1
    assert counts["keys.fetch.failed"] == 1


# --- keys through rotation, outages and restarts (issue 11) -----------------------
#
# Each numbered finding of issue 11 has a deterministic reproduction here; the
# soak (tests/scenarios/test_soak.py) shows the same on gunicorn + Redis.


def client_for(url: str, **options: Any) -> JWKSClient:
    """A client of ``url``; ``options`` are ``cache``/``clock`` or RefreshPolicy fields."""
    plumbing = {key: options.pop(key) for key in ("cache", "clock") if key in options}
    return JWKSClient(url, algorithms=ALGORITHMS, policy=RefreshPolicy(**options), **plumbing)


class Held:
    """A responder that holds the n-th request until released, then answers it."""

    def __init__(self, jwks_servers: JWKSServers, hold: int, then: Callable[[], Responder]) -> None:
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.hold = hold
        self.then = then
        self.origin = jwks_servers(self)

    def __call__(self, handler: BaseHTTPRequestHandler) -> None:
        if self.origin.fetches == self.hold:
            self.arrived.set()
            self.release.wait(30)
        self.then()(handler)


def in_thread(work: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    """Run ``work`` in a thread; the dict gets its ``result`` or ``error`` (class name)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = work()
        except Exception as exc:
            outcome["error"] = type(exc).__name__

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def test_1_a_miss_during_the_refetch_for_its_kid_waits_for_it(
    jwks_servers: JWKSServers, ec_key: SigningKey
) -> None:
    # Finding 1: requests with the new kid that arrive while the refetch for it
    # is in flight were told "unknown kid" at once (the cooldown was checked
    # outside the lock and stamped before the fetch).
    rotated = SigningKey.ec(kid="ec-2")
    documents = [jwks_bytes(ec_key)]
    server = Held(jwks_servers, hold=2, then=lambda: answer(200, documents[-1]))
    client = client_for(server.origin.url)
    assert_verifies(client, ec_key)
    documents.append(jwks_bytes(ec_key, rotated))  # the issuer rotates

    first, first_outcome = in_thread(lambda: assert_verifies(client, rotated))
    assert server.arrived.wait(10)  # the refetch for ec-2 is in flight
    second, second_outcome = in_thread(lambda: assert_verifies(client, rotated))
    second.join(0.3)  # give it time to be refused, as it was
    server.release.set()
    first.join(10)
    second.join(10)

    assert first_outcome == {"result": None}
    assert second_outcome == {"result": None}
    assert server.origin.fetches == 2  # the second waited for the same fetch


def test_2_a_shared_copy_without_the_kid_does_not_settle_the_refetch(
    jwks_server: JWKSServer, ec_key: SigningKey, clock: FakeClock
) -> None:
    # Finding 2: a refetch for an unknown kid counted as done once the worker
    # adopted any newer copy from the shared cache -- here a second fetch of
    # the same document made a second after its own (two fetches at first
    # load) -- so the new key was refused for the whole cooldown although the
    # issuer published it.
    shared = SimpleCache()
    worker = warmed(jwks_server, ec_key, clock, cache=shared)
    clock.advance(1)
    peer_cache = SimpleCache()
    peer = client_for(jwks_server.url, cache=peer_cache, clock=clock)
    assert_verifies(peer, ec_key)
    shared.set(worker.cache_key, peer_cache.get(peer.cache_key))  # the peer's copy, stored later

    rotated = SigningKey.ec(kid="ec-2")
    jwks_server.publish(ec_key, rotated)
    clock.advance(60)
    assert_verifies(worker, rotated)
    assert jwks_server.fetches == 3


class PeerFetchesFirst(SimpleCache):
    """A shared cache in which a peer completes its fetch right after this worker looked."""

    def __init__(self) -> None:
        super().__init__()
        self.peer: Callable[[], None] | None = None

    def get(self, key: str) -> Any:
        value = super().get(key)
        if value is None and self.peer is not None and not key.endswith(":fetch"):
            peer, self.peer = self.peer, None
            peer()
        return value


def test_2_a_worker_that_wins_the_claim_looks_at_the_cache_again(
    jwks_server: JWKSServer, ec_key: SigningKey
) -> None:
    # Finding 2, its seed: two fetches at first load. The worker read the cache
    # (empty), a peer fetched, stored and released its claim, then the worker
    # won the claim and fetched again instead of using the peer's copy.
    jwks_server.publish(ec_key)
    shared = PeerFetchesFirst()
    peer = client_for(jwks_server.url, cache=shared)
    shared.peer = lambda: assert_verifies(peer, ec_key)
    worker = client_for(jwks_server.url, cache=shared)

    assert_verifies(worker, ec_key)

    assert jwks_server.fetches == 1  # one fetch for the fleet


def test_3_a_failed_refetch_leaves_no_claim_that_blocks_the_next(
    jwks_server: JWKSServer, ec_key: SigningKey, clock: FakeClock
) -> None:
    # Finding 3: after a refetch failed, its fleet-wide claim stayed for the
    # cooldown; other workers then skipped their own refetch and refused the
    # new kid although the issuer was back.
    shared = SimpleCache()
    first = warmed(jwks_server, ec_key, clock, cache=shared)
    second = warmed(jwks_server, ec_key, clock, cache=shared)

    rotated = SigningKey.ec(kid="ec-2")
    jwks_server.publish(ec_key, rotated)
    jwks_server.status = 503  # the rotation happens during an outage
    clock.advance(60)
    with pytest.raises(KeysUnavailable):
        first.find("ec-2", "ES256")
    jwks_server.status = 200  # the issuer is back a moment later
    clock.advance(0.2)

    assert_verifies(second, rotated)
    assert jwks_server.fetches == 3
    clock.advance(1)  # the first worker's retry delay
    assert_verifies(first, rotated)  # from the shared cache: no fetch
    assert jwks_server.fetches == 3


def test_3_a_worker_waiting_for_a_peer_stops_when_the_peer_fails(
    jwks_servers: JWKSServers, ec_key: SigningKey
) -> None:
    # Finding 3: a request whose kid was unknown waited the full claim wait
    # for another worker's fetch that had already failed, and then gave up.
    rotated = SigningKey.ec(kid="ec-2")

    def then() -> Responder:
        fetches = server.origin.fetches
        if fetches == 1:
            return answer(200, jwks_bytes(ec_key))
        if fetches == 2:  # the first worker's refetch for ec-2: held, then failed
            return answer(500, b"{}")
        return answer(200, jwks_bytes(ec_key, rotated))

    server = Held(jwks_servers, hold=2, then=then)
    shared = SimpleCache()
    first = client_for(server.origin.url, cache=shared)
    second = client_for(server.origin.url, cache=shared)
    assert_verifies(first, ec_key)
    assert_verifies(second, ec_key)  # the first's copy: no fetch

    failing, failing_outcome = in_thread(lambda: first.find("ec-2", "ES256"))
    assert server.arrived.wait(10)  # the first worker's refetch is in flight
    waiting, waiting_outcome = in_thread(lambda: assert_verifies(second, rotated))
    waiting.join(0.3)
    server.release.set()  # ... and fails
    failing.join(10)
    waiting.join(10)

    assert failing_outcome == {"error": "KeysUnavailable"}
    assert waiting_outcome == {"result": None}  # it fetched once the claim was free
    assert server.origin.fetches == 3


@pytest.mark.parametrize(
    "down",
    [
        pytest.param(lambda server: setattr(server, "status", 503), id="status-503"),
        pytest.param(lambda server: setattr(server, "document", {"keys": []}), id="no-keys"),
    ],
)
def test_4_an_unknown_kid_while_keys_cannot_be_refreshed_is_503_not_401(
    jwks_server: JWKSServer, ec_key: SigningKey, clock: FakeClock, down: Callable[[JWKSServer], None]
) -> None:
    # Finding 4: during an outage, valid tokens whose kid was published while
    # the endpoint was down got 401 invalid_token, and clients threw them away.
    client = warmed(jwks_server, ec_key, clock)
    rotated = SigningKey.ec(kid="ec-2")
    down(jwks_server)
    clock.advance(60)

    with pytest.raises(KeysUnavailable) as caught:
        client.find("ec-2", "ES256")
    assert caught.value.retry_after >= 1
    assert_verifies(client, ec_key)  # known kids keep working
    clock.advance(0.5)
    with pytest.raises(KeysUnavailable):
        client.find("ec-2", "ES256")  # still "cannot check", and the issuer is spared
    assert jwks_server.fetches == 2

    jwks_server.status = 200
    jwks_server.publish(ec_key, rotated)
    clock.advance(0.5)
    assert_verifies(client, rotated)
    with pytest.raises(UnknownKey):
        client.find("ec-9", "ES256")  # the issuer answered: an unknown kid is a 401 again


def test_4_the_guard_answers_503_with_retry_after(
    jwks_server: JWKSServer, ec_key: SigningKey
) -> None:
    jwks_server.publish(ec_key)
    client = guard_for(jwks_server.url)
    assert client.get("/api/catalog", headers=bearer(ec_key.token())).status_code == 200
    jwks_server.status = 503
    rotated = SigningKey.ec(kid="ec-2")

    assert_unavailable(client.get("/api/catalog", headers=bearer(rotated.token())))
    assert client.get("/api/catalog", headers=bearer(ec_key.token())).status_code == 200


# --- keys warm before they are needed ------------------------------------------------


def test_keys_are_refreshed_ahead_of_the_ttl_without_making_a_request_wait(
    jwks_servers: JWKSServers, ec_key: SigningKey
) -> None:
    rotated = SigningKey.ec(kid="ec-2")
    documents = [jwks_bytes(ec_key)]
    server = Held(jwks_servers, hold=2, then=lambda: answer(200, documents[-1]))
    clock = FakeClock(1_000_000.0)
    client = client_for(server.origin.url, clock=clock, ttl=100, refresh_ahead=0.8)
    assert_verifies(client, ec_key)
    documents.append(jwks_bytes(ec_key, rotated))

    clock.advance(80)
    assert_verifies(client, ec_key)  # answered from the keys in hand ...
    assert server.arrived.wait(10)  # ... while the refresh it started is held
    assert client.status().refreshing
    server.release.set()
    assert client.refresh()  # joins the refresh running in the background
    assert server.origin.fetches == 2
    status = client.status()
    assert (status.fetched_at, status.kids) == (clock.now, ("ec-1", "ec-2"))


def test_prefetch_fetches_before_the_first_request(
    jwks_server: JWKSServer, ec_key: SigningKey
) -> None:
    jwks_server.publish(ec_key)
    issuer = Issuer(ISSUER, jwks_uri=jwks_server.url, jwks_refresh={"prefetch": True})
    source = issuer.key_source()
    assert isinstance(source, JWKSClient)
    try:
        assert source.refresh(timeout=10)  # joins the prefetch (or does it, if first)
        assert jwks_server.fetches == 1
        assert_verifies(source, ec_key)
        assert jwks_server.fetches == 1
    finally:
        source.close()


def test_prefetch_retries_until_the_issuer_answers(
    jwks_server: JWKSServer, ec_key: SigningKey
) -> None:
    # A cold start during an outage: the background thread keeps trying, so the
    # keys are there within a retry delay of the issuer's return, request or not.
    jwks_server.publish(ec_key)
    jwks_server.status = 503
    client = client_for(jwks_server.url, prefetch=True, retry_min=0.1, retry_max=0.2)
    try:
        deadline = time.monotonic() + 20
        while jwks_server.fetches < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not client.status().usable
        jwks_server.status = 200
        while not client.status().usable and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.status().usable
        assert client.status().last_error is None
    finally:
        client.close()


def test_a_flood_of_random_kids_looks_at_the_shared_cache_at_most_once_a_second(
    jwks_server: JWKSServer, ec_key: SigningKey, clock: FakeClock
) -> None:
    class Counting(SimpleCache):
        reads = 0

        def get(self, key: str) -> Any:
            Counting.reads += 1
            return super().get(key)

    client = warmed(jwks_server, ec_key, clock, cache=Counting())
    with pytest.raises(UnknownKey):
        client.find(random_kid(), "ES256")  # the refetch for unknown kids
    before = Counting.reads

    for _ in range(500):
        with pytest.raises(UnknownKey):
            client.find(random_kid(), "ES256")
        clock.advance(0.01)  # 5 s in all

    assert Counting.reads - before <= 6
    assert jwks_server.fetches == 2


def test_a_fork_waits_for_the_refresh_in_flight_and_the_child_starts_afresh(
    jwks_servers: JWKSServers, ec_key: SigningKey
) -> None:
    # gunicorn --preload forks workers while the master prefetches: a refresh
    # running at the fork would leave its locks (connection pools, imports)
    # held forever in the child. The fork hooks, called here as os.fork would.
    from wsgi_jwt_guard import forks

    server = Held(jwks_servers, hold=1, then=lambda: answer(200, jwks_bytes(ec_key)))
    client = client_for(server.origin.url)
    refreshing, refreshed = in_thread(client.refresh)
    assert server.arrived.wait(10)

    forking, _ = in_thread(forks.before_fork)
    forking.join(0.3)
    assert forking.is_alive()  # waiting for the refresh to end
    server.release.set()
    forking.join(10)
    refreshing.join(10)
    assert refreshed == {"result": True}
    assert not client._lock.acquire(blocking=False)  # no refresh starts during the fork
    forks.after_fork_in_parent()  # the parent carries on
    assert client._lock.acquire(blocking=False)
    client._lock.release()

    client._lock.acquire()  # the child's copy: held, as the parent held it at the fork
    session = client.downloader.session
    client.restart_after_fork()
    assert client._lock.acquire(blocking=False)  # a lock of its own
    client._lock.release()
    assert client.downloader.session is not session  # no socket of the parent's
    assert_verifies(client, ec_key)  # the keys came along
