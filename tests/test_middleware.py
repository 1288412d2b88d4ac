"""JWTGuard.__call__: scrub, inject, cookie, and passing the app's response through."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from werkzeug.http import parse_date
from werkzeug.test import Client

from tests.helpers import ISSUER, FakeClock, SigningKey, bearer, echo_app, service_token
from wsgi_jwt_guard import ENVIRON_KEY, ConfigError, CookieSettings, Issuer, JWTGuard

Guard = Callable[..., JWTGuard]


def browser(token: str) -> dict[str, str]:
    """A header token as a browser sends it: with fetch metadata, so the guard
    answers with the token cookie (``set_for = "browsers"``)."""
    return {**bearer(token), "Sec-Fetch-Site": "same-origin"}


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        pytest.param("/api/auth/login", {}, id="public"),
        pytest.param("/api/search", {}, id="optional-anonymous"),
        pytest.param("/api/auth/login", {"Authorization": "Bearer garbage"}, id="public-bad-token"),
    ],
)
@pytest.mark.parametrize(
    "spoofed",
    [
        pytest.param({"REMOTE_USER": "admin"}, id="REMOTE_USER"),
        pytest.param({"AUTH_TYPE": "Bearer"}, id="AUTH_TYPE"),
        pytest.param({ENVIRON_KEY: object()}, id="identity-key"),
        pytest.param({"HTTP_REMOTE_USER": "admin"}, id="Remote-User-header"),
    ],
)
def test_spoofed_identity_is_scrubbed_on_every_route(
    make_guard: Guard, path: str, headers: dict[str, str], spoofed: dict[str, Any]
) -> None:
    seen: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.update({key: environ.get(key) for key in spoofed})
        return echo_app(environ, start_response)

    response = Client(make_guard(app)).get(path, headers=headers, environ_overrides=spoofed)
    assert response.status_code == 200
    assert seen == dict.fromkeys(spoofed)


def test_identity_is_injected(client: Client, ec_key: SigningKey) -> None:
    token = ec_key.token()
    body = client.get("/api/catalog", headers=bearer(token)).json
    assert body["remote_user"] == "user:default/alice"
    assert body["auth_type"] == "Bearer"
    assert body["identity"]["issuer"] == ISSUER
    assert body["identity"]["kind"] == "user"
    assert body["identity"]["source"] == "header"
    assert body["identity"]["ownership_refs"] == ["user:default/alice", "group:default/team-a"]


def test_spoofed_remote_user_is_replaced_by_the_token_subject(client: Client, ec_key: SigningKey) -> None:
    response = client.get(
        "/api/catalog", headers=bearer(ec_key.token()), environ_overrides={"REMOTE_USER": "admin"}
    )
    assert response.json["remote_user"] == "user:default/alice"


def test_cookie_token_is_forwarded_as_authorization_header(client: Client, ec_key: SigningKey) -> None:
    token = ec_key.token()
    response = client.get("/api/catalog", headers={"Cookie": f"token={token}"})
    assert response.status_code == 200
    assert response.json["identity"]["source"] == "cookie"
    assert response.json["authorization"] == f"Bearer {token}"
    assert "Set-Cookie" not in response.headers


def test_header_token_sets_the_cookie(client: Client, ec_key: SigningKey) -> None:
    exp = int(time.time()) + 900
    token = ec_key.token(exp=exp)
    response = client.get("/api/catalog", headers=browser(token))
    cookie = response.headers["Set-Cookie"]
    attributes = [part.strip() for part in cookie.split(";")]
    assert attributes[0] == f"token={token}"
    assert "HttpOnly" in attributes
    assert "Path=/" in attributes
    assert "SameSite=Lax" in attributes
    assert "Secure" not in attributes  # plain http
    assert not any(a.startswith("Domain=") for a in attributes)
    expires = next(a for a in attributes if a.startswith("Expires="))
    parsed = parse_date(expires.removeprefix("Expires="))
    assert parsed is not None
    assert int(parsed.timestamp()) == exp


def test_cookie_is_secure_on_https_and_carries_a_configured_domain(
    make_guard: Guard, ec_key: SigningKey
) -> None:
    client = Client(make_guard(cookie=CookieSettings(domain="example.test")), use_cookies=False)
    cookie = client.get(
        "/api/catalog",
        headers={**bearer(ec_key.token()), "Sec-Fetch-Site": "same-origin"},  # a browser
        base_url="https://example.test",
    ).headers["Set-Cookie"]
    assert "Secure" in cookie
    assert "Domain=example.test" in cookie


def test_cookie_is_not_reset_when_it_already_holds_the_token(client: Client, ec_key: SigningKey) -> None:
    token = ec_key.token()
    headers = {**browser(token), "Cookie": f"token={token}"}
    assert "Set-Cookie" not in client.get("/api/catalog", headers=headers).headers


def test_cookie_is_replaced_when_it_holds_another_token(client: Client, ec_key: SigningKey) -> None:
    old, new = ec_key.token(sub="user:default/old"), ec_key.token()
    headers = {**browser(new), "Cookie": f"token={old}"}
    assert client.get("/api/catalog", headers=headers).headers["Set-Cookie"].startswith(f"token={new};")


def test_tossed_cookie_holding_the_token_is_replaced(client: Client, ec_key: SigningKey) -> None:
    """An attacker's sibling-domain cookie next to ours: ours is set again, unambiguously."""
    token = ec_key.token()
    headers = {**browser(token), "Cookie": f"token=attacker; token={token}"}
    assert client.get("/api/catalog", headers=headers).headers["Set-Cookie"].startswith(f"token={token};")


