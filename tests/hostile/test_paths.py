"""Path and request tricks, sent byte for byte to real servers.

werkzeug's development server, gunicorn and waitress each turn the request
line into ``SCRIPT_NAME``/``PATH_INFO`` their own way, so every trick goes
through all three. The app behind the guard (``app.py``) reads paths as
leniently as any downstream might and reports which handler ran; whatever the
server and the guard make of a path, a *protected* handler must never run
without a valid token, and nothing may answer 500.

References: PortSwigger "URL-based access control can be circumvented", Orange
Tsai "Breaking Parser Logic" (BlackHat 2018: ``..;/``, path parameters),
CWE-22, CWE-436 (interpretation conflict), RFC 3986 §3.3 (path parameters).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.test import Client

from tests.helpers import SERVICE_SECRET, SigningKey
from tests.hostile.app import build_stack, handler_app, hostile_guard
from tests.hostile.forge import Forge
from tests.hostile.servers import Response, request, subprocess_server
from tests.servers import werkzeug_server

SERVERS = ["werkzeug", "gunicorn", "waitress"]


@pytest.fixture(scope="module", params=SERVERS)
def server(request: pytest.FixtureRequest, ec_key: SigningKey) -> Iterator[int]:
    keys = [ec_key.public_jwk()]
    if request.param == "werkzeug":
        with werkzeug_server(build_stack(keys, SERVICE_SECRET, "plain")) as port:
            yield port
    else:
        with subprocess_server(request.param, keys, SERVICE_SECRET) as port:
            yield port


@pytest.fixture(scope="module", params=["proxyfix", "mounted", "tree"])
def stacked(request: pytest.FixtureRequest, ec_key: SigningKey) -> Iterator[int]:
    """The guard in other deployment shapes, under werkzeug's server."""
    with werkzeug_server(build_stack([ec_key.public_jwk()], SERVICE_SECRET, request.param)) as port:
        yield port


def bearer(token: str) -> tuple[str, str]:
    return ("Authorization", f"Bearer {token}")


def check(response: Response, *, valid_token: bool) -> dict[str, Any] | None:
    """The invariants every answer must keep; the app's report when it ran."""
    assert response.status < 500, response
    assert response.status in (200, 400, 401, 403, 404), response
    if response.status != 200:
        return None
    body: dict[str, Any] = response.json()
    if body["handler"] == "protected":
        assert valid_token, f"a protected handler ran without a token: {body}"
        assert body["remote_user"] == "user:default/alice"
    if not valid_token:
        assert body["remote_user"] is None
    return body


