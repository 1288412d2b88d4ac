"""The request as the guard's steps see it: ``wsgi_jwt_guard.request``.

``normalize_path`` (what the route table matches, and what it refuses), the
browser-semantics cookie reader, the effective methods and the origins, each
on a bare environ. What the guard does with them is in ``test_routing``
(paths), ``test_extraction`` (the token cookie) and ``test_csrf`` (methods and
origins); attacks through real servers are in ``tests/hostile/``.
"""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.test import create_environ

from wsgi_jwt_guard.errors import PathTooLong, UnsafePath
from wsgi_jwt_guard.request import (
    UNSAFE_PATH,
    RequestView,
    describe_unsafe,
    normalize_origin,
    normalize_path,
    without_cookies,
)

# describe_unsafe's reasons, and the two normalize_path gives itself.
DOT = "'.' or '..' segment"
EMPTY = "empty segment"
TWICE = "encoded twice"
CONTROL = "backslash or a control character"
UTF8 = "not valid UTF-8"
SLASH = "start with '/'"
MOUNT = "SCRIPT_NAME is not where this service is mounted"


def view(**environ: Any) -> RequestView:
    """A view of a GET for ``/`` with these environ keys set verbatim."""
    env = create_environ("/")
    env.update(environ)
    return RequestView(env, "/")


# --------------------------------------------------------------------------------------
# normalize_path: PATH_INFO is what a server hands over after decoding the request
# target once, as PEP 3333 latin-1 text.
# --------------------------------------------------------------------------------------

UNSAFE = [
    pytest.param("/api/auth/../catalog", DOT, id="dot-dot"),
    pytest.param("/api/auth/./x", DOT, id="dot"),
    pytest.param("/./api", DOT, id="leading-dot"),
    pytest.param("/../api/auth", DOT, id="leading-dot-dot"),
    pytest.param("/api/auth/..", DOT, id="trailing-dot-dot"),
    pytest.param("/api/auth/.", DOT, id="trailing-dot"),
    pytest.param("/api/auth/x/../..", DOT, id="climbing"),
    pytest.param("/api//catalog", EMPTY, id="double-slash"),
    pytest.param("/api/auth//x", EMPTY, id="double-slash-public"),
    pytest.param("//api", EMPTY, id="leading-double-slash"),
    pytest.param("/api/auth/%2e%2e/catalog", TWICE, id="encoded-dot-dot"),
    pytest.param("/api/auth/%2E%2E/catalog", TWICE, id="encoded-dot-dot-upper"),
    pytest.param("/api/auth/.%2e/catalog", TWICE, id="half-encoded-dot-dot"),
    pytest.param("/api/auth/%2e", TWICE, id="encoded-dot"),
    pytest.param("/api/auth%2f..%2fcatalog", TWICE, id="encoded-slash"),
    pytest.param("/api/auth/x%2Fy", TWICE, id="encoded-slash-upper"),
    pytest.param("/api/auth/x%5cy", TWICE, id="encoded-backslash"),
    pytest.param("/api/auth/x%5Cy", TWICE, id="encoded-backslash-upper"),
    pytest.param("/api/auth/x%00", TWICE, id="encoded-nul"),
    pytest.param("/api/auth/x%3by", TWICE, id="encoded-semicolon"),
    pytest.param("/api/auth/%252e%252e", TWICE, id="triple-encoded"),
    pytest.param("/api/auth/x%2541", TWICE, id="percent-25-then-any-escape"),
    pytest.param("/api/auth/..\\catalog", CONTROL, id="backslash"),
    pytest.param("/api/auth\\x", CONTROL, id="backslash-in-segment"),
    pytest.param("/api/auth/x\x00", CONTROL, id="nul"),
    pytest.param("/api/auth/x\x01", CONTROL, id="control-01"),
    pytest.param("/api/auth/x\x1f", CONTROL, id="control-1f"),
    pytest.param("/api/auth/x\x7f", CONTROL, id="del"),
    pytest.param("/api/auth/x\ny", CONTROL, id="newline"),
    pytest.param("/api/auth/x\r", CONTROL, id="carriage-return"),
    pytest.param("/api/auth/x\ty", CONTROL, id="tab"),
    pytest.param("/api/auth/\xff", UTF8, id="invalid-utf8"),
    pytest.param("/api/auth/caf\xe9", UTF8, id="latin1-not-utf8"),
    pytest.param("/api/auth/\xc0\xae\xc0\xae/catalog", UTF8, id="overlong-utf8-dot"),
    pytest.param("/api/auth/\xed\xa0\x80", UTF8, id="utf8-surrogate"),
    pytest.param("/api/auth/\u2028", UTF8, id="not-latin1-text"),
    # Full-width forms become '.', '/' and '\\' under NFKC (UTF-8 bytes as latin-1).
    pytest.param("/api/auth/\xef\xbc\x8e\xef\xbc\x8e/catalog", DOT, id="fullwidth-dots"),
    pytest.param("/api/auth\xef\xbc\x8f\xef\xbc\x8fx", EMPTY, id="fullwidth-solidus"),
    pytest.param("/api/auth\xef\xbc\xbcx", CONTROL, id="fullwidth-backslash"),
    pytest.param("api/auth", SLASH, id="no-leading-slash"),
    pytest.param("%2fapi", SLASH, id="no-leading-slash-before-the-scan"),
]


