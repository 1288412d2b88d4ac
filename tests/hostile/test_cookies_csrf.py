"""Cookie attacks and the CSRF check (``wsgi_jwt_guard.csrf``).

A token cookie is ambient authority: the browser sends it whoever made the page
that caused the request. So an *unsafe* request whose token came from the
cookie must show it was made by this site, and what the guard puts in
``Set-Cookie`` must make the cookie as hard to steal, toss or misuse as it can.

References: OWASP CSRF Prevention Cheat Sheet (Origin verification, Fetch
Metadata, double-submit, custom headers), RFC 6454 (origins), Fetch Metadata
(W3C, ``Sec-Fetch-Site``), RFC 6265bis §4.1.3 (``__Host-``/``__Secure-``
prefixes), "Cookie tossing" (GitHub, 2013; Zheng et al., USENIX Security 2015).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from werkzeug.http import parse_date
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.test import Client

from tests.helpers import (
    AUDIENCE,
    ISSUER,
    ROUTES,
    SERVICE_SECRET,
    SigningKey,
    build_guard,
    issuer_of,
    service_token,
)
from tests.hostile.app import hostile_guard
from tests.hostile.forge import Forge
from tests.hostile.servers import request
from tests.servers import werkzeug_server
from wsgi_jwt_guard import (
    ConfigError,
    CookieSettings,
    CSRFSettings,
    Rule,
    from_config,
)

Guard = Callable[..., Client]
OWN = "http://localhost"  # werkzeug's test client: wsgi.url_scheme http, Host localhost


@pytest.fixture
def reached() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def client(ec_key: SigningKey, reached: list[dict[str, Any]]) -> Guard:
    def build(**options: Any) -> Client:
        def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
            reached.append(environ)
            body = json.dumps({"user": environ.get("REMOTE_USER")}).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]

        options.setdefault("routes", {**ROUTES, "/api/scoped": Rule("protected", scopes=["admin"])})
        issuer = issuer_of([ec_key], algorithms=["ES256"])
        guard = build_guard(app, issuers=[issuer], token_headers=["X-Goog-IAP-JWT-Assertion"], **options)
        return Client(guard, use_cookies=False)

    return build


def cookie(token: str, name: str = "token") -> dict[str, str]:
    return {"Cookie": f"{name}={token}"}


# --------------------------------------------------------------------------------------
# CSRF: unsafe methods with a cookie-sourced token
# --------------------------------------------------------------------------------------

CSRF_CASES = [
    # Safe methods are never checked (RFC 9110 §9.2.1).
    pytest.param("GET", {}, 200, id="get-no-origin"),
    pytest.param("HEAD", {}, 200, id="head-no-origin"),
    pytest.param("OPTIONS", {}, 200, id="options-no-origin"),
    pytest.param("TRACE", {}, 200, id="trace-no-origin"),
    pytest.param("GET", {"Origin": "https://evil.example"}, 200, id="get-cross-origin"),
    # OWASP: verify the source origin; a request that cannot show one is refused.
    pytest.param("POST", {}, 403, id="post-no-origin-no-fetch-metadata"),
    pytest.param("POST", {"Origin": OWN}, 200, id="post-same-origin"),
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
    pytest.param("DELETE", {"Origin": OWN}, 200, id="delete-same-origin"),
    # CWE-650: a method override turns a "safe" request into an unsafe one.
    pytest.param("GET", {"X-HTTP-Method-Override": "DELETE"}, 403, id="get-overridden-to-delete"),
    pytest.param("GET", {"X-HTTP-Method": "PUT"}, 403, id="get-x-http-method-put"),
    pytest.param("POST", {"X-HTTP-Method-Override": "GET"}, 403, id="post-overridden-to-get"),
]


@pytest.mark.parametrize(("method", "headers", "status"), CSRF_CASES)
def test_csrf_on_cookie_tokens(
    client: Guard, forge: Forge, reached: list[Any], method: str, headers: dict[str, str], status: int
) -> None:
    token = forge.valid()
    response = client().open("/api/catalog", method=method, headers={**cookie(token), **headers})
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
def test_authorization_tokens_are_not_checked(client: Guard, forge: Forge, how: str, headers: Any) -> None:
    """A browser never attaches Authorization by itself, so a cross-site page cannot forge it."""
    response = client().post("/api/catalog", headers={**headers(forge.valid()), "Origin": "https://evil.example"})
    assert response.status_code == 200


IAP = "X-Goog-IAP-JWT-Assertion"


@pytest.mark.parametrize(("extra", "status"), [
    # An identity-aware proxy adds its header from its own session cookie, so a
    # cross-site form POST arrives with a valid header token: ambient, like the cookie.
    pytest.param({"Origin": "https://evil.example"}, 403, id="cross-site-origin"),
    pytest.param({"Sec-Fetch-Site": "cross-site"}, 403, id="cross-site-fetch-metadata"),
    pytest.param({}, 403, id="no-provenance"),
    pytest.param({"X-HTTP-Method-Override": "DELETE", "Origin": "https://evil.example"}, 403, id="override"),
    pytest.param({"Origin": OWN}, 200, id="same-origin"),
    pytest.param({"Sec-Fetch-Site": "same-origin"}, 200, id="same-origin-fetch-metadata"),
])
def test_proxy_headers_are_ambient_credentials(
    client: Guard, forge: Forge, reached: list[dict[str, Any]], extra: dict[str, str], status: int
) -> None:
    response = client().post("/api/catalog", headers={IAP: forge.valid(), **extra})
    assert response.status_code == status
    if status == 403:
        assert reached == []
        assert IAP in response.get_json()["error"]["message"]


def test_a_planted_cookie_never_overrides_the_proxy_asserted_user(
    client: Guard, ec_key: SigningKey, reached: list[dict[str, Any]]
) -> None:
    alice = ec_key.token(sub="user:default/alice")
    mallory = ec_key.token(sub="user:default/mallory")
    guard = client()
    for cookie_header in (f"token={mallory}", f"token={mallory}; token={alice}", f'token={mallory}; a="'):
        response = guard.get("/api/catalog", headers={IAP: alice, "Cookie": cookie_header})
        assert response.status_code == 200
        assert response.get_json() == {"user": "user:default/alice"}
    assert {environ["REMOTE_USER"] for environ in reached} == {"user:default/alice"}


def test_public_routes_are_not_checked(client: Guard, forge: Forge) -> None:
    assert client().post("/api/auth/login", headers=cookie(forge.valid())).status_code == 200


def test_optional_route_with_cookie_is_checked_never_anonymous(client: Guard, forge: Forge) -> None:
    response = client().post("/api/search", headers=cookie(forge.valid()))
    assert response.status_code == 403
    assert client().post("/api/search").status_code == 200  # no cookie: anonymous


def test_cross_site_check_comes_before_verification(client: Guard) -> None:
    """A forged cross-site request costs no signature check, whatever its cookie."""
    response = client().post("/api/catalog", headers={**cookie("a.b.c"), "Origin": "https://evil.example"})
    assert response.status_code == 403


def test_insufficient_scope_on_a_same_origin_post_is_still_a_403_with_a_challenge(client: Guard, forge: Forge) -> None:
    response = client().post("/api/scoped", headers={**cookie(forge.valid()), "Origin": OWN})
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize(("origin", "status"), [
    pytest.param("https://app.example.com", 200, id="allowed"),
    pytest.param("https://app.example.com:443", 200, id="allowed-default-port"),
    pytest.param("https://APP.example.com", 200, id="allowed-host-case"),
    pytest.param("http://app.example.com", 403, id="allowed-host-other-scheme"),
    pytest.param("https://evil.app.example.com", 403, id="subdomain-of-allowed"),
    pytest.param(OWN, 200, id="own-origin-still-allowed"),
])
def test_allowed_origins(client: Guard, forge: Forge, origin: str, status: int) -> None:
    guard = client(csrf=CSRFSettings(allowed_origins=["https://app.example.com"]))
    assert guard.post("/api/catalog", headers={**cookie(forge.valid()), "Origin": origin}).status_code == status


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
def test_double_submit(client: Guard, forge: Forge, cookies: str, headers: dict[str, str], status: int) -> None:
    guard = client(csrf=DOUBLE_SUBMIT)
    cookie_header = f"token={forge.valid()}" + (f"; {cookies}" if cookies else "")
    response = guard.post("/api/catalog", headers={"Cookie": cookie_header, **headers})
    assert response.status_code == status
    if status == 403:
        assert "X-CSRF-Token" in json.loads(response.get_data())["error"]["message"] or "Origin" in response.get_data(as_text=True)


def test_disabled_leaves_csrf_to_the_app(client: Guard, forge: Forge) -> None:
    guard = client(csrf=CSRFSettings(enabled=False))
    assert guard.post("/api/catalog", headers=cookie(forge.valid())).status_code == 200


def test_behind_a_proxy_the_public_origin_comes_from_proxyfix(ec_key: SigningKey, forge: Forge) -> None:
    guard = hostile_guard([ec_key.public_jwk()], SERVICE_SECRET)
    client = Client(ProxyFix(guard, x_proto=1, x_host=1), use_cookies=False)
    headers = {**cookie(forge.valid()), "Origin": "https://app.example.com",
               "X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example.com"}
    assert client.post("/api/catalog/x", headers=headers).status_code == 200
    assert Client(guard, use_cookies=False).post("/api/catalog/x", headers=headers).status_code == 403


@pytest.fixture(scope="module")
def live(ec_key: SigningKey) -> Iterator[int]:
    with werkzeug_server(hostile_guard([ec_key.public_jwk()], SERVICE_SECRET)) as port:
        yield port


def test_csrf_through_a_real_server(live: int, forge: Forge) -> None:
    token = forge.valid()
    own = f"http://127.0.0.1:{live}"
    for origin, status in [(own, 200), ("http://127.0.0.1", 403), ("https://evil.example", 403)]:
        response = request(live, "/api/catalog/x", [("Cookie", f"token={token}"), ("Origin", origin)], method="POST", body=b"x=1")
        assert response.status == status, origin
    form = request(live, "/api/catalog/x", [("Cookie", f"token={token}"), ("Content-Type", "application/x-www-form-urlencoded")], method="POST", body=b"x=1")
    assert form.status == 403


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


def test_csrf_from_config(forge: Forge, ec_key: SigningKey) -> None:
    guard = from_config(lambda e, s: (s("200 OK", []), [b""])[1], {
        "issuers": [{"issuer": ISSUER, "keys": [ec_key.public_jwk()], "audience": AUDIENCE, "algorithms": ["ES256"]}],
        "csrf": {"allowed_origins": ["https://app.example.com"], "header": "X-CSRF-Token", "cookie": "__Host-csrf"},
    })
    assert guard.csrf.allows("https://app.example.com:443")
    headers = {**cookie(forge.valid()), "Origin": "https://app.example.com"}
    assert Client(guard, use_cookies=False).post("/x", headers=headers).status_code == 200


def test_guard_refuses_a_wrong_csrf_object(client: Guard) -> None:
    with pytest.raises(ConfigError) as caught:
        client(csrf={"enabled": False})
    assert caught.value.key == "csrf"


# --------------------------------------------------------------------------------------
# Cookie tossing and prefixes
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("order", ["attacker-first", "victim-first"])
def test_cookie_tossing_is_refused(client: Guard, forge: Forge, ec_key: SigningKey, method: str, order: str) -> None:
    """A sibling domain sets ``token=ATTACKER`` (Domain=.example.com): with the
    victim's own cookie that is two values, and neither is trusted."""
    attacker = ec_key.token(sub="user:default/mallory")  # a genuine token of the attacker's account
    victim = forge.valid()
    pair = [attacker, victim] if order == "attacker-first" else [victim, attacker]
    response = client().open("/api/catalog", method=method, headers={
        "Cookie": f"token={pair[0]}; token={pair[1]}", "Origin": OWN,
    })
    assert response.status_code == 401
    assert 'error="invalid_request"' in response.headers["WWW-Authenticate"]
    assert "more than once" in json.loads(response.get_data())["error"]["message"]


