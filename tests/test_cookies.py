"""CookieSettings: the attributes of every Set-Cookie the guard emits."""

from __future__ import annotations

import time

import pytest
from werkzeug.http import dump_cookie

from wsgi_jwt_guard import ConfigError, CookieSettings


def attributes(header: str) -> list[str]:
    return [part.strip() for part in header.split(";")]


@pytest.mark.parametrize(
    ("settings", "https", "secure"),
    [
        pytest.param(CookieSettings(), False, False, id="http"),
        pytest.param(CookieSettings(), True, True, id="https"),
        pytest.param(CookieSettings(secure=True), False, True, id="always-secure"),
        pytest.param(CookieSettings(secure=False), True, False, id="never-secure"),
        pytest.param(CookieSettings(name="__Host-token"), False, True, id="host-prefix-forces-secure"),
        pytest.param(CookieSettings(name="__Secure-token"), False, True, id="secure-prefix"),
        pytest.param(CookieSettings(samesite="None"), False, True, id="samesite-none-needs-secure"),
    ],
)
def test_secure_attribute(settings: CookieSettings, https: bool, secure: bool) -> None:
    header = settings.issue("abc", time.time() + 60, https=https, now=time.time())
    assert header is not None
    assert ("Secure" in attributes(header)) is secure
    assert "HttpOnly" in attributes(header)
    assert "Path=/" in attributes(header)


def test_samesite_and_domain() -> None:
    header = CookieSettings(samesite="Strict", domain="example.test").issue(
        "t", time.time() + 5, https=True, now=time.time()
    )
    assert header is not None
    assert "SameSite=Strict" in attributes(header)
    assert "Domain=example.test" in attributes(header)


def test_clear_expires_the_cookie_with_the_same_attributes() -> None:
    header = CookieSettings(name="__Host-t").clear(https=False)
    parts = attributes(header)
    assert parts[0] == "__Host-t="
    assert "Secure" in parts
    assert "Path=/" in parts
    assert any(p.startswith("Expires=Thu, 01 Jan 1970") for p in parts)


def test_token_too_large_for_a_cookie_is_not_set() -> None:
    assert CookieSettings().issue("a" * 5000, time.time() + 60, https=False, now=time.time()) is None


@pytest.mark.parametrize(
    "settings",
    [
        pytest.param({}, id="default"),
        pytest.param({"secure": True}, id="secure"),
        pytest.param({"secure": False}, id="never-secure"),
        pytest.param({"name": "__Host-token", "samesite": "Strict"}, id="host-strict"),
        pytest.param({"domain": "example.test", "samesite": "None"}, id="domain-none"),
        pytest.param({"domain": ".example.test"}, id="leading-dot-domain"),
    ],
)
@pytest.mark.parametrize("https", [False, True], ids=["http", "https"])
def test_the_template_writes_what_werkzeug_would(settings: dict[str, object], https: bool) -> None:
    # The value is built from a template made once; it must be byte-for-byte
    # what werkzeug's general serializer gives for the same cookie.
    cookie = CookieSettings(**settings)  # type: ignore[arg-type]
    expected = dump_cookie(
        cookie.name,
        "a.b.c",
        expires=1_800_000_000,
        path="/",
        domain=cookie.domain,
        secure=bool(cookie.secure or (cookie.secure is None and https)),
        httponly=True,
        samesite=cookie.samesite,
    )
    assert cookie.issue("a.b.c", 1_800_000_000, https=https, now=1_799_000_000) == expected


def test_the_lifetime_is_capped_at_400_days_from_the_clock() -> None:
    header = CookieSettings().issue("t", 10**12, https=False, now=1_700_000_000)
    assert header is not None
    assert "Expires=Wed, 18 Dec 2024" in header  # 1_700_000_000 + 400 days


@pytest.mark.parametrize(
    ("options", "key"),
    [
        pytest.param({"name": ""}, "name", id="empty-name"),
        pytest.param({"name": "a;b"}, "name", id="separator-in-name"),
        pytest.param({"enabled": "yes"}, "enabled", id="enabled-not-bool"),
        pytest.param({"samesite": "lax"}, "samesite", id="samesite-case"),
        pytest.param({"domain": ""}, "domain", id="empty-domain"),
        pytest.param({"secure": "true"}, "secure", id="secure-not-bool"),
        pytest.param({"name": "__Host-t", "domain": "example.test"}, "domain", id="host-with-domain"),
        pytest.param({"domain": "a.test; Path=/x"}, "domain", id="attribute-in-domain"),
        pytest.param({"set_for": "browser"}, "set_for", id="set-for-unknown"),
    ],
)
def test_bad_settings(options: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        CookieSettings(**options)  # type: ignore[arg-type]
    assert caught.value.key == key