@pytest.mark.parametrize(("path_info", "reason"), UNSAFE)
def test_unsafe_paths_are_refused_with_the_reason(path_info: str, reason: str) -> None:
    with pytest.raises(UnsafePath) as caught:
        normalize_path({"PATH_INFO": path_info})
    assert reason in caught.value.description
    assert caught.value.status == 400


@pytest.mark.parametrize(
    ("script_name", "path_info", "mount", "reason"),
    [
        pytest.param("/api/auth", "/../catalog", "/api/auth", DOT, id="mount-then-dot-dot"),
        pytest.param("/api/auth", "//x", "/api/auth", EMPTY, id="mount-then-double-slash"),
        # The mount is checked like the rest: the route table sees mount + PATH_INFO.
        pytest.param("/api/..", "/catalog", "/api/..", DOT, id="dot-dot-in-the-mount"),
        pytest.param("/api\x00", "", "/api\x00", CONTROL, id="nul-in-the-mount"),
    ],
)
def test_the_mount_is_part_of_the_checked_path(
    script_name: str, path_info: str, mount: str, reason: str
) -> None:
    with pytest.raises(UnsafePath, match=reason):
        normalize_path({"SCRIPT_NAME": script_name, "PATH_INFO": path_info}, mount)


@pytest.mark.parametrize(
    ("script_name", "path_info", "mount", "expected"),
    [
        pytest.param("", "/api/auth/caf\xc3\xa9", "", "/api/auth/caf\u00e9", id="utf8-decoded"),
        pytest.param("", "/api/\xe2\x82\xac/\xf0\x9f\x94\x91", "", "/api/\u20ac/\U0001f511", id="utf8-multibyte"),
        pytest.param("", "/api/\xef\xbd\x81uth", "", "/api/\uff41uth", id="fullwidth-letter-kept-as-sent"),
        pytest.param("", "/api/auth/...", "", "/api/auth/...", id="three-dots"),
        pytest.param("", "/api/auth/.../x", "", "/api/auth/.../x", id="three-dots-segment"),
        pytest.param("", "/api/auth/.well-known", "", "/api/auth/.well-known", id="dot-file"),
        pytest.param("", "/api/auth/x..y", "", "/api/auth/x..y", id="dots-inside"),
        pytest.param("", "/api/auth/..x", "", "/api/auth/..x", id="dot-dot-prefix"),
        pytest.param("", "/api/auth/x%25", "", "/api/auth/x%25", id="percent-25-alone"),
        pytest.param("", "/api/auth/x%20y", "", "/api/auth/x%20y", id="percent-20"),
        pytest.param("", "/api/auth/a b", "", "/api/auth/a b", id="space"),
        pytest.param("", "/api/auth/", "", "/api/auth/", id="trailing-slash-kept"),
        pytest.param("", "/API/Auth", "", "/API/Auth", id="case-kept"),
        pytest.param("", "", "", "/", id="empty-is-the-root"),
        pytest.param("/api/auth", "", "/api/auth", "/api/auth", id="mount-and-empty-path-info"),
        pytest.param("/api", "/auth/x", "/api", "/api/auth/x", id="mount-joined"),
        pytest.param("/api/", "/auth/x", "/api", "/api/auth/x", id="mount-with-a-trailing-slash"),
        pytest.param("/", "/api/auth/x", "", "/api/auth/x", id="root-script-name-slash"),
    ],
)
def test_safe_paths_come_back_decoded(script_name: str, path_info: str, mount: str, expected: str) -> None:
    assert normalize_path({"SCRIPT_NAME": script_name, "PATH_INFO": path_info}, mount) == expected


