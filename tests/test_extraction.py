"""Where the token comes from (DESIGN §2 step 3): the Bearer header, the cookie, custom headers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.test import Client, TestResponse, create_environ

from tests.helpers import SigningKey, service_token
from wsgi_jwt_guard import ConfigError, CookieSettings, InvalidRequest, InvalidToken, JWTGuard, Rule
from wsgi_jwt_guard.extraction import (
    TokenHeaders,
    authorization_token,
    bearer_token,
    cookie_token,
    custom_header_token,
    extract_token,
    is_dpop_scheme,
)
from wsgi_jwt_guard.request import RequestView
from wsgi_jwt_guard.validation import header_key

MakeGuard = Callable[..., JWTGuard]

MAX = 8192


def environ(authorization: str | None = None, cookie: str | None = None) -> dict[str, Any]:
    """An environ with these header values set verbatim (as a server would pass them on)."""
    env = create_environ("/api/catalog")
    if authorization is not None:
        env["HTTP_AUTHORIZATION"] = authorization
    if cookie is not None:
        env["HTTP_COOKIE"] = cookie
    return env


def view(env: dict[str, Any]) -> RequestView:
    """What the guard's steps read of a request (the path does not matter here)."""
    return RequestView(env, "/api/catalog")


def assert_reached(response: TestResponse) -> dict[str, Any]:
    assert response.status_code == 200
    body = response.json
    assert "error" not in body
    assert "remote_user" in body
    return body  # type: ignore[no-any-return]


def assert_refused(response: TestResponse, status: int, error: str | None) -> str:
    """The guard answered itself; returns the ``WWW-Authenticate`` challenge."""
    assert response.status_code == status
    body = response.json
    assert "error" in body
    assert "remote_user" not in body
    challenge = response.headers["WWW-Authenticate"]
    if error is None:
        assert "error=" not in challenge
    else:
        assert f'error="{error}"' in challenge
    return challenge


# --------------------------------------------------------------------------------------
# bearer_token
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "token"),
    [
        pytest.param("Bearer abc", "abc", id="canonical"),
        pytest.param("bearer abc", "abc", id="lower-scheme"),
        pytest.param("BEARER abc", "abc", id="upper-scheme"),
        pytest.param("BeArEr abc", "abc", id="mixed-scheme"),
        pytest.param("Bearer    abc", "abc", id="several-spaces"),
        pytest.param("Bearer abc==", "abc==", id="token68-padding"),
        pytest.param("Bearer aZ09-._~+/", "aZ09-._~+/", id="token68-alphabet"),
        pytest.param("Bearer a.b.c", "a.b.c", id="jws-shape"),
        pytest.param(" Bearer abc \t", "abc", id="surrounding-whitespace"),
    ],
)
def test_bearer_token_accepted(header: str, token: str) -> None:
    assert bearer_token(environ(header), MAX) == token


def test_bearer_token_absent() -> None:
    assert bearer_token(environ(), MAX) is None
    assert bearer_token({}, MAX) is None


MALFORMED = [
    pytest.param("Basic dXNlcjpwYXNz", id="basic"),
    pytest.param("Token abc", id="other-scheme"),
    pytest.param("Bearer", id="no-token"),
    pytest.param("Bearer ", id="no-token-space"),
    pytest.param("Bearerabc", id="no-separator"),
    pytest.param("Bearer\tabc", id="tab-separator"),
    pytest.param("Bearer a b", id="two-tokens"),
    pytest.param("Bearer a,Bearer b", id="duplicated-joined"),
    pytest.param("Bearer a, Bearer b", id="duplicated-joined-space"),
    pytest.param("Bearer a=b", id="equals-inside"),
    pytest.param("Bearer =abc", id="equals-first"),
    pytest.param("", id="empty"),
    pytest.param("   ", id="blank"),
    pytest.param("Bearer a\tb", id="tab-inside"),
    pytest.param("Bearer a;b", id="semicolon"),
    pytest.param('Bearer "abc"', id="quoted"),
    pytest.param("Bearer a%2eb", id="percent"),
    pytest.param("Bearer abc\x00", id="nul"),
    pytest.param("Bearer abc\n", id="newline"),
    pytest.param("Bearer token=abc", id="auth-param"),
    pytest.param("Bearer abc Basic x", id="two-schemes"),
]