# (id, request target as sent, statuses allowed without a token). Every server
# must give one of them; with a valid token a 401 turns into the app's answer.
PATHS = [
    pytest.param("/api/auth/login", {200}, id="control-public"),
    pytest.param("/api/catalog", {401}, id="control-protected"),
    pytest.param("//api/catalog", {400, 401}, id="double-slash-leading"),
    pytest.param("/api//catalog", {400}, id="double-slash-inner"),
    pytest.param("/api/auth//../catalog", {400}, id="double-slash-then-dot-dot"),
    pytest.param("/./api/catalog", {400}, id="dot-segment-leading"),
    pytest.param("/api/auth/./x", {400}, id="dot-segment-inner"),
    pytest.param("/api/auth/../catalog", {400}, id="dot-dot-out-of-public"),
    pytest.param("/api/auth/..", {400}, id="dot-dot-trailing"),
    pytest.param("/api/auth/%2e%2e/catalog", {400}, id="dot-dot-encoded"),
    pytest.param("/api/auth/%2E%2E/catalog", {400}, id="dot-dot-encoded-upper"),
    pytest.param("/api/auth/.%2e/catalog", {400}, id="dot-dot-half-encoded"),
    pytest.param("/api/auth/..;/catalog", {400}, id="dot-dot-semicolon"),  # Tomcat/Spring ..;/
    pytest.param("/api/auth/..;x=1/catalog", {400}, id="dot-dot-semicolon-parameter"),
    pytest.param("/api/auth/..%3b/catalog", {400}, id="dot-dot-encoded-semicolon"),
    pytest.param("/api/auth/..%3B/catalog", {400}, id="dot-dot-encoded-semicolon-upper"),
    pytest.param("/api/auth/..%253b/catalog", {400}, id="dot-dot-double-encoded-semicolon"),
    pytest.param("/api/auth/%252e%252e/catalog", {400}, id="dot-dot-double-encoded"),
    pytest.param("/api/auth/%25252e%25252e/catalog", {400}, id="dot-dot-triple-encoded"),
    pytest.param("/api/auth/..%2fcatalog", {400}, id="encoded-slash"),
    pytest.param("/api/auth%2f..%2fcatalog", {400}, id="encoded-slash-around-dots"),
    pytest.param("/api/auth/..%252fcatalog", {400}, id="double-encoded-slash"),
    # werkzeug's server decodes invalid UTF-8 lossily (U+FFFD): no dots can come back.
    pytest.param("/api/auth/%c0%ae%c0%ae/catalog", {200, 400}, id="overlong-utf8-dots"),
    pytest.param("/api/auth/%ef%bc%8e%ef%bc%8e/catalog", {400}, id="fullwidth-dots"),
    pytest.param("/api/auth%ef%bc%8f..%ef%bc%8fcatalog", {400}, id="fullwidth-solidus"),
    pytest.param("/api/auth%ef%bc%bc..%ef%bc%bccatalog", {400}, id="fullwidth-backslash"),
    pytest.param("/api/%ef%bd%81uth/x", {401}, id="fullwidth-letter"),
    pytest.param("/api/authx", {401}, id="prefix-without-boundary"),
    pytest.param("/api/auth.json", {401}, id="prefix-with-extension"),
    pytest.param("/api/auth-admin/x", {401}, id="prefix-with-dash"),
    # A ";param" that changes the rule (here: a prefix rule vs the default) is ambiguous.
    pytest.param("/api/catalog;jsessionid=0123", {400}, id="jsessionid-on-protected"),
    pytest.param("/api/auth;jsessionid=0123", {400}, id="jsessionid-on-public"),
    pytest.param("/api/catalog/x;jsessionid=0123", {401}, id="jsessionid-same-route"),
    pytest.param("/api/auth/x;jsessionid=0123", {200}, id="jsessionid-same-public-route"),
    pytest.param("/api/auth;x/catalog", {400}, id="semicolon-makes-a-public-reading"),
    pytest.param("/api/catalog;/../auth", {400}, id="semicolon-then-dot-dot"),
    pytest.param("/api/auth%20", {401}, id="trailing-encoded-space"),
    pytest.param("/api/auth%09", {400}, id="trailing-encoded-tab"),
    pytest.param("/api/auth/x%20/..%20/catalog", {200}, id="dot-dot-with-space-is-a-name"),
    pytest.param("/API/catalog", {401}, id="uppercase-protected"),
    pytest.param("/API/AUTH/x", {401}, id="uppercase-public"),
    pytest.param("/api/auth\\..\\catalog", {400}, id="backslashes"),
    pytest.param("/api/auth/..%5ccatalog", {400}, id="encoded-backslash"),
    pytest.param("/api/auth/\x00/../catalog", {400}, id="nul-raw"),
    pytest.param("/api/auth/%00/../catalog", {400}, id="nul-encoded"),
    pytest.param("/api/auth/x%00", {400}, id="nul-encoded-trailing"),
    pytest.param("/api/auth/%0d%0aX-Injected:%201", {400}, id="crlf-encoded"),
    pytest.param("/api/catalog?next=/api/auth", {401}, id="query-mentions-public"),
    pytest.param("/api/catalog?/api/auth/x", {401}, id="query-is-a-public-path"),
    pytest.param("/api/catalog?x=/../auth", {401}, id="query-with-dot-dot"),
    pytest.param("/api/catalog#/api/auth", {400, 401}, id="fragment-mentions-public"),
    pytest.param("/api/catalog%23/api/auth", {401}, id="encoded-fragment"),
    pytest.param("/api/catalog%3f/api/auth", {401}, id="encoded-question-mark"),
    pytest.param("/api/auth%3f/../catalog", {400}, id="encoded-question-mark-dot-dot"),
    pytest.param("http://127.0.0.1/api/catalog", {401}, id="absolute-form"),
    pytest.param("http://127.0.0.1/api/auth/../catalog", {400}, id="absolute-form-dot-dot"),
    pytest.param("http://evil.example/api/auth/x", {200}, id="absolute-form-other-host"),
    pytest.param("api/catalog", {400}, id="no-leading-slash"),
    pytest.param("*", {400}, id="asterisk-form"),
    pytest.param("/api/techdocs/static/docs/a.css", {200}, id="css-exemption-control"),
    pytest.param("/api/techdocs/static/docs/evil;.css", {400}, id="css-exemption-semicolon"),
    pytest.param("/api/techdocs/static/docs/evil%3b.css", {400}, id="css-exemption-encoded-semicolon"),
    pytest.param("/api/techdocs/static/docs/evil%00.css", {400}, id="css-exemption-nul"),
    pytest.param("/api/techdocs/static/docs/..%2f..%2f..%2fcatalog%2fa.css", {400}, id="css-exemption-encoded-slashes"),
    pytest.param("/api/techdocs/static/docs/../../../catalog/a.css", {400}, id="css-exemption-dot-dot"),
    pytest.param("/api/techdocs/x?.css", {401}, id="css-exemption-in-query"),
    pytest.param("/api/techdocs/x%3f.css", {401}, id="css-exemption-encoded-query"),
    pytest.param("/api/techdocs/static/docs/a.css/..", {400}, id="css-exemption-then-dot-dot"),
]


