"""The route table (DESIGN §2 step 2, §3): prefixes, policies, exemptions, unsafe paths."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client, TestResponse, create_environ, run_wsgi_app
from werkzeug.wrappers import Request

from tests.helpers import SigningKey, bearer, echo_app, service_token
from wsgi_jwt_guard import ConfigError, CORSSettings, JWTGuard, RouteTable, Rule, from_config
from wsgi_jwt_guard.config import load_config
from wsgi_jwt_guard.errors import UnsafePath
from wsgi_jwt_guard.request import RequestView

MakeGuard = Callable[..., JWTGuard]


def assert_reached(response: TestResponse, status: int = 200) -> dict[str, Any]:
    """The echo app answered: its JSON body, never a refusal."""
    assert response.status_code == status
    body = response.json
    assert "error" not in body
    assert "remote_user" in body
    return body  # type: ignore[no-any-return]


def assert_refused(response: TestResponse, status: int, name: str | None = None) -> dict[str, Any]:
    """The guard answered itself and the app never ran."""
    assert response.status_code == status
    body = response.json
    assert "error" in body
    assert "remote_user" not in body
    if name is not None:
        assert body["error"]["name"] == name
    return body  # type: ignore[no-any-return]


def spying(calls: list[str], key: str) -> Callable[..., Any]:
    """The echo app, recording ``environ[key]`` of every request that reaches it."""

    def spy(environ: dict[str, Any], start_response: Any) -> Any:
        calls.append(environ[key])
        return echo_app(environ, start_response)

    return spy


def call_environ(guard: JWTGuard, **environ: Any) -> TestResponse:
    """Send a request whose environ keys (PATH_INFO, SCRIPT_NAME, ...) are set verbatim."""
    headers = environ.pop("headers", None)
    env = create_environ("/", headers=headers)
    env.update(environ)
    # Not Client.open(env): that rebuilds the environ and re-encodes the path.
    app_iter, status, response_headers = run_wsgi_app(guard, env, buffered=True)
    return TestResponse(app_iter, status, response_headers, request=Request(env))


# --------------------------------------------------------------------------------------
# RouteTable.match: the lookup itself
# --------------------------------------------------------------------------------------

API = Rule("optional")
AUTH = Rule("public")
CATALOG = Rule("protected", scopes=["catalog.read"])
ENTITIES = Rule("protected", claims={"admin": True})
DEFAULT = Rule("protected", cookie=False)
TABLE = RouteTable(
    {
        "/api": API,
        "/api/auth/": AUTH,  # a trailing slash is the same prefix
        "/api/catalog": CATALOG,
        "/api/catalog/entities": ENTITIES,
    },
    default=DEFAULT,
)

ROOT = Rule("public")
ROOTED = RouteTable({"/": ROOT, "/api": API})


@pytest.mark.parametrize(
    ("table", "path", "expected"),
    [
        pytest.param(TABLE, "/api/auth", AUTH, id="exact"),
        pytest.param(TABLE, "/api/auth/", AUTH, id="trailing-slash"),
        pytest.param(TABLE, "/api/auth/x", AUTH, id="below"),
        pytest.param(TABLE, "/api/auth/x/y/z", AUTH, id="deep-below"),
        pytest.param(TABLE, "/api/authx", API, id="no-segment-boundary"),
        pytest.param(TABLE, "/api/auth.json", API, id="extension-is-not-a-boundary"),
        pytest.param(TABLE, "/api/auth-admin/x", API, id="dash-is-not-a-boundary"),
        pytest.param(TABLE, "/api", API, id="shorter-prefix"),
        pytest.param(TABLE, "/api/", API, id="shorter-prefix-slash"),
        pytest.param(TABLE, "/api/catalog/entities/by-name/x", ENTITIES, id="longest-wins"),
        pytest.param(TABLE, "/api/catalog/entities", ENTITIES, id="longest-exact"),
        pytest.param(TABLE, "/api/catalog/entitiesx", CATALOG, id="longest-needs-boundary"),
        pytest.param(TABLE, "/api/catalog/locations", CATALOG, id="sibling-of-longest"),
        pytest.param(TABLE, "/apix", DEFAULT, id="not-a-prefix-of-api"),
        pytest.param(TABLE, "/API/auth", DEFAULT, id="case-sensitive-upper"),
        pytest.param(TABLE, "/Api/Auth/x", DEFAULT, id="case-sensitive-mixed"),
        pytest.param(TABLE, "/", DEFAULT, id="root-gets-default"),
        pytest.param(TABLE, "/other/api/auth", DEFAULT, id="prefix-only-at-start"),
        pytest.param(ROOTED, "/", ROOT, id="root-route-root"),
        pytest.param(ROOTED, "/anything/else", ROOT, id="root-route-catches-all"),
        pytest.param(ROOTED, "/apix", ROOT, id="root-route-no-boundary"),
        pytest.param(ROOTED, "/api/x", API, id="root-route-longer-wins"),
    ],
)
def test_match(table: RouteTable, path: str, expected: Rule) -> None:
    assert table.match(path) is expected


def test_default_is_protected() -> None:
    table = RouteTable({"/api/auth": "public"})
    assert table.match("/elsewhere").policy == "protected"
    assert RouteTable().match("/").policy == "protected"


@pytest.mark.parametrize("policy", ["public", "optional", "protected"])
def test_default_policy_name(policy: str) -> None:
    table = RouteTable({"/api/auth": "public"}, default=policy)  # type: ignore[arg-type]
    assert table.match("/elsewhere").policy == policy


def test_default_rule_is_used_as_is() -> None:
    default = Rule("protected", tokens=["service"])
    assert RouteTable({"/api/auth": "public"}, default=default).match("/x") is default


# --------------------------------------------------------------------------------------
# Through the guard: prefixes, boundaries, default
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "public"),
    [
        pytest.param("/api/auth", True, id="exact"),
        pytest.param("/api/auth/", True, id="trailing-slash"),
        pytest.param("/api/auth/x", True, id="below"),
        pytest.param("/api/auth/refresh?x=1", True, id="with-query"),
        pytest.param("/api/authx", False, id="no-boundary"),
        pytest.param("/api/auth.json", False, id="extension"),
        pytest.param("/API/auth", False, id="upper-case"),
        pytest.param("/api/AUTH/x", False, id="upper-case-segment"),
        pytest.param("/api", False, id="parent"),
        pytest.param("/unrouted", False, id="default"),
    ],
)
def test_segment_boundaries(client: Client, path: str, public: bool) -> None:
    response = client.get(path)
    if public:
        assert assert_reached(response)["remote_user"] is None
    else:
        assert_refused(response, 401, "AuthenticationError")


def test_root_route(make_guard: MakeGuard, ec_key: SigningKey) -> None:
    client = Client(make_guard(routes={"/": "public", "/api": "protected"}), use_cookies=False)
    assert_reached(client.get("/"))
    assert_reached(client.get("/index.html"))
    assert_reached(client.get("/apidocs"))
    assert_refused(client.get("/api/x"), 401)
    assert assert_reached(client.get("/api/x", headers=bearer(ec_key.token())))["remote_user"]


def test_guard_default_protected(client: Client, ec_key: SigningKey) -> None:
    assert_refused(client.get("/unrouted"), 401)
    body = assert_reached(client.get("/unrouted", headers=bearer(ec_key.token())))
    assert body["remote_user"] == "user:default/alice"


def test_guard_default_public(make_guard: MakeGuard) -> None:
    client = Client(make_guard(default="public"), use_cookies=False)
    assert_reached(client.get("/unrouted"))
    assert_refused(client.get("/api/catalog"), 401)


def test_guard_default_optional(make_guard: MakeGuard, ec_key: SigningKey) -> None:
    client = Client(make_guard(default="optional"), use_cookies=False)
    assert assert_reached(client.get("/unrouted"))["identity"] is None
    body = assert_reached(client.get("/unrouted", headers=bearer(ec_key.token())))
    assert body["identity"]["subject"] == "user:default/alice"
    assert_refused(client.get("/unrouted", headers=bearer("a.b.c")), 401)


def test_guard_default_rule(make_guard: MakeGuard, ec_key: SigningKey) -> None:
    client = Client(make_guard(default=Rule("protected", tokens=["service"])), use_cookies=False)
    assert_refused(client.get("/unrouted", headers=bearer(ec_key.token())), 403)
    body = assert_reached(client.get("/unrouted", headers=bearer(service_token())))
    assert body["remote_user"] == "backstage-server"


def test_guard_accepts_a_route_table(make_guard: MakeGuard) -> None:
    client = Client(make_guard(routes=RouteTable({"/open": "public"})), use_cookies=False)
    assert_reached(client.get("/open/x"))
    assert_refused(client.get("/api/auth"), 401)


# --------------------------------------------------------------------------------------
# Policies (§3)
# --------------------------------------------------------------------------------------

Headers = Callable[[SigningKey], dict[str, str]]

IGNORED_ON_PUBLIC: list[Any] = [
    pytest.param(lambda key: bearer(key.token()), id="valid-token"),
    pytest.param(lambda key: bearer("garbage"), id="garbage-token"),
    pytest.param(lambda key: bearer("a.b.c"), id="bad-jws"),
    pytest.param(lambda key: bearer(key.token(exp=int(time.time()) - 3600)), id="expired"),
    pytest.param(lambda key: {"Authorization": "Basic dXNlcjpwYXNz"}, id="basic-scheme"),
    pytest.param(lambda key: {"Authorization": "Bearer a b"}, id="malformed-header"),
    pytest.param(lambda key: {"Cookie": "token=garbage"}, id="garbage-cookie"),
    pytest.param(lambda key: {"Cookie": "token=a; token=b"}, id="tossed-cookie"),
    pytest.param(lambda key: {"Authorization": "Bearer " + "a" * 20000}, id="oversized"),
]


@pytest.mark.parametrize("headers", IGNORED_ON_PUBLIC)
def test_public_ignores_any_token(client: Client, ec_key: SigningKey, headers: Headers) -> None:
    body = assert_reached(client.get("/api/auth/login", headers=headers(ec_key)))
    assert body["remote_user"] is None
    assert body["auth_type"] is None
    assert body["identity"] is None


def test_public_never_sets_remote_user_even_if_spoofed(client: Client, ec_key: SigningKey) -> None:
    response = client.get(
        "/api/auth/login",
        headers=bearer(ec_key.token()),
        environ_overrides={"REMOTE_USER": "admin", "AUTH_TYPE": "Basic"},
    )
    body = assert_reached(response)
    assert body["remote_user"] is None
    assert body["auth_type"] is None


def test_protected_needs_a_token(client: Client) -> None:
    response = assert_refused(client.get("/api/catalog"), 401, "AuthenticationError")
    assert response["response"]["statusCode"] == 401
    challenge = client.get("/api/catalog").headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert "error=" not in challenge  # RFC 6750: no error code when no token was sent


def test_protected_with_valid_token(client: Client, ec_key: SigningKey) -> None:
    body = assert_reached(client.get("/api/catalog", headers=bearer(ec_key.token())))
    assert body["remote_user"] == "user:default/alice"
    assert body["auth_type"] == "Bearer"
    assert body["identity"]["source"] == "header"


INVALID: list[Any] = [
    pytest.param(lambda key: bearer("garbage"), "invalid_token", id="garbage"),
    pytest.param(lambda key: bearer("a.b.c"), "invalid_token", id="bad-jws"),
    pytest.param(
        lambda key: bearer(key.token(exp=int(time.time()) - 3600)), "invalid_token", id="expired"
    ),
    pytest.param(
        lambda key: bearer(key.token(iss="https://evil.example")), "invalid_token", id="bad-iss"
    ),
    pytest.param(
        lambda key: bearer(SigningKey.ec("ES256", kid=key.kid).token()),
        "invalid_token",
        id="untrusted-key",
    ),
    pytest.param(lambda key: {"Cookie": "token=garbage"}, "invalid_token", id="garbage-cookie"),
    pytest.param(lambda key: {"Authorization": "Basic x"}, "invalid_request", id="basic"),
    pytest.param(lambda key: {"Authorization": "Bearer a b"}, "invalid_request", id="malformed"),
    pytest.param(lambda key: {"Cookie": "token=a; token=b"}, "invalid_request", id="tossed-cookie"),
]


@pytest.mark.parametrize(("headers", "error"), INVALID)
@pytest.mark.parametrize("path", ["/api/catalog", "/api/search"], ids=["protected", "optional"])
def test_invalid_token_is_refused(
    client: Client, ec_key: SigningKey, path: str, headers: Headers, error: str
) -> None:
    """Protected and optional alike: an invalid token is never silently anonymous."""
    response = client.get(path, headers=headers(ec_key))
    assert_refused(response, 401, "AuthenticationError")
    assert f'error="{error}"' in response.headers["WWW-Authenticate"]


def test_optional_without_token_is_anonymous(client: Client) -> None:
    body = assert_reached(client.get("/api/search?q=x"))
    assert body["remote_user"] is None
    assert body["identity"] is None


def test_optional_with_valid_token_has_identity(client: Client, ec_key: SigningKey) -> None:
    body = assert_reached(client.get("/api/search", headers=bearer(ec_key.token())))
    assert body["remote_user"] == "user:default/alice"
    assert body["identity"]["subject"] == "user:default/alice"
    assert body["identity"]["kind"] == "user"


def test_optional_with_valid_cookie_has_identity(client: Client, ec_key: SigningKey) -> None:
    body = assert_reached(client.get("/api/search", headers={"Cookie": f"token={ec_key.token()}"}))
    assert body["identity"]["source"] == "cookie"


# --------------------------------------------------------------------------------------
# `unless` exemptions: full match on the normalized path
# --------------------------------------------------------------------------------------

CSS = r"/api/techdocs/static/docs/.+\.css"
SEED_CSS = r"^/api/techdocs/static/docs/.+\.css$"


@pytest.mark.parametrize("pattern", [CSS, SEED_CSS], ids=["plain", "seed-anchored"])
@pytest.mark.parametrize(
    ("path", "public"),
    [
        pytest.param("/api/techdocs/static/docs/a.css", True, id="css"),
        pytest.param("/api/techdocs/static/docs/default/component/x/main.css", True, id="deep"),
        pytest.param("/api/techdocs/static/docs/a.css?v=2", True, id="css-with-query"),
        pytest.param("/api/techdocs/static/docs/a.css.map", False, id="css-map"),
        pytest.param("/api/techdocs/static/docs/x.cssx", False, id="cssx"),
        pytest.param("/api/techdocs/static/docs/a.css/more", False, id="not-a-search"),
        pytest.param("/api/techdocs/static/docs/.css", False, id="empty-name"),
        pytest.param("/api/techdocs/static/docs/a.CSS", False, id="case-sensitive"),
        pytest.param("/api/techdocs/static/a.css", False, id="outside-docs"),
        pytest.param("/api/techdocs/other", False, id="other"),
        pytest.param("/api/techdocs/other?f=a.css", False, id="query-mentions-css"),
        pytest.param("/api/techdocs/x.js?/api/techdocs/static/docs/a.css", False, id="query-path"),
    ],
)
def test_unless(make_guard: MakeGuard, pattern: str, path: str, public: bool) -> None:
    routes = {"/api/techdocs": Rule("protected", unless=[pattern])}
    client = Client(make_guard(routes=routes), use_cookies=False)
    response = client.get(path)
    if public:
        assert assert_reached(response)["remote_user"] is None
    else:
        assert_refused(response, 401)


def test_unless_exempt_path_ignores_a_bad_token(make_guard: MakeGuard) -> None:
    client = Client(make_guard(routes={"/api/techdocs": Rule(unless=[CSS])}), use_cookies=False)
    response = client.get("/api/techdocs/static/docs/a.css", headers=bearer("garbage"))
    assert assert_reached(response)["identity"] is None


def test_unless_applies_to_the_full_path_under_a_mount(make_guard: MakeGuard) -> None:
    guard = make_guard(routes={"/api/techdocs": Rule(unless=[CSS])}, mount="/api/techdocs")
    client = Client(DispatcherMiddleware(echo_app, {"/api/techdocs": guard}), use_cookies=False)
    assert_reached(client.get("/api/techdocs/static/docs/a.css"))
    assert_refused(client.get("/api/techdocs/static/docs/a.js"), 401)


def test_unless_cannot_be_reached_by_dot_segments(make_guard: MakeGuard) -> None:
    guard = make_guard(routes={"/api/techdocs": Rule(unless=[CSS])})
    for path in (
        "/api/techdocs/static/docs/../../catalog/a.css",
        "/api/techdocs/static/docs/..%2f..%2fcatalog%2fa.css",
        "/api/techdocs/static/docs//a.css",
    ):
        assert_refused(call_environ(guard, PATH_INFO=path), 400, "InputError")


# --------------------------------------------------------------------------------------
# Method exemptions
# --------------------------------------------------------------------------------------


PREFLIGHT = {"Origin": "https://app.example.test", "Access-Control-Request-Method": "DELETE"}
CORS = CORSSettings(allowed_origins=["https://app.example.test"])


@pytest.mark.parametrize("configured", [["OPTIONS"], ["options"], ("Options",)])
@pytest.mark.parametrize(
    ("method", "headers", "status"),
    [
        # A preflight is answered by the guard itself: the app never runs.
        pytest.param("OPTIONS", PREFLIGHT, 204, id="preflight"),
        # Django and Pyramid run the normal view for OPTIONS: anything that is
        # not a preflight keeps the route's policy.
        pytest.param("OPTIONS", {}, 401, id="plain-options"),
        pytest.param("OPTIONS", {"Origin": "https://app.example.test"}, 401, id="origin-only"),
        pytest.param("GET", {}, 401, id="get"),
        pytest.param("HEAD", {}, 401, id="head"),
        pytest.param("POST", {}, 401, id="post"),
        pytest.param("DELETE", PREFLIGHT, 401, id="delete-with-preflight-headers"),
    ],
)
def test_unless_methods_options(
    make_guard: MakeGuard, configured: list[str], method: str, headers: dict[str, str], status: int
) -> None:
    calls: list[str] = []
    spy = spying(calls, "REQUEST_METHOD")
    routes = {"/api/catalog": Rule("protected", unless_methods=configured)}
    client = Client(make_guard(app=spy, routes=routes, cors=CORS), use_cookies=False)
    response = client.open("/api/catalog/entities", method=method, headers=headers)
    assert response.status_code == status
    assert calls == []


@pytest.mark.parametrize(
    ("method", "public"),
    [
        pytest.param("GET", True, id="get"),
        pytest.param("HEAD", True, id="head-with-get"),
        pytest.param("POST", False, id="post"),
        pytest.param("OPTIONS", False, id="options"),
    ],
)
def test_unless_methods_get_and_head(make_guard: MakeGuard, method: str, public: bool) -> None:
    routes = {"/api/catalog": Rule("protected", unless_methods=["GET", "HEAD"])}
    client = Client(make_guard(routes=routes), use_cookies=False)
    response = client.open("/api/catalog/entities", method=method)
    assert response.status_code == (200 if public else 401)


def test_options_exemption_needs_cors_settings(make_guard: MakeGuard) -> None:
    routes = {"/api/catalog": Rule("protected", unless_methods=["OPTIONS"])}
    with pytest.raises(ConfigError) as caught:
        make_guard(routes=routes)
    assert caught.value.key == "routes.'/api/catalog'.unless_methods"
    assert "cors" in caught.value.message
    with pytest.raises(ConfigError) as caught:
        make_guard(default=Rule("protected", unless_methods=["OPTIONS"]))
    assert caught.value.key == "default.unless_methods"


def test_unless_methods_are_normalized() -> None:
    assert Rule(unless_methods=["options", "Get"]).unless_methods == frozenset({"OPTIONS", "GET"})


# --------------------------------------------------------------------------------------
# Unsafe paths: refused with 400 before anything else
# --------------------------------------------------------------------------------------

# normalize_path's table is in test_request; here, that the guard answers a few
# kinds of unsafe path itself, token or not, before the app runs.
UNSAFE = [
    pytest.param({"PATH_INFO": "/api/auth/../catalog"}, id="dot-dot"),
    pytest.param({"PATH_INFO": "/api//catalog"}, id="double-slash"),
    pytest.param({"PATH_INFO": "/api/auth/%2e%2e/catalog"}, id="encoded-dot-dot"),
    pytest.param({"PATH_INFO": "/api/auth/..\\catalog"}, id="backslash"),
    pytest.param({"PATH_INFO": "/api/auth/\xff"}, id="invalid-utf8"),
    pytest.param({"PATH_INFO": "api/auth"}, id="no-leading-slash"),
]


@pytest.mark.parametrize("environ", UNSAFE)
@pytest.mark.parametrize("with_token", [False, True], ids=["no-token", "valid-token"])
def test_unsafe_path_is_refused(
    make_guard: MakeGuard, ec_key: SigningKey, environ: dict[str, str], with_token: bool
) -> None:
    calls: list[str] = []
    spy = spying(calls, "PATH_INFO")
    headers = bearer(ec_key.token()) if with_token else None
    response = call_environ(make_guard(app=spy), headers=headers, **environ)
    body = assert_refused(response, 400, "InputError")
    assert body["error"]["message"]
    assert body["response"]["statusCode"] == 400
    assert calls == []


@pytest.mark.parametrize(
    "environ",
    [
        pytest.param({"PATH_INFO": "/api/auth/caf\xc3\xa9"}, id="utf8-non-ascii"),
        pytest.param({"PATH_INFO": "/api/auth/x%25"}, id="percent-25"),
        pytest.param({"SCRIPT_NAME": "/api/auth", "PATH_INFO": ""}, id="mount-empty"),
        pytest.param({"SCRIPT_NAME": "/api/", "PATH_INFO": "/auth/x"}, id="mount-slash"),
    ],
)
def test_safe_unusual_path_is_accepted(make_guard: MakeGuard, environ: dict[str, str]) -> None:
    mount = environ.get("SCRIPT_NAME", "").rstrip("/")
    response = call_environ(make_guard(mount=mount), **environ)
    body = assert_reached(response)
    # The guard never rewrites what the app sees.
    assert body["path"] == environ.get("SCRIPT_NAME", "") + environ["PATH_INFO"]


# --------------------------------------------------------------------------------------
# The hostile suite's path tricks, as unit cases (tests/hostile/test_paths.py sends
# them through real servers). PATH_INFO is what a server hands over after decoding
# the request target once, as PEP 3333 latin-1 text; "unsafe" is a 400.
# --------------------------------------------------------------------------------------

HOSTILE_TABLE = RouteTable(
    {
        "/api/auth": "public",
        "/api/catalog": "protected",
        "/api/search": "optional",
        "/api/techdocs": Rule("protected", unless=[r"/api/techdocs/static/docs/.+\.css"]),
    }
)

TRICKS = [
    # Servlet-style ";params" (Tomcat/Spring "..;/"): refused when dropping them reads differently.
    pytest.param("/api/auth/..;/catalog", "unsafe", id="dot-dot-semicolon"),
    pytest.param("/api/auth/..;x=1/catalog", "unsafe", id="dot-dot-semicolon-parameter"),
    pytest.param("/api/auth;x/catalog", "unsafe", id="semicolon-makes-a-public-reading"),
    pytest.param("/api/catalog;/../auth", "unsafe", id="semicolon-then-dot-dot"),
    pytest.param("/api/catalog;jsessionid=0123", "unsafe", id="jsessionid-on-protected"),
    pytest.param("/api/auth;jsessionid=0123", "unsafe", id="jsessionid-on-public"),
    pytest.param("/api/catalog/x;jsessionid=0123", "protected", id="jsessionid-same-route"),
    pytest.param("/api/auth/x;jsessionid=0123", "public", id="jsessionid-same-public-route"),
    pytest.param("/api/auth/..%3b/catalog", "unsafe", id="dot-dot-double-encoded-semicolon"),
    # Layers of encoding left after the server's one decoding.
    pytest.param("/api/auth/%252e%252e/catalog", "unsafe", id="dot-dot-triple-encoded"),
    pytest.param("/api/auth/..%2fcatalog", "unsafe", id="double-encoded-slash"),
    # Full-width forms become '.', '/' and '\\' under NFKC (UTF-8 bytes as latin-1).
    pytest.param("/api/auth/\xef\xbc\x8e\xef\xbc\x8e/catalog", "unsafe", id="fullwidth-dots"),
    pytest.param("/api/auth\xef\xbc\x8f..\xef\xbc\x8fcatalog", "unsafe", id="fullwidth-solidus"),
    pytest.param("/api/auth\xef\xbc\xbc..\xef\xbc\xbccatalog", "unsafe", id="fullwidth-backslash"),
    pytest.param("/api/\xef\xbd\x81uth/x", "protected", id="fullwidth-letter-is-another-name"),
    # Names that look like others are other names.
    pytest.param("/api/auth ", "protected", id="trailing-space"),
    pytest.param("/api/auth\t", "unsafe", id="trailing-tab"),
    pytest.param("/api/auth/x /.. /catalog", "public", id="dot-dot-with-space-is-a-name"),
    pytest.param("/API/catalog", "protected", id="uppercase-protected"),
    pytest.param("/API/AUTH/x", "protected", id="uppercase-public-is-not-public"),
    pytest.param("/api/auth/\r\nX-Injected: 1", "unsafe", id="crlf"),
    # '?' and '#' decoded from %3f/%23 are part of the path, not a query or fragment.
    pytest.param("/api/catalog?/api/auth/x", "protected", id="encoded-question-mark"),
    pytest.param("/api/catalog#/api/auth", "protected", id="encoded-fragment"),
    pytest.param("/api/auth?/../catalog", "unsafe", id="encoded-question-mark-dot-dot"),
    # The techdocs stylesheet exemption cannot be stretched.
    pytest.param("/api/techdocs/static/docs/a.css", "public", id="css-exemption-control"),
    pytest.param("/api/techdocs/static/docs/evil;.css", "unsafe", id="css-exemption-semicolon"),
    pytest.param("/api/techdocs/static/docs/evil\x00.css", "unsafe", id="css-exemption-nul"),
    pytest.param(
        "/api/techdocs/static/docs/../../../catalog/a.css", "unsafe", id="css-exemption-dot-dot"
    ),
    pytest.param("/api/techdocs/static/docs/a.css/..", "unsafe", id="css-exemption-then-dot-dot"),
    pytest.param("/api/techdocs/x?.css", "protected", id="css-exemption-in-encoded-query"),
]


@pytest.mark.parametrize(("path_info", "expected"), TRICKS)
def test_path_tricks(path_info: str, expected: str) -> None:
    environ = create_environ()
    environ["PATH_INFO"] = path_info
    try:
        _, policy = HOSTILE_TABLE.resolve(RequestView.of(environ))
    except UnsafePath:
        policy = "unsafe"
    assert policy == expected


def test_unsafe_path_refused_through_the_client(client: Client) -> None:
    # Werkzeug's test client decodes %2e%2e into PATH_INFO "/api/auth/../catalog".
    assert_refused(client.get("/api/auth/%2e%2e/catalog"), 400, "InputError")
    assert_refused(client.get("/api/auth/%252e%252e/catalog"), 400, "InputError")
    assert_refused(client.get("/api/auth/x%252fy"), 400, "InputError")


# --------------------------------------------------------------------------------------
# Only SCRIPT_NAME + PATH_INFO route: never the query string, RAW_URI or REQUEST_URI
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "public"),
    [
        pytest.param(
            {"PATH_INFO": "/api/catalog", "REQUEST_URI": "/api/auth/x", "RAW_URI": "/api/auth/x"},
            False,
            id="request-uri-public",
        ),
        pytest.param(
            {"PATH_INFO": "/api/auth/x", "REQUEST_URI": "/api/catalog", "RAW_URI": "/api/catalog"},
            True,
            id="request-uri-protected",
        ),
        pytest.param(
            {"PATH_INFO": "/api/auth/x", "REQUEST_URI": "/api/auth/../x", "RAW_URI": "//x"},
            True,
            id="raw-uri-not-checked",
        ),
        pytest.param(
            {"PATH_INFO": "/api/catalog", "QUERY_STRING": "/api/auth"}, False, id="query-path"
        ),
        pytest.param(
            {"PATH_INFO": "/api/catalog", "QUERY_STRING": "next=/api/auth/x"},
            False,
            id="query-param",
        ),
        pytest.param(
            {"PATH_INFO": "/api/auth/x", "QUERY_STRING": "p=../../catalog//%2e%2e"},
            True,
            id="query-not-checked",
        ),
    ],
)
def test_only_the_path_routes(make_guard: MakeGuard, environ: dict[str, str], public: bool) -> None:
    response = call_environ(make_guard(), **environ)
    if public:
        assert_reached(response)
    else:
        assert_refused(response, 401)


# --------------------------------------------------------------------------------------
# SCRIPT_NAME + PATH_INFO: mounted in, or wrapped around, a DispatcherMiddleware tree
# --------------------------------------------------------------------------------------


def _fallback(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not mounted"]


def test_guard_mounted_in_dispatcher_sees_full_path(
    make_guard: MakeGuard, ec_key: SigningKey
) -> None:
    guard = make_guard(routes={"/api/auth": "public", "/api/catalog": "protected"}, mount="/api")
    client = Client(DispatcherMiddleware(_fallback, {"/api": guard}), use_cookies=False)

    body = assert_reached(client.get("/api/auth/login"))
    assert body["path"] == "/api/auth/login"
    assert_refused(client.get("/api/catalog/entities"), 401)
    assert_refused(client.get("/api/authx"), 401)
    body = assert_reached(client.get("/api/catalog/entities", headers=bearer(ec_key.token())))
    assert body["remote_user"] == "user:default/alice"
    assert client.get("/elsewhere").status_code == 404


def test_mount_relative_routes_do_not_match(make_guard: MakeGuard) -> None:
    # Routes are full paths: "/auth" is not "/api/auth" seen through a mount.
    guard = make_guard(routes={"/auth": "public"}, mount="/api")
    client = Client(DispatcherMiddleware(_fallback, {"/api": guard}), use_cookies=False)
    assert_refused(client.get("/api/auth"), 401)


def test_guard_around_dispatcher_tree(make_guard: MakeGuard, ec_key: SigningKey) -> None:
    tree = DispatcherMiddleware(_fallback, {"/api/auth": echo_app, "/api/catalog": echo_app})
    client = Client(make_guard(app=tree), use_cookies=False)

    assert assert_reached(client.get("/api/auth/login"))["path"] == "/api/auth/login"
    assert_refused(client.get("/api/catalog/entities"), 401)
    body = assert_reached(client.get("/api/catalog/entities", headers=bearer(ec_key.token())))
    assert body["remote_user"] == "user:default/alice"
    # Unmounted and unrouted: the default (protected) applies before the tree runs.
    assert_refused(client.get("/elsewhere"), 401)


@pytest.mark.parametrize(
    ("mount", "environ", "public"),
    [
        pytest.param("/api", {"SCRIPT_NAME": "/api", "PATH_INFO": "/auth/x"}, True, id="split"),
        pytest.param("/api/auth", {"SCRIPT_NAME": "/api/auth", "PATH_INFO": ""}, True, id="all"),
        pytest.param("/api", {"SCRIPT_NAME": "/api", "PATH_INFO": "/authx"}, False, id="boundary"),
        pytest.param(
            "/api", {"SCRIPT_NAME": "/api", "PATH_INFO": "/catalog"}, False, id="split-401"
        ),
    ],
)
def test_routes_match_the_mount_and_path_info(
    make_guard: MakeGuard, mount: str, environ: dict[str, str], public: bool
) -> None:
    response = call_environ(make_guard(mount=mount), **environ)
    if public:
        assert_reached(response)
    else:
        assert_refused(response, 401)


@pytest.mark.parametrize(
    ("mount", "environ"),
    [
        # gunicorn honours a SCRIPT_NAME request header from its forwarders
        # (127.0.0.1 by default): GET /api/auth/api/catalog/secret with
        # "SCRIPT_NAME: /api/auth" reaches the app as PATH_INFO=/api/catalog/secret,
        # which every framework routes to the protected view.
        pytest.param(
            "", {"SCRIPT_NAME": "/api/auth", "PATH_INFO": "/api/catalog/secret"}, id="bypass"
        ),
        pytest.param("/api", {"SCRIPT_NAME": "", "PATH_INFO": "/auth/x"}, id="missing"),
        # Every other mismatch: test_request.test_a_script_name_other_than_the_mount_is_refused.
    ],
)
@pytest.mark.parametrize("with_token", [False, True], ids=["no-token", "valid-token"])
def test_a_script_name_other_than_the_mount_is_refused(
    make_guard: MakeGuard,
    ec_key: SigningKey,
    mount: str,
    environ: dict[str, str],
    with_token: bool,
) -> None:
    calls: list[str] = []
    spy = spying(calls, "PATH_INFO")
    headers = bearer(ec_key.token()) if with_token else None
    response = call_environ(make_guard(app=spy, mount=mount), headers=headers, **environ)
    body = assert_refused(response, 400, "InputError")
    assert "SCRIPT_NAME" in body["error"]["message"]
    assert calls == []


@pytest.mark.parametrize(
    "mount", ["api", "/api/", "/a/../b", "/a//b", "/a?b", "/a;b", "/caf\xe9", 1, None]
)
def test_mount_config_error(make_guard: MakeGuard, mount: object) -> None:
    with pytest.raises(ConfigError) as caught:
        make_guard(mount=mount)
    assert caught.value.key == "mount"


# --------------------------------------------------------------------------------------
# Absurd paths: 414 early, and a lookup linear in the path
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/api/auth/", "/api/catalog/", "/"], ids=["public", "protected", "root"]
)
def test_path_over_the_limit_is_414(make_guard: MakeGuard, path: str) -> None:
    guard = make_guard(max_path_length=1024)
    assert_reached(call_environ(guard, PATH_INFO="/api/auth/" + "a" * (1024 - 10)))
    response = call_environ(guard, PATH_INFO=path + "a/" * 600)
    body = assert_refused(response, 414, "InputError")
    assert "1024" in body["error"]["message"]


@pytest.mark.parametrize("value", [255, 1 << 21, "8192", 8192.0, True])
def test_max_path_length_config_error(make_guard: MakeGuard, value: object) -> None:
    with pytest.raises(ConfigError) as caught:
        make_guard(max_path_length=value)
    assert caught.value.key == "max_path_length"


class _CountingDict(dict[str, Rule]):
    """Counts lookups and the characters hashed for them."""

    probes = 0
    hashed = 0

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        _CountingDict.probes += 1
        _CountingDict.hashed += len(key)
        return super().get(key, default)


@pytest.mark.parametrize("segments", [10, 1_000, 4_000])
def test_lookup_work_does_not_grow_with_the_path(segments: int) -> None:
    # The old lookup cut one segment at a time and hashed each shorter copy:
    # quadratic in the path, ~1 s for 128 KiB of "/a" with the GIL held.
    table = RouteTable(
        {"/api/auth": "public", "/api/catalog/entities": "protected", "/x": "optional"}
    )
    table._rules = _CountingDict(table._rules)
    _CountingDict.probes = _CountingDict.hashed = 0
    assert table.match("/api/catalog" + "/a" * segments).policy == "protected"
    assert _CountingDict.probes <= 3  # one per distinct prefix length in the table
    assert _CountingDict.hashed <= 40


# --------------------------------------------------------------------------------------
# Configuration errors name the key at fault
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "key"),
    [
        pytest.param(lambda: Rule("private"), "policy", id="unknown-policy"),
        pytest.param(lambda: Rule("PUBLIC"), "policy", id="policy-case"),
        pytest.param(lambda: Rule(unless=["("]), "unless[0]", id="invalid-regex"),
        pytest.param(lambda: Rule(unless=["/ok", "[z-a]"]), "unless[1]", id="invalid-regex-2nd"),
        pytest.param(lambda: Rule(unless=[42]), "unless[0]", id="regex-not-a-string"),
        pytest.param(lambda: Rule(unless=[b"/api/x"]), "unless[0]", id="regex-bytes"),
        pytest.param(lambda: Rule(unless=CSS), "unless", id="unless-string"),
        pytest.param(lambda: Rule(unless_methods="OPTIONS"), "unless_methods", id="methods-str"),
        pytest.param(lambda: Rule(unless_methods=["GET /"]), "unless_methods", id="methods-junk"),
        pytest.param(lambda: Rule(unless_methods=[""]), "unless_methods", id="methods-empty"),
        pytest.param(lambda: Rule(unless_methods=[None]), "unless_methods", id="methods-none"),
        pytest.param(lambda: Rule(unless_methods=["HEAD"]), "unless_methods", id="head-alone"),
        pytest.param(lambda: Rule(tokens=[]), "tokens", id="empty-tokens"),
        pytest.param(lambda: Rule(tokens=["admin"]), "tokens", id="unknown-token-kind"),
        pytest.param(lambda: Rule(cookie="yes"), "cookie", id="cookie-not-bool"),
        pytest.param(lambda: Rule(claims=["admin"]), "claims", id="claims-not-mapping"),
        pytest.param(lambda: Rule(claims={1: "x"}), "claims", id="claims-key-not-str"),
        pytest.param(lambda: Rule(scopes="catalog.read"), "scopes", id="scopes-string"),
        pytest.param(lambda: Rule(scopes=[1]), "scopes", id="scopes-not-str"),
        pytest.param(lambda: Rule(scopes=["a b"]), "scopes", id="scopes-two-in-one"),
        # RFC 6749 §3.3 scope-token: they go into a quoted-string (RFC 6750 §3 `scope`).
        pytest.param(lambda: Rule(scopes=['a"b']), "scopes", id="scopes-quote"),
        pytest.param(lambda: Rule(scopes=["a\\b"]), "scopes", id="scopes-backslash"),
        pytest.param(lambda: Rule(scopes=["caf\u00e9"]), "scopes", id="scopes-non-ascii"),
        pytest.param(lambda: Rule(scopes=["a\x7f"]), "scopes", id="scopes-control"),
        pytest.param(lambda: Rule(scopes=[""]), "scopes", id="scopes-empty"),
        pytest.param(lambda: Rule(claims={"a..b": "x"}), "claims.'a..b'", id="claim-path-bad"),
        pytest.param(
            lambda: Rule(claims={"roles": {"one": "x"}}), "claims.'roles'", id="claim-form-bad"
        ),
        pytest.param(lambda: Rule(claims_any={"a": 1}), "claims_any", id="claims-any-table"),
        pytest.param(lambda: Rule(claims_any=[{}]), "claims_any", id="claims-any-empty-table"),
        pytest.param(
            lambda: Rule(claims_any=[{"a": 1}, {"b": None}]),
            "claims_any[1].'b'",
            id="claims-any-bad-value",
        ),
        pytest.param(lambda: RouteTable({"api": "public"}), "routes.'api'", id="no-slash"),
        pytest.param(lambda: RouteTable({"": "public"}), "routes.''", id="empty-prefix"),
        pytest.param(lambda: RouteTable({1: "public"}), "routes.1", id="prefix-not-str"),
        pytest.param(lambda: RouteTable({"/a/../b": "public"}), "routes.'/a/../b'", id="dot-dot"),
        pytest.param(lambda: RouteTable({"/a/./b": "public"}), "routes.'/a/./b'", id="dot"),
        pytest.param(lambda: RouteTable({"/a/..": "public"}), "routes.'/a/..'", id="end-dot-dot"),
        pytest.param(lambda: RouteTable({"//a": "public"}), "routes.'//a'", id="double-slash"),
        pytest.param(lambda: RouteTable({"/a//b": "public"}), "routes.'/a//b'", id="inner-slash"),
        pytest.param(lambda: RouteTable({"/api//": "public"}), "routes.'/api//'", id="end-slashes"),
        pytest.param(lambda: RouteTable({"/a?x": "public"}), "routes.'/a?x'", id="query"),
        pytest.param(lambda: RouteTable({"/a#x": "public"}), "routes.'/a#x'", id="fragment"),
        pytest.param(lambda: RouteTable({"/a\\b": "public"}), "routes.'/a\\\\b'", id="backslash"),
        pytest.param(lambda: RouteTable({"/a%2fb": "public"}), "routes.'/a%2fb'", id="encoded"),
        pytest.param(
            lambda: RouteTable({"/api": "private"}), "routes.'/api'.policy", id="route-policy"
        ),
        pytest.param(lambda: RouteTable({"/api": 42}), "routes.'/api'", id="route-value"),
        pytest.param(
            lambda: RouteTable({"/api": "public", "/api/": "protected"}),
            "routes.'/api/'",
            id="duplicate-prefix",
        ),
        pytest.param(lambda: RouteTable(default="private"), "default.policy", id="default-policy"),
        pytest.param(lambda: RouteTable(default=42), "default", id="default-value"),  # type: ignore[arg-type]
    ],
)
def test_config_error(build: Callable[[], object], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build()
    assert caught.value.key == key
    assert str(caught.value).startswith(f"{key}: ")


def test_config_error_through_the_guard(make_guard: MakeGuard) -> None:
    with pytest.raises(ConfigError) as caught:
        make_guard(routes={"/api/catalog": "private"})
    assert caught.value.key == "routes.'/api/catalog'.policy"
    with pytest.raises(ConfigError) as caught:
        make_guard(default="nope")
    assert caught.value.key == "default.policy"


# --------------------------------------------------------------------------------------
# Per-rule token kinds, claims and scopes: 403 insufficient_scope
# --------------------------------------------------------------------------------------

Token = Callable[[SigningKey], str]

AUTHZ_ROUTES = {
    "/api/users": Rule("protected", tokens=["user"]),
    "/api/internal": Rule("protected", tokens=["service"]),
    "/api/admin": Rule("protected", claims={"admin": True}),
    "/api/level": Rule("protected", claims={"level": 1}),
    "/api/groups": Rule("protected", claims={"groups": "ops"}),
    "/api/both": Rule("protected", claims={"groups": ["ops", "dev"]}),
    "/api/catalog": Rule("protected", scopes=["catalog.read"]),
    "/api/catalog/write": Rule("protected", scopes=["catalog.read", "catalog.write"]),
    "/api/search": Rule("optional", scopes=["search"]),
    "/api/realm": Rule("protected", claims={"realm_access.roles": "admin"}),
    "/api/client": Rule(
        "protected", claims={'resource_access."my.app".roles': {"any": ["editor", "owner"]}}
    ),
    "/api/either": Rule(
        "protected",
        claims_any=[{"realm_access.roles": "admin"}, {"groups": ["ops", "dev"]}],
    ),
    "/api/perm": Rule("protected", scopes=["read:messages"]),
}


@pytest.mark.parametrize(
    ("path", "token", "allowed"),
    [
        pytest.param("/api/users", lambda key: key.token(), True, id="user-kind-user"),
        pytest.param("/api/users", lambda key: service_token(), False, id="user-kind-service"),
        pytest.param("/api/internal", lambda key: service_token(), True, id="service-kind-ok"),
        pytest.param("/api/internal", lambda key: key.token(), False, id="service-kind-user"),
        pytest.param("/api/admin", lambda key: key.token(admin=True), True, id="claim-true"),
        pytest.param("/api/admin", lambda key: key.token(), False, id="claim-missing"),
        pytest.param("/api/admin", lambda key: key.token(admin=False), False, id="claim-false"),
        pytest.param("/api/admin", lambda key: key.token(admin=1), False, id="claim-1-not-true"),
        pytest.param("/api/admin", lambda key: key.token(admin="true"), False, id="claim-str"),
        pytest.param("/api/admin", lambda key: key.token(admin=[True]), True, id="claim-in-list"),
        pytest.param("/api/level", lambda key: key.token(level=1), True, id="claim-int"),
        pytest.param("/api/level", lambda key: key.token(level=True), False, id="claim-true-not-1"),
        pytest.param("/api/level", lambda key: key.token(level=2), False, id="claim-int-other"),
        pytest.param("/api/groups", lambda key: key.token(groups="ops"), True, id="claim-equal"),
        pytest.param(
            "/api/groups", lambda key: key.token(groups=["dev", "ops"]), True, id="list-contains"
        ),
        pytest.param("/api/groups", lambda key: key.token(groups=["dev"]), False, id="list-lacks"),
        pytest.param(
            "/api/groups", lambda key: key.token(groups="ops-team"), False, id="not-substring"
        ),
        pytest.param("/api/groups", lambda key: key.token(groups=[]), False, id="empty-list"),
        pytest.param(
            "/api/both", lambda key: key.token(groups=["ops", "x", "dev"]), True, id="all-of-list"
        ),
        pytest.param("/api/both", lambda key: key.token(groups=["ops"]), False, id="part-of-list"),
        pytest.param("/api/both", lambda key: key.token(groups="ops"), False, id="one-of-list"),
        pytest.param(
            "/api/catalog", lambda key: key.token(scope="catalog.read"), True, id="scope-string"
        ),
        pytest.param(
            "/api/catalog",
            lambda key: key.token(scope="openid catalog.read profile"),
            True,
            id="scope-space-separated",
        ),
        pytest.param(
            "/api/catalog", lambda key: key.token(scp=["x", "catalog.read"]), True, id="scp-list"
        ),
        pytest.param("/api/catalog", lambda key: key.token(), False, id="scope-missing"),
        pytest.param(
            "/api/catalog",
            lambda key: key.token(scope="catalog.readonly"),
            False,
            id="scope-longer",
        ),
        pytest.param(
            "/api/catalog", lambda key: key.token(scope="catalog"), False, id="scope-part"
        ),
        pytest.param(
            "/api/catalog", lambda key: key.token(scp=["catalog.write"]), False, id="scp-other"
        ),
        pytest.param(
            "/api/catalog/write",
            lambda key: key.token(scope="catalog.write catalog.read"),
            True,
            id="scopes-all",
        ),
        pytest.param(
            "/api/catalog/write",
            lambda key: key.token(scope="catalog.read"),
            False,
            id="scopes-one-missing",
        ),
        pytest.param("/api/search", lambda key: key.token(scope="search"), True, id="optional-ok"),
        pytest.param("/api/search", lambda key: key.token(), False, id="optional-lacks-scope"),
        pytest.param(
            "/api/realm",
            lambda key: key.token(realm_access={"roles": ["user", "admin"]}),
            True,
            id="claim-path",
        ),
        pytest.param(
            "/api/realm",
            lambda key: key.token(realm_access={"roles": ["user"]}),
            False,
            id="path-lacks",
        ),
        pytest.param(
            "/api/realm", lambda key: key.token(**{"realm_access.roles": "admin"}), False, id="flat"
        ),
        pytest.param(
            "/api/realm", lambda key: key.token(realm_access="admin"), False, id="not-obj"
        ),
        pytest.param(
            "/api/client",
            lambda key: key.token(resource_access={"my.app": {"roles": ["owner"]}}),
            True,
            id="any-of-values",
        ),
        pytest.param(
            "/api/client",
            lambda key: key.token(resource_access={"my": {"app": {"roles": ["owner"]}}}),
            False,
            id="quoted-segment-is-one-key",
        ),
        pytest.param(
            "/api/client",
            lambda key: key.token(resource_access={"my.app": {"roles": ["viewer"]}}),
            False,
            id="any-of-none",
        ),
        pytest.param(
            "/api/either",
            lambda key: key.token(realm_access={"roles": ["admin"]}),
            True,
            id="claims-any-first",
        ),
        pytest.param(
            "/api/either",
            lambda key: key.token(groups=["dev", "ops"]),
            True,
            id="claims-any-second",
        ),
        pytest.param(
            "/api/either", lambda key: key.token(groups=["dev"]), False, id="claims-any-part"
        ),
        pytest.param("/api/either", lambda key: key.token(), False, id="claims-any-none"),
        pytest.param(
            "/api/perm",
            lambda key: key.token(permissions=["read:messages"]),
            True,
            id="permissions-list",
        ),
        pytest.param(
            "/api/perm",
            lambda key: key.token(permissions="read:messages write:messages"),
            True,
            id="permissions-string",
        ),
        pytest.param(
            "/api/perm", lambda key: key.token(scp="read:messages"), True, id="scp-string"
        ),
        pytest.param(
            "/api/perm", lambda key: key.token(permissions=["read:message"]), False, id="perm-other"
        ),
    ],
)
def test_authorization(
    make_guard: MakeGuard, ec_key: SigningKey, path: str, token: Token, allowed: bool
) -> None:
    client = Client(make_guard(routes=AUTHZ_ROUTES), use_cookies=False)
    response = client.get(path, headers=bearer(token(ec_key)))
    if allowed:
        assert assert_reached(response)["remote_user"]
    else:
        body = assert_refused(response, 403, "NotAllowedError")
        assert body["response"]["statusCode"] == 403
        challenge = response.headers["WWW-Authenticate"]
        assert challenge.startswith("Bearer ")
        assert 'error="insufficient_scope"' in challenge


@pytest.mark.parametrize(
    ("path", "token", "scope"),
    [
        pytest.param("/api/catalog", lambda key: key.token(), "catalog.read", id="no-scope"),
        # All the route needs (RFC 6750 §3: the scope required for the resource), so a
        # token issued for exactly these passes: not only the one missing.
        pytest.param(
            "/api/catalog/write",
            lambda key: key.token(scope="catalog.read"),
            "catalog.read catalog.write",
            id="one-missing",
        ),
        # Not a scope failure: nothing to step up to.
        pytest.param("/api/admin", lambda key: key.token(), None, id="claims"),
        pytest.param("/api/internal", lambda key: key.token(), None, id="token-kind"),
    ],
)
def test_a_403_names_the_scopes_only_when_scopes_failed(
    make_guard: MakeGuard, ec_key: SigningKey, path: str, token: Token, scope: str | None
) -> None:
    client = Client(make_guard(routes=AUTHZ_ROUTES), use_cookies=False)
    response = client.get(path, headers=bearer(token(ec_key)))
    assert_refused(response, 403, "NotAllowedError")
    challenge = WWWAuthenticate.from_header(response.headers["WWW-Authenticate"])
    assert challenge["error"] == "insufficient_scope"
    assert challenge.get("scope") == scope


def test_authorization_applies_to_the_cookie_too(make_guard: MakeGuard, ec_key: SigningKey) -> None:
    client = Client(make_guard(routes=AUTHZ_ROUTES), use_cookies=False)
    response = client.get("/api/admin", headers={"Cookie": f"token={ec_key.token()}"})
    assert_refused(response, 403)
    response = client.get("/api/admin", headers={"Cookie": f"token={ec_key.token(admin=True)}"})
    assert assert_reached(response)["identity"]["source"] == "cookie"


def test_optional_without_token_skips_authorization(make_guard: MakeGuard) -> None:
    client = Client(make_guard(routes=AUTHZ_ROUTES), use_cookies=False)
    assert assert_reached(client.get("/api/search"))["identity"] is None


def test_claim_rules_come_from_toml(
    make_guard: MakeGuard, ec_key: SigningKey, tmp_path: Any
) -> None:
    (tmp_path / "guard.toml").write_text(
        textwrap.dedent(
            """
            [routes."/api/admin"]
            claims = { "realm_access.roles" = "admin", 'https://example.com/tier' = "gold" }
            claims_any = [
              { 'resource_access."my.app".roles' = { any = ["editor", "owner"] } },
              { groups = ["ops", "dev"] },
            ]
            scopes = ["admin:write"]
            """
        )
    )
    rule = load_config(tmp_path / "guard.toml")["routes"]["/api/admin"]
    client = Client(make_guard(routes={"/api/admin": Rule(**rule)}), use_cookies=False)
    good = {
        "realm_access": {"roles": ["admin"]},
        "https://example.com/tier": "gold",
        "groups": ["ops", "dev"],
        "permissions": ["admin:write"],
    }
    assert assert_reached(client.get("/api/admin", headers=bearer(ec_key.token(**good))))
    for missing in good:
        token = ec_key.token(**{k: v for k, v in good.items() if k != missing})
        assert_refused(client.get("/api/admin", headers=bearer(token)), 403)


def test_claim_mistakes_in_toml_name_the_key(tmp_path: Any) -> None:
    (tmp_path / "guard.toml").write_text(
        textwrap.dedent(
            """
            [[issuers]]
            issuer = "https://auth.example.test"
            jwks_uri = "https://auth.example.test/jwks"

            [routes."/api/admin"]
            claims_any = [ { roles = "a" }, { 'realm_access..roles' = "admin" } ]
            """
        )
    )
    with pytest.raises(ConfigError) as caught:
        from_config(lambda environ, start_response: [], tmp_path / "guard.toml")
    assert caught.value.key == "routes.'/api/admin'.claims_any[1].'realm_access..roles'"
