"""Token introspection (RFC 7662), through the guard: ``wsgi_jwt_guard.introspection``.

The introspection endpoint here is a stub WSGI app on a real 127.0.0.1 server
(Werkzeug's), so every request the guard makes is a real HTTP POST that the
stub records: its form, its credentials, how many. Edge cases -- timeouts,
5xx, bad JSON, oversize answers, caching and its limits, a shared Redis cache
between two guards -- are driven from here; ``tests/oidc_provider_tests/``
runs the same feature against a real authorization server.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import pytest
from cachelib import SimpleCache
from werkzeug.test import Client, TestResponse

from tests.helpers import (
    AUDIENCE,
    ISSUER,
    FakeClock,
    SigningKey,
    bearer,
    build_guard,
    echo_app,
    issuer_of,
    run_together,
    user_claims,
)
from tests.servers import Server, redis_server, werkzeug_server
from wsgi_jwt_guard import (
    ConfigError,
    IntrospectionSettings,
    Issuer,
    JWTGuard,
    Rule,
    SharedCache,
    from_config,
)
from wsgi_jwt_guard.caches import build_cache
from wsgi_jwt_guard.health import KeysHealth
from wsgi_jwt_guard.introspection import is_jws_shaped

CLIENT_ID = "orders-api"
CLIENT_SECRET = "introspection-secret-" + "x" * 24
OPAQUE = "2YotnFZFEjr1zCsicMWpAA-opaque-access-token"
CACHE_SECRET = "cache-secret-" + "c" * 32


def _answer(**overrides: Any) -> dict[str, Any]:
    """An active answer as an authorization server gives it, for ``OPAQUE``."""
    now = int(time.time())
    answer: dict[str, Any] = {
        "active": True,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user:default/alice",
        "client_id": "web-app",
        "scope": "catalog.read catalog.write",
        "token_type": "Bearer",
        "iat": now - 10,
        "exp": now + 600,
    }
    answer.update(overrides)
    return {key: value for key, value in answer.items() if value is not None}


@dataclass
class Endpoint:
    """A stub introspection endpoint: answers by token, records every request."""

    answers: dict[str, Any] = field(default_factory=dict)
    status: int = 200
    #: A raw body instead of the token's answer (bad JSON, oversize).
    body: bytes | None = None
    delay: float = 0.0
    redirect: str | None = None
    #: Served to GETs (an OIDC discovery document), if set.
    discovery: dict[str, Any] | None = None
    #: Called as the endpoint answers a POST (a fake clock moving on meanwhile).
    answering: Callable[[], None] | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def calls(self) -> int:
        with self.lock:
            return len(self.requests)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        form = {k: v[0] for k, v in parse_qs(environ["wsgi.input"].read(length).decode()).items()}
        with self.lock:
            self.requests.append({
                "method": environ["REQUEST_METHOD"],
                "path": environ["PATH_INFO"],
                "content_type": environ.get("CONTENT_TYPE"),
                "authorization": environ.get("HTTP_AUTHORIZATION"),
                "accept": environ.get("HTTP_ACCEPT"),
                "form": form,
            })  # fmt: skip
        if environ["REQUEST_METHOD"] == "GET":
            start_response("200 OK", [("Content-Type", "application/json")])
            return [json.dumps(self.discovery).encode()]
        if self.delay:
            time.sleep(self.delay)
        if self.answering is not None:
            self.answering()
        if self.redirect is not None:
            start_response("307 Temporary Redirect", [("Location", self.redirect)])
            return []
        body = self.body
        if body is None:
            body = json.dumps(self.answers.get(form.get("token", ""), {"active": False})).encode()
        start_response(f"{self.status} X", [("Content-Type", "application/json")])
        return [body]


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    stub = Endpoint()
    with werkzeug_server(stub) as port:
        stub.url = f"http://127.0.0.1:{port}/oauth2/introspect"
        yield stub


def settings(stub: Endpoint | None = None, **overrides: Any) -> dict[str, Any]:
    """``introspection`` settings: the test client, ``stub``'s URL, ``overrides``."""
    options: dict[str, Any] = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    if stub is not None:
        options["endpoint"] = stub.url
    options.update(overrides)
    return options