@pytest.mark.parametrize("header", MALFORMED)
def test_bearer_token_malformed(header: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        bearer_token(environ(header), MAX)
    assert caught.value.error == "invalid_request"
    assert caught.value.status == 401


@pytest.mark.parametrize("header", [*MALFORMED, pytest.param("Bearer a.b.c", id="known")])
def test_bearer_token_verified_before(header: str) -> None:
    # A token the verifier knows (base64url segments, as jws.parse accepts) skips
    # the character check, only in an exact "Bearer <it>": the full check's answer.
    known = {"abc", "a", "b", "a.b.c", "dXNlcjpwYXNz", "b.c"}
    env = environ(header)
    try:
        expected: str | Exception = bearer_token(env, MAX)
    except InvalidRequest as refusal:
        expected = refusal
    if isinstance(expected, str):
        assert bearer_token(env, MAX, known) == expected
    else:
        with pytest.raises(InvalidRequest):
            bearer_token(env, MAX, known)
    with pytest.raises(InvalidToken):
        bearer_token(environ("Bearer a.b.c"), 4, {"a.b.c"})  # still over the cap


@pytest.mark.parametrize(
    ("header", "max_size", "accepted"),
    [
        pytest.param("Bearer " + "a" * 300, 300, True, id="at-cap"),
        pytest.param("Bearer " + "a" * 301, 300, False, id="over-cap"),
        pytest.param("Bearer " + "a" * MAX, MAX, True, id="at-default-cap"),
        pytest.param("Bearer " + "a" * (MAX + 1), MAX, False, id="over-default-cap"),
        pytest.param("Bearer " + "a" * 1_000_000, MAX, False, id="huge"),
        pytest.param("x" * 1_000_000, MAX, False, id="huge-garbage"),
    ],
)
def test_bearer_token_size(header: str, max_size: int, accepted: bool) -> None:
    if accepted:
        assert bearer_token(environ(header), max_size) == header[len("Bearer ") :]
    else:
        with pytest.raises(InvalidToken) as caught:
            bearer_token(environ(header), max_size)
        assert caught.value.error == "invalid_token"
        assert f"longer than {max_size}" in caught.value.description


# --------------------------------------------------------------------------------------
# cookie_token
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cookie", "name", "token"),
    [
        # How the header is split and unquoted: test_request's cookie table. Here, what
        # cookie_token makes of the values: one token, none, or a refusal below.
        pytest.param("token=abc", "token", "abc", id="only-cookie"),
        pytest.param("a=1; token=abc; b=2", "token", "abc", id="among-others"),
        pytest.param("token=abc; token=abc", "token", "abc", id="same-value-twice"),
        pytest.param('token=abc; token="abc"', "token", "abc", id="same-value-quoted-and-not"),
        pytest.param("token=; token=abc", "token", "abc", id="empty-value-beside-a-token"),
        pytest.param("jwt=abc", "jwt", "abc", id="custom-name"),
        pytest.param("token=abc; jwt=xyz", "jwt", "xyz", id="custom-name-ignores-token"),
        pytest.param(None, "token", None, id="no-cookie-header"),
        pytest.param("token=", "token", None, id="empty-value"),
        pytest.param('token=""', "token", None, id="empty-quoted-value"),
        pytest.param("token=; token=", "token", None, id="empty-values"),
        pytest.param("Token=abc", "token", None, id="name-case-sensitive"),
    ],
)
def test_cookie_token(cookie: str | None, name: str, token: str | None) -> None:
    assert cookie_token(view(environ(cookie=cookie)), name, MAX) == token