@pytest.mark.parametrize(
    ("mount", "script_name"),
    [
        # gunicorn honours a SCRIPT_NAME request header from its forwarders.
        pytest.param("", "/api/auth", id="set-by-the-client"),
        pytest.param("/api", "", id="missing"),
        pytest.param("/api", "/api/auth", id="longer"),
        pytest.param("/api", "/ap", id="shorter"),
        pytest.param("/api", "/API", id="case"),
        pytest.param("/api", "/api//", id="two-slashes"),
        pytest.param("/api", "/api%2f", id="encoded-slash"),
        pytest.param("", "//", id="root-two-slashes"),
    ],
)
def test_a_script_name_other_than_the_mount_is_refused(mount: str, script_name: str) -> None:
    with pytest.raises(UnsafePath, match=MOUNT):
        normalize_path({"SCRIPT_NAME": script_name, "PATH_INFO": "/auth/x"}, mount)


@pytest.mark.parametrize(
    ("script_name", "path_info"),
    [
        # gunicorn cuts a client's SCRIPT_NAME '/api/' off '/api/catalog': the app
        # routes on 'catalog', 'mount + PATH_INFO' would read '/apicatalog'.
        pytest.param("/api/", "catalog", id="mount-slash-then-relative"),
        pytest.param("/api", "catalog", id="mount-then-relative"),
        pytest.param("/api", "?x", id="query-like"),
    ],
)
def test_a_path_info_not_from_slash_is_refused(script_name: str, path_info: str) -> None:
    with pytest.raises(UnsafePath, match="PATH_INFO must be empty or start with '/'"):
        normalize_path({"SCRIPT_NAME": script_name, "PATH_INFO": path_info}, "/api")


def test_the_length_limit_counts_path_info_and_comes_first() -> None:
    assert normalize_path({"SCRIPT_NAME": "/api", "PATH_INFO": "/abc"}, "/api", max_length=4) == "/api/abc"
    with pytest.raises(PathTooLong, match="longer than 4 characters") as caught:
        normalize_path({"PATH_INFO": "/abcd"}, max_length=4)
    assert caught.value.status == 414
    # Before any other check, so an absurd path costs no scan.
    with pytest.raises(PathTooLong):
        normalize_path({"PATH_INFO": "/\x00/../" * 10}, max_length=8)
    # ...but after the SCRIPT_NAME check.
    with pytest.raises(UnsafePath, match=MOUNT):
        normalize_path({"SCRIPT_NAME": "/x", "PATH_INFO": "/a" * 10}, max_length=8)


def test_unsafe_path_finds_each_kind_in_one_scan() -> None:
    found = [m.group() for m in UNSAFE_PATH.finditer("/a//b/./c/%2e/d\\e/..")]
    assert found == ["//", "/./", "%2e", "\\", "/.."]


@pytest.mark.parametrize(
    ("match", "reason"),
    [
        pytest.param("//", EMPTY, id="empty-segment"),
        pytest.param("/./", DOT, id="dot"),
        pytest.param("/..", DOT, id="dot-dot"),
        pytest.param("%2F", TWICE, id="escape"),
        pytest.param("%2541", TWICE, id="third-layer"),
        pytest.param("\\", CONTROL, id="backslash"),
        pytest.param("\x00", CONTROL, id="nul"),
    ],
)
def test_describe_unsafe(match: str, reason: str) -> None:
    assert UNSAFE_PATH.fullmatch(match)
    assert reason in describe_unsafe(match)


# --------------------------------------------------------------------------------------
# RequestView.of and the method
# --------------------------------------------------------------------------------------


def test_of_builds_the_view_of_the_normalized_path() -> None:
    environ = create_environ("/api/caf\u00e9", method="DELETE", base_url="http://localhost/svc")
    request = RequestView.of(environ, mount="/svc")
    assert request.path == "/svc/api/caf\u00e9"
    assert request.method == "DELETE"
    assert request.environ is environ