def introspecting_guard(
    endpoint: Endpoint,
    ec_key: SigningKey,
    *,
    introspect: str = "opaque",
    issuer_options: dict[str, Any] | None = None,
    **options: Any,
) -> JWTGuard:
    """The echo app behind a guard whose issuer (static ``ec_key``) introspects at ``endpoint``."""
    issuer = issuer_of(
        [ec_key],
        introspect=introspect,
        introspection=settings(endpoint, **options.pop("introspection", {})),
        **(issuer_options or {}),
    )
    return build_guard(issuers=[issuer], **options)


def get(guard: JWTGuard, token: str, path: str = "/api/catalog") -> TestResponse:
    return Client(guard, use_cookies=False).get(path, headers=bearer(token))


# -- the shape rule ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "jws"),
    [
        pytest.param("a.b.c", True, id="three-segments"),
        pytest.param("eyJh.eyJz.", True, id="empty-signature"),
        pytest.param("YQ==.Yg==.Yw==", True, id="padded-alb"),
        pytest.param(OPAQUE, False, id="opaque"),
        pytest.param("a.b", False, id="two-segments"),
        pytest.param("a.b.c.d.e", False, id="jwe"),
    ],
)
def test_what_counts_as_a_jwt(token: str, jws: bool) -> None:
    assert is_jws_shaped(token) is jws


# -- accepted ------------------------------------------------------------------------


def test_opaque_token_accepted_from_the_answer(endpoint: Endpoint, ec_key: SigningKey) -> None:
    endpoint.answers[OPAQUE] = answer = _answer()
    guard = introspecting_guard(endpoint, ec_key)
    seen: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen["identity"] = environ["wsgi_jwt_guard.identity"]
        return echo_app(environ, start_response)

    guard.app = app
    response = get(guard, OPAQUE)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["remote_user"] == "user:default/alice"
    identity = seen["identity"]
    assert identity.kind == "user"
    assert identity.issuer == ISSUER
    assert identity.subject == "user:default/alice"
    assert identity.scopes == frozenset({"catalog.read", "catalog.write"})
    assert dict(identity.claims) == answer
    assert identity.expires_at == answer["exp"]
    assert identity.token == OPAQUE
    # RFC 7662 §2.1: a form POST, client_secret_basic, the token and its hint.
    (request,) = endpoint.requests
    assert request["method"] == "POST"
    assert request["path"] == "/oauth2/introspect"
    assert request["content_type"] == "application/x-www-form-urlencoded"
    assert request["accept"] == "application/json"
    assert request["form"] == {"token": OPAQUE, "token_type_hint": "access_token"}
    credentials = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert request["authorization"] == f"Basic {credentials}"


def test_client_credentials_token_subject_is_the_client(
    endpoint: Endpoint, ec_key: SigningKey
) -> None:
    endpoint.answers[OPAQUE] = _answer(sub=None, client_id="billing-service")
    response = get(introspecting_guard(endpoint, ec_key), OPAQUE)
    assert response.status_code == 200
    assert response.json["remote_user"] == "billing-service"


def test_remote_user_claim_applies(endpoint: Endpoint, ec_key: SigningKey) -> None:
    endpoint.answers[OPAQUE] = _answer(username="alice")
    guard = introspecting_guard(endpoint, ec_key, remote_user_claim="username")
    assert get(guard, OPAQUE).json["remote_user"] == "alice"


def test_scopes_from_the_answer_meet_a_rule(endpoint: Endpoint, ec_key: SigningKey) -> None:
    endpoint.answers[OPAQUE] = _answer(scope="catalog.read")
    routes = {"/api/read": Rule(scopes=["catalog.read"]), "/api/write": Rule(scopes=["catalog.write"])}
    guard = introspecting_guard(endpoint, ec_key, routes=routes)
    assert get(guard, OPAQUE, "/api/read").status_code == 200
    assert get(guard, OPAQUE, "/api/write").status_code == 403