@pytest.mark.parametrize(
    "cookie",
    [
        pytest.param("token=A; token=B", id="two-values"),
        pytest.param("token=A; other=1; token=B", id="two-values-apart"),
        pytest.param("token=A; token=B; token=A", id="three-values"),
        # werkzeug's RFC 2109 parser reads '"; token=B; b="' as one quoted value
        # of 'a' and would see only A; a browser sends these pairs exactly so.
        pytest.param('token=A; a="; token=B; b="', id="quote-hides-second-token"),
        pytest.param('a="x; token=A"; token=B', id="quote-around-first-token"),
        pytest.param("token=A;token=B", id="no-space"),
        pytest.param("token=A; token=B\t", id="trailing-tab"),
    ],
)
def test_cookie_token_tossed(cookie: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        cookie_token(view(environ(cookie=cookie)), "token", MAX)
    assert caught.value.error == "invalid_request"


@pytest.mark.parametrize(
    ("size", "accepted"),
    [
        pytest.param(300, True, id="at-cap"),
        pytest.param(301, False, id="over-cap"),
        pytest.param(100_000, False, id="huge"),
    ],
)
def test_cookie_token_size(size: int, accepted: bool) -> None:
    env = environ(cookie="token=" + "a" * size)
    if accepted:
        assert cookie_token(view(env), "token", 300) == "a" * size
    else:
        with pytest.raises(InvalidToken, match="longer than 300"):
            cookie_token(view(env), "token", 300)


# --------------------------------------------------------------------------------------
# extract_token: the order of the sources
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("authorization", "cookie", "cookie_name", "expected"),
    [
        pytest.param("Bearer h", None, "token", ("h", "header"), id="header"),
        pytest.param(None, "token=c", "token", ("c", "cookie"), id="cookie"),
        pytest.param("Bearer h", "token=c", "token", ("h", "header"), id="header-wins"),
        pytest.param(None, "token=c", None, None, id="cookie-not-allowed"),
        pytest.param("Bearer h", "token=c", None, ("h", "header"), id="header-cookie-off"),
        pytest.param(None, "token=c", "jwt", None, id="other-cookie-name"),
        pytest.param(None, "token=", "token", None, id="empty-cookie"),
        pytest.param(None, None, "token", None, id="nothing"),
    ],
)
def test_extract_token(
    authorization: str | None,
    cookie: str | None,
    cookie_name: str | None,
    expected: tuple[str, str] | None,
) -> None:
    env = environ(authorization, cookie)
    assert extract_token(view(env), cookie_name=cookie_name, max_size=MAX) == expected


@pytest.mark.parametrize(
    ("authorization", "refusal"),
    [
        pytest.param("Basic x", InvalidRequest, id="malformed"),
        pytest.param("Bearer a, Bearer b", InvalidRequest, id="duplicated"),
        pytest.param("", InvalidRequest, id="empty"),
        pytest.param("Bearer " + "a" * (MAX + 1), InvalidToken, id="oversized"),
    ],
)
def test_extract_token_never_falls_back_to_the_cookie(
    authorization: str, refusal: type[Exception]
) -> None:
    with pytest.raises(refusal):
        extract_token(view(environ(authorization, "token=good")), cookie_name="token", max_size=MAX)


def test_extract_token_refuses_a_tossed_cookie() -> None:
    with pytest.raises(InvalidRequest):
        extract_token(view(environ(cookie="token=a; token=b")), cookie_name="token", max_size=MAX)
    # ...but a cookie that is not read cannot be refused.
    assert extract_token(view(environ(cookie="token=a; token=b")), cookie_name=None, max_size=MAX) is None


# --------------------------------------------------------------------------------------
# Through the guard: the Authorization header
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        pytest.param("Bearer {}", id="canonical"),
        pytest.param("bearer {}", id="lower"),
        pytest.param("BEARER {}", id="upper"),
        pytest.param("Bearer   {}", id="several-spaces"),
    ],
)
def test_header_accepted(client: Client, ec_key: SigningKey, template: str) -> None:
    response = client.get(
        "/api/catalog", headers={"Authorization": template.format(ec_key.token())}
    )
    body = assert_reached(response)
    assert body["remote_user"] == "user:default/alice"
    assert body["identity"]["source"] == "header"


