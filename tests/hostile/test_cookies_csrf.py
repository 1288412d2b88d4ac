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
from werkzeug.test import Client

from tests.helpers import (
    PROXY_HEADER,
    SERVICE_SECRET,
    TEST_CLIENT_ORIGIN,
    SigningKey,
    cookie,
    service_token,
)
from tests.hostile.app import hostile_guard
from tests.hostile.forge import Forge
from tests.hostile.servers import request
from tests.servers import werkzeug_server
from wsgi_jwt_guard import (
    ConfigError,
    CookieSettings,
)

Guard = Callable[..., Client]


# --------------------------------------------------------------------------------------
# CSRF through real servers (the cases themselves: tests/test_csrf.py)
# --------------------------------------------------------------------------------------


def test_a_planted_cookie_never_overrides_the_proxy_asserted_user(
    recording_client: Guard, ec_key: SigningKey, reached: list[dict[str, Any]]
) -> None:
    alice = ec_key.token(sub="user:default/alice")
    mallory = ec_key.token(sub="user:default/mallory")
    guard = recording_client()
    for cookie_header in (f"token={mallory}", f"token={mallory}; token={alice}", f'token={mallory}; a="'):
        response = guard.get("/api/catalog", headers={PROXY_HEADER: alice, "Cookie": cookie_header})
        assert response.status_code == 200
        assert response.get_json()["remote_user"] == "user:default/alice"
    assert {environ["REMOTE_USER"] for environ in reached} == {"user:default/alice"}


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


# --------------------------------------------------------------------------------------
# Cookie tossing and prefixes
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("order", ["attacker-first", "victim-first"])
def test_cookie_tossing_is_refused(recording_client: Guard, forge: Forge, ec_key: SigningKey, method: str, order: str) -> None:
    """A sibling domain sets ``token=ATTACKER`` (Domain=.example.com): with the
    victim's own cookie that is two values, and neither is trusted."""
    attacker = ec_key.token(sub="user:default/mallory")  # a genuine token of the attacker's account
    victim = forge.valid()
    pair = [attacker, victim] if order == "attacker-first" else [victim, attacker]
    response = recording_client().open("/api/catalog", method=method, headers={
        "Cookie": f"token={pair[0]}; token={pair[1]}", "Origin": TEST_CLIENT_ORIGIN,
    })
    assert response.status_code == 401
    assert 'error="invalid_request"' in response.headers["WWW-Authenticate"]
    assert "more than once" in json.loads(response.get_data())["error"]["message"]


def test_host_prefixed_cookie_ignores_a_tossed_plain_cookie(recording_client: Guard, forge: Forge, ec_key: SigningKey) -> None:
    """Only a secure page on this very host can set ``__Host-token``; a tossed
    ``token`` is just another cookie."""
    guard = recording_client(cookie=CookieSettings(name="__Host-token"))
    mallory = ec_key.token(sub="user:default/mallory")
    response = guard.get("/api/catalog", headers={"Cookie": f"token={mallory}; __Host-token={forge.valid()}"})
    assert response.status_code == 200
    assert json.loads(response.get_data())["remote_user"] == "user:default/alice"
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
    recording_client: Guard, forge: Forge, settings: CookieSettings, environ: dict[str, str], expected: set[str]
) -> None:
    guard = recording_client(cookie=settings)
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
def test_responses_that_set_no_cookie(recording_client: Guard, forge: Forge, headers: Any, path: str, status: int) -> None:
    method = "POST" if status == 403 and path == "/api/catalog" else "GET"
    response = recording_client().open(path, method=method, headers=headers(forge))
    assert response.status_code == status
    assert response.headers.getlist("Set-Cookie") == []


def test_cookie_lifetime_is_capped(recording_client: Guard, forge: Forge) -> None:
    token = forge.with_claims(exp=int(time.time()) + 10 * 365 * 86400)
    response = recording_client().get("/api/catalog", headers={"Authorization": f"Bearer {token}", "Sec-Fetch-Site": "same-origin"})
    _, attrs = attributes(response.headers["Set-Cookie"])
    assert parse_date(attrs["Expires"]).timestamp() <= time.time() + 400 * 86400 + 5  # type: ignore[union-attr]
