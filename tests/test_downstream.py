"""Claims handed to the app: ``wsgi_jwt_guard.downstream``.

Claims copied into request headers and environ keys (how each JSON type is
written, what is left out), the inbound copies scrubbed on every route in every
spelling a server produces, ``forward_token = false``, and the settings'
errors. Driven through the guard with werkzeug's test client; the same through
real servers in front of Flask and Django is ``tests/stack/test_downstream.py``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import Client, create_environ

from tests.helpers import (
    ISSUER,
    PROXY_HEADER,
    SERVICE_SECRET,
    DPoPClient,
    SigningKey,
    bearer,
    cookie,
    echo_app,
    service_token,
)
from tests.processes import ROOT
from wsgi_jwt_guard import (
    BackstageSettings,
    ConfigError,
    CookieSettings,
    CORSSettings,
    CSRFSettings,
    DownstreamSettings,
    JWTGuard,
    from_config,
    load_config,
)
from wsgi_jwt_guard.downstream import Downstream
from wsgi_jwt_guard.errors import ClaimWithheld
from wsgi_jwt_guard.extraction import TokenHeaders

Guard = Callable[..., JWTGuard]
GROUPS = "HTTP_X_USER_GROUPS"


class Seen:
    """The echo app, remembering the environ of the last request that reached it."""

    def __init__(self) -> None:
        self.environ: dict[str, Any] | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.environ = dict(environ)
        return echo_app(environ, start_response)

    def get(self, key: str) -> Any:
        assert self.environ is not None, "the app never ran"
        return self.environ.get(key)


@pytest.fixture
def seen() -> Seen:
    return Seen()


@pytest.fixture
def handing(make_guard: Guard, seen: Seen) -> Callable[..., Client]:
    """``handing(**settings)``: a client of the app that ``seen`` watches, behind a
    guard with ``DownstreamSettings(**settings)``."""

    def build(**settings: Any) -> Client:
        return Client(make_guard(seen, downstream=DownstreamSettings(**settings)), use_cookies=False)

    return build


# --- what each claim becomes ------------------------------------------------------------

VALUES = [
    pytest.param("groups", {"groups": "admins"}, "admins", id="string"),
    pytest.param("groups", {"groups": ""}, "", id="empty-string"),
    pytest.param("level", {"level": 3}, "3", id="integer"),
    pytest.param("level", {"level": -2.5}, "-2.5", id="float"),
    pytest.param("level", {"level": 10**30}, "1000000000000000000000000000000", id="big-integer"),
    pytest.param("admin", {"admin": True}, "true", id="true"),
    pytest.param("admin", {"admin": False}, "false", id="false"),
    pytest.param("groups", {"groups": ["a", "b", "c"]}, "a,b,c", id="list-joined"),
    pytest.param("groups", {"groups": []}, "", id="empty-list"),
    pytest.param("groups", {"groups": ["a", 1, True, None, 2.5]}, "a,1,true,null,2.5", id="list-of-scalars"),
    pytest.param("groups", {"groups": [{"k": "v", "l": 1}]}, None, id="list-of-objects-joined-holds-the-separator"),
    pytest.param("groups", {"groups": [["x"]]}, '["x"]', id="nested-list-as-json"),
    pytest.param({"claim": "groups", "separator": ";"}, {"groups": ["a", "b"]}, "a;b", id="own-separator"),
    pytest.param({"claim": "groups", "separator": ", "}, {"groups": ["a", "b"]}, "a, b", id="separator-with-space"),
    pytest.param({"claim": "groups", "lists": "json"}, {"groups": ["a", "b,c"]}, '["a","b,c"]', id="list-as-json"),
    pytest.param({"claim": "groups", "lists": "json"}, {"groups": "a"}, "a", id="json-lists-leave-strings"),
    pytest.param("org", {"org": {"id": 7, "name": "acme"}}, '{"id":7,"name":"acme"}', id="object-as-json"),
    pytest.param("org", {"org": {"name": "Zoë\n"}}, '{"name":"Zo\\u00eb\\n"}', id="object-json-is-ascii"),
    pytest.param("realm_access.roles", {"realm_access": {"roles": ["r1", "r2"]}}, "r1,r2", id="path"),
    pytest.param('"my.claim".x', {"my.claim": {"x": "y"}}, "y", id="quoted-dotted-name"),
    pytest.param("https://example.test/roles", {"https://example.test/roles": ["a"]}, "a", id="namespaced-claim"),
    pytest.param("name", {"name": "José"}, "Jos\xc3\xa9", id="utf8-as-latin1"),
    pytest.param("name", {"name": "日本"}, "日本".encode().decode("latin-1"), id="cjk-as-latin1"),
    pytest.param("name", {"name": "x\U0001f600"}, "x\U0001f600".encode().decode("latin-1"), id="astral-as-latin1"),
]


@pytest.mark.parametrize(("claim", "claims", "expected"), VALUES)
def test_a_claim_becomes_header_text(
    handing: Callable[..., Client], seen: Seen, ec_key: SigningKey, claim: Any, claims: dict[str, Any], expected: str | None
) -> None:
    client = handing(headers={"X-User-Groups": claim})
    response = client.get("/api/catalog", headers=bearer(ec_key.token(**claims)))
    assert response.status_code == 200
    assert seen.get(GROUPS) == expected


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({}, id="absent"),
        pytest.param({"groups": None}, id="null"),
        pytest.param({"realm_access": "roles"}, id="path-through-a-string"),
        pytest.param({"realm_access": {"other": 1}}, id="path-missing-at-the-end"),
    ],
)
def test_no_claim_no_header(
    handing: Callable[..., Client], seen: Seen, ec_key: SigningKey, claims: dict[str, Any]
) -> None:
    client = handing(headers={"X-User-Groups": "groups", "X-Roles": "realm_access.roles"})
    response = client.get(
        "/api/catalog", headers={**bearer(ec_key.token(**claims)), "X-User-Groups": "forged", "X-Roles": "forged"}
    )
    assert response.status_code == 200
    assert seen.get(GROUPS) is None
    assert seen.get("HTTP_X_ROLES") is None


def test_environ_keys_get_the_text_itself(handing: Callable[..., Client], seen: Seen, ec_key: SigningKey) -> None:
    client = handing(environ={"myapp.tenant": "tid", "myapp.roles": "realm_access.roles"}, headers={"X-Tenant": "tid"})
    token = ec_key.token(tid="Zürich", realm_access={"roles": ["a", "b"]})
    assert client.get("/api/catalog", headers=bearer(token)).status_code == 200
    assert seen.get("myapp.tenant") == "Zürich"  # not a header: no PEP 3333 latin-1 tunnel
    assert seen.get("myapp.roles") == "a,b"
    assert seen.get("HTTP_X_TENANT") == "Zürich".encode().decode("latin-1")


def test_every_identity_kind_hands_its_claims_down(handing: Callable[..., Client], seen: Seen) -> None:
    client = handing(headers={"X-Subject": "sub"})
    assert client.get("/api/catalog", headers=bearer(service_token(SERVICE_SECRET))).status_code == 200
    assert seen.get("HTTP_X_SUBJECT") == "backstage-server"


# --- unsafe values are left out, counted and logged -------------------------------------

WITHHELD = [
    pytest.param({"groups": "admins\r\nX-Admin: 1"}, "control character", id="crlf"),
    pytest.param({"groups": "admins\n"}, "control character", id="lf"),
    pytest.param({"groups": "a\x00b"}, "control character", id="nul"),
    pytest.param({"groups": "a\tb"}, "control character", id="tab"),
    pytest.param({"groups": "a\x7f"}, "control character", id="del"),
    pytest.param({"groups": "a\x85b"}, "control character", id="nel-c1"),
    pytest.param({"groups": "a\u2028b"}, "control character", id="line-separator"),
    pytest.param({"groups": "a\ud800b"}, "control character", id="lone-surrogate"),
    pytest.param({"groups": ["ok", "evil\r\n"]}, "control character", id="control-in-a-list-item"),
    pytest.param({"groups": ["admins,staff", "x"]}, "separator", id="item-holds-the-separator"),
    pytest.param({"groups": [{"a": 1, "b": 2}]}, "separator", id="joined-object-holds-the-separator"),
    pytest.param({"groups": "x" * 4097}, "longer than 4096", id="too-long"),
    pytest.param({"groups": "é" * 2049}, "longer than 4096", id="too-long-once-utf8"),
    pytest.param({"groups": ["x" * 1000] * 5}, "longer than 4096", id="list-too-long"),
]


@pytest.mark.parametrize(("claims", "reason"), WITHHELD)
def test_unsafe_values_are_left_out_counted_and_logged(
    make_guard: Guard, seen: Seen, ec_key: SigningKey, caplog: pytest.LogCaptureFixture,
    claims: dict[str, Any], reason: str,
) -> None:
    downstream = DownstreamSettings(headers={"X-User-Groups": "groups", "X-Subject": "sub"})
    guard = make_guard(seen, downstream=downstream, max_token_size=32768)  # "é" is \u00e9 in JSON
    token = ec_key.token(**claims)
    with caplog.at_level(logging.INFO, "wsgi_jwt_guard"):
        response = Client(guard, use_cookies=False).get(
            "/api/catalog", headers={**bearer(token), "X-User-Groups": "forged"}
        )
    assert response.status_code == 200
    assert seen.get(GROUPS) is None  # neither the unsafe value nor the forged one
    assert seen.get("HTTP_X_SUBJECT") == "user:default/alice"  # the others still go
    assert guard.metrics.snapshot()["downstream.withheld"] == 1
    [line] = [r.getMessage() for r in caplog.records if "X-User-Groups" in r.getMessage()]
    assert reason in line
    assert "admins" not in line  # the value itself is never logged
    assert "evil" not in line


def test_max_length_is_in_bytes_as_sent(handing: Callable[..., Client], seen: Seen, ec_key: SigningKey) -> None:
    client = handing(headers={"X-User-Groups": "groups"}, max_length=10)
    for value, expected in [("é" * 5, "é" * 5), ("é" * 6, None), ("x" * 10, "x" * 10)]:
        client.get("/api/catalog", headers=bearer(ec_key.token(groups=value)))
        assert seen.get(GROUPS) == (None if expected is None else expected.encode().decode("latin-1"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    value=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
        max_leaves=12,
    ),
    lists=st.sampled_from(["join", "json"]),
)
def test_no_claim_can_put_a_control_character_in_a_header(value: Any, lists: str) -> None:
    settings_ = DownstreamSettings(headers={"X-Claim": {"claim": "c", "lists": lists}}, max_length=200)
    [copy] = settings_.copies
    try:
        text = copy.value({"c": value})
    except ClaimWithheld:  # left out
        return
    if value is None:
        assert text is None
        return
    assert text is not None
    text.encode("latin-1")  # a PEP 3333 header value: bytes as latin-1 text
    raw = text.encode("latin-1")
    assert not any(byte < 0x20 or byte == 0x7F for byte in raw)
    assert len(raw) <= 200


# --- inbound copies are scrubbed --------------------------------------------------------

ROUTE_CASES = [
    pytest.param("/api/auth/login", {}, None, id="public"),
    pytest.param("/api/auth/login", {"token": True}, None, id="public-with-token"),
    pytest.param("/api/search", {}, None, id="optional-anonymous"),
    pytest.param("/api/search", {"token": True}, "team-a", id="optional-with-token"),
    pytest.param("/api/catalog", {"token": True}, "team-a", id="protected"),
    pytest.param("/api/catalog", {"token": True, "groups": None}, None, id="protected-without-the-claim"),
]
SPELLINGS = [
    pytest.param({"X-User-Groups": "admins"}, id="X-User-Groups"),
    pytest.param({"X_User_Groups": "admins"}, id="X_User_Groups"),
    pytest.param({"x-user-groups": "admins"}, id="lower-case"),
    pytest.param([("X-User-Groups", "team-a"), ("X_User_Groups", "admins")], id="both-spellings"),
    pytest.param({"X-User-Groups": "team-a, admins"}, id="a-list-that-looks-right"),
]


@pytest.mark.parametrize(("path", "token", "expected"), ROUTE_CASES)
@pytest.mark.parametrize("forged", SPELLINGS)
def test_forged_headers_never_reach_the_app(
    handing: Callable[..., Client], seen: Seen, ec_key: SigningKey,
    path: str, token: dict[str, Any], expected: str | None, forged: Any,
) -> None:
    client = handing(headers={"X-User-Groups": "groups"}, environ={"myapp.groups": "groups"})
    headers = list(forged.items()) if isinstance(forged, dict) else list(forged)
    if token:
        groups = token.get("groups", ["team-a"])
        headers += list(bearer(ec_key.token(**({} if groups is None else {"groups": groups}))).items())
    response = client.get(path, headers=headers, environ_overrides={"myapp.groups": "admins"})
    assert response.status_code == 200
    assert seen.get(GROUPS) == expected
    assert seen.get("myapp.groups") == expected


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        pytest.param("GET", "/api/catalog", {}, "401", id="missing-token"),
        pytest.param("GET", "/api/../catalog", {}, "400", id="unsafe-path"),
        pytest.param("OPTIONS", "/api/catalog", {"Origin": "https://a.test", "Access-Control-Request-Method": "GET"}, "204", id="preflight"),
    ],
)
def test_forged_values_are_scrubbed_where_the_app_never_runs(
    make_guard: Guard, method: str, path: str, headers: dict[str, str], status: str
) -> None:
    guard = make_guard(
        downstream=DownstreamSettings(headers={"X-User-Groups": "groups"}),
        cors=CORSSettings(allowed_origins=["https://a.test"]),
    )
    environ = create_environ(path, method=method, headers={**headers, "X-User-Groups": "admins"})
    answered: list[str] = []
    guard(environ, lambda status, headers, exc_info=None: answered.append(status))
    assert answered[0].startswith(status)
    assert GROUPS not in environ  # nothing outside the guard (a logging middleware) sees it either


# --- forward_token = false --------------------------------------------------------------


def test_the_token_is_passed_on_by_default(handing: Callable[..., Client], seen: Seen, ec_key: SigningKey) -> None:
    client = handing()
    token = ec_key.token()
    client.get("/api/catalog", headers={**cookie(token), "Cookie": f"a=1; token={token}"})
    assert seen.get("HTTP_AUTHORIZATION") == f"Bearer {token}"  # the seed's copy for proxied calls
    assert seen.get("HTTP_COOKIE") == f"a=1; token={token}"
    client.get("/api/catalog", headers=bearer(token))
    assert seen.get("HTTP_AUTHORIZATION") == f"Bearer {token}"


def test_forward_token_false_removes_the_authorization_header(
    handing: Callable[..., Client], seen: Seen, ec_key: SigningKey
) -> None:
    client = handing(forward_token=False)
    response = client.get("/api/catalog", headers=bearer(ec_key.token()))
    assert response.status_code == 200
    assert seen.get("HTTP_AUTHORIZATION") is None
    assert seen.get("REMOTE_USER") == "user:default/alice"


def test_forward_token_false_removes_the_dpop_proof(
    handing: Callable[..., Client], seen: Seen, ec_key: SigningKey
) -> None:
    """The proof is part of the credential: it goes with the token it vouches for."""
    client_key = DPoPClient()
    token = ec_key.token(cnf={"jkt": client_key.jkt})
    headers = client_key.headers("GET", "http://localhost/api/catalog", token)
    response = handing().get("/api/catalog", headers=headers)
    assert response.status_code == 200
    assert seen.get("HTTP_DPOP") == headers["DPoP"]  # passed on by default
    response = handing(forward_token=False).get("/api/catalog", headers=headers)
    assert response.status_code == 200
    assert response.json["identity"]["source"] == "dpop"
    assert seen.get("HTTP_AUTHORIZATION") is None
    assert seen.get("HTTP_DPOP") is None


def test_forward_token_false_never_copies_a_cookie_token(handing: Callable[..., Client], seen: Seen, ec_key: SigningKey) -> None:
    client = handing(forward_token=False)
    response = client.get("/api/catalog", headers=cookie(ec_key.token()))
    assert response.status_code == 200
    assert response.json["identity"]["source"] == "cookie"
    assert seen.get("HTTP_AUTHORIZATION") is None
    assert seen.get("HTTP_COOKIE") is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param("token={t}", None, id="only-the-token"),
        pytest.param("a=1; token={t}; b=2", "a=1; b=2", id="middle"),
        pytest.param("token={t}; a=1", "a=1", id="first"),
        pytest.param("a=1; token={t}", "a=1", id="last"),
        pytest.param("a=1;token={t};b=2", "a=1;b=2", id="no-spaces"),
        pytest.param('sid="x y"; token={t}; pref=%7B%22a%22%7D;  odd = v ', 'sid="x y"; pref=%7B%22a%22%7D;  odd = v ', id="others-byte-for-byte"),
        pytest.param("token={t}; a=1; token={t}", "a=1", id="tossed-copy"),
        pytest.param("tokens=1; token={t}; xtoken=2", "tokens=1; xtoken=2", id="similar-names-kept"),
        pytest.param("a=1; token={t}; token", "a=1; token", id="nameless-pair-kept"),
    ],
)
def test_forward_token_false_removes_only_the_token_cookie(
    handing: Callable[..., Client], seen: Seen, ec_key: SigningKey, header: str, expected: str | None
) -> None:
    client = handing(forward_token=False)
    token = ec_key.token()
    response = client.get("/api/catalog", headers={"Cookie": header.replace("{t}", token)})
    assert response.status_code == 200
    assert seen.get("HTTP_COOKIE") == expected
    assert seen.get("HTTP_AUTHORIZATION") is None


def test_forward_token_false_removes_every_token_carrier(make_guard: Guard, seen: Seen, ec_key: SigningKey) -> None:
    guard = make_guard(
        seen, token_headers=[PROXY_HEADER], downstream=DownstreamSettings(forward_token=False)
    )
    token = ec_key.token()
    response = Client(guard, use_cookies=False).get(
        "/api/catalog", headers={PROXY_HEADER: token, "Cookie": f"keep=1; token={token}"}
    )
    assert response.json["identity"]["source"] == "custom-header"
    assert seen.get("HTTP_X_GOOG_IAP_JWT_ASSERTION") is None
    assert seen.get("HTTP_COOKIE") == "keep=1"


def test_forward_token_false_leaves_requests_it_did_not_authenticate(
    handing: Callable[..., Client], seen: Seen
) -> None:
    client = handing(forward_token=False)
    client.get("/api/auth/login", headers={"Authorization": "Basic dTpw", "Cookie": "token=x; a=1"})
    assert seen.get("HTTP_AUTHORIZATION") == "Basic dTpw"
    assert seen.get("HTTP_COOKIE") == "token=x; a=1"


def test_forward_token_false_still_knows_the_browser_holds_the_cookie(
    handing: Callable[..., Client], seen: Seen, ec_key: SigningKey
) -> None:
    client = handing(forward_token=False)
    token = ec_key.token()
    browser = {**bearer(token), "Sec-Fetch-Site": "same-origin"}
    first = client.get("/api/catalog", headers=browser)
    assert first.headers.get("Set-Cookie", "").startswith(f"token={token};")
    again = client.get("/api/catalog", headers={**browser, "Cookie": f"token={token}"})
    assert "Set-Cookie" not in again.headers  # judged on the Cookie as sent, not as handed on
    assert seen.get("HTTP_COOKIE") is None


def test_forward_token_false_removes_backstage_and_edge_cookies(ec_key: SigningKey) -> None:
    edge = SimpleNamespace(token_header=None, token_cookie="CF_Authorization")  # a preset's cookie
    downstream = Downstream(
        DownstreamSettings(forward_token=False),
        token_headers=TokenHeaders([], [edge]),  # type: ignore[list-item]
        cookie=CookieSettings(),
        backstage=True,
    )
    assert downstream.token_cookies == {"token", "backstage-auth", "CF_Authorization"}
    environ = {"HTTP_COOKIE": "backstage-auth=a; CF_Authorization=b; token=c; keep=d", "HTTP_AUTHORIZATION": "Bearer x"}
    downstream.inject(environ, _identity(ec_key))
    assert environ == {"HTTP_COOKIE": "keep=d"}


def test_backstage_mode_counts_its_cookie_as_a_token_carrier(make_guard: Guard) -> None:
    guard = make_guard(
        backstage=BackstageSettings(base_url="http://127.0.0.1:1", plugin_id="catalog"),
        downstream=DownstreamSettings(forward_token=False),
    )
    assert guard.downstream.token_cookies == {"token", "backstage-auth"}
    disabled = make_guard(cookie=CookieSettings(enabled=False), downstream=DownstreamSettings(forward_token=False))
    assert disabled.downstream.token_cookies == set()  # not read, so not a token carrier


def _identity(key: SigningKey) -> Any:
    from wsgi_jwt_guard.identity import Identity

    return Identity("alice", {"sub": "alice"}, ISSUER, "user", "header", 0.0, key.token())


# --- settings and configuration ---------------------------------------------------------


def test_work_is_done_at_construction() -> None:
    settings_ = DownstreamSettings(
        headers={"X-User-Groups": "groups", "X-Roles": {"claim": 'resource_access."my.app".roles', "lists": "json"}},
        environ={"myapp.tenant": "tid"},
        separator=";",
    )
    copies = {copy.key: copy for copy in settings_.copies}
    assert set(copies) == {"HTTP_X_USER_GROUPS", "HTTP_X_ROLES", "myapp.tenant"}
    assert copies["HTTP_X_ROLES"].path == ("resource_access", "my.app", "roles")
    assert copies["HTTP_X_USER_GROUPS"].separator == ";"
    assert copies["myapp.tenant"].path == ("tid",)


def test_the_scrub_list_is_built_once(make_guard: Guard) -> None:
    guard = make_guard(downstream=DownstreamSettings(headers={"X-User-Groups": "groups"}, environ={"myapp.t": "tid"}))
    assert {"HTTP_X_USER_GROUPS", "myapp.t", "REMOTE_USER", "HTTP_REMOTE_USER"} <= guard.downstream.scrubbed


VALID_ISSUER = {"issuer": ISSUER, "keys": []}


def config_with(downstream: Any, **extra: Any) -> dict[str, Any]:
    return {"service_tokens": {"secrets": [SERVICE_SECRET]}, "downstream": downstream, **extra}


BAD = [
    pytest.param({"headers": ["X-A"]}, "downstream.headers", id="headers-not-a-table"),
    pytest.param({"environ": "myapp.a"}, "downstream.environ", id="environ-not-a-table"),
    pytest.param({"headers": {"X User": "sub"}}, "downstream.headers.'X User'", id="space-in-name"),
    pytest.param({"headers": {"X_User_Groups": "groups"}}, "downstream.headers.'X_User_Groups'", id="underscore-in-name"),
    pytest.param({"headers": {"": "groups"}}, "downstream.headers.''", id="empty-name"),
    pytest.param({"headers": {"X-Ü": "groups"}}, "downstream.headers.'X-Ü'", id="non-ascii-name"),
    pytest.param({"headers": {"Authorization": "sub"}}, "downstream.headers.'Authorization'", id="authorization"),
    pytest.param({"headers": {"cookie": "sub"}}, "downstream.headers.'cookie'", id="cookie-lower-case"),
    pytest.param({"headers": {"Host": "sub"}}, "downstream.headers.'Host'", id="host"),
    pytest.param({"headers": {"Content-Length": "sub"}}, "downstream.headers.'Content-Length'", id="content-length"),
    pytest.param({"headers": {"Content-Type": "sub"}}, "downstream.headers.'Content-Type'", id="content-type"),
    pytest.param({"headers": {"Transfer-Encoding": "sub"}}, "downstream.headers.'Transfer-Encoding'", id="transfer-encoding"),
    pytest.param({"headers": {"Origin": "sub"}}, "downstream.headers.'Origin'", id="origin"),
    pytest.param({"headers": {"Sec-Fetch-Site": "sub"}}, "downstream.headers.'Sec-Fetch-Site'", id="sec-fetch"),
    pytest.param({"headers": {"X-Forwarded-For": "sub"}}, "downstream.headers.'X-Forwarded-For'", id="x-forwarded"),
    pytest.param({"headers": {"Proxy-Authorization": "sub"}}, "downstream.headers.'Proxy-Authorization'", id="proxy-authorization"),
    pytest.param({"headers": {"X-HTTP-Method-Override": "sub"}}, "downstream.headers.'X-HTTP-Method-Override'", id="method-override"),
    pytest.param({"headers": {"X-A": "a..b"}}, "downstream.headers.'X-A'", id="empty-path-segment"),
    pytest.param({"headers": {"X-A": '"unclosed'}}, "downstream.headers.'X-A'", id="unclosed-quote"),
    pytest.param({"headers": {"X-A": ""}}, "downstream.headers.'X-A'", id="empty-path"),
    pytest.param({"headers": {"X-A": 3}}, "downstream.headers.'X-A'", id="path-not-a-string"),
    pytest.param({"headers": {"X-A": {"lists": "json"}}}, "downstream.headers.'X-A'.claim", id="table-without-claim"),
    pytest.param({"headers": {"X-A": {"claim": "a..b"}}}, "downstream.headers.'X-A'.claim", id="table-bad-path"),
    pytest.param({"headers": {"X-A": {"claim": "a", "lists": "csv"}}}, "downstream.headers.'X-A'.lists", id="unknown-list-format"),
    pytest.param({"headers": {"X-A": {"claim": "a", "lsts": "json"}}}, "downstream.headers.'X-A'.lsts", id="unknown-table-key"),
    pytest.param({"headers": {"X-A": {"claim": "a", "separator": "\n"}}}, "downstream.headers.'X-A'.separator", id="control-separator"),
    pytest.param({"headers": {"X-A": {"claim": "a", "lists": "json", "separator": ";"}}}, "downstream.headers.'X-A'.separator", id="separator-with-json"),
    pytest.param({"headers": {"X-User-Groups": "a", "x-user-groups": "b"}}, "downstream.headers.'x-user-groups'", id="duplicate-target"),
    pytest.param({"environ": {"myapp.a": "a", "myapp.b": "b"}, "headers": {"X-A": "a", "X-a": "b"}}, "downstream.headers.'X-a'", id="duplicate-header"),
    pytest.param({"environ": {"TENANT": "tid"}}, "downstream.environ.'TENANT'", id="environ-without-namespace"),
    pytest.param({"environ": {"HTTP_X.A": "tid"}}, "downstream.environ.'HTTP_X.A'", id="environ-cgi-like"),
    pytest.param({"environ": {"REMOTE_USER": "tid"}}, "downstream.environ.'REMOTE_USER'", id="environ-remote-user"),
    pytest.param({"environ": {"wsgi.tenant": "tid"}}, "downstream.environ.'wsgi.tenant'", id="environ-wsgi"),
    pytest.param({"environ": {"wsgi_jwt_guard.identity": "tid"}}, "downstream.environ.'wsgi_jwt_guard.identity'", id="environ-guard"),
    pytest.param({"environ": {"gunicorn.socket": "tid"}}, "downstream.environ.'gunicorn.socket'", id="environ-server"),
    pytest.param({"environ": {"myapp.": "tid"}}, "downstream.environ.'myapp.'", id="environ-empty-name"),
    pytest.param({"separator": ""}, "downstream.separator", id="empty-separator"),
    pytest.param({"separator": "\r\n"}, "downstream.separator", id="crlf-separator"),
    pytest.param({"separator": 1}, "downstream.separator", id="separator-not-a-string"),
    pytest.param({"max_length": 0}, "downstream.max_length", id="max-length-zero"),
    pytest.param({"max_length": "4096"}, "downstream.max_length", id="max-length-string"),
    pytest.param({"forward_token": "false"}, "downstream.forward_token", id="forward-token-string"),
    pytest.param({"forward_tokens": False}, "downstream.forward_tokens", id="unknown-key"),
    pytest.param("X-User-Groups", "downstream", id="not-a-table"),
]


@pytest.mark.parametrize(("downstream", "key"), BAD)
def test_bad_settings_name_the_key(downstream: Any, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        from_config(echo_app, config_with(downstream))
    assert caught.value.key == key
    assert str(caught.value).startswith(f"{key}: ")


@pytest.mark.parametrize(
    ("extra", "name", "key"),
    [
        pytest.param({"token_headers": [PROXY_HEADER]}, PROXY_HEADER, f"downstream.headers.{PROXY_HEADER!r}", id="a-token-header"),
        pytest.param({"csrf": {"header": "X-CSRF-Token", "cookie": "csrf"}}, "x-csrf-token", "downstream.headers.'x-csrf-token'", id="the-csrf-header"),
    ],
)
def test_headers_the_guard_reads_cannot_carry_a_claim(extra: dict[str, Any], name: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        from_config(echo_app, config_with({"headers": {name: "sub"}}, **extra))
    assert caught.value.key == key


def test_python_settings_errors_name_the_field(make_guard: Guard) -> None:
    with pytest.raises(ConfigError) as caught:
        DownstreamSettings(headers={"Cookie": "sub"})
    assert caught.value.key == "headers.'Cookie'"
    with pytest.raises(ConfigError) as caught:
        make_guard(downstream={"headers": {}})
    assert caught.value.key == "downstream"
    with pytest.raises(ConfigError) as caught:
        DownstreamSettings(headers={"X-A": {"claim": "a", "separator": ";"}, "X-B": {"claim": "b", "separator": ""}})
    assert caught.value.key == "headers.'X-B'.separator"
    with pytest.raises(ConfigError) as caught:
        Downstream(DownstreamSettings(headers={"X-CSRF": "sub"}), csrf=CSRFSettings(header="X-CSRF", cookie="csrf"))
    assert caught.value.key == "downstream.headers.'X-CSRF'"


def test_from_a_toml_file(tmp_path: Path, ec_key: SigningKey) -> None:
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [ec_key.public_jwk()]}))
    (tmp_path / "guard.toml").write_text(
        f"""