@pytest.mark.parametrize(
    "template",
    [
        pytest.param("Basic xxx", id="basic"),
        pytest.param("Bearer", id="no-token"),
        pytest.param("Bearer {} b", id="two-tokens"),
        pytest.param("Bearer {},Bearer {}", id="duplicated-joined"),
        pytest.param("Bearer a=b", id="equals-inside"),
        pytest.param("", id="empty"),
        pytest.param("Bearer {}\tx", id="tab-inside"),
        pytest.param("Token {}", id="other-scheme"),
    ],
)
@pytest.mark.parametrize("with_cookie", [False, True], ids=["no-cookie", "valid-cookie"])
@pytest.mark.parametrize("path", ["/api/catalog", "/api/search"], ids=["protected", "optional"])
def test_header_malformed(
    client: Client, ec_key: SigningKey, template: str, with_cookie: bool, path: str
) -> None:
    token = ec_key.token()
    headers = {"Authorization": template.format(token, token)}
    if with_cookie:
        headers["Cookie"] = f"token={token}"
    challenge = assert_refused(client.get(path, headers=headers), 401, "invalid_request")
    assert token not in challenge


def test_header_sent_twice_is_refused(client: Client, ec_key: SigningKey) -> None:
    token = ec_key.token()
    headers = [("Authorization", f"Bearer {token}"), ("Authorization", f"Bearer {token}")]
    assert_refused(client.get("/api/catalog", headers=headers), 401, "invalid_request")


def test_header_wins_over_cookie(client: Client, ec_key: SigningKey) -> None:
    headers = {
        "Authorization": f"Bearer {ec_key.token(sub='user:default/header')}",
        "Cookie": f"token={ec_key.token(sub='user:default/cookie')}",
    }
    body = assert_reached(client.get("/api/catalog", headers=headers))
    assert body["remote_user"] == "user:default/header"
    assert body["identity"]["source"] == "header"


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(lambda key: "a.b.c", id="garbage"),
        pytest.param(lambda key: key.token(exp=1), id="expired"),
        pytest.param(lambda key: SigningKey.ec(kid=key.kid).token(), id="untrusted-key"),
    ],
)
def test_bad_header_token_never_falls_back(
    client: Client, ec_key: SigningKey, bad: Callable[[SigningKey], str]
) -> None:
    headers = {"Authorization": f"Bearer {bad(ec_key)}", "Cookie": f"token={ec_key.token()}"}
    assert_refused(client.get("/api/catalog", headers=headers), 401, "invalid_token")


# --------------------------------------------------------------------------------------
# Through the guard: the cookie
# --------------------------------------------------------------------------------------


def test_cookie_accepted(client: Client, ec_key: SigningKey) -> None:
    token = ec_key.token()
    body = assert_reached(client.get("/api/catalog", headers={"Cookie": f"token={token}"}))
    assert body["remote_user"] == "user:default/alice"
    assert body["identity"]["source"] == "cookie"
    # Proxied calls can forward the credential.
    assert body["authorization"] == f"Bearer {token}"


def test_service_token_in_cookie(client: Client) -> None:
    body = assert_reached(
        client.get("/api/catalog", headers={"Cookie": f"token={service_token()}"})
    )
    assert body["identity"]["kind"] == "service"
    assert body["identity"]["source"] == "cookie"


def test_cookie_refused_on_rule_without_cookie(make_guard: MakeGuard, ec_key: SigningKey) -> None:
    routes = {"/api/catalog": Rule("protected", cookie=False), "/api/other": "protected"}
    client = Client(make_guard(routes=routes), use_cookies=False)
    cookie = {"Cookie": f"token={ec_key.token()}"}
    # As if no token had been sent: no error code in the challenge.
    assert_refused(client.get("/api/catalog", headers=cookie), 401, None)
    assert_reached(
        client.get("/api/catalog", headers={"Authorization": f"Bearer {ec_key.token()}"})
    )
    assert_reached(client.get("/api/other", headers=cookie))


def test_cookie_ignored_on_optional_rule_without_cookie(
    make_guard: MakeGuard, ec_key: SigningKey
) -> None:
    client = Client(make_guard(routes={"/api/search": Rule("optional", cookie=False)}))
    response = client.get("/api/search", headers={"Cookie": "token=garbage; token=tossed"})
    assert assert_reached(response)["identity"] is None