# -- refused: the answer says no, or says something the issuer's rules refuse ---------


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        pytest.param({"active": False}, "not active", id="inactive"),
        pytest.param(_answer(iss="https://evil.example.test"), "another issuer", id="other-iss"),
        pytest.param(_answer(aud="someone-else"), "not meant for this audience", id="other-aud"),
        pytest.param(_answer(aud=None), "'aud' claim is missing", id="no-aud"),
        pytest.param(_answer(exp=int(time.time()) - 5), "expired", id="expired"),
        pytest.param(_answer(nbf=int(time.time()) + 600), "not valid yet", id="nbf-future"),
        pytest.param(_answer(exp="soon"), "not a number", id="exp-string"),
        pytest.param(_answer(token_type="N_A"), "neither a bearer nor a DPoP", id="other-type"),
        pytest.param(_answer(token_type="DPoP"), "bound to no key", id="dpop-without-jkt"),
        # A bound token sent as Bearer: the binding step refuses it, as a JWT's.
        pytest.param(_answer(cnf={"jkt": "abc"}), "bound to a DPoP key", id="cnf-jkt-as-bearer"),
        pytest.param(
            _answer(token_type="DPoP", cnf={"jkt": "abc"}), "bound to a DPoP key", id="dpop-as-bearer"
        ),
        pytest.param(_answer(cnf={"x5t#S256": "abc"}), "certificate", id="cnf-x5t-unread"),
        pytest.param(_answer(sub=None, client_id=None), "'client_id' claim", id="no-subject"),
        pytest.param(_answer(sub="a\nb"), "'sub' claim", id="sub-control-char"),
    ],
)
def test_refused_answers(
    endpoint: Endpoint, ec_key: SigningKey, answer: dict[str, Any], reason: str
) -> None:
    endpoint.answers[OPAQUE] = answer
    ran: list[bool] = []
    guard = introspecting_guard(endpoint, ec_key)
    guard.app = lambda environ, start_response: ran.append(True) or []  # type: ignore[assignment,func-returns-value]
    response = get(guard, OPAQUE)
    assert response.status_code == 401
    assert reason in response.json["error"]["message"]
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert OPAQUE not in response.get_data(as_text=True)
    assert not ran


def test_required_claims_apply_to_the_answer(endpoint: Endpoint, ec_key: SigningKey) -> None:
    endpoint.answers[OPAQUE] = _answer(client_id="web-app")
    only_billing = {"required_claims": {"client_id": "billing-service"}}
    guard = introspecting_guard(endpoint, ec_key, issuer_options=only_billing)
    response = get(guard, OPAQUE)
    assert response.status_code == 401
    assert "'client_id' claim is not as required" in response.json["error"]["message"]


# -- the endpoint fails: 503 with Retry-After, never 401 or 500 ------------------------


def _oversize(stub: Endpoint) -> None:
    stub.body = json.dumps({"active": True, "pad": "x" * 70_000}).encode()


