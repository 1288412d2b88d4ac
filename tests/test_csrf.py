"""The CSRF check: ``wsgi_jwt_guard.csrf``.

An unsafe request whose token is ambient (the token cookie, a proxy's
``token_headers`` header) must show it was made by this site: its ``Origin``,
``Sec-Fetch-Site: same-origin`` or a double-submitted value. The tables drive
whole requests through a guard (``werkzeug.test.Client``); ``check_request``
and the settings are also tested on their own. Attacks through real servers
live in ``tests/hostile/test_cookies_csrf.py``.

References: OWASP CSRF Prevention Cheat Sheet (Origin verification, Fetch
Metadata, double-submit, custom headers), RFC 6454 (origins), Fetch Metadata
(W3C, ``Sec-Fetch-Site``), RFC 9110 §9.2.1 (safe methods), CWE-650 (method
overrides).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.test import Client, create_environ

from tests.helpers import (
    AUDIENCE,
    ISSUER,
    PROXY_HEADER,
    SERVICE_SECRET,
    TEST_CLIENT_ORIGIN,
    SigningKey,
    cookie,
    service_token,
)
from wsgi_jwt_guard import ConfigError, CSRFSettings, JWTGuard, from_config
from wsgi_jwt_guard.csrf import SAFE_METHODS, check_request
from wsgi_jwt_guard.errors import CrossSiteRequest
from wsgi_jwt_guard.request import RequestView

Guard = Callable[..., Client]



# --- through the guard: unsafe methods with an ambient token -------------------------

CSRF_CASES = [
    # Safe methods are never checked (RFC 9110 §9.2.1).
    pytest.param("GET", {}, 200, id="get-no-origin"),
    pytest.param("HEAD", {}, 200, id="head-no-origin"),
    pytest.param("OPTIONS", {}, 200, id="options-no-origin"),
    pytest.param("TRACE", {}, 200, id="trace-no-origin"),
    pytest.param("GET", {"Origin": "https://evil.example"}, 200, id="get-cross-origin"),
    # OWASP: verify the source origin; a request that cannot show one is refused.
    pytest.param("POST", {}, 403, id="post-no-origin-no-fetch-metadata"),
    pytest.param("POST", {"Origin": TEST_CLIENT_ORIGIN}, 200, id="post-same-origin"),
    pytest.param("POST", {"Origin": "http://localhost:80"}, 200, id="post-same-origin-default-port"),
    pytest.param("POST", {"Origin": "HTTP://LOCALHOST"}, 200, id="post-same-origin-upper-case"),
    pytest.param("POST", {"Origin": "https://evil.example"}, 403, id="post-cross-origin"),
    pytest.param("POST", {"Origin": "null"}, 403, id="post-origin-null-sandboxed-frame"),
    pytest.param("POST", {"Origin": "https://localhost"}, 403, id="post-other-scheme"),
    pytest.param("POST", {"Origin": "http://localhost:8080"}, 403, id="post-other-port"),
    pytest.param("POST", {"Origin": "http://localhost.evil.example"}, 403, id="post-suffix-domain"),
    pytest.param("POST", {"Origin": "http://evil.localhost"}, 403, id="post-subdomain"),
    pytest.param("POST", {"Origin": "http://localhost/path"}, 403, id="post-origin-with-path"),
    pytest.param("POST", {"Origin": "http://evil.example, http://localhost"}, 403, id="post-origin-list"),
    pytest.param("POST", {"Origin": "http://localhost@evil.example"}, 403, id="post-origin-userinfo"),
    pytest.param("POST", {"Origin": ""}, 403, id="post-origin-empty"),
    # Fetch Metadata (W3C): same-origin only; same-site siblings are other origins.
    pytest.param("POST", {"Sec-Fetch-Site": "same-origin"}, 200, id="post-fetch-same-origin"),
    pytest.param("POST", {"Sec-Fetch-Site": "same-site"}, 403, id="post-fetch-same-site"),
    pytest.param("POST", {"Sec-Fetch-Site": "cross-site"}, 403, id="post-fetch-cross-site"),
    pytest.param("POST", {"Sec-Fetch-Site": "none"}, 403, id="post-fetch-none"),
    pytest.param("POST", {"Origin": "null", "Sec-Fetch-Site": "same-origin"}, 200, id="post-null-origin-same-origin-fetch"),
    pytest.param("POST", {"Origin": "https://evil.example", "Sec-Fetch-Site": "same-origin"}, 403, id="post-origin-wins-over-fetch-metadata"),
    pytest.param("PUT", {}, 403, id="put-no-origin"),
    pytest.param("PATCH", {"Origin": "https://evil.example"}, 403, id="patch-cross-origin"),
    pytest.param("DELETE", {"Sec-Fetch-Site": "cross-site"}, 403, id="delete-cross-site"),
    pytest.param("PURGE", {}, 403, id="unknown-method-is-unsafe"),
    pytest.param("DELETE", {"Origin": TEST_CLIENT_ORIGIN}, 200, id="delete-same-origin"),
    # CWE-650: a method override turns a "safe" request into an unsafe one.
    pytest.param("GET", {"X-HTTP-Method-Override": "DELETE"}, 403, id="get-overridden-to-delete"),
    pytest.param("GET", {"X-HTTP-Method": "PUT"}, 403, id="get-x-http-method-put"),
    pytest.param("POST", {"X-HTTP-Method-Override": "GET"}, 403, id="post-overridden-to-get"),
]


@pytest.mark.parametrize(("method", "headers", "status"), CSRF_CASES)
def test_csrf_on_cookie_tokens(
    recording_client: Guard, ec_key: SigningKey, reached: list[Any], method: str, headers: dict[str, str], status: int
) -> None:
    token = ec_key.token()
    response = recording_client().open("/api/catalog", method=method, headers={**cookie(token), **headers})
    assert response.status_code == status
    if status == 403:
        assert_csrf_refusal(response, token)
        assert reached == []
    else:
        assert len(reached) == 1


def assert_csrf_refusal(response: Any, token: str) -> None:
    body = json.loads(response.get_data())
    assert body["error"]["name"] == "NotAllowedError"
    message = body["error"]["message"]
    assert "token cookie" in message
    assert ("Origin" in message or "Sec-Fetch-Site" in message)
    assert "WWW-Authenticate" not in response.headers  # the token is not at fault
    assert "Set-Cookie" not in response.headers  # and the cookie is kept
    assert token not in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(("how", "headers"), [
    pytest.param("header", lambda t: {"Authorization": f"Bearer {t}"}, id="authorization-header"),
    pytest.param("service-header", lambda t: {"Authorization": f"Bearer {service_token()}"}, id="service-token-header"),
])
def test_authorization_tokens_are_not_checked(recording_client: Guard, ec_key: SigningKey, how: str, headers: Any) -> None:
    """A browser never attaches Authorization by itself, so a cross-site page cannot forge it."""
    response = recording_client().post("/api/catalog", headers={**headers(ec_key.token()), "Origin": "https://evil.example"})
    assert response.status_code == 200



@pytest.mark.parametrize(("extra", "status"), [
    # An identity-aware proxy adds its header from its own session cookie, so a
    # cross-site form POST arrives with a valid header token: ambient, like the cookie.
    pytest.param({"Origin": "https://evil.example"}, 403, id="cross-site-origin"),
    pytest.param({"Sec-Fetch-Site": "cross-site"}, 403, id="cross-site-fetch-metadata"),
    pytest.param({}, 403, id="no-provenance"),
    pytest.param({"X-HTTP-Method-Override": "DELETE", "Origin": "https://evil.example"}, 403, id="override"),
    pytest.param({"Origin": TEST_CLIENT_ORIGIN}, 200, id="same-origin"),
    pytest.param({"Sec-Fetch-Site": "same-origin"}, 200, id="same-origin-fetch-metadata"),
])
def test_proxy_headers_are_ambient_credentials(
    recording_client: Guard, ec_key: SigningKey, reached: list[dict[str, Any]], extra: dict[str, str], status: int
) -> None:
    response = recording_client().post("/api/catalog", headers={PROXY_HEADER: ec_key.token(), **extra})
    assert response.status_code == status
    if status == 403:
        assert reached == []
        assert PROXY_HEADER in response.get_json()["error"]["message"]


def test_public_routes_are_not_checked(recording_client: Guard, ec_key: SigningKey) -> None:
    assert recording_client().post("/api/auth/login", headers=cookie(ec_key.token())).status_code == 200


def test_optional_route_with_cookie_is_checked_never_anonymous(recording_client: Guard, ec_key: SigningKey) -> None:
    response = recording_client().post("/api/search", headers=cookie(ec_key.token()))
    assert response.status_code == 403
    assert recording_client().post("/api/search").status_code == 200  # no cookie: anonymous


def test_cross_site_check_comes_before_verification(recording_client: Guard) -> None:
    """A forged cross-site request costs no signature check, whatever its cookie."""
    response = recording_client().post("/api/catalog", headers={**cookie("a.b.c"), "Origin": "https://evil.example"})
    assert response.status_code == 403


def test_insufficient_scope_on_a_same_origin_post_is_still_a_403_with_a_challenge(recording_client: Guard, ec_key: SigningKey) -> None:
    response = recording_client().post("/api/scoped", headers={**cookie(ec_key.token()), "Origin": TEST_CLIENT_ORIGIN})
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize(("origin", "status"), [
    pytest.param("https://app.example.com", 200, id="allowed"),
    pytest.param("https://app.example.com:443", 200, id="allowed-default-port"),
    pytest.param("https://APP.example.com", 200, id="allowed-host-case"),
    pytest.param("http://app.example.com", 403, id="allowed-host-other-scheme"),
    pytest.param("https://evil.app.example.com", 403, id="subdomain-of-allowed"),
    pytest.param(TEST_CLIENT_ORIGIN, 200, id="own-origin-still-allowed"),
])
def test_allowed_origins(recording_client: Guard, ec_key: SigningKey, origin: str, status: int) -> None:
    guard = recording_client(csrf=CSRFSettings(allowed_origins=["https://app.example.com"]))
    assert guard.post("/api/catalog", headers={**cookie(ec_key.token()), "Origin": origin}).status_code == status


DOUBLE_SUBMIT = CSRFSettings(header="X-CSRF-Token", cookie="__Host-csrf")


@pytest.mark.parametrize(("cookies", "headers", "status"), [
    pytest.param("__Host-csrf=abc123", {"X-CSRF-Token": "abc123"}, 200, id="matching"),
    pytest.param("__Host-csrf=abc123", {"X-CSRF-Token": "abc123", "Origin": "https://evil.example"}, 200, id="matching-proves-despite-origin"),
    pytest.param("__Host-csrf=abc123", {"X-CSRF-Token": "abc124"}, 403, id="mismatch"),
    pytest.param("__Host-csrf=abc123", {}, 403, id="header-missing"),
    pytest.param("", {"X-CSRF-Token": "abc123"}, 403, id="cookie-missing"),
    pytest.param("__Host-csrf=", {"X-CSRF-Token": ""}, 403, id="both-empty"),
    pytest.param("__Host-csrf=abc123; __Host-csrf=evil", {"X-CSRF-Token": "evil"}, 403, id="csrf-cookie-tossed"),
    pytest.param("csrf=abc123", {"X-CSRF-Token": "abc123"}, 403, id="unprefixed-cookie-is-another-cookie"),
    pytest.param("__Host-csrf=abc123", {"X-CSRF-Token": "abc123x"}, 403, id="prefix-of-value"),
])
def test_double_submit(recording_client: Guard, ec_key: SigningKey, cookies: str, headers: dict[str, str], status: int) -> None:
    guard = recording_client(csrf=DOUBLE_SUBMIT)
    cookie_header = f"token={ec_key.token()}" + (f"; {cookies}" if cookies else "")
    response = guard.post("/api/catalog", headers={"Cookie": cookie_header, **headers})
    assert response.status_code == status
    if status == 403:
        assert "X-CSRF-Token" in json.loads(response.get_data())["error"]["message"] or "Origin" in response.get_data(as_text=True)


def test_disabled_leaves_csrf_to_the_app(recording_client: Guard, ec_key: SigningKey) -> None:
    guard = recording_client(csrf=CSRFSettings(enabled=False))
    assert guard.post("/api/catalog", headers=cookie(ec_key.token())).status_code == 200


def test_behind_a_proxy_the_public_origin_comes_from_proxyfix(
    make_guard: Callable[..., JWTGuard], ec_key: SigningKey
) -> None:
    guard = make_guard()
    client = Client(ProxyFix(guard, x_proto=1, x_host=1), use_cookies=False)
    headers = {**cookie(ec_key.token()), "Origin": "https://app.example.com",
               "X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example.com"}
    assert client.post("/api/catalog/x", headers=headers).status_code == 200
    assert Client(guard, use_cookies=False).post("/api/catalog/x", headers=headers).status_code == 403


@pytest.mark.parametrize(("settings", "key"), [
    pytest.param({"allowed_origins": "https://a.example"}, "allowed_origins", id="origins-string"),
    pytest.param({"allowed_origins": ["*"]}, "allowed_origins[0]", id="wildcard"),
    pytest.param({"allowed_origins": ["null"]}, "allowed_origins[0]", id="null-origin"),
    pytest.param({"allowed_origins": ["https://a.example/app"]}, "allowed_origins[0]", id="origin-with-path"),
    pytest.param({"allowed_origins": ["a.example"]}, "allowed_origins[0]", id="origin-without-scheme"),
    pytest.param({"allowed_origins": ["https://a.example", 1]}, "allowed_origins[1]", id="origin-not-a-string"),
    pytest.param({"header": "X-CSRF-Token"}, "cookie", id="header-without-cookie"),
    pytest.param({"cookie": "csrf"}, "header", id="cookie-without-header"),
    pytest.param({"header": "Authorization", "cookie": "csrf"}, "header", id="header-authorization"),
    pytest.param({"header": "X CSRF", "cookie": "csrf"}, "header", id="header-with-space"),
    pytest.param({"header": "X-CSRF", "cookie": "a;b"}, "cookie", id="cookie-with-separator"),
    pytest.param({"enabled": "yes"}, "enabled", id="enabled-not-bool"),
])
def test_csrf_settings_errors_name_the_key(settings: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        CSRFSettings(**settings)
    assert caught.value.key == key
    with pytest.raises(ConfigError) as caught:
        from_config(lambda e, s: [], {"service_tokens": {"secrets": [SERVICE_SECRET]}, "csrf": settings})
    assert caught.value.key == f"csrf.{key}"


@pytest.mark.parametrize(("config", "key"), [
    pytest.param({"csrf": ["x"]}, "csrf", id="not-a-table"),
    pytest.param({"csrf": {"origins": []}}, "csrf.origins", id="unknown-key"),
])
def test_csrf_config_shape(config: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        from_config(lambda e, s: [], {"service_tokens": {"secrets": [SERVICE_SECRET]}, **config})
    assert caught.value.key == key


def test_csrf_from_config(ec_key: SigningKey) -> None:
    guard = from_config(lambda e, s: (s("200 OK", []), [b""])[1], {
        "issuers": [{"issuer": ISSUER, "keys": [ec_key.public_jwk()], "audience": AUDIENCE, "algorithms": ["ES256"]}],
        "csrf": {"allowed_origins": ["https://app.example.com"], "header": "X-CSRF-Token", "cookie": "__Host-csrf"},
    })
    assert guard.csrf.allows("https://app.example.com:443")
    headers = {**cookie(ec_key.token()), "Origin": "https://app.example.com"}
    assert Client(guard, use_cookies=False).post("/x", headers=headers).status_code == 200


def test_guard_refuses_a_wrong_csrf_object(recording_client: Guard) -> None:
    with pytest.raises(ConfigError) as caught:
        recording_client(csrf={"enabled": False})
    assert caught.value.key == "csrf"


# --- check_request on its own -----------------------------------------------------------


def view(method: str = "POST", **headers: str) -> RequestView:
    return RequestView(create_environ("/api/catalog", method=method, headers=headers), "/api/catalog")


def test_safe_methods_are_the_rfc_9110_ones() -> None:
    assert frozenset({"GET", "HEAD", "OPTIONS", "TRACE"}) == SAFE_METHODS


@pytest.mark.parametrize(
    ("request_view", "message"),
    [
        pytest.param(
            view(Origin="https://evil.example"),
            "a cross-site POST with the token cookie is refused: Origin is not this site",
            id="cross-origin",
        ),
        pytest.param(
            view(),
            "a POST with the token cookie needs an Origin or Sec-Fetch-Site: same-origin header",
            id="no-provenance",
        ),
        pytest.param(
            view("GET", **{"X-HTTP-Method-Override": "DELETE"}),
            "a DELETE with the token cookie needs an Origin or Sec-Fetch-Site: same-origin header",
            id="override-named",
        ),
    ],
)
def test_a_refusal_names_the_method_and_the_credential(request_view: RequestView, message: str) -> None:
    with pytest.raises(CrossSiteRequest) as caught:
        check_request(request_view, CSRFSettings(), "the token cookie")
    assert caught.value.description == message
    assert caught.value.status == 403


def test_a_method_that_is_not_a_plain_name_is_not_echoed() -> None:
    odd = view("GET", **{"X-HTTP-Method-Override": "DE<L>ETE"})
    with pytest.raises(CrossSiteRequest) as caught:
        check_request(odd, CSRFSettings(), "the token cookie")
    assert "DE<L>ETE" not in caught.value.description
    assert "unsafe request with the token cookie" in caught.value.description


def test_a_refusal_names_the_double_submit_header_when_configured() -> None:
    settings = CSRFSettings(header="X-CSRF-Token", cookie="__Host-csrf")
    with pytest.raises(CrossSiteRequest, match="or the X-CSRF-Token header"):
        check_request(view(), settings, "X-Goog-IAP-JWT-Assertion")


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        pytest.param("https://app.example.com", True, id="listed"),
        pytest.param("https://APP.example.com:443", True, id="normalized"),
        pytest.param("https://app.example.com/", False, id="with-a-path"),
        pytest.param("null", False, id="null"),
        pytest.param("https://other.example.com", False, id="other"),
    ],
)
def test_allows_compares_normalized_origins(origin: str, allowed: bool) -> None:
    assert CSRFSettings(allowed_origins=["https://app.example.com"]).allows(origin) is allowed