[[issuers]]
issuer = "{ISSUER}"
keys_file = "jwks.json"
audience = "backstage"
algorithms = ["ES256"]

[downstream]
forward_token = false
separator = ";"

[downstream.headers]
"X-User-Groups" = "groups"
"X-User-Roles" = {{ claim = "realm_access.roles", lists = "json" }}

[downstream.environ]
"myapp.tenant" = "tid"
"""
    )
    seen = Seen()
    client = Client(from_config(seen, tmp_path / "guard.toml"), use_cookies=False)
    token = ec_key.token(groups=["a", "b"], realm_access={"roles": ["r"]}, tid="t1")
    assert client.get("/x", headers=bearer(token)).status_code == 200
    assert seen.get(GROUPS) == "a;b"
    assert seen.get("HTTP_X_USER_ROLES") == '["r"]'
    assert seen.get("myapp.tenant") == "t1"
    assert seen.get("HTTP_AUTHORIZATION") is None


# --- the README's worked example, run as written ----------------------------------------

README = (ROOT / "README.md").read_text()
EXAMPLE = README[README.index("### Claims as request headers\n") :]
EXAMPLE = EXAMPLE[: EXAMPLE.index("\n### ", 1)]


def test_the_readme_example_reads_as_documented(ec_key: SigningKey, tmp_path: Path) -> None:
    [claims_text] = re.findall(r"```json\n(.*?)```", EXAMPLE, re.DOTALL)
    [toml_text] = re.findall(r"```toml\n(.*?)```", EXAMPLE, re.DOTALL)
    claims = json.loads(claims_text.replace("…", ""))
    (tmp_path / "guard.toml").write_text(toml_text)
    config = {**load_config(tmp_path / "guard.toml"), "issuers": [{"issuer": ISSUER, "keys": [ec_key.public_jwk()]}]}
    seen = Seen()
    token = ec_key.token(**claims)
    cookies = f"theme=dark; token={token}; lang=en"
    response = Client(from_config(seen, config), use_cookies=False).get(
        "/api/reports", headers={**bearer(token), "Cookie": cookies, "X-User-Email": "forged"}
    )
    assert response.status_code == 200
    assert seen.get("HTTP_X_USER_GROUPS") == "ops,dev"
    assert seen.get("HTTP_X_USER_ROLES") == '["reader","writer"]'
    assert seen.get("HTTP_X_USER_NAME") == "josÃ©"
    assert seen.get("HTTP_X_USER_NAME").encode("latin-1").decode("utf-8") == "josé"
    assert seen.get("HTTP_X_USER_ORG") == '{"id":7}'
    assert seen.get("HTTP_X_USER_EMAIL") is None
    assert seen.get("myapp.tenant") == "acme"
    assert seen.get("HTTP_AUTHORIZATION") is None
    assert seen.get("HTTP_COOKIE") == "theme=dark; lang=en"
    for value in ("ops,dev", '["reader","writer"]', "josÃ©", '{"id":7}', "acme"):
        assert f"`{value}`" in EXAMPLE  # the README's table says what the app reads