def test_cookie_disabled_is_never_read(make_guard: MakeGuard, ec_key: SigningKey) -> None:
    client = Client(make_guard(cookie=CookieSettings(enabled=False)), use_cookies=False)
    assert_refused(
        client.get("/api/catalog", headers={"Cookie": f"token={ec_key.token()}"}), 401, None
    )
    # Not even read to be refused: a tossed cookie on an optional route is anonymous.
    response = client.get("/api/search", headers={"Cookie": "token=a; token=b"})
    assert assert_reached(response)["identity"] is None


def test_custom_cookie_name(make_guard: MakeGuard, ec_key: SigningKey) -> None:
    client = Client(make_guard(cookie=CookieSettings(name="backstage-jwt")), use_cookies=False)
    token = ec_key.token()
    body = assert_reached(client.get("/api/catalog", headers={"Cookie": f"backstage-jwt={token}"}))
    assert body["identity"]["source"] == "cookie"
    assert_refused(client.get("/api/catalog", headers={"Cookie": f"token={token}"}), 401, None)


@pytest.mark.parametrize("path", ["/api/catalog", "/api/search"], ids=["protected", "optional"])
def test_cookie_tossing_refused(client: Client, ec_key: SigningKey, path: str) -> None:
    cookie = f"token={ec_key.token()}; token={ec_key.token(sub='user:default/mallory')}"
    assert_refused(client.get(path, headers={"Cookie": cookie}), 401, "invalid_request")


def test_same_cookie_twice_is_fine(client: Client, ec_key: SigningKey) -> None:
    token = ec_key.token()
    response = client.get("/api/catalog", headers={"Cookie": f"token={token}; token={token}"})
    assert assert_reached(response)["identity"]["source"] == "cookie"


def test_empty_cookie_is_absent(client: Client) -> None:
    assert_refused(client.get("/api/catalog", headers={"Cookie": "token="}), 401, None)
    assert (
        assert_reached(client.get("/api/search", headers={"Cookie": "token="}))["identity"] is None
    )


# --------------------------------------------------------------------------------------
# Through the guard: the size cap
# --------------------------------------------------------------------------------------


def _as(where: str, token: str) -> dict[str, str]:
    if where == "header":
        return {"Authorization": f"Bearer {token}"}
    return {"Cookie": f"token={token}"}


@pytest.mark.parametrize("where", ["header", "cookie"])
def test_size_cap_exactly_at_cap_passes(
    make_guard: MakeGuard, ec_key: SigningKey, where: str
) -> None:
    token = ec_key.token()
    client = Client(make_guard(max_token_size=len(token)), use_cookies=False)
    body = assert_reached(client.get("/api/catalog", headers=_as(where, token)))
    assert body["identity"]["source"] == where


@pytest.mark.parametrize("where", ["header", "cookie"])
def test_size_cap_one_over_is_refused(
    make_guard: MakeGuard, ec_key: SigningKey, where: str
) -> None:
    token = ec_key.token()
    client = Client(make_guard(max_token_size=len(token) - 1), use_cookies=False)
    challenge = assert_refused(
        client.get("/api/catalog", headers=_as(where, token)), 401, "invalid_token"
    )
    assert f"longer than {len(token) - 1}" in challenge


@pytest.mark.parametrize("where", ["header", "cookie"])
@pytest.mark.parametrize("path", ["/api/catalog", "/api/search"], ids=["protected", "optional"])
def test_default_size_cap(client: Client, where: str, path: str) -> None:
    # A well-formed but unverifiable token: over the cap the size is the reason,
    # at the cap the token gets as far as parsing.
    over = assert_refused(
        client.get(path, headers=_as(where, "a" * (MAX + 1))), 401, "invalid_token"
    )
    assert f"longer than {MAX}" in over
    at = assert_refused(client.get(path, headers=_as(where, "a" * MAX)), 401, "invalid_token")
    assert "longer than" not in at