@pytest.mark.parametrize(
    "cookie",
    [
        pytest.param('token="{t}"', id="quoted"),
        pytest.param("token={t}; token={t}", id="same-token-twice"),
        pytest.param("a=1;token={t} ", id="no-space-trailing-blank"),
    ],
)
def test_cookie_holding_the_token_in_another_spelling_is_not_reset(
    client: Client, ec_key: SigningKey, cookie: str
) -> None:
    # One reader for the whole guard: what extraction takes for the token, the
    # Set-Cookie decision does too (no Set-Cookie on every response).
    token = ec_key.token()
    headers = {**browser(token), "Cookie": cookie.format(t=token)}
    assert "Set-Cookie" not in client.get("/api/catalog", headers=headers).headers


def test_a_token_hidden_behind_a_quote_is_seen_and_replaced(
    client: Client, ec_key: SigningKey
) -> None:
    token = ec_key.token()
    headers = {**browser(token), "Cookie": f'token={token}; a="; token=attacker; b="'}
    assert client.get("/api/catalog", headers=headers).headers["Set-Cookie"].startswith(f"token={token};")


@pytest.mark.parametrize(
    ("cache_control", "cookie_set"),
    [
        pytest.param(None, True, id="none"),
        pytest.param("private, max-age=60", True, id="private"),
        pytest.param("no-store", True, id="no-store"),
        pytest.param("max-age=60", True, id="max-age-only"),
        # RFC 9111 §3.5: these let a shared cache store an answer to a request
        # with Authorization; a CDN would then hand the token to everyone.
        pytest.param("public, max-age=3600", False, id="public"),
        pytest.param("PUBLIC", False, id="public-upper"),
        pytest.param("s-maxage=600", False, id="s-maxage"),
        pytest.param("max-age=0, must-revalidate", False, id="must-revalidate"),
    ],
)
def test_no_token_cookie_on_a_response_shared_caches_may_store(
    make_guard: Guard, ec_key: SigningKey, cache_control: str | None, cookie_set: bool
) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        headers = [("Content-Type", "text/plain")]
        if cache_control is not None:
            headers.append(("Cache-Control", cache_control))
        start_response("200 OK", headers)
        return [b"catalog"]

    response = Client(make_guard(app), use_cookies=False).get(
        "/api/catalog", headers=browser(ec_key.token())
    )
    assert response.status_code == 200
    assert ("Set-Cookie" in response.headers) is cookie_set
    assert response.get_data() == b"catalog"