@pytest.mark.parametrize(
    ("environ", "error"),
    [
        pytest.param({"PATH_INFO": "/a/../b"}, UnsafePath, id="unsafe"),
        pytest.param({"SCRIPT_NAME": "/elsewhere"}, UnsafePath, id="script-name"),
        pytest.param({"PATH_INFO": "/" + "a" * 20}, PathTooLong, id="too-long"),
    ],
)
def test_of_refuses_what_normalize_path_refuses(environ: dict[str, str], error: type[Exception]) -> None:
    env = create_environ("/")
    env.update(environ)
    with pytest.raises(error):
        RequestView.of(env, max_length=16)


@pytest.mark.parametrize(
    ("environ", "methods"),
    [
        pytest.param({}, {"GET"}, id="as-sent"),
        pytest.param({"REQUEST_METHOD": "post"}, {"POST"}, id="upper-cased"),
        pytest.param({"HTTP_X_HTTP_METHOD_OVERRIDE": "delete"}, {"GET", "DELETE"}, id="x-http-method-override"),
        pytest.param({"HTTP_X_HTTP_METHOD": "PUT"}, {"GET", "PUT"}, id="x-http-method"),
        pytest.param({"HTTP_X_METHOD_OVERRIDE": "PATCH"}, {"GET", "PATCH"}, id="x-method-override"),
        pytest.param({"HTTP_X_HTTP_METHOD_OVERRIDE": " put , Patch"}, {"GET", "PUT", "PATCH"}, id="comma-list"),
        pytest.param(
            {"REQUEST_METHOD": "POST", "HTTP_X_HTTP_METHOD_OVERRIDE": "GET", "HTTP_X_HTTP_METHOD": "DELETE"},
            {"POST", "GET", "DELETE"},
            id="every-header-counts",
        ),
        pytest.param({"HTTP_X_OTHER_OVERRIDE": "DELETE"}, {"GET"}, id="other-headers-ignored"),
        # An empty override names no method (the app's framework ignores it too).
        pytest.param({"HTTP_X_HTTP_METHOD_OVERRIDE": ""}, {"GET"}, id="empty-override"),
        pytest.param({"HTTP_X_HTTP_METHOD_OVERRIDE": " , "}, {"GET"}, id="blank-list"),
    ],
)
def test_methods_are_the_method_and_every_override(environ: dict[str, str], methods: set[str]) -> None:
    request = view(**environ)
    assert request.methods == frozenset(methods)
    assert request.method == environ.get("REQUEST_METHOD", "GET")  # as sent, not upper-cased


def test_a_missing_request_method_is_get() -> None:
    assert RequestView({}, "/").method == "GET"
    assert RequestView({}, "/").methods == {"GET"}


# --------------------------------------------------------------------------------------
# cookie(name): the Cookie header read as browsers write it (RFC 6265 §5.4)
# --------------------------------------------------------------------------------------

