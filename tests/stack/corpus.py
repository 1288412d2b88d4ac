"""The requests an attacker sends, each with what is acceptable.

A case is a request template (see ``client.py``: ``{alice}``, ``{mallory}``...
are tokens, ``{origin}`` is the origin dialled) and ``expect``: the only user a
view may run as. ``expect=None``: no protected view body may run at all;
``expect="alice"``: a view may run only as alice (or not at all). Whether the
guard answers 400, 401 or 403 is not the point -- which view body ran, for
whom, as each framework's own router decided, is.

Tokens: ``alice`` is the victim (her token is the one a browser holds),
``mallory`` the attacker (his own valid token, planted where he can),
``bob`` a third user; ``expired``, ``badsig`` (same kid, untrusted key),
``badaud``, ``noalg`` are refused tokens; ``service`` is a service token.

References: PortSwigger "URL-based access control can be circumvented";
Orange Tsai, "Breaking Parser Logic" (BlackHat 2018); RFC 6265 §5.4 and the
"cookie tossing" write-ups (GitHub 2013, Zalewski's *Tangled Web*); gunicorn
``forwarder_headers``; CWE-436, CWE-650, CWE-352.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.stack.apps import CORS_ORIGIN, PROXY_HEADER
from tests.stack.client import request_bytes

EVIL = "http://evil.example.test"
BODY_FORM = "application/x-www-form-urlencoded"

#: Headers of a browser's CORS preflight from the allowed origin.
PREFLIGHT = (("Origin", CORS_ORIGIN), ("Access-Control-Request-Method", "GET"))


@dataclass(frozen=True)
class Case:
    """A request template and the one user any view may run as for it."""

    template: str
    expect: str | None = None
    #: For templates holding a second request (``{probe}.2``): its own expectation.
    second: str | None = None


def case(
    id: str,
    target: str = "/api/catalog/secret",
    headers: tuple[tuple[str, str], ...] | list[tuple[str, str]] = (),
    *,
    method: str = "GET",
    body: str = "",
    expect: str | None = None,
    version: str = "HTTP/1.1",
    host: bool = True,
) -> pytest.ParameterSet:
    template = request_bytes(method, target, list(headers), body=body, version=version, host=host)
    return pytest.param(Case(template, expect), id=id)


def raw(id: str, template: str, *, expect: str | None = None, second: str | None = None) -> pytest.ParameterSet:
    return pytest.param(Case(template, expect, second), id=id)


def bearer(name: str) -> tuple[str, str]:
    return ("Authorization", f"Bearer {{{name}}}")


def cookie(value: str) -> tuple[str, str]:
    return ("Cookie", value)


# -- Paths: what the guard matches vs what each router routes ------------------------------

PATHS = [
    ("control-secret", "/api/catalog/secret"),
    ("control-catalog", "/api/catalog"),
    ("control-catalog-slash", "/api/catalog/"),
    ("control-root", "/"),
    ("control-catch-all", "/internal/admin"),
    ("dot-dot", "/api/auth/../catalog/secret"),
    ("dot-dot-twice", "/api/auth/x/../../catalog/secret"),
    ("dot-dot-encoded", "/api/auth/%2e%2e/catalog/secret"),
    ("dot-dot-encoded-upper", "/api/auth/%2E%2E/catalog/secret"),
    ("dot-dot-half-encoded", "/api/auth/.%2e/catalog/secret"),
    ("dot-dot-double-encoded", "/api/auth/%252e%252e/catalog/secret"),
    ("dot-segment", "/api/auth/./../catalog/secret"),
    ("dot-segment-trailing", "/api/catalog/secret/."),
    ("encoded-slash", "/api/auth/..%2fcatalog%2fsecret"),
    ("encoded-slash-upper", "/api/auth/..%2Fcatalog%2Fsecret"),
    ("encoded-slash-around", "/api/auth%2f..%2fcatalog%2fsecret"),
    ("encoded-slash-whole", "/api%2fcatalog%2fsecret"),
    ("encoded-slash-double", "/api/auth/..%252fcatalog%252fsecret"),
    ("double-slash-leading", "//api/catalog/secret"),
    ("double-slash-inner", "/api//catalog/secret"),
    ("double-slash-public", "/api/auth//../catalog/secret"),
    ("double-slash-many", "///api///catalog///secret"),
    ("semicolon-dot-dot", "/api/auth/..;/catalog/secret"),
    ("semicolon-segment", "/api/auth;/../catalog/secret"),
    ("semicolon-parameter", "/api/auth;x=1/../catalog/secret"),
    ("semicolon-encoded", "/api/auth/..%3b/catalog/secret"),
    ("semicolon-on-protected", "/api/catalog;jsessionid=1/secret"),
    ("backslash", "/api/auth\\..\\catalog\\secret"),
    ("backslash-mixed", "/api/auth/..\\catalog/secret"),
    ("backslash-encoded", "/api/auth/..%5ccatalog%5csecret"),
    ("nul-raw", "/api/auth/\x00/../catalog/secret"),
    ("nul-encoded", "/api/auth/%00/../catalog/secret"),
    ("nul-trailing", "/api/catalog/secret%00"),
    ("fullwidth-dots", "/api/auth/%ef%bc%8e%ef%bc%8e/catalog/secret"),
    ("fullwidth-dots-raw", "/api/auth/\uff0e\uff0e/catalog/secret"),
    ("fullwidth-solidus", "/api/auth%ef%bc%8f..%ef%bc%8fcatalog%ef%bc%8fsecret"),
    ("fullwidth-reverse-solidus", "/api/auth%ef%bc%bc..%ef%bc%bccatalog%ef%bc%bcsecret"),
    ("overlong-dots", "/api/auth/%c0%ae%c0%ae/catalog/secret"),
    ("overlong-slash", "/api/auth/..%c0%afcatalog%c0%afsecret"),
    ("invalid-utf8", "/api/auth/%ff/../catalog/secret"),
    ("case-upper", "/API/CATALOG/SECRET"),
    ("case-public-prefix", "/API/auth/x"),
    ("case-mixed-dot-dot", "/Api/Auth/../catalog/secret"),
    ("trailing-slash", "/api/catalog/secret/"),
    ("trailing-dot", "/api/catalog/secret."),
    ("trailing-dot-segment", "/api/catalog./secret"),
    ("public-trailing-dot", "/api/auth./x"),
    ("public-without-boundary", "/api/authx/../catalog/secret"),
    ("public-with-extension", "/api/auth.json"),
    ("encoded-space", "/api/auth%20/../catalog/secret"),
    ("encoded-tab", "/api/catalog/secret%09"),
    ("encoded-newline", "/api/auth/x%0a/../../catalog/secret"),
    ("query-names-public", "/api/catalog/secret?next=/api/auth/x"),
    ("query-is-a-path", "/api/catalog/secret?/../../api/auth/x"),
    ("fragment", "/api/catalog/secret#/api/auth/x"),
    ("encoded-question-mark", "/api/auth/x%3f/../../catalog/secret"),
    ("encoded-hash", "/api/auth/x%23/../../catalog/secret"),
    ("absolute-form", "http://127.0.0.1/api/catalog/secret"),
    ("absolute-form-other-host", "http://evil.example/api/catalog/secret"),
    ("absolute-form-https", "https://127.0.0.1/api/catalog/secret"),
    ("absolute-form-dot-dot", "http://127.0.0.1/api/auth/../catalog/secret"),
    ("absolute-form-encoded-dots", "http://127.0.0.1/api/auth/%2e%2e/catalog/secret"),
    ("absolute-form-userinfo", "http://api/auth@127.0.0.1/api/catalog/secret"),
    ("absolute-form-public-host-path", "http://127.0.0.1/api/auth/x/../../catalog/secret"),
    ("absolute-form-no-path", "http://127.0.0.1"),
    ("absolute-form-double-slash", "http:///api/catalog/secret"),
    ("no-leading-slash", "api/catalog/secret"),
    ("asterisk", "*"),
    ("techdocs-css", "/api/techdocs/static/docs/a.css"),
    ("techdocs-html", "/api/techdocs/static/docs/secret.html"),
    ("techdocs-css-upper", "/api/techdocs/static/docs/secret.CSS"),
    ("techdocs-css-in-query", "/api/techdocs/static/docs/secret.html?.css"),
    ("techdocs-css-encoded-query", "/api/techdocs/static/docs/secret.html%3f.css"),
    ("techdocs-css-semicolon", "/api/techdocs/static/docs/secret.html;.css"),
    ("techdocs-css-nul", "/api/techdocs/static/docs/secret.html%00.css"),
    ("techdocs-css-newline", "/api/techdocs/static/docs/secret.html%0a.css"),
    ("techdocs-css-trailing-slash", "/api/techdocs/static/docs/a.css/"),
    ("techdocs-css-dot-dot", "/api/techdocs/static/docs/../../../catalog/secret.css"),
    ("techdocs-css-dot-dot-after", "/api/techdocs/static/docs/a.css/../../../../catalog/secret"),
    ("techdocs-css-encoded-dot-dot", "/api/techdocs/static/docs/%2e%2e/%2e%2e/%2e%2e/catalog/secret.css"),
    ("techdocs-css-encoded-slash", "/api/techdocs/static/docs%2f..%2f..%2f..%2fcatalog%2fsecret.css"),
    ("techdocs-css-backslash", "/api/techdocs/static/docs/..\\..\\..\\catalog\\secret.css"),
    ("techdocs-css-double-slash", "/api/techdocs/static/docs//etc/secret.css"),
]

PATH_CASES = [case(f"path-{id}-anonymous", target) for id, target in PATHS] + [
    case(f"path-{id}-alice", target, [bearer("alice")], expect="alice") for id, target in PATHS
]

# -- SCRIPT_NAME sent as a request header (gunicorn honours it from 127.0.0.1) ------------

SCRIPT_NAMES = [
    # (id, request target, SCRIPT_NAME header line)
    ("script-name", "/api/auth/api/catalog/secret", ("SCRIPT_NAME", "/api/auth")),
    ("script-name-lowercase", "/api/auth/api/catalog/secret", ("script_name", "/api/auth")),
    ("script-name-mixed-case", "/api/auth/api/catalog/secret", ("Script_Name", "/api/auth")),
    ("script-name-dashed", "/api/auth/api/catalog/secret", ("Script-Name", "/api/auth")),
    ("script-name-trailing-slash", "/api/auth/api/catalog/secret", ("SCRIPT_NAME", "/api/auth/")),
    ("script-name-to-root", "/api/auth", ("SCRIPT_NAME", "/api/auth")),
    ("script-name-to-slash", "/api/auth/", ("SCRIPT_NAME", "/api/auth")),
    ("script-name-mid-segment", "/api/auth/x", ("SCRIPT_NAME", "/api/aut")),
    ("script-name-deeper", "/api/auth/x/api/catalog/secret", ("SCRIPT_NAME", "/api/auth/x")),
    ("script-name-encoded-slash", "/api/auth%2fapi/catalog/secret", ("SCRIPT_NAME", "/api/auth")),
    ("script-name-css-exemption", "/api/techdocs/static/docs/api/catalog/secret.css", ("SCRIPT_NAME", "/api/techdocs/static/docs")),
    ("script-name-protected-mount", "/api/catalog/secret", ("SCRIPT_NAME", "/api/catalog")),
    ("script-name-mismatch", "/api/catalog/secret", ("SCRIPT_NAME", "/api/auth")),
    ("script-name-empty", "/api/catalog/secret", ("SCRIPT_NAME", "")),
    # PATH_INFO loses its leading slash; routers put it back.
    ("script-name-slash", "/api/catalog/secret", ("SCRIPT_NAME", "/")),
]

SCRIPT_NAME_CASES = [
    case(f"{id}-anonymous", target, [header]) for id, target, header in SCRIPT_NAMES
] + [
    case(f"{id}-alice", target, [header, bearer("alice")], expect="alice")
    for id, target, header in SCRIPT_NAMES
] + [
    case("script-name-twice", "/api/auth/api/catalog/secret",
         [("SCRIPT_NAME", "/elsewhere"), ("SCRIPT_NAME", "/api/auth")]),
    case("script-name-and-path-info", "/api/auth/api/catalog/secret",
         [("SCRIPT_NAME", "/api/auth"), ("PATH_INFO", "/api/auth/x")]),
    case("script-name-space-before-colon", "/api/auth/api/catalog/secret", [("SCRIPT_NAME ", "/api/auth")]),
    case("script-name-cookie-alice", "/api/auth/api/catalog/secret",
         [("SCRIPT_NAME", "/api/auth"), cookie("token={alice}")], expect="alice"),
    case("script-name-optional-mallory", "/api/auth/api/search",
         [("SCRIPT_NAME", "/api/auth"), bearer("mallory")], expect="mallory"),
]  # fmt: skip

# -- Forwarded and rewrite headers: no server or router here honours them -----------------

FORWARDED = [
    ("x-forwarded-prefix", ("X-Forwarded-Prefix", "/api/auth")),
    ("x-original-url", ("X-Original-URL", "/api/auth/x")),
    ("x-rewrite-url", ("X-Rewrite-URL", "/api/auth/x")),
    ("x-forwarded-path", ("X-Forwarded-Path", "/api/auth/x")),
    ("x-forwarded-uri", ("X-Forwarded-Uri", "/api/auth/x")),
    ("x-envoy-original-path", ("X-Envoy-Original-Path", "/api/auth/x")),
    ("forwarded", ("Forwarded", "for=127.0.0.1;host=app.example.test;proto=https")),
    ("x-forwarded-proto-https", ("X-Forwarded-Proto", "https")),
    ("x-forwarded-host", ("X-Forwarded-Host", "app.example.test")),
    ("x-forwarded-for", ("X-Forwarded-For", "10.0.0.1")),
]

FORWARDED_CASES = [case(f"forwarded-{id}", "/api/catalog/secret", [header]) for id, header in FORWARDED] + [
    case("forwarded-x-original-url-to-protected", "/api/auth/x", [("X-Original-URL", "/api/catalog/secret")]),
    case("forwarded-x-rewrite-url-to-protected", "/api/auth/x", [("X-Rewrite-URL", "/api/catalog/secret")]),
    case("forwarded-prefix-with-alice", "/api/catalog/secret",
         [("X-Forwarded-Prefix", "/api/auth"), bearer("alice")], expect="alice"),
]  # fmt: skip

# -- Methods, CORS preflights and overrides ------------------------------------------------

METHOD_CASES = [
    case("options-protected", method="OPTIONS"),
    case("options-protected-preflight", headers=PREFLIGHT, method="OPTIONS"),
    case("options-protected-alice", headers=[bearer("alice")], method="OPTIONS", expect="alice"),
    case("options-cors", "/api/cors/items", method="OPTIONS"),
    case("options-cors-root", "/api/cors", method="OPTIONS"),
    case("options-cors-origin-only", "/api/cors/items", [("Origin", CORS_ORIGIN)], method="OPTIONS"),
    case("options-cors-preflight", "/api/cors/items", PREFLIGHT, method="OPTIONS"),
    case("options-cors-preflight-evil-origin", "/api/cors/items",
         [("Origin", EVIL), ("Access-Control-Request-Method", "GET")], method="OPTIONS"),
    case("options-cors-preflight-delete", "/api/cors/items",
         [("Origin", CORS_ORIGIN), ("Access-Control-Request-Method", "DELETE")], method="OPTIONS"),
    case("options-cors-preflight-override-get", "/api/cors/items",
         [*PREFLIGHT, ("X-HTTP-Method-Override", "GET")], method="OPTIONS"),
    case("options-cors-preflight-lowercase", "/api/cors/items", PREFLIGHT, method="options"),
    case("options-cors-preflight-with-cookie", "/api/cors/items",
         [*PREFLIGHT, cookie("token={mallory}")], method="OPTIONS", expect="mallory"),
    case("options-cors-alice", "/api/cors/items", [bearer("alice")], method="OPTIONS", expect="alice"),
    case("options-asterisk", "*", method="OPTIONS"),
    case("options-asterisk-preflight", "*", PREFLIGHT, method="OPTIONS"),
    case("options-catch-all", "/internal/admin", method="OPTIONS"),
    case("options-techdocs", "/api/techdocs/static/docs/secret.html", method="OPTIONS"),
    case("head-protected", method="HEAD"),
    case("head-protected-alice", headers=[bearer("alice")], method="HEAD", expect="alice"),
    case("head-cors", "/api/cors/items", method="HEAD"),
    case("head-root", "/", method="HEAD"),
    case("get-lowercase", method="get"),
    case("post-protected", method="POST"),
    case("put-protected", method="PUT"),
    case("patch-protected", method="PATCH"),
    case("delete-protected", method="DELETE"),
    case("trace-protected", method="TRACE"),
    case("propfind-protected", method="PROPFIND"),
    case("unknown-method", method="GETS"),
    case("connect-authority-form", "127.0.0.1:80", method="CONNECT"),
    case("override-get-to-options", "/api/cors/items", [("X-HTTP-Method-Override", "OPTIONS")]),
    case("override-post-to-options", "/api/cors/items", [("X-HTTP-Method-Override", "OPTIONS")], method="POST"),
    case("override-x-http-method", "/api/cors/items", [("X-HTTP-Method", "OPTIONS")]),
    case("override-x-method-override", "/api/cors/items", [("X-Method-Override", "OPTIONS")]),
    case("override-options-to-delete", "/api/cors/items", [*PREFLIGHT, ("X-HTTP-Method-Override", "DELETE")], method="OPTIONS"),
    case("form-method-options", "/api/cors/items", [("Content-Type", BODY_FORM)], method="POST", body="_method=OPTIONS"),
    case("form-method-get", "/api/catalog/secret", [("Content-Type", BODY_FORM)], method="POST", body="_method=GET"),
]  # fmt: skip

# -- Ambient credentials and cross-site requests (CSRF) -------------------------------------

PROXY = PROXY_HEADER
AMBIENT_CASES = [
    case("cookie-get-cross-site", headers=[cookie("token={alice}"), ("Origin", EVIL)], expect="alice"),
    case("cookie-post-cross-site", headers=[cookie("token={alice}"), ("Origin", EVIL)], method="POST"),
    case("cookie-post-no-origin", headers=[cookie("token={alice}")], method="POST"),
    case("cookie-post-null-origin", headers=[cookie("token={alice}"), ("Origin", "null")], method="POST"),
    case("cookie-post-sec-fetch-cross-site", headers=[cookie("token={alice}"), ("Sec-Fetch-Site", "cross-site")], method="POST"),
    case("cookie-post-same-origin", headers=[cookie("token={alice}"), ("Origin", "{origin}")], method="POST", expect="alice"),
    case("cookie-post-sec-fetch-same-origin", headers=[cookie("token={alice}"), ("Sec-Fetch-Site", "same-origin")], method="POST", expect="alice"),
    case("cookie-post-override-get", headers=[cookie("token={alice}"), ("Origin", EVIL), ("X-HTTP-Method-Override", "GET")], method="POST"),
    case("cookie-post-form-method-get", headers=[cookie("token={alice}"), ("Origin", EVIL), ("Content-Type", BODY_FORM)], method="POST", body="_method=GET"),
    case("cookie-get-override-delete", headers=[cookie("token={alice}"), ("Origin", EVIL), ("X-HTTP-Method-Override", "DELETE")]),
    case("cookie-delete-cors-cross-site", "/api/cors/items", [cookie("token={alice}"), ("Origin", EVIL)], method="DELETE"),
    case("proxy-get", headers=[(PROXY, "{alice}")], expect="alice"),
    case("proxy-get-cross-site", headers=[(PROXY, "{alice}"), ("Origin", EVIL)], expect="alice"),
    case("proxy-post-cross-site", headers=[(PROXY, "{alice}"), ("Origin", EVIL)], method="POST"),
    case("proxy-post-no-origin", headers=[(PROXY, "{alice}")], method="POST"),
    case("proxy-delete-sec-fetch-cross-site", headers=[(PROXY, "{alice}"), ("Sec-Fetch-Site", "cross-site")], method="DELETE"),
    case("proxy-post-override-get-cross-site", headers=[(PROXY, "{alice}"), ("Origin", EVIL), ("X-HTTP-Method-Override", "GET")], method="POST"),
    case("proxy-post-same-origin", headers=[(PROXY, "{alice}"), ("Origin", "{origin}")], method="POST", expect="alice"),
    case("proxy-beside-planted-cookie", headers=[cookie("token={mallory}"), (PROXY, "{alice}")], expect="alice"),
    case("proxy-beside-planted-cookie-search", "/api/search", [cookie("token={mallory}"), (PROXY, "{alice}")], expect="alice"),
    case("proxy-beside-planted-cookie-post-same-origin", headers=[cookie("token={mallory}"), (PROXY, "{alice}"), ("Origin", "{origin}")], method="POST", expect="alice"),
    case("proxy-beside-own-cookie", headers=[cookie("token={alice}"), (PROXY, "{alice}")], expect="alice"),
    case("proxy-twice", headers=[(PROXY, "{alice}"), (PROXY, "{mallory}")]),
    case("proxy-with-bearer-prefix", headers=[(PROXY, "Bearer {alice}")], expect="alice"),
    case("proxy-expired", headers=[(PROXY, "{expired}")]),
    case("proxy-badsig", headers=[(PROXY, "{badsig}")]),
    case("proxy-expired-beside-cookie", headers=[(PROXY, "{expired}"), cookie("token={mallory}")]),
    case("bearer-post-cross-site", headers=[bearer("alice"), ("Origin", EVIL)], method="POST", expect="alice"),
]  # fmt: skip

# -- Cookie framings: one victim token, one planted by a sibling domain --------------------

COOKIE_CASES = [
    case("cookie-alice", headers=[cookie("token={alice}")], expect="alice"),
    case("cookie-mallory-only", headers=[cookie("token={mallory}")], expect="mallory"),
    case("cookie-tossing", headers=[cookie('token={mallory}; a="; token={alice}; b="')], expect="alice"),
    case("cookie-tossing-no-spaces", headers=[cookie('token={mallory};a=";token={alice};b="')], expect="alice"),
    case("cookie-tossing-victim-first", headers=[cookie('token={alice}; a="; token={mallory}; b="')], expect="alice"),
    case("cookie-tossing-search", "/api/search", [cookie('token={mallory}; a="; token={alice}; b="')], expect="alice"),
    case("cookie-tossing-techdocs", "/api/techdocs/guide", [cookie('token={mallory}; a="; token={alice}; b="')], expect="alice"),
    case("cookie-tossing-catch-all", "/internal/admin", [cookie('token={mallory}; a="; token={alice}; b="')], expect="alice"),
    case("cookie-tossing-escaped-quote", headers=[cookie('token={mallory}; a="\\"; token={alice}; b=\\""')], expect="alice"),
    case("cookie-tossing-post-same-origin", headers=[cookie('token={mallory}; a="; token={alice}; b="'), ("Origin", "{origin}")], method="POST", expect="alice"),
    case("cookie-quoted", headers=[cookie('token="{alice}"')], expect="alice"),
    case("cookie-quoted-planted-first", headers=[cookie('token="{mallory}"; token={alice}')], expect="alice"),
    case("cookie-duplicate", headers=[cookie("token={mallory}; token={alice}")], expect="alice"),
    case("cookie-duplicate-same", headers=[cookie("token={alice}; token={alice}")], expect="alice"),
    case("cookie-two-headers", headers=[cookie("token={mallory}"), cookie("token={alice}")], expect="alice"),
    # HTTP/2 cookie crumbs that a front end joined with "," instead of "; ".
    case("cookie-crumbs-joined-by-commas", headers=[cookie('token={mallory},a=",token={alice},b="')], expect="alice"),
    case("cookie-space-before-equals", headers=[cookie("token ={mallory}; token={alice}")], expect="alice"),
    case("cookie-space-after-equals", headers=[cookie("token= {mallory}; token={alice}")], expect="alice"),
    case("cookie-version-attributes", headers=[cookie("$Version=1; token={mallory}; $Path=/; token={alice}")], expect="alice"),
    case("cookie-comma-separated", headers=[cookie("a=b, token={mallory}; token={alice}")], expect="alice"),
    case("cookie-name-case", headers=[cookie("TOKEN={mallory}; token={alice}")], expect="alice"),
    case("cookie-name-encoded", headers=[cookie("tok%65n={mallory}; token={alice}")], expect="alice"),
    case("cookie-empty-then-victim", headers=[cookie("token=; token={alice}")], expect="alice"),
    case("cookie-expired-then-victim", headers=[cookie("token={expired}; token={alice}")], expect="alice"),
    case("cookie-expired", headers=[cookie("token={expired}")]),
    case("cookie-badsig", headers=[cookie("token={badsig}")]),
    case("cookie-badaud", headers=[cookie("token={badaud}")]),
    case("cookie-noalg", headers=[cookie("token={noalg}")]),
    case("cookie-service-token", headers=[cookie("token={service}")], expect="service"),
    case("cookie-tossing-with-bearer", headers=[bearer("alice"), cookie('token={mallory}; a="; token={alice}; b="')], expect="alice"),
]  # fmt: skip

# -- Authorization header variants -------------------------------------------------------

AUTHORIZATION_CASES = [
    case("bearer-alice", headers=[bearer("alice")], expect="alice"),
    case("bearer-lowercase-scheme", headers=[("Authorization", "bearer {alice}")], expect="alice"),
    case("bearer-uppercase-scheme", headers=[("Authorization", "BEARER {alice}")], expect="alice"),
    case("bearer-lowercase-header-name", headers=[("authorization", "Bearer {alice}")], expect="alice"),
    case("bearer-two-spaces", headers=[("Authorization", "Bearer  {alice}")], expect="alice"),
    case("bearer-tab", headers=[("Authorization", "Bearer\t{alice}")], expect="alice"),
    case("bearer-twice-same", headers=[bearer("alice"), bearer("alice")], expect="alice"),
    case("bearer-twice-different", headers=[bearer("mallory"), bearer("alice")]),
    case("bearer-comma-joined", headers=[("Authorization", "Bearer {alice}, Bearer {mallory}")]),
    case("bearer-two-tokens", headers=[("Authorization", "Bearer {alice} {mallory}")]),
    case("bearer-padded", headers=[("Authorization", "Bearer {alice}==")], expect="alice"),
    case("bearer-empty", headers=[("Authorization", "Bearer")]),
    case("bearer-expired", headers=[bearer("expired")]),
    case("bearer-badsig", headers=[bearer("badsig")]),
    case("bearer-badaud", headers=[bearer("badaud")]),
    case("bearer-noalg", headers=[bearer("noalg")]),
    case("bearer-garbage", headers=[("Authorization", "Bearer not.a.token")]),
    case("bearer-service", headers=[bearer("service")], expect="service"),
    case("bearer-service-search", "/api/search", [bearer("service")], expect="service"),
    case("bearer-basic-beside-cookie", headers=[("Authorization", "Basic YWxpY2U6eA=="), cookie("token={alice}")], expect="alice"),
    case("bearer-expired-beside-cookie", headers=[bearer("expired"), cookie("token={alice}")], expect="alice"),
    case("bearer-own-beside-victim-cookie", headers=[bearer("mallory"), cookie("token={alice}")], expect="mallory"),
    case("bearer-victim-beside-planted-cookie", headers=[bearer("alice"), cookie("token={mallory}")], expect="alice"),
    case("bearer-search-mallory", "/api/search", [bearer("mallory")], expect="mallory"),
    case("bearer-search-expired", "/api/search", [bearer("expired")]),
    case("spoof-remote-user", headers=[("Remote-User", "user:default/alice")]),
    case("spoof-remote-user-underscore", headers=[("REMOTE_USER", "user:default/alice")]),
    case("spoof-x-remote-user", headers=[("X-Remote-User", "user:default/alice")]),
    case("spoof-auth-type", headers=[("AUTH_TYPE", "Bearer"), ("REMOTE_USER", "user:default/alice")]),
    case("spoof-remote-user-search", "/api/search", [("Remote-User", "user:default/alice"), ("REMOTE_USER", "user:default/alice")]),
    case("spoof-remote-user-with-mallory", "/api/search", [("REMOTE_USER", "user:default/alice"), bearer("mallory")], expect="mallory"),
]  # fmt: skip

# -- Request framing ---------------------------------------------------------------------

FIRST = "GET /api/auth/x HTTP/1.1\r\nHost: {host}\r\nX-Probe-Id: {probe}\r\n\r\n"
SECOND = "GET /api/catalog/secret HTTP/1.1\r\nHost: {host}\r\nX-Probe-Id: {probe}.2\r\nConnection: close\r\n\r\n"

FRAMING_CASES = [
    case("http10-no-host", version="HTTP/1.0", host=False),
    case("http10-alice", headers=[bearer("alice")], version="HTTP/1.0", host=False, expect="alice"),
    case("host-other", headers=[("Host", "evil.example")], host=False),
    case("host-twice", headers=[("Host", "{host}"), ("Host", "evil.example")], host=False),
    raw("pipelined-public-then-protected", FIRST + SECOND),
    raw(
        "pipelined-alice-then-anonymous",
        "GET /api/catalog/secret HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {alice}\r\n"
        "X-Probe-Id: {probe}\r\n\r\n" + SECOND,
        expect="alice",
    ),
    raw(
        "smuggle-cl-te",
        "POST /api/auth/x HTTP/1.1\r\nHost: {host}\r\nX-Probe-Id: {probe}\r\nContent-Length: 6\r\n"
        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SECOND,
    ),
    raw(
        "smuggle-te-cl",
        "POST /api/auth/x HTTP/1.1\r\nHost: {host}\r\nX-Probe-Id: {probe}\r\nContent-Length: 4\r\n"
        "Transfer-Encoding: chunked\r\n\r\n5c\r\n" + SECOND + "\r\n0\r\n\r\n",
    ),
    raw(
        "obs-fold-script-name",
        "GET /api/auth/api/catalog/secret HTTP/1.1\r\nHost: {host}\r\nX-Probe-Id: {probe}\r\n"
        "X-Folded: a\r\n SCRIPT_NAME: /api/auth\r\nConnection: close\r\n\r\n",
    ),
]

CASES = [
    *PATH_CASES,
    *SCRIPT_NAME_CASES,
    *FORWARDED_CASES,
    *METHOD_CASES,
    *AMBIENT_CASES,
    *COOKIE_CASES,
    *AUTHORIZATION_CASES,
    *FRAMING_CASES,
]