@pytest.mark.parametrize(
    "breakage",
    [
        pytest.param(lambda e: setattr(e, "status", 500), id="http-500"),
        pytest.param(lambda e: setattr(e, "status", 503), id="http-503"),
        pytest.param(lambda e: setattr(e, "status", 401), id="http-401-bad-client-credentials"),
        pytest.param(lambda e: setattr(e, "body", b"<html>oops</html>"), id="not-json"),
        pytest.param(lambda e: setattr(e, "body", b"[true]"), id="json-list"),
        pytest.param(lambda e: setattr(e, "body", b'{"active": "true"}'), id="active-not-boolean"),
        pytest.param(lambda e: setattr(e, "body", b'{"sub": "x"}'), id="no-active"),
        pytest.param(_oversize, id="oversize"),
        pytest.param(lambda e: setattr(e, "delay", 1.0), id="timeout"),
    ],
)
def test_endpoint_failures_are_503(
    endpoint: Endpoint,
    ec_key: SigningKey,
    breakage: Callable[[Endpoint], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    breakage(endpoint)
    guard = introspecting_guard(endpoint, ec_key, introspection={"timeout": 0.3})
    with caplog.at_level(logging.DEBUG, logger="wsgi_jwt_guard"):
        response = get(guard, OPAQUE)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json["error"]["name"] == "ServiceUnavailableError"
    assert "token introspection at" in caplog.text
    assert OPAQUE not in caplog.text
    assert CLIENT_SECRET not in caplog.text
    assert guard.metrics.snapshot()["introspection.failed"] == 1
    assert guard.metrics.snapshot()["requests.refused.introspection_unavailable"] == 1


def test_unreachable_endpoint_is_503(ec_key: SigningKey) -> None:
    closed = Endpoint(url="http://127.0.0.1:9/introspect")  # discard port: nothing listens
    response = get(introspecting_guard(closed, ec_key, introspection={"timeout": 0.5}), OPAQUE)
    assert response.status_code == 503
    assert "Retry-After" in response.headers


def test_no_redirect_is_followed_with_a_token(endpoint: Endpoint, ec_key: SigningKey) -> None:
    elsewhere = Endpoint()
    with werkzeug_server(elsewhere) as port:
        endpoint.redirect = f"http://127.0.0.1:{port}/introspect"
        response = get(introspecting_guard(endpoint, ec_key), OPAQUE)
    assert response.status_code == 503
    assert elsewhere.calls == 0


def test_failures_are_not_cached(endpoint: Endpoint, ec_key: SigningKey) -> None:
    endpoint.status = 500
    clock = FakeClock()
    guard = introspecting_guard(endpoint, ec_key, clock=clock)
    assert get(guard, OPAQUE).status_code == 503
    endpoint.status = 200
    endpoint.answers[OPAQUE] = _answer()
    clock.advance(5)  # the Retry-After the client was told
    assert get(guard, OPAQUE).status_code == 200
    assert endpoint.calls == 2


def test_after_a_failure_the_endpoint_is_left_alone_for_retry_after(
    endpoint: Endpoint, ec_key: SigningKey
) -> None:
    """A down endpoint is asked once per Retry-After per process, not once per new
    token: the requests meanwhile get their 503 at once instead of each holding a
    worker for the timeout. Answers already cached keep working."""
    clock = FakeClock()
    endpoint.answers[OPAQUE] = _answer()
    guard = introspecting_guard(endpoint, ec_key, clock=clock)
    assert get(guard, OPAQUE).status_code == 200
    endpoint.status = 500
    failed = get(guard, "new-token-1")
    assert (failed.status_code, failed.headers["Retry-After"]) == (503, "5")
    assert endpoint.calls == 2
    for index in range(2, 6):
        assert get(guard, f"new-token-{index}").status_code == 503
    assert endpoint.calls == 2  # not asked meanwhile
    assert get(guard, OPAQUE).status_code == 200  # cached
    endpoint.status = 200
    endpoint.answers["new-token-1"] = _answer(sub="user:default/bob")
    clock.advance(5)
    assert get(guard, "new-token-1").json["remote_user"] == "user:default/bob"
    assert endpoint.calls == 3
    assert guard.metrics.snapshot().get("introspection.skipped") == 4


def test_a_hung_endpoint_holds_one_request_not_every_one(
    endpoint: Endpoint, ec_key: SigningKey
) -> None:
    endpoint.delay = 2.0
    guard = introspecting_guard(endpoint, ec_key, introspection={"timeout": 0.5})
    started = time.monotonic()
    assert get(guard, "new-token-0").status_code == 503
    waited = time.monotonic() - started
    started = time.monotonic()
    statuses = [get(guard, f"new-token-{index}").status_code for index in range(1, 11)]
    assert statuses == [503] * 10
    assert waited >= 0.5
    assert time.monotonic() - started < waited  # ten refusals in less than one timeout
    assert endpoint.calls == 1


@pytest.mark.parametrize(
    ("status", "expected"),
    [pytest.param(200, 200, id="answered"), pytest.param(500, 503, id="failed")],
)
def test_concurrent_requests_with_one_new_token_ask_once(
    endpoint: Endpoint, ec_key: SigningKey, status: int, expected: int
) -> None:
    """A client firing a burst with a token the guard has not seen (a page's API
    calls) costs the endpoint one request per process, as a new JWKS kid costs one
    fetch; a failure is every waiter's 503, and the next request asks again."""
    endpoint.answers[OPAQUE] = _answer()
    endpoint.status = status
    endpoint.delay = 0.3
    clock = FakeClock()
    guard = introspecting_guard(endpoint, ec_key, clock=clock)
    statuses: list[int] = []
    run_together(lambda _: statuses.append(get(guard, OPAQUE).status_code), 8)
    assert statuses == [expected] * 8
    assert endpoint.calls == 1
    endpoint.status, endpoint.delay = 200, 0.0
    clock.advance(5)
    assert get(guard, OPAQUE).status_code == 200
    assert endpoint.calls == (1 if status == 200 else 2)


def test_concurrent_requests_with_different_tokens_each_ask(
    endpoint: Endpoint, ec_key: SigningKey
) -> None:
    tokens = [f"{OPAQUE}-{index}" for index in range(4)]
    for index, token in enumerate(tokens):
        endpoint.answers[token] = _answer(sub=f"user:default/u{index}")
    endpoint.delay = 0.2
    guard = introspecting_guard(endpoint, ec_key)
    users: dict[int, str] = {}

    def ask(index: int) -> None:
        users[index] = get(guard, tokens[index]).json["remote_user"]

    run_together(ask, 4)
    assert users == {index: f"user:default/u{index}" for index in range(4)}
    assert endpoint.calls == 4


# -- which tokens go where ------------------------------------------------------------


@pytest.mark.parametrize("introspect", ["opaque", "always"])
def test_an_introspecting_issuer_needs_no_keys(
    endpoint: Endpoint, ec_key: SigningKey, introspect: str
) -> None:
    """An authorization server that hands out only opaque tokens (or whose every
    token is to be introspected) has no keys to configure, and no JWKS whose
    outage would make the guard unready for tokens it never verifies."""
    endpoint.answers[OPAQUE] = _answer()
    jwt = ec_key.token(user_claims())
    endpoint.answers[jwt] = _answer(sub="user:default/from-the-endpoint")
    issuer = Issuer(
        ISSUER, audience=AUDIENCE, introspect=introspect, introspection=settings(endpoint)
    )
    guard = build_guard(issuers=[issuer])
    assert get(guard, OPAQUE).json["remote_user"] == "user:default/alice"
    jwt_answer = get(guard, jwt)
    if introspect == "always":
        assert jwt_answer.json["remote_user"] == "user:default/from-the-endpoint"
    else:  # signed by a key this issuer does not have
        assert jwt_answer.status_code == 401
    assert Client(KeysHealth(guard)).get("/").status_code == 200
    with pytest.raises(ConfigError, match=r"no keys: .* \(or introspect its tokens\)"):
        Issuer(ISSUER, audience=AUDIENCE)


def test_jwts_are_verified_not_introspected(endpoint: Endpoint, ec_key: SigningKey) -> None:
    guard = introspecting_guard(endpoint, ec_key)
    assert get(guard, ec_key.token(user_claims())).status_code == 200
    forged = SigningKey.ec(kid="ec-1").token(user_claims())
    assert get(guard, forged).status_code == 401
    assert endpoint.calls == 0


def test_always_sends_the_issuers_jwts_too(endpoint: Endpoint, ec_key: SigningKey) -> None:
    token = ec_key.token(user_claims())
    endpoint.answers[token] = _answer(sub="user:default/from-introspection")
    guard = introspecting_guard(endpoint, ec_key, introspect="always")
    response = get(guard, token)
    assert response.status_code == 200
    assert response.json["remote_user"] == "user:default/from-introspection"
    # Another issuer's JWT is not this issuer's to see.
    other = ec_key.token(user_claims(iss="https://other.example.test"))
    assert get(guard, other).status_code == 401
    assert endpoint.calls == 1


def test_without_an_introspecting_issuer_opaque_tokens_get_401_and_no_request(
    endpoint: Endpoint, ec_key: SigningKey
) -> None:
    endpoint.answers[OPAQUE] = _answer()
    guard = build_guard(issuers=[issuer_of([ec_key])])
    response = get(guard, OPAQUE)
    assert response.status_code == 401
    assert endpoint.calls == 0


def test_endpoint_from_discovery(endpoint: Endpoint) -> None:
    base = endpoint.url.rsplit("/oauth2/", 1)[0]
    endpoint.discovery = {
        "issuer": base,
        "jwks_uri": f"{base}/jwks",
        "introspection_endpoint": endpoint.url,
    }
    endpoint.answers[OPAQUE] = _answer(iss=base, aud=None)
    issuer = Issuer(base, discovery=True, introspect="opaque", introspection=settings())
    response = get(build_guard(issuers=[issuer]), OPAQUE)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert [r["method"] for r in endpoint.requests] == ["GET", "POST"]


@pytest.mark.parametrize(
    "introspection_endpoint",
    [
        pytest.param("https://collector.example.test/introspect", id="another-host"),
        pytest.param(None, id="none-named"),
    ],
)
def test_discovered_endpoint_must_be_the_issuers(
    endpoint: Endpoint, introspection_endpoint: str | None
) -> None:
    base = endpoint.url.rsplit("/oauth2/", 1)[0]
    endpoint.discovery = {"issuer": base, "jwks_uri": f"{base}/jwks"}
    if introspection_endpoint is not None:
        endpoint.discovery["introspection_endpoint"] = introspection_endpoint
    issuer = Issuer(base, discovery=True, introspect="opaque", introspection=settings())
    response = get(build_guard(issuers=[issuer]), OPAQUE)
    assert response.status_code == 503
    assert [r["method"] for r in endpoint.requests] == ["GET"]  # the document only


# -- caching --------------------------------------------------------------------------


def test_active_answers_are_cached_up_to_max_cache_age(
    endpoint: Endpoint, ec_key: SigningKey
) -> None:
    endpoint.answers[OPAQUE] = _answer()
    clock = FakeClock()
    guard = introspecting_guard(endpoint, ec_key, clock=clock, introspection={"max_cache_age": 30})
    for _ in range(3):
        assert get(guard, OPAQUE).status_code == 200
    assert endpoint.calls == 1
    clock.advance(29)
    assert get(guard, OPAQUE).status_code == 200
    assert endpoint.calls == 1
    endpoint.answers[OPAQUE] = {"active": False}  # revoked at the issuer
    clock.advance(2)
    assert get(guard, OPAQUE).status_code == 401
    assert endpoint.calls == 2


def test_an_answer_dated_while_it_was_asked_for_is_accepted(
    endpoint: Endpoint, ec_key: SigningKey
) -> None:
    """The guard reads its clock as the request arrives, the endpoint answers later: an
    ``iat`` or ``nbf`` of the endpoint's own "now" (a second later, when the request
    crossed a second's boundary) is not in the future, and with no leeway it was
    refused. The answer is checked against the time it arrived."""
    clock = FakeClock(1_700_000_000.999)
    answered_at = int(clock.now) + 1
    endpoint.answers[OPAQUE] = _answer(iat=answered_at, nbf=answered_at, exp=answered_at + 600)
    endpoint.answering = lambda: clock.advance(0.002)
    guard = introspecting_guard(endpoint, ec_key, clock=clock)
    assert get(guard, OPAQUE).status_code == 200
    # Later than its arrival is still the future.
    endpoint.answers["later"] = _answer(iat=answered_at + 5, exp=answered_at + 600)
    assert get(guard, "later").status_code == 401


def test_cache_never_outlives_exp(endpoint: Endpoint, ec_key: SigningKey) -> None:
    clock = FakeClock()
    endpoint.answers[OPAQUE] = _answer(exp=clock.now + 5)
    guard = introspecting_guard(endpoint, ec_key, clock=clock)
    assert get(guard, OPAQUE).status_code == 200
    clock.advance(6)
    response = get(guard, OPAQUE)
    assert response.status_code == 401
    assert endpoint.calls == 2  # asked again, and its own answer has expired


@pytest.mark.parametrize(
    ("answer", "introspection", "status", "kept"),
    [
        pytest.param({"exp": None}, {}, 200, 60, id="active-without-exp-for-max-cache-age"),
        pytest.param(None, {"inactive_cache_age": 10}, 401, 10, id="inactive-briefly"),
    ],
)
def test_answers_are_kept_for_their_window(
    endpoint: Endpoint,
    ec_key: SigningKey,
    answer: dict[str, Any] | None,
    introspection: dict[str, Any],
    status: int,
    kept: int,
) -> None:
    if answer is not None:  # else the endpoint says active: false
        endpoint.answers[OPAQUE] = _answer(**answer)
    clock = FakeClock()
    guard = introspecting_guard(endpoint, ec_key, clock=clock, introspection=introspection)
    assert get(guard, OPAQUE).status_code == status
    clock.advance(kept - 1)
    assert get(guard, OPAQUE).status_code == status
    assert endpoint.calls == 1
    clock.advance(2)
    assert get(guard, OPAQUE).status_code == status
    assert endpoint.calls == 2


def test_max_cache_age_zero_asks_every_time(endpoint: Endpoint, ec_key: SigningKey) -> None:
    endpoint.answers[OPAQUE] = _answer()
    guard = introspecting_guard(
        endpoint, ec_key, introspection={"max_cache_age": 0, "inactive_cache_age": 0}
    )
    for _ in range(3):
        assert get(guard, OPAQUE).status_code == 200
    assert endpoint.calls == 3


def test_cache_holds_a_hash_never_the_token(endpoint: Endpoint, ec_key: SigningKey) -> None:
    endpoint.answers[OPAQUE] = _answer()
    backend = SimpleCache()
    guard = introspecting_guard(endpoint, ec_key, cache=backend, token_cache_size=0)
    assert get(guard, OPAQUE).status_code == 200
    entries = {key: backend.get(key) for key in backend._cache}
    (key,) = [key for key in entries if key.startswith("wsgi_jwt_guard:introspection:")]
    assert OPAQUE not in key
    assert OPAQUE not in json.dumps(entries)


def test_unauthenticated_cache_entries_are_ignored(endpoint: Endpoint, ec_key: SigningKey) -> None:
    """Whoever can write to the cache cannot plant an 'active' answer for a token."""
    endpoint.answers[OPAQUE] = {"active": False}
    backend = SimpleCache()
    cache = SharedCache(backend, secrets=[CACHE_SECRET])
    guard = introspecting_guard(endpoint, ec_key, cache=cache, token_cache_size=0)
    assert get(guard, OPAQUE).status_code == 401
    (key,) = [key for key in backend._cache if key.startswith("wsgi_jwt_guard:introspection:")]
    now = time.time()
    planted = json.dumps({"at": now, "until": now + 600, "answer": _answer()})
    backend.set(key, planted)  # no HMAC, or the wrong one
    assert get(guard, OPAQUE).status_code == 401
    backend.set(key, "wjg1:" + "A" * 43 + "." + planted)
    assert get(guard, OPAQUE).status_code == 401
    assert endpoint.calls == 3


def test_a_peers_longer_cache_age_does_not_stretch_ours(
    endpoint: Endpoint, ec_key: SigningKey
) -> None:
    endpoint.answers[OPAQUE] = _answer()
    clock, backend = FakeClock(), SimpleCache()

    def worker(max_cache_age: float) -> JWTGuard:
        cache = SharedCache(backend, secrets=[CACHE_SECRET], clock=clock)
        return introspecting_guard(
            endpoint, ec_key, cache=cache, clock=clock, introspection={"max_cache_age": max_cache_age}
        )

    lenient, strict = worker(3600), worker(30)
    assert get(lenient, OPAQUE).status_code == 200
    clock.advance(10)
    assert get(strict, OPAQUE).status_code == 200
    assert endpoint.calls == 1  # the peer's answer, 10 s old
    clock.advance(21)
    assert get(strict, OPAQUE).status_code == 200
    assert endpoint.calls == 2  # 31 s old: past this worker's 30


@pytest.fixture(scope="module")
def redis() -> Iterator[Server]:
    with redis_server() as server:
        yield server


def test_two_guards_share_answers_through_redis(
    redis: Server, endpoint: Endpoint, ec_key: SigningKey
) -> None:
    endpoint.answers[OPAQUE] = _answer()
    url = f"redis://127.0.0.1:{redis.port}/0"

    def worker() -> JWTGuard:
        cache = build_cache({"type": "redis", "url": url, "secrets": [CACHE_SECRET]})
        return introspecting_guard(endpoint, ec_key, cache=cache)

    first, second = worker(), worker()
    assert get(first, OPAQUE).status_code == 200
    assert get(second, OPAQUE).status_code == 200
    assert endpoint.calls == 1
    assert second.metrics.snapshot()["introspection.cached"] == 1
    # An inactive answer is shared too.
    assert get(first, "revoked-" + OPAQUE).status_code == 401
    assert get(second, "revoked-" + OPAQUE).status_code == 401
    assert endpoint.calls == 2


# -- configuration --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "key", "message"),
    [
        pytest.param({"introspect": "sometimes"}, "introspect", "expected one of", id="bad-mode"),
        pytest.param({"introspect": "opaque"}, "introspection", "client_id", id="no-settings"),
        pytest.param({"introspection": settings()}, "introspect", "'opaque' or 'always'", id="settings-only"),
        pytest.param({"introspect": "opaque", "introspection": settings()}, "introspection.endpoint", "unless discovery", id="no-endpoint"),
        pytest.param({"introspect": "opaque", "introspection": settings(endpoint="https://auth.example.test/i", client_secret="short")}, "introspection.client_secret", "32", id="short-secret"),
        pytest.param({"introspect": "opaque", "introspection": settings(endpoint="https://auth.example.test/i", client_secret="")}, "introspection.client_secret", "secret", id="no-secret"),
        pytest.param({"introspect": "opaque", "introspection": settings(endpoint="https://auth.example.test/i", client_id="")}, "introspection.client_id", "client ID", id="no-client-id"),
        pytest.param({"introspect": "opaque", "introspection": settings(endpoint="http://auth.example.test/i")}, "introspection.endpoint", "https", id="plain-http"),
        pytest.param({"introspect": "opaque", "introspection": settings(endpoint="https://auth.example.test/i", max_cache_age=-1)}, "introspection.max_cache_age", "seconds", id="negative-age"),
        pytest.param({"introspect": "opaque", "introspection": settings(endpoint="https://auth.example.test/i", unknown=1)}, "introspection", "unknown", id="unknown-key"),
    ],
)
def test_config_errors(
    ec_key: SigningKey, options: dict[str, Any], key: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        issuer_of([ec_key], **options)
    assert caught.value.key == key
    assert message in caught.value.message
    assert CLIENT_SECRET not in str(caught.value)


def test_only_one_issuer_may_introspect(ec_key: SigningKey) -> None:
    introspecting = {"introspect": "opaque", "introspection": settings(endpoint="https://a.example.test/i")}
    first = issuer_of([ec_key], **introspecting)
    second = issuer_of([ec_key], issuer="https://other.example.test", **introspecting)
    with pytest.raises(ConfigError, match=r"issuers\[1\]\.introspect: only one issuer"):
        build_guard(issuers=[first, second])


def test_the_secret_stays_out_of_repr(ec_key: SigningKey) -> None:
    issuer = issuer_of(
        [ec_key], introspect="opaque", introspection=settings(endpoint="https://a.example.test/i")
    )
    assert isinstance(issuer.introspection, IntrospectionSettings)
    assert CLIENT_SECRET not in repr(issuer)
    assert "orders-api" in repr(issuer.introspection)


def test_from_toml_config(tmp_path: Any, endpoint: Endpoint, ec_key: SigningKey) -> None:
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"keys": [ec_key.public_jwk()]}))
    config = tmp_path / "guard.toml"
    config.write_text(
        f"""
[[issuers]]
issuer = "{ISSUER}"
keys_file = "keys.json"
audience = "{AUDIENCE}"
introspect = "opaque"

[issuers.introspection]
endpoint = "{endpoint.url}"
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
max_cache_age = 30
"""
    )
    endpoint.answers[OPAQUE] = _answer()
    guard = from_config(echo_app, config)
    assert get(guard, OPAQUE).json["remote_user"] == "user:default/alice"
    bad = config.read_text().replace("max_cache_age", "max_cache_ages")
    config.write_text(bad)
    with pytest.raises(ConfigError, match=r"issuers\[0\]\.introspection\.max_cache_ages"):
        from_config(echo_app, config)