COOKIES = [
    pytest.param(None, "token", [], id="no-header"),
    pytest.param("", "token", [], id="empty-header"),
    pytest.param("token=A", "token", ["A"], id="one"),
    pytest.param("a=1; token=A; b=2", "token", ["A"], id="among-others"),
    pytest.param("a=1; token=A; b=2", "b", ["2"], id="last"),
    pytest.param("other=1", "token", [], id="absent"),
    # Repeated names: every value, in the order sent.
    pytest.param("token=A; token=B; token=A", "token", ["A", "B", "A"], id="repeated"),
    pytest.param("token=A; other=1; token=B", "token", ["A", "B"], id="repeated-apart"),
    # Quotes never group pairs: a sibling subdomain's 'a="' and 'b="' hide nothing.
    pytest.param('token=A; a="; token=B; b="', "token", ["A", "B"], id="quote-tossing-two-tokens"),
    pytest.param('token=A; a="; token=B; b="', "a", ['"'], id="quote-tossing-lone-quote"),
    pytest.param('a="x; token=A"; token=B', "token", ['A"', "B"], id="quote-around-a-token"),
    # RFC 6265 §4.1.1's quoted form is unwrapped (as Go's net/http does).
    pytest.param('token="A"', "token", ["A"], id="quoted"),
    pytest.param('token=""', "token", [""], id="quoted-empty"),
    pytest.param('token="', "token", ['"'], id="one-quote"),
    pytest.param('token="A', "token", ['"A'], id="unbalanced-quote"),
    pytest.param('token= "A" ', "token", ["A"], id="quoted-after-blanks"),
    pytest.param('token="A"B"', "token", ['A"B'], id="only-the-outer-quotes"),
    # Empty pairs, nameless cookies, '=' in values.
    pytest.param("token=", "token", [""], id="empty-value"),
    pytest.param("; ;token=A;;", "token", ["A"], id="empty-pairs"),
    pytest.param("token; token=A", "token", ["A"], id="nameless-cookie-skipped"),
    pytest.param("token", "token", [], id="only-a-nameless-cookie"),
    pytest.param("=A", "", ["A"], id="empty-name"),
    pytest.param("token=a=b", "token", ["a=b"], id="split-at-the-first-equals"),
    pytest.param("other=token", "token", [], id="name-in-a-value"),
    # Whitespace: blanks and tabs around names and values; nothing else.
    pytest.param(" token = A \t;", "token", ["A"], id="blanks-trimmed"),
    pytest.param("\ta=1\t;\ttoken=B", "token", ["B"], id="tabs-trimmed"),
    pytest.param("token=A;token=B", "token", ["A", "B"], id="no-space-after-semicolon"),
    pytest.param("token=A B", "token", ["A B"], id="inner-space-kept"),
    pytest.param("token=A\r\n", "token", ["A\r\n"], id="crlf-kept"),
    # Names are exact.
    pytest.param("Token=A", "token", [], id="case-sensitive"),
    pytest.param("mytoken=A; tokens=B", "token", [], id="similar-names"),
    # Commas are not separators (RFC 2965's were; browsers never send them).
    pytest.param("token=A, token=B", "token", ["A, token=B"], id="comma-is-part-of-the-value"),
    # Non-ASCII: the header's bytes as PEP 3333 latin-1 text, never decoded.
    pytest.param("other=caf\xc3\xa9; token=A", "other", ["caf\xc3\xa9"], id="utf8-bytes-kept"),
    pytest.param("other=\xff\xfe; token=A", "token", ["A"], id="invalid-utf8-elsewhere"),
    pytest.param("other=\u2028; token=A", "token", ["A"], id="non-latin1-text-elsewhere"),
    pytest.param("caf\xc3\xa9=1; token=A", "caf\xc3\xa9", ["1"], id="non-ascii-name"),
    pytest.param("token=ab\xffcd", "token", ["ab\xffcd"], id="non-ascii-value"),
]


@pytest.mark.parametrize(("header", "name", "values"), COOKIES)
def test_cookie(header: str | None, name: str, values: list[str]) -> None:
    environ = {} if header is None else {"HTTP_COOKIE": header}
    assert view(**environ).cookie(name) == values


def test_cookie_reads_the_header_once_and_keeps_its_order() -> None:
    request = view(HTTP_COOKIE="b=2; a=1; b=3")
    assert request.cookie("b") == ["2", "3"]
    request.environ["HTTP_COOKIE"] = "b=changed"
    assert request.cookie("b") == ["2", "3"]
    assert request.cookie("a") == ["1"]


def test_cookie_reading_is_linear_in_the_header() -> None:
    # Quadratic splitting of 100 000 pairs would take minutes.
    header = "; ".join(f"c{i}=v" for i in range(100_000)) + "; token=A"
    assert view(HTTP_COOKIE=header).cookie("token") == ["A"]


@pytest.mark.parametrize(
    ("header", "names", "expected"),
    [
        pytest.param("a=1; t=2; b=3", {"t"}, "a=1; b=3", id="middle"),
        pytest.param("a=1; t=2", {"t"}, "a=1", id="last"),
        pytest.param("a=1; t=2", {"x"}, "a=1; t=2", id="none-removed"),
        pytest.param(" t=2 ;a=1", {"t"}, "a=1", id="spaces"),
        pytest.param("a=\"; t=2; b=\"", {"t"}, "a=\"; b=\"", id="quotes-do-not-group"),
        pytest.param("a=1;\x0bt=2", {"t"}, "a=1", id="any-whitespace-before-the-name"),
        pytest.param("t=2", {"t"}, "", id="all"),
    ],
)
def test_without_cookies_keeps_every_other_pair_byte_for_byte(header: str, names: set[str], expected: str) -> None:
    assert without_cookies(header, names) == expected


