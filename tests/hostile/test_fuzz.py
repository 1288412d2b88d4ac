"""Property-based fuzzing of token parsing, header parsing and path normalization.

Each property holds for every input: the answer is one of 200/400/401/403, no
exception escapes the guard, and a 200 on a protected route happens only with
a validly signed token. Examples are bounded and derandomized (no example
database), so CI runs the same cases every time.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import create_environ, run_wsgi_app

from tests.helpers import AUDIENCE, ISSUER, SERVICE_SECRET, SigningKey
from tests.hostile.app import handler_for, hostile_guard
from tests.hostile.forge import Forge, b64, js
from wsgi_jwt_guard import JWTGuard

FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
ALLOWED = {200, 400, 401, 403}


@pytest.fixture(scope="module")
def guard(ec_key: SigningKey) -> JWTGuard:
    return hostile_guard([ec_key.public_jwk()], SERVICE_SECRET, token_headers=["X-Token"])


def call(guard: JWTGuard, path: str = "/api/catalog/x", method: str = "GET", **headers: str) -> tuple[int, dict[str, Any] | None]:
    environ = create_environ("/", method=method)
    # What a server would hand over: the path's and headers' bytes as latin-1 text.
    environ["PATH_INFO"] = path.encode("utf-8", "surrogatepass").decode("latin-1")
    for key, value in headers.items():
        environ[key] = value.encode("utf-8", "surrogatepass").decode("latin-1")
    app_iter, status, _ = run_wsgi_app(guard, environ)
    body = b"".join(app_iter)
    code = int(status.split()[0])
    assert code in ALLOWED, (code, body[:200])
    if code == 200:
        report: dict[str, Any] = json.loads(body)
        return code, report
    return code, None


SOURCES = {
    "header": lambda t: {"HTTP_AUTHORIZATION": f"Bearer {t}"},
    "cookie": lambda t: {"HTTP_COOKIE": f"token={t}"},
    "custom": lambda t: {"HTTP_X_TOKEN": t},
}

# --------------------------------------------------------------------------------------
# Token parsing
# --------------------------------------------------------------------------------------

TOKEN_ALPHABET = st.sampled_from([*"ABCDEFabcdef0123456789-_.=+/ \t~%\"';,\\{}[]:\x00\x7f\xff", "é", "\uff0e", "\u200b"])


@FUZZ
@given(text=st.text(TOKEN_ALPHABET, max_size=300), source=st.sampled_from(sorted(SOURCES)))
def test_arbitrary_token_text_is_refused(guard: JWTGuard, text: str, source: str) -> None:
    code, _ = call(guard, **SOURCES[source](text))
    assert code == 401


@FUZZ
@given(
    edits=st.lists(st.tuples(st.integers(1, 10_000), st.sampled_from(["replace", "insert", "delete"]), TOKEN_ALPHABET), min_size=1, max_size=4),
    source=st.sampled_from(sorted(SOURCES)),
)
def test_mutated_genuine_token_passes_only_unchanged(guard: JWTGuard, forge: Forge, edits: list[Any], source: str) -> None:
    token = forge.valid()
    chars = list(token)
    for position, kind, char in edits:
        index = position % (len(chars) - 1) + 1 if len(chars) > 1 else 0  # interior only
        if kind == "replace" and chars:
            chars[index % len(chars)] = char
        elif kind == "insert":
            chars.insert(index, char)
        elif chars:
            del chars[index % len(chars)]
    mutated = "".join(chars)
    code, report = call(guard, **SOURCES[source](mutated))
    if mutated == token:
        assert code == 200
    else:
        assert code == 401, mutated
        assert report is None


# Each header parameter and claim is drawn either from values the guard must accept
# or from hostile ones; the token must pass exactly when every draw was acceptable.
GOOD, BAD = True, False
HEADER_CHOICES: dict[str, list[tuple[bool, Any]]] = {
    "alg": [(GOOD, "ES256"), (BAD, "none"), (BAD, "HS256"), (BAD, "es256"), (BAD, None), (BAD, ["ES256"]), (BAD, "RS256")],
    "kid": [(GOOD, "ec-1"), (BAD, "../ec-1"), (BAD, ""), (BAD, 1), (BAD, "EC-1"), (BAD, "ec-1\x00")],
    "typ": [(GOOD, "JWT"), (GOOD, "at+jwt"), (GOOD, "absent"), (BAD, 1)],
    "extra": [(GOOD, "absent"), (GOOD, {"x-custom": 1}), (BAD, {"crit": ["exp"]}), (BAD, {"jku": "http://127.0.0.1:9/"}),
              (BAD, {"jwk": {"kty": "EC"}}), (BAD, {"b64": False}), (BAD, {"cty": "JWT"}), (BAD, {"x5u": "x"}), (BAD, {"zip": "DEF"})],
}
CLAIM_CHOICES: dict[str, list[tuple[bool, Any]]] = {
    "iss": [(GOOD, ISSUER), (BAD, ISSUER + "/"), (BAD, ISSUER.upper()), (BAD, "absent"), (BAD, [ISSUER]), (BAD, None)],
    "sub": [(GOOD, "user:default/alice"), (GOOD, "ユーザー"), (BAD, "absent"), (BAD, ""), (BAD, 1), (BAD, "a\nb"), (BAD, "a\u2028b"), (BAD, ["a"])],
    "aud": [(GOOD, AUDIENCE), (GOOD, ["x", AUDIENCE]), (BAD, "absent"), (BAD, "Backstage"), (BAD, [1]), (BAD, []), (BAD, [AUDIENCE, None])],
    "exp": [(GOOD, "future"), (GOOD, "future-float"), (BAD, "past"), (BAD, "absent"), (BAD, "string"), (BAD, True), (BAD, None), (BAD, ["future"])],
    "nbf": [(GOOD, "absent"), (GOOD, "past"), (BAD, "future"), (BAD, "string")],
    "iat": [(GOOD, "absent"), (GOOD, "past"), (BAD, "future"), (BAD, None)],
}


def _time(value: Any, now: int) -> Any:
    return {"future": now + 600, "future-float": now + 600.5, "past": now - 600, "string": str(now + 600)}.get(value, value) if isinstance(value, str) else ([_time(v, now) for v in value] if isinstance(value, list) else value)


CHOICES = {**{f"header.{k}": v for k, v in HEADER_CHOICES.items()}, **{f"claim.{k}": v for k, v in CLAIM_CHOICES.items()}}


@st.composite
def token_parts(draw: st.DrawFn) -> dict[str, tuple[bool, Any]]:
    """Half the time at most one part is hostile (every single fault, and all-valid
    tokens); otherwise any mix."""
    if draw(st.booleans()):
        faulty = draw(st.sampled_from([None, *sorted(CHOICES)]))
        return {
            name: draw(st.sampled_from([c for c in options if c[0] is (name != faulty)]))
            for name, options in CHOICES.items()
        }
    return {name: draw(st.sampled_from(options)) for name, options in CHOICES.items()}


@FUZZ
@given(parts=token_parts(), source=st.sampled_from(sorted(SOURCES)))
def test_genuinely_signed_tokens_pass_only_when_every_part_is_valid(
    guard: JWTGuard, forge: Forge, parts: dict[str, tuple[bool, Any]], source: str
) -> None:
    header = {k.split(".", 1)[1]: v for k, v in parts.items() if k.startswith("header.")}
    claims = {k.split(".", 1)[1]: v for k, v in parts.items() if k.startswith("claim.")}
    now = int(time.time())
    head: dict[str, Any] = {}
    for name, (_, value) in header.items():
        if name == "extra":
            head.update(value if isinstance(value, dict) else {})
        elif value != "absent":
            head[name] = value
    payload: dict[str, Any] = {}
    for name, (_, value) in claims.items():
        if value == "absent":
            continue
        payload[name] = _time(value, now) if name in ("exp", "nbf", "iat") else value
    token = forge.raw(js(head), js(payload))
    valid = all(ok for ok, _ in header.values()) and all(ok for ok, _ in claims.values())
    code, report = call(guard, **SOURCES[source](token))
    if valid:
        assert code == 200
        assert report is not None
        assert report["remote_user"] == payload["sub"]
    else:
        assert code == 401, (head, payload)


# --------------------------------------------------------------------------------------
# Header parsing
# --------------------------------------------------------------------------------------

HEADER_ALPHABET = st.sampled_from([*"Bb eEaArR\t,;=\"'.-_~+/AZaz09:", "\x00", "\xff", "\x85"])
_BEARER = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr] +(\S+)")


@FUZZ
@given(prefix=st.text(HEADER_ALPHABET, max_size=12), suffix=st.text(HEADER_ALPHABET, max_size=12), cookie=st.booleans())
def test_authorization_header_around_a_genuine_token(
    guard: JWTGuard, forge: Forge, prefix: str, suffix: str, cookie: bool
) -> None:
    token = forge.valid()
    value = prefix + token + suffix
    headers = {"HTTP_AUTHORIZATION": value}
    if cookie:  # a good cookie must never rescue a bad header
        headers["HTTP_COOKIE"] = f"token={forge.valid()}"
    code, report = call(guard, **headers)
    match = _BEARER.fullmatch(value.strip(" \t"))
    if code == 200:
        assert match is not None
        assert match.group(1) == token
        assert report is not None
        assert report["source"] == "header"
    else:
        assert code == 401


@FUZZ
@given(cookie=st.text(st.sampled_from([*"token=; ,\"abc.\t", "\xff"]), max_size=40), token_first=st.booleans())
def test_cookie_header_shapes(guard: JWTGuard, forge: Forge, cookie: str, token_first: bool) -> None:
    token = forge.valid()
    header = f"token={token}; {cookie}" if token_first else f"{cookie}; token={token}"
    code, report = call(guard, HTTP_COOKIE=header)
    assert code in (200, 401)
    if code == 200:
        assert report is not None
        assert report["subject"] == "user:default/alice"


# --------------------------------------------------------------------------------------
# Path normalization
# --------------------------------------------------------------------------------------

PATH_PIECES = st.sampled_from([
    "/", "/", "/", ".", "..", "%2e", "%2E", "%2f", "%5c", "%25", "%3b", ";", "\\", "\x00", " ", "\t",
    "api", "auth", "catalog", "techdocs", "static", "docs", "a.css", ".css", "cors", "search",
    "\uff0e", "\uff0f", "\uff3c", "é", "?", "#", "~", "x",
])


@FUZZ
@given(
    start=st.sampled_from(["/api/auth/", "/api/techdocs/static/docs/", "/api/", "/", "/api/catalog/", ""]),
    pieces=st.lists(PATH_PIECES, max_size=12),
    method=st.sampled_from(["GET", "OPTIONS", "POST"]),
    override=st.sampled_from([None, "DELETE", "OPTIONS"]),
)
def test_paths_never_reach_a_protected_handler_without_a_token(
    guard: JWTGuard, forge: Forge, start: str, pieces: list[str], method: str, override: str | None
) -> None:
    path = start + "".join(pieces)
    extra = {"HTTP_X_HTTP_METHOD_OVERRIDE": override} if override else {}
    code, report = call(guard, path, method, **extra)
    if report is not None:
        assert report["handler"] != "protected", path
        assert report["remote_user"] is None
    code_with, report_with = call(guard, path, method, HTTP_AUTHORIZATION=f"Bearer {forge.valid()}", **extra)
    assert code_with in (200, 400)
    if code == 400:
        assert code_with == 400
    if report_with is not None and report_with["handler"] == "protected":
        assert report_with["remote_user"] == "user:default/alice"


def test_the_lenient_reading_is_what_the_suite_claims() -> None:
    """The fuzzer's oracle: sanity checks of how the model app reads paths."""
    def environ(path: str, method: str = "GET") -> dict[str, Any]:
        return {"PATH_INFO": path, "SCRIPT_NAME": "", "REQUEST_METHOD": method}
    assert handler_for(environ("/api/auth/..;/catalog")) == "protected"
    assert handler_for(environ("/api/auth/\uff0e\uff0e/catalog".encode().decode("latin-1"))) == "protected"
    assert handler_for(environ("/API/AUTH/x")) == "public"
    assert handler_for(environ("/api/techdocs/static/docs/a.css")) == "public"
    assert handler_for(environ("/api/cors", "OPTIONS")) == "protected"
    assert b64(js({})) == "e30"
