"""CookieSettings: the attributes of every Set-Cookie the guard emits."""

from __future__ import annotations

import time

import pytest

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
    header = settings.issue("abc", time.time() + 60, https=https)
    assert header is not None
    assert ("Secure" in attributes(header)) is secure
    assert "HttpOnly" in attributes(header)
    assert "Path=/" in attributes(header)


def test_samesite_and_domain() -> None:
    header = CookieSettings(samesite="Strict", domain="example.test").issue("t", time.time() + 5, https=True)
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
    assert CookieSettings().issue("a" * 5000, time.time() + 60, https=False) is None


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
    ],
)
def test_bad_settings(options: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        CookieSettings(**options)  # type: ignore[arg-type]
    assert caught.value.key == key