# --------------------------------------------------------------------------------------
# origin, own_origin and normalize_origin
# --------------------------------------------------------------------------------------


def test_origin_is_the_header_as_sent() -> None:
    assert view().origin is None
    assert view(HTTP_ORIGIN="HTTPS://App.example:443").origin == "HTTPS://App.example:443"
    assert view(HTTP_ORIGIN="null").origin == "null"


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        pytest.param({}, "http://localhost", id="werkzeug-test-default"),
        pytest.param({"wsgi.url_scheme": "https", "HTTP_HOST": "App.Example:443"}, "https://app.example", id="default-port-dropped"),
        pytest.param({"HTTP_HOST": "app.example:8080"}, "http://app.example:8080", id="other-port-kept"),
        pytest.param({"HTTP_HOST": "app.example:443"}, "http://app.example:443", id="https-port-on-http"),
        pytest.param({"HTTP_HOST": "[::1]:8000"}, "http://[::1]:8000", id="ipv6"),
        pytest.param({"HTTP_HOST": "[::1]:80"}, "http://[::1]", id="ipv6-default-port"),
        pytest.param({"HTTP_HOST": "evil.example/x"}, None, id="path-in-host"),
        pytest.param({"HTTP_HOST": "user@evil.example"}, None, id="userinfo-in-host"),
        pytest.param({"HTTP_HOST": "a b"}, None, id="space-in-host"),
        pytest.param({"HTTP_HOST": "app.example:99999"}, None, id="port-out-of-range"),
        pytest.param({"wsgi.url_scheme": "ftp"}, None, id="not-http"),
    ],
)
def test_own_origin(environ: dict[str, str], expected: str | None) -> None:
    assert view(**environ).own_origin() == expected


@pytest.mark.parametrize(
    ("port", "expected"),
    [pytest.param("8443", "https://srv.example:8443", id="other-port"), pytest.param("443", "https://srv.example", id="default-port")],
)
def test_own_origin_without_a_host_header_is_the_server_name(port: str, expected: str) -> None:
    environ = create_environ("/", "https://ignored.example/")
    del environ["HTTP_HOST"]
    environ.update(SERVER_NAME="srv.example", SERVER_PORT=port)
    assert RequestView(environ, "/").own_origin() == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("http://a.example", "http://a.example", id="plain"),
        pytest.param("HTTP://A.EXAMPLE:80", "http://a.example", id="case-and-default-port"),
        pytest.param("https://a.example:443", "https://a.example", id="https-default-port"),
        pytest.param("https://a.example:80", "https://a.example:80", id="http-port-on-https"),
        pytest.param("https://a.example:8443", "https://a.example:8443", id="other-port"),
        pytest.param(" http://a.example ", "http://a.example", id="blanks"),
        pytest.param("http://[::1]:8080", "http://[::1]:8080", id="ipv6"),
        pytest.param("http://1.2.3.4:80", "http://1.2.3.4", id="ipv4"),
        pytest.param("http://xn--caf-dma.example", "http://xn--caf-dma.example", id="punycode"),
        pytest.param("null", None, id="null"),
        pytest.param("", None, id="empty"),
        pytest.param("ftp://a.example", None, id="other-scheme"),
        pytest.param("a.example", None, id="no-scheme"),
        pytest.param("http://a.example/", None, id="path"),
        pytest.param("http://a.example?", None, id="empty-query"),
        pytest.param("http://a.example#", None, id="empty-fragment"),
        pytest.param("http://u@a.example", None, id="userinfo"),
        pytest.param("http://a.example@", None, id="empty-userinfo-marker"),
        pytest.param("http://a.example:99999", None, id="port-out-of-range"),
        pytest.param("http://[::1", None, id="broken-ipv6"),
        pytest.param("http://caf\u00e9.example", None, id="non-ascii-host"),
        # Browsers send these (Docker service names): same-origin checks must not refuse them.
        pytest.param("http://my_app:8000", "http://my_app:8000", id="underscore"),
        pytest.param("http:///x", None, id="no-host"),
        pytest.param("http://a.example, http://b.example", None, id="list"),
    ],
)
def test_normalize_origin(value: str, expected: str | None) -> None:
    assert normalize_origin(value) == expected