def test_oversized_header_never_falls_back_to_cookie(client: Client, ec_key: SigningKey) -> None:
    headers = {"Authorization": "Bearer " + "a" * (MAX + 1), "Cookie": f"token={ec_key.token()}"}
    challenge = assert_refused(client.get("/api/catalog", headers=headers), 401, "invalid_token")
    assert "longer than" in challenge


# --------------------------------------------------------------------------------------
# custom token headers (an identity-aware proxy's assertion)
# --------------------------------------------------------------------------------------

IAP = "X-Goog-IAP-JWT-Assertion"


@pytest.fixture
def iap_client(make_guard: MakeGuard) -> Client:
    return Client(make_guard(token_headers=[IAP, "Cf-Access-Jwt-Assertion"]), use_cookies=False)


def test_custom_header_token_is_accepted(iap_client: Client, ec_key: SigningKey) -> None:
    body = assert_reached(iap_client.get("/api/catalog", headers={IAP: ec_key.token()}))
    assert body["identity"]["source"] == "custom-header"
    assert body["authorization"] is None  # not turned into a forwarded Authorization header


def test_second_custom_header_is_tried(iap_client: Client, ec_key: SigningKey) -> None:
    response = iap_client.get("/api/catalog", headers={"Cf-Access-Jwt-Assertion": ec_key.token()})
    assert assert_reached(response)["identity"]["source"] == "custom-header"


def test_custom_header_token_never_sets_the_cookie(iap_client: Client, ec_key: SigningKey) -> None:
    response = iap_client.get("/api/catalog", headers={IAP: ec_key.token()})
    assert "Set-Cookie" not in response.headers


def test_custom_headers_are_ignored_unless_configured(client: Client, ec_key: SigningKey) -> None:
    assert_refused(client.get("/api/catalog", headers={IAP: ec_key.token()}), 401, None)


def test_authorization_comes_before_custom_headers_and_they_before_the_cookie(
    iap_client: Client, ec_key: SigningKey
) -> None:
    alice, bob = ec_key.token(sub="user:default/alice"), ec_key.token(sub="user:default/bob")
    by_header = iap_client.get("/api/catalog", headers={"Authorization": f"Bearer {alice}", IAP: bob})
    assert assert_reached(by_header)["remote_user"] == "user:default/alice"
    # The proxy sets (and strips) its header; a sibling subdomain can plant the
    # cookie. A planted cookie never overrides the proxy-asserted user.
    planted = iap_client.get("/api/catalog", headers={"Cookie": f"token={alice}", IAP: bob})
    body = assert_reached(planted)
    assert body["remote_user"] == "user:default/bob"
    assert body["identity"]["source"] == "custom-header"
    # Even a tossed (duplicated) cookie is not read when the proxy's header is there.
    tossed = iap_client.get(
        "/api/catalog", headers={"Cookie": f"token={alice}; token=x", IAP: bob}
    )
    assert assert_reached(tossed)["remote_user"] == "user:default/bob"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("a.b.c, d.e.f", id="repeated-header-joined"),
        pytest.param("Bearer a.b.c", id="bearer-prefix"),
        pytest.param("a.b.c d", id="space-inside"),
        pytest.param("a+b/c=", id="not-base64url"),
    ],
)
def test_malformed_custom_header_is_invalid_request(iap_client: Client, value: str) -> None:
    assert_refused(iap_client.get("/api/catalog", headers={IAP: value}), 401, "invalid_request")


def test_invalid_custom_header_token_is_refused_without_clearing_cookie(
    iap_client: Client, ec_key: SigningKey
) -> None:
    response = iap_client.get("/api/catalog", headers={IAP: ec_key.token(exp=1)})
    assert_refused(response, 401, "invalid_token")
    assert "Set-Cookie" not in response.headers


def test_custom_header_size_cap() -> None:
    env = create_environ("/api/catalog", headers={IAP: "a" * (MAX + 1)})
    with pytest.raises(InvalidToken) as caught:
        custom_header_token(env, header_key(IAP, "token_headers"), MAX)
    assert caught.value.source == "custom-header"