@pytest.mark.parametrize(("target", "allowed"), PATHS)
def test_path_tricks(server: int, forge: Forge, target: str, allowed: set[int]) -> None:
    anonymous = request(server, target)
    check(anonymous, valid_token=False)
    assert anonymous.status in allowed, (anonymous.status, anonymous.body[:200])
    authenticated = request(server, target, [bearer(forge.valid())])
    check(authenticated, valid_token=True)
    if anonymous.status == 400:
        assert authenticated.status == 400  # a path refused is refused for everyone
    if anonymous.status == 400 and anonymous.header("Content-Type") == "application/json":
        assert anonymous.json()["error"]["name"] == "InputError"


@pytest.mark.parametrize(("target", "allowed"), PATHS)
def test_path_tricks_in_other_stacks(stacked: int, forge: Forge, target: str, allowed: set[int]) -> None:
    """ProxyFix in front, the guard in a DispatcherMiddleware mount, or around a tree."""
    anonymous = request(stacked, target)
    check(anonymous, valid_token=False)
    assert anonymous.status in allowed | {404}, (anonymous.status, anonymous.body[:200])
    check(request(stacked, target, [bearer(forge.valid())]), valid_token=True)


# --------------------------------------------------------------------------------------
# Methods and headers
# --------------------------------------------------------------------------------------

OVERRIDES = ["X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"]


PREFLIGHT = [("Origin", "https://app.example.test"), ("Access-Control-Request-Method", "DELETE")]


def test_cors_preflight_is_answered_by_the_guard(server: int) -> None:
    response = request(server, "/api/cors/x", PREFLIGHT, method="OPTIONS")
    assert response.status == 204
    assert response.body == b""  # no handler ran
    assert response.header("Access-Control-Allow-Origin") == "https://app.example.test"


@pytest.mark.parametrize("headers", [
    pytest.param([], id="plain-options"),
    pytest.param(PREFLIGHT[:1], id="origin-only"),
    pytest.param([("Origin", "https://evil.example"), PREFLIGHT[1]], id="other-origin"),
])
def test_other_options_requests_never_reach_a_handler_anonymously(server: int, headers: Any) -> None:
    """Django and Pyramid answer OPTIONS with the normal view: an anonymous
    OPTIONS that is not an allowed preflight must not reach the app."""
    response = request(server, "/api/cors/x", headers, method="OPTIONS")
    check(response, valid_token=False)
    assert response.status in (401, 403)


@pytest.mark.parametrize("header", OVERRIDES)
@pytest.mark.parametrize(("method", "override"), [
    pytest.param("OPTIONS", "DELETE", id="preflight-overridden-to-delete"),
    pytest.param("OPTIONS", "options, DELETE", id="preflight-overridden-to-a-list"),
    pytest.param("POST", "OPTIONS", id="post-overridden-to-preflight"),
    pytest.param("GET", "OPTIONS", id="get-overridden-to-preflight"),
])
def test_method_override_never_makes_a_request_public(
    server: int, header: str, method: str, override: str
) -> None:
    """An override header is honoured by some frameworks (CWE-650): the method
    exemption must hold for every method the request names."""
    response = request(server, "/api/cors/x", [(header, override)], method=method)
    check(response, valid_token=False)
    assert response.status == 401