def test_the_client_secret_from_the_environment(
    tmp_path: Any, endpoint: Endpoint, ec_key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file says where and who; the secret comes from the secret store's variable."""
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"keys": [ec_key.public_jwk()]}))
    config = tmp_path / "guard.toml"
    config.write_text(
        f"""
[[issuers]]
issuer = "{ISSUER}"
keys_file = "keys.json"
audience = "{AUDIENCE}"

[[issuers]]
issuer = "https://introspecting.example.test"
keys_file = "keys.json"
audience = "{AUDIENCE}"
introspect = "opaque"
introspection = {{ endpoint = "{endpoint.url}", client_id = "{CLIENT_ID}" }}
"""
    )
    with pytest.raises(ConfigError, match=r"INTROSPECTION_SECRET"):  # the message says how
        from_config(echo_app, config)
    monkeypatch.setenv("WSGI_JWT_GUARD_INTROSPECTION_SECRET", CLIENT_SECRET)
    endpoint.answers[OPAQUE] = _answer(iss="https://introspecting.example.test")
    guard = from_config(echo_app, config)
    assert get(guard, OPAQUE).json["remote_user"] == "user:default/alice"
    assert endpoint.requests[0]["authorization"] == "Basic " + base64.b64encode(
        f"{CLIENT_ID}:{CLIENT_SECRET}".encode()
    ).decode("ascii")
