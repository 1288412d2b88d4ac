"""Downloading key documents (wsgi_jwt_guard.fetch): URLs allowed, origins, caching headers.

What a JWKS fetch does over a real socket -- hangs, trickles, redirects, size
caps -- is driven through the JWKS client in ``test_jwks.py``; here are the
pieces a download decides with, each against a real HTTP server on 127.0.0.1
where an answer is involved.
"""

from __future__ import annotations

import pytest

from tests.jwks_server import JWKSServer, answer
from wsgi_jwt_guard.fetch import Downloader, check_fetch_url, same_origin


@pytest.mark.parametrize(
    ("url", "insecure_http"),
    [
        pytest.param("https://auth.example.com/jwks.json", False, id="https"),
        pytest.param("http://127.0.0.1:8080/jwks.json", False, id="loopback-http"),
        pytest.param("http://localhost/jwks.json", False, id="localhost-http"),
        pytest.param("http://[::1]/jwks.json", False, id="ipv6-loopback-http"),
        pytest.param("http://auth.internal/jwks.json", True, id="insecure-http-allowed"),
    ],
)
def test_allowed_urls(url: str, insecure_http: bool) -> None:
    assert check_fetch_url(url, insecure_http=insecure_http) == url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        pytest.param("http://auth.example.com/jwks.json", "over https", id="remote-http"),
        pytest.param("ftp://auth.example.com/jwks.json", "absolute https", id="ftp"),
        pytest.param("/jwks.json", "absolute https", id="relative"),
        pytest.param("https:///jwks.json", "absolute https", id="no-host"),
        pytest.param(None, "expected a URL", id="not-a-string"),
    ],
)
def test_refused_urls(url: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_fetch_url(url)


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        pytest.param("https://a.test/x", "https://A.TEST/y", True, id="host-case"),
        pytest.param("https://a.test/x", "http://a.test/x", False, id="scheme"),
        pytest.param("https://a.test/x", "https://a.test:8443/x", False, id="port"),
        pytest.param("https://a.test/x", "https://b.a.test/x", False, id="subdomain"),
    ],
)
def test_same_origin(first: str, second: str, same: bool) -> None:
    assert same_origin(first, second) is same


@pytest.mark.parametrize(
    ("cache_control", "max_age"),
    [
        pytest.param("public, max-age=120", 120, id="max-age"),
        pytest.param('max-age="300"', 300, id="quoted"),
        # Directive names are case-insensitive (RFC 9111 §5.2).
        pytest.param("Public, MAX-AGE=90", 90, id="upper-case"),
        pytest.param("no-store", 0, id="no-store"),
        pytest.param("No-Cache, max-age=600", 0, id="no-cache-wins"),
        # A no-cache naming fields limits only those fields: max-age still holds.
        pytest.param('no-cache="Set-Cookie", max-age=600', 600, id="qualified-no-cache"),
        pytest.param("max-age=-5", 0, id="negative"),
        pytest.param("max-age=soon", None, id="not-a-number"),
        pytest.param("s-maxage=30, private", None, id="other-directives"),
        pytest.param("", None, id="absent"),
    ],
)
def test_max_age_from_cache_control_as_served(
    jwks_server: JWKSServer, cache_control: str, max_age: int | None
) -> None:
    headers = {"Cache-Control": cache_control} if cache_control else {}
    jwks_server.respond = answer(200, b'{"keys": []}', headers)
    downloaded = Downloader().get_json(jwks_server.url)
    assert downloaded.document == {"keys": []}
    assert downloaded.max_age == max_age