def test_preflight_with_an_override_is_still_answered_by_the_guard(server: int) -> None:
    headers = [*PREFLIGHT, ("X-HTTP-Method-Override", "DELETE")]
    response = request(server, "/api/cors/x", headers, method="OPTIONS")
    assert response.status == 204
    assert response.body == b""


@pytest.mark.parametrize(("headers", "error"), [
    # RFC 6750 §2: one token, one method; servers join repeated headers with ",".
    pytest.param(lambda t: [bearer(t), bearer(t)], "invalid_request", id="authorization-twice"),
    pytest.param(lambda t: [bearer(t), bearer("garbage")], "invalid_request", id="authorization-good-then-bad"),
    pytest.param(lambda t: [bearer("garbage"), bearer(t)], "invalid_request", id="authorization-bad-then-good"),
    pytest.param(lambda t: [("Authorization", f"Bearer {t}, Basic eDp5")], "invalid_request", id="authorization-two-schemes"),
    pytest.param(lambda t: [("Authorization", "Bearer a=b")], "invalid_request", id="bearer-auth-param"),
    pytest.param(lambda t: [("Authorization", f"Bearer  {t} x")], "invalid_request", id="bearer-two-tokens"),
    pytest.param(lambda t: [("Authorization", f"Basic {t}")], "invalid_request", id="other-scheme"),
    # DESIGN §2 step 3: a bad header is never papered over by a good cookie.
    pytest.param(lambda t: [bearer("a.b.c"), ("Cookie", f"token={t}")], "invalid_token", id="bad-header-good-cookie"),
    pytest.param(lambda t: [("Authorization", "Bearer"), ("Cookie", f"token={t}")], "invalid_request", id="empty-bearer-good-cookie"),
    pytest.param(lambda t: [("Authorization", "Basic eDp5"), ("Cookie", f"token={t}")], "invalid_request", id="basic-header-good-cookie"),
    # Cookie tossing (a sibling domain sets a second "token" cookie).
    pytest.param(lambda t: [("Cookie", f"token={t[:-4]}AAAA; token={t}")], "invalid_request", id="cookie-tossing"),
    pytest.param(lambda t: [("Cookie", f"token={t}"), ("Cookie", "token=attacker")], None, id="two-cookie-headers"),
])
def test_request_header_tricks(server: int, forge: Forge, headers: Any, error: str | None) -> None:
    response = request(server, "/api/catalog", headers(forge.valid()))
    check(response, valid_token=False)
    assert response.status == 401
    if error is not None:
        assert f'error="{error}"' in (response.header("WWW-Authenticate") or "")


@pytest.mark.parametrize("target", ["/api/auth/x", "/api/search", "/api/catalog"])
def test_remote_user_request_headers_never_set_the_user(server: int, forge: Forge, target: str) -> None:
    spoof = [("Remote-User", "admin"), ("X-Remote-User", "admin"), ("Auth-Type", "Bearer")]
    body = check(request(server, target, spoof), valid_token=False)
    if body is not None:
        assert body["remote_user"] is None
        assert body["auth_type"] is None
    body = check(request(server, target, [*spoof, bearer(forge.valid())]), valid_token=True)
    assert body is not None
    assert body["remote_user"] in (None, "user:default/alice")


@pytest.fixture(scope="module")
def trusting_gunicorn(ec_key: SigningKey) -> Iterator[int]:
    """gunicorn copying SCRIPT_NAME, PATH_INFO and REMOTE_USER from a "trusted"
    forwarder's headers (``forwarder_headers``; gunicorn issue #2650)."""
    extra = ["--forwarder-headers", "SCRIPT_NAME,PATH_INFO,REMOTE_USER", "--header-map", "dangerous",
             "--forwarded-allow-ips", "127.0.0.1"]
    with subprocess_server("gunicorn", [ec_key.public_jwk()], SERVICE_SECRET, extra=extra) as port:
        yield port