def test_host_prefixed_cookie_ignores_a_tossed_plain_cookie(client: Guard, forge: Forge, ec_key: SigningKey) -> None:
    """Only a secure page on this very host can set ``__Host-token``; a tossed
    ``token`` is just another cookie."""
    guard = client(cookie=CookieSettings(name="__Host-token"))
    mallory = ec_key.token(sub="user:default/mallory")
    response = guard.get("/api/catalog", headers={"Cookie": f"token={mallory}; __Host-token={forge.valid()}"})
    assert response.status_code == 200
    assert json.loads(response.get_data())["user"] == "user:default/alice"
    only_tossed = guard.get("/api/catalog", headers={"Cookie": f"token={mallory}"})
    assert only_tossed.status_code == 401


@pytest.mark.parametrize(("settings", "key"), [
    pytest.param({"name": "__Host-token", "secure": False}, "secure", id="host-not-secure"),
    pytest.param({"name": "__Host-token", "domain": "example.com"}, "domain", id="host-with-domain"),
    pytest.param({"name": "__host-token", "domain": "example.com"}, "domain", id="host-lowercase-with-domain"),
    pytest.param({"name": "__HOST-token", "secure": False}, "secure", id="host-uppercase-not-secure"),
    pytest.param({"name": "__Secure-token", "secure": False}, "secure", id="secure-prefix-not-secure"),
    pytest.param({"samesite": "None", "secure": False}, "secure", id="samesite-none-not-secure"),
])
def test_prefixed_cookie_settings_are_enforced(settings: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        CookieSettings(**settings)
    assert caught.value.key == key


# --------------------------------------------------------------------------------------
# Every Set-Cookie the guard emits
# --------------------------------------------------------------------------------------


def attributes(header: str) -> tuple[str, dict[str, str]]:
    first, *rest = [part.strip() for part in header.split(";")]
    pairs = dict(part.split("=", 1) if "=" in part else (part, "") for part in rest)
    return first, pairs


EMISSIONS = [
    # (id, cookie settings, environ overrides, how the request is made, expected attributes)
    pytest.param(CookieSettings(), {}, {"HttpOnly", "Path", "SameSite", "Expires"}, id="default-http"),
    pytest.param(CookieSettings(), {"wsgi.url_scheme": "https"}, {"HttpOnly", "Path", "SameSite", "Expires", "Secure"}, id="default-https"),
    pytest.param(CookieSettings(secure=True), {}, {"HttpOnly", "Path", "SameSite", "Expires", "Secure"}, id="always-secure"),
    pytest.param(CookieSettings(name="__Host-token"), {}, {"HttpOnly", "Path", "SameSite", "Expires", "Secure"}, id="host-prefix-over-http"),
    pytest.param(CookieSettings(name="__Secure-token", domain="example.test"), {}, {"HttpOnly", "Path", "SameSite", "Expires", "Secure", "Domain"}, id="secure-prefix-with-domain"),
    pytest.param(CookieSettings(samesite="Strict"), {}, {"HttpOnly", "Path", "SameSite", "Expires"}, id="strict"),
]


@pytest.mark.parametrize(("settings", "environ", "expected"), EMISSIONS)
def test_every_set_cookie_attribute(
    client: Guard, forge: Forge, settings: CookieSettings, environ: dict[str, str], expected: set[str]
) -> None:
    guard = client(cookie=settings)
    token = forge.valid()
    # A browser's request: fetch metadata says so (set_for = "browsers").
    issued = guard.get("/api/catalog", headers={"Authorization": f"Bearer {token}", "Sec-Fetch-Site": "same-origin"}, environ_overrides=environ)
    assert issued.status_code == 200
    (header,) = issued.headers.getlist("Set-Cookie")
    first, attrs = attributes(header)
    assert first == f"{settings.name}={token}"
    assert set(attrs) == expected
    assert attrs["Path"] == "/"
    assert attrs["SameSite"] == settings.samesite
    assert abs(parse_date(attrs["Expires"]).timestamp() - forge.claims()["exp"]) <= 2  # type: ignore[union-attr]
    if settings.name.startswith("__Host-"):
        assert "Domain" not in attrs
        assert "Secure" in attrs
    # The refusal of that cookie clears it with the same attributes, now expired.
    cleared = guard.get("/api/catalog", headers={"Cookie": f"{settings.name}=a.b.c"}, environ_overrides=environ)
    assert cleared.status_code == 401
    (header,) = cleared.headers.getlist("Set-Cookie")
    first, cleared_attrs = attributes(header)
    assert first == f"{settings.name}="
    assert set(cleared_attrs) == expected
    assert parse_date(cleared_attrs["Expires"]).timestamp() == 0  # type: ignore[union-attr]


@pytest.mark.parametrize(("headers", "path", "status"), [
    pytest.param(lambda f: {"Authorization": f"Bearer {service_token()}"}, "/api/catalog", 200, id="service-token"),
    pytest.param(lambda f: {"X-Goog-IAP-JWT-Assertion": f.valid()}, "/api/catalog", 200, id="custom-header-token"),
    pytest.param(lambda f: {"Authorization": f"Bearer {f.valid()}"}, "/api/scoped", 403, id="insufficient-scope"),
    pytest.param(lambda f: {"Authorization": f"Bearer {f.valid()}"}, "/api/auth/x", 200, id="public-route"),
    pytest.param(lambda f: {"Authorization": f"Bearer {f.valid()}"}, "/api/../x", 400, id="bad-path"),
    pytest.param(lambda f: {"Authorization": "Bearer a.b.c"}, "/api/catalog", 401, id="bad-header-token"),
    pytest.param(lambda f: {**cookie(f.valid())}, "/api/catalog", 200, id="cookie-already-holds-it"),
    pytest.param(lambda f: {**cookie(f.valid()), "Origin": "https://evil.example"}, "/api/catalog", 200, id="get-cross-origin-cookie"),
    pytest.param(lambda f: {**cookie(f.valid())}, "/api/catalog", 403, id="csrf-refusal"),
    pytest.param(lambda f: {"Authorization": f"Bearer {f.with_claims(pad='x' * 4100)}"}, "/api/catalog", 200, id="too-big-for-a-cookie"),
])
def test_responses_that_set_no_cookie(client: Guard, forge: Forge, headers: Any, path: str, status: int) -> None:
    method = "POST" if status == 403 and path == "/api/catalog" else "GET"
    response = client().open(path, method=method, headers=headers(forge))
    assert response.status_code == status
    assert response.headers.getlist("Set-Cookie") == []


def test_cookie_lifetime_is_capped(client: Guard, forge: Forge) -> None:
    token = forge.with_claims(exp=int(time.time()) + 10 * 365 * 86400)
    response = client().get("/api/catalog", headers={"Authorization": f"Bearer {token}", "Sec-Fetch-Site": "same-origin"})
    _, attrs = attributes(response.headers["Set-Cookie"])
    assert parse_date(attrs["Expires"]).timestamp() <= time.time() + 400 * 86400 + 5  # type: ignore[union-attr]