@pytest.mark.parametrize(
    ("set_for", "scheme", "headers", "cookie_set"),
    [
        # Every current browser sends fetch metadata to https and localhost origins.
        pytest.param("browsers", "https", {"Sec-Fetch-Site": "same-origin"}, True, id="browser"),
        pytest.param("browsers", "https", {"Sec-Fetch-Mode": "cors"}, True, id="browser-mode"),
        pytest.param("browsers", "https", {"Sec-Fetch-Dest": "image"}, True, id="browser-dest"),
        # An API client: no ~1 KB header it would never send back.
        pytest.param("browsers", "https", {}, False, id="api-client"),
        # Browsers send no fetch metadata to plain-http origins: their
        # User-Agent says "Mozilla/" there; curl, wrk and HTTP libraries do not.
        pytest.param("browsers", "http", {"User-Agent": "Mozilla/5.0 (X11)"}, True, id="http-browser"),
        pytest.param("browsers", "http", {"User-Agent": "curl/8.5.0"}, False, id="http-curl"),
        pytest.param("browsers", "http", {}, False, id="http-no-user-agent"),
        pytest.param("browsers", "https", {"User-Agent": "Mozilla/5.0"}, False, id="https-no-metadata"),
        pytest.param("all", "https", {}, True, id="all"),
        pytest.param("none", "https", {"Sec-Fetch-Site": "same-origin"}, False, id="none"),
        pytest.param("none", "http", {}, False, id="none-http"),
    ],
)
def test_which_requests_get_the_cookie(
    make_guard: Guard,
    ec_key: SigningKey,
    set_for: str,
    scheme: str,
    headers: dict[str, str],
    cookie_set: bool,
) -> None:
    client = Client(make_guard(cookie=CookieSettings(set_for=set_for)), use_cookies=False)  # type: ignore[arg-type]
    response = client.get(
        "/api/catalog",
        headers={**bearer(ec_key.token()), **headers},
        base_url=f"{scheme}://example.test",
    )
    assert response.status_code == 200
    assert ("Set-Cookie" in response.headers) is cookie_set


def test_no_cookie_for_service_tokens_or_when_disabled(make_guard: Guard, ec_key: SigningKey) -> None:
    client = Client(make_guard(), use_cookies=False)
    assert "Set-Cookie" not in client.get("/api/catalog", headers=bearer(service_token())).headers
    disabled = Client(make_guard(cookie=CookieSettings(enabled=False)), use_cookies=False)
    assert "Set-Cookie" not in disabled.get("/api/catalog", headers=bearer(ec_key.token())).headers


def test_far_future_exp_is_capped_in_the_cookie(client: Client, ec_key: SigningKey) -> None:
    response = client.get("/api/catalog", headers=browser(ec_key.token(exp=10**12)))
    assert response.status_code == 200
    expires = response.headers["Set-Cookie"].split("Expires=")[1].split(";")[0]
    parsed = parse_date(expires)
    assert parsed is not None
    assert parsed.timestamp() <= time.time() + 400 * 86400 + 5


def test_expired_cookie_is_cleared_with_the_401(client: Client, ec_key: SigningKey) -> None:
    expired = ec_key.token(exp=int(time.time()) - 10)
    response = client.get("/api/catalog", headers={"Cookie": f"token={expired}"})
    assert response.status_code == 401
    assert "expired" in response.json["error"]["message"]
    cleared = response.headers["Set-Cookie"]
    assert cleared.startswith("token=;")
    assert "Expires=Thu, 01 Jan 1970" in cleared


def test_bad_header_token_does_not_clear_the_cookie(client: Client, ec_key: SigningKey) -> None:
    expired = ec_key.token(exp=int(time.time()) - 10)
    response = client.get("/api/catalog", headers=bearer(expired))
    assert response.status_code == 401
    assert "Set-Cookie" not in response.headers


class StreamingBody:
    """An app iterable that records whether the server closed it."""

    def __init__(self) -> None:
        self.closed = False
        self.chunks_sent = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in (b"one,", b"two,", b"three"):
            self.chunks_sent += 1
            yield chunk

    def close(self) -> None:
        self.closed = True


def test_streamed_response_passes_through_untouched_and_is_closed(
    make_guard: Guard, ec_key: SigningKey
) -> None:
    body = StreamingBody()

    def app(environ: dict[str, Any], start_response: Any) -> StreamingBody:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return body

    guard = make_guard(app)
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/api/catalog",
        "HTTP_AUTHORIZATION": f"Bearer {ec_key.token()}",
        "HTTP_SEC_FETCH_SITE": "same-origin",
        "wsgi.url_scheme": "http",
    }
    captured: list[Any] = []
    result = guard(environ, lambda status, headers, exc_info=None: captured.append((status, headers)))
    assert result is body  # the same object: not buffered, not wrapped
    assert body.chunks_sent == 0  # nothing consumed before the server iterates
    assert b"".join(result) == b"one,two,three"
    result.close()  # type: ignore[attr-defined]
    assert body.closed
    status, headers = captured[0]
    assert status == "200 OK"
    assert any(name == "Set-Cookie" for name, _ in headers)