@pytest.mark.parametrize("headers", [
    pytest.param([("REMOTE_USER", "admin")], id="remote-user"),
    pytest.param([("REMOTE-USER", "admin")], id="remote-user-dash"),
    pytest.param([("SCRIPT_NAME", "/api/auth")], id="script-name"),
    pytest.param([("PATH_INFO", "/api/auth/x")], id="path-info-public"),
    pytest.param([("SCRIPT_NAME", "/api/auth"), ("PATH_INFO", "/../catalog")], id="script-and-path"),
])
@pytest.mark.parametrize("target", ["/api/catalog", "/api/auth/x", "/api/auth/catalog"])
def test_forwarder_headers_cannot_make_the_guard_and_app_disagree(
    trusting_gunicorn: int, headers: list[tuple[str, str]], target: str
) -> None:
    """The guard reads the same environ the app reads, and scrubs REMOTE_USER."""
    response = request(trusting_gunicorn, target, headers)
    if response.status == 500 and b"does not start with SCRIPT_NAME" in response.body:
        return  # gunicorn refuses the request itself; neither guard nor app ran
    body = check(response, valid_token=False)
    if body is not None:
        assert body["remote_user"] is None


@pytest.mark.parametrize(
    ("target", "script_name"),
    [
        pytest.param("/api/catalog/secret", "/api/", id="mount-slash"),
        pytest.param("/api/catalog/secret", "/api", id="mount"),
        pytest.param("/api//catalog/secret", "/api/", id="mount-slash-double"),
    ],
)
def test_a_client_script_name_never_reaches_a_protected_view_below_a_mount(
    ec_key: SigningKey, target: str, script_name: str
) -> None:
    """gunicorn cuts a client's ``SCRIPT_NAME: /api/`` off the path and hands the app
    ``PATH_INFO=catalog/secret``; the guard once matched ``/api`` + that, ``/apicatalog``,
    a public path under this stack's public default, and the app ran its catalog view."""
    with subprocess_server("gunicorn", [ec_key.public_jwk()], SERVICE_SECRET, stack="mounted-public") as port:
        response = request(port, target, [("SCRIPT_NAME", script_name)])
    if response.status == 200:
        assert response.json()["handler"] == "public", response.json()
    else:
        assert response.status in {400, 401, 404, 500}, response.status


def test_spoofed_forwarded_prefix_is_ignored_by_default_proxyfix(stacked: int) -> None:
    response = request(stacked, "/api/catalog", [("X-Forwarded-Prefix", "/api/auth")])
    check(response, valid_token=False)
    assert response.status in (401, 404)


def test_a_client_set_prefix_never_moves_a_request_to_a_public_route(ec_key: SigningKey) -> None:
    """With ``ProxyFix(x_prefix=1)`` the prefix header becomes ``SCRIPT_NAME``.
    The old guard matched SCRIPT_NAME + PATH_INFO, so a client-set
    ``X-Forwarded-Prefix: /api/auth`` made ``/api/catalog`` public while the app
    routed on PATH_INFO to the protected view. Now only the configured mount is
    accepted as SCRIPT_NAME; anything else is refused before the app runs."""
    seen: list[dict[str, Any]] = []

    def path_info_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append({"script": environ["SCRIPT_NAME"], "path": environ["PATH_INFO"]})
        return handler_app(environ, start_response)

    guard = hostile_guard([ec_key.public_jwk()], SERVICE_SECRET, app=path_info_app)
    client = Client(ProxyFix(guard, x_prefix=1), use_cookies=False)
    assert client.get("/api/catalog").status_code == 401
    response = client.get("/api/catalog", headers={"X-Forwarded-Prefix": "/api/auth"})
    assert response.status_code == 400
    assert "SCRIPT_NAME" in response.get_json()["error"]["message"]
    assert seen == []
    # A deployment whose proxy sets the prefix names it as the mount.
    mounted = hostile_guard([ec_key.public_jwk()], SERVICE_SECRET, app=path_info_app, mount="/svc")
    client = Client(ProxyFix(mounted, x_prefix=1), use_cookies=False)
    assert client.get("/api/auth/x").status_code == 400  # the proxy did not set it
    assert client.get("/api/auth/x", headers={"X-Forwarded-Prefix": "/other"}).status_code == 400
    # Routes are full paths: /svc/api/auth/x is not the table's /api/auth.
    assert client.get("/api/auth/x", headers={"X-Forwarded-Prefix": "/svc"}).status_code == 401
    assert seen == []