@pytest.mark.parametrize(
    ("name", "key"),
    [
        pytest.param("X-Goog-IAP-JWT-Assertion", "HTTP_X_GOOG_IAP_JWT_ASSERTION", id="iap"),
        pytest.param("cf-access-jwt-assertion", "HTTP_CF_ACCESS_JWT_ASSERTION", id="lowercase"),
    ],
)
def test_header_key(name: str, key: str) -> None:
    assert header_key(name, "token_headers") == key


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param("X-Token", id="string-not-list"),
        pytest.param(["X Token"], id="space-in-name"),
        pytest.param(["X_Token"], id="underscore-in-name"),
        pytest.param([""], id="empty"),
        pytest.param(["Authorization"], id="authorization"),
        pytest.param(["cookie"], id="cookie"),
        pytest.param([3], id="not-a-string"),
    ],
)
def test_bad_token_headers_fail_at_construction(make_guard: MakeGuard, headers: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        make_guard(token_headers=headers)
    assert caught.value.key == "token_headers"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("token=ab\xffcd", id="invalid-utf8-in-the-token-cookie"),
        pytest.param("token=\u2028", id="non-latin1-in-the-token-cookie"),
    ],
)
def test_odd_bytes_in_the_token_cookie_are_a_401_not_a_500(client: Client, value: str) -> None:
    env = environ(cookie=value)
    captured: list[str] = []
    body = b"".join(client.application(env, lambda status, headers, exc_info=None: captured.append(status)))
    assert captured == ["401 Unauthorized"]
    assert b"invalid" in body or b"token" in body


@pytest.mark.parametrize(
    ("headers", "source", "named"),
    [
        pytest.param({"X-Auth-Token": "t"}, "custom-header", "the X-Auth-Token header", id="header"),
        pytest.param({}, "cookie", "the token cookie", id="token-cookie"),
        pytest.param({}, "edge-cookie", "the CF_Authorization cookie", id="edge-cookie"),
        pytest.param({}, "backstage-cookie", "the backstage-auth cookie", id="backstage-cookie"),
        # A token header sent beside a cookie token does not rename the cookie.
        pytest.param({"X-Auth-Token": "t"}, "cookie", "the token cookie", id="cookie-beside-header"),
    ],
)
def test_a_refusal_names_the_ambient_credential_that_carried_the_token(
    headers: dict[str, str], source: Any, named: str
) -> None:
    class Edge:
        token_header = None
        token_cookie = "CF_Authorization"

    token_headers = TokenHeaders(["X-Auth-Token"], [Edge()])  # type: ignore[list-item]
    request = RequestView(create_environ("/", headers=headers), "/")
    assert token_headers.credential(request, source) == named


# --------------------------------------------------------------------------------------
# The DPoP scheme (RFC 9449 §7.1)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param("DPoP a.b.c", ("a.b.c", "dpop"), id="dpop"),
        pytest.param("dpop   a.b.c ", ("a.b.c", "dpop"), id="case-and-spaces"),
        pytest.param(" DPOP a.b.c", ("a.b.c", "dpop"), id="leading-space"),
        pytest.param("Bearer a.b.c", ("a.b.c", "header"), id="bearer"),
        pytest.param(None, None, id="absent"),
    ],
)
def test_authorization_token_reads_both_schemes(header: str | None, expected: Any) -> None:
    assert authorization_token(environ(header), MAX) == expected


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("DPoP", id="no-token"),
        pytest.param("DPoP a b", id="two-tokens"),
        pytest.param("DPoP a.b.c, Bearer x", id="two-schemes"),
        pytest.param("DPoPa.b.c", id="no-space"),
        pytest.param("DPoP-Bearer a.b.c", id="another-scheme"),
    ],
)
def test_a_malformed_dpop_header_is_refused(header: str) -> None:
    with pytest.raises(InvalidRequest):
        authorization_token(environ(header), MAX)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("DPoP x", True), ("dpop", True), ("\tDPOP x", True), ("DPoPx", False), ("Bearer x", False), ("", False)],
)
def test_is_dpop_scheme(value: str, expected: bool) -> None:
    assert is_dpop_scheme(value) is expected