def test_exc_info_reaches_the_server(make_guard: Guard, ec_key: SigningKey) -> None:
    calls: list[Any] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        try:
            raise ValueError("boom")
        except ValueError:
            import sys

            start_response("500 Internal Server Error", [], sys.exc_info())
        return [b""]

    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/api/catalog",
        "HTTP_AUTHORIZATION": f"Bearer {ec_key.token()}",
    }
    make_guard(app)(environ, lambda status, headers, exc_info=None: calls.append(exc_info))
    assert calls[0] is None
    assert calls[1][0] is ValueError


def test_refusal_answers_head_without_a_body(client: Client) -> None:
    response = client.head("/api/catalog")
    assert response.status_code == 401
    assert response.data == b""
    assert int(response.headers["Content-Length"]) > 0


def test_app_is_not_called_when_refused(make_guard: Guard) -> None:
    calls: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        calls.append(environ["PATH_INFO"])
        return echo_app(environ, start_response)

    client = Client(make_guard(app), use_cookies=False)
    for headers in ({}, bearer("not.a.token"), {"Authorization": "Basic Zm9vOmJhcg=="}):
        assert client.get("/api/catalog", headers=headers).status_code == 401
    assert client.get("/api/a/../catalog").status_code == 400
    assert calls == []


@pytest.mark.parametrize(
    ("options", "key"),
    [
        pytest.param({"max_token_size": 10}, "max_token_size", id="tiny-token-size"),
        pytest.param({"max_token_size": "8192"}, "max_token_size", id="token-size-string"),
        pytest.param({"remote_user_claim": ""}, "remote_user_claim", id="empty-remote-user-claim"),
        pytest.param({"issuers": [], "service_tokens": None}, "issuers", id="nothing-to-verify"),
        pytest.param({"default": "open"}, "default.policy", id="bad-default"),
        pytest.param({"realm": None}, "realm", id="realm-not-a-string"),
        pytest.param({"routes": ["/api"]}, "routes", id="routes-not-a-mapping"),
        pytest.param({"issuers": "https://issuer"}, "issuers", id="issuers-a-string"),
        pytest.param({"issuers": [{"issuer": "https://issuer"}]}, "issuers", id="issuers-dicts"),
        pytest.param({"service_tokens": ["secret"]}, "service_tokens", id="service-tokens-a-list"),
        pytest.param({"cookie": {"name": "token"}}, "cookie", id="cookie-a-dict"),
    ],
)
def test_bad_options_fail_at_construction(make_guard: Guard, options: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        make_guard(**options)
    assert caught.value.key == key


def test_guard_with_only_service_tokens(make_guard: Guard, ec_key: SigningKey) -> None:
    client = Client(make_guard(issuers=[]), use_cookies=False)
    assert client.get("/api/catalog", headers=bearer(service_token())).status_code == 200
    refused = client.get("/api/catalog", headers=bearer(ec_key.token()))
    assert refused.status_code == 401
    assert "issuer is not trusted" in json.loads(refused.data)["error"]["message"]


def test_two_issuers_each_verify_their_own_tokens(make_guard: Guard, ec_key: SigningKey) -> None:
    other = SigningKey.ec("ES256", kid="other")
    issuers = [
        Issuer(ISSUER, keys=[ec_key.public_jwk()], algorithms=["ES256"]),
        Issuer("https://other.example.test", keys=[other.public_jwk()], algorithms=["ES256"]),
    ]
    client = Client(make_guard(issuers=issuers), use_cookies=False)
    mine = client.get("/api/catalog", headers=bearer(ec_key.token()))
    theirs = client.get("/api/catalog", headers=bearer(other.token(iss="https://other.example.test")))
    crossed = client.get("/api/catalog", headers=bearer(other.token()))  # other key, our iss
    assert (mine.status_code, theirs.status_code, crossed.status_code) == (200, 200, 401)
    assert theirs.json["identity"]["issuer"] == "https://other.example.test"


def test_one_clock_moves_every_part_of_the_guard(make_guard: Guard, ec_key: SigningKey) -> None:
    """The guard's clock reaches token expiry (the verifier and its token cache)
    and cookie lifetimes: an hour on the fake clock expires a one-hour token."""

    clock = FakeClock()
    client = Client(make_guard(clock=clock), use_cookies=False)
    token = ec_key.token(exp=int(clock.now) + 3600)
    first = client.get("/api/catalog", headers=browser(token))
    assert first.status_code == 200
    assert first.headers["Set-Cookie"]
    clock.now += 3601  # the token cache holds it, but not past its exp on this clock
    response = client.get("/api/catalog", headers=browser(token))
    assert response.status_code == 401
    assert "expired" in response.get_json()["error"]["message"]
