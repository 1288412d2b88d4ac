"""What the guard answers to issue 10's requests, in every stack (DESIGN §2, §6).

The corpus (``test_corpus.py``) only asks which views ran; these tests pin the
guard's own answers where the design names them: a ``SCRIPT_NAME`` the
deployment did not configure is a 400, a tossed cookie a 401, a cross-site
request carrying only a proxy's header a 403, an absurd path a 414, a genuine
CORS preflight the guard's own 204 -- and a response the app marks publicly
cacheable never carries the bearer token in a ``Set-Cookie``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.stack.apps import CORS_ORIGIN, PROXY_HEADER
from tests.stack.client import Exchange, request_bytes
from tests.stack.corpus import EVIL, PREFLIGHT
from tests.stack.oracle import send_everywhere, violations
from tests.stack.stacks import MOUNT, Stack
from tests.stack.users import SUBJECTS

TOSSED = 'token={mallory}; a="; token={alice}; b="'
GUNICORN = ("gunicorn-sync", "gunicorn-gthread", "relay")


def everywhere(
    pool: ThreadPoolExecutor,
    stacks: dict[str, Stack] | list[Stack],
    template: str,
    tokens: dict[str, str],
    expect: str | None = None,
) -> list[tuple[Stack, Exchange]]:
    """Send ``template`` to every stack; fail on any oracle violation first."""
    chosen = list(stacks.values()) if isinstance(stacks, dict) else stacks
    results = send_everywhere(pool, chosen, template, tokens)
    problems = [p for stack, result in results for p in violations(stack, result, expect)]
    assert not problems, "\n".join(problems)
    return results


def statuses(results: list[tuple[Stack, Exchange]]) -> dict[str, int | None]:
    return {
        stack.name: None if result.response is None else result.response.status
        for stack, result in results
    }


def wrong(results: list[tuple[Stack, Exchange]], allowed: set[int]) -> dict[str, int | None]:
    return {name: status for name, status in statuses(results).items() if status not in allowed}


# -- Class 1: a client-sent SCRIPT_NAME --------------------------------------------------


@pytest.mark.parametrize("header", ["SCRIPT_NAME", "script_name", "Script_Name"])
@pytest.mark.parametrize("credential", [[], [("Authorization", "Bearer {alice}")]], ids=["anonymous", "alice"])
def test_a_script_name_the_deployment_did_not_configure_is_refused(
    stacks: dict[str, Stack], tokens: dict[str, str], pool: ThreadPoolExecutor,
    header: str, credential: list[tuple[str, str]],
) -> None:  # fmt: skip
    """gunicorn turns the header into ``SCRIPT_NAME`` (127.0.0.1 is a trusted
    forwarder by default); the guard, configured with no mount, refuses it."""
    template = request_bytes("GET", "/api/auth/api/catalog/secret", [(header, "/api/auth"), *credential])
    results = everywhere(pool, stacks, template, tokens, "alice" if credential else None)
    honoured = [(stack, result) for stack, result in results if stack.server in GUNICORN]
    assert not wrong(honoured, {400})
    for stack, result in honoured:
        assert not stack.records(result.probe)


def test_a_mounted_guard_routes_below_its_mount(
    mounted: dict[str, Stack], tokens: dict[str, str], pool: ThreadPoolExecutor
) -> None:
    """gunicorn serving below ``SCRIPT_NAME=/svc`` (from its environment), the
    guard told ``mount="/svc"``: the table still says ``/api/...``."""
    anonymous = everywhere(pool, mounted, request_bytes("GET", f"{MOUNT}/api/catalog/secret"), tokens)
    assert not wrong(anonymous, {401})
    public = everywhere(pool, mounted, request_bytes("GET", f"{MOUNT}/api/auth/x"), tokens)
    assert not wrong(public, {200})
    template = request_bytes("GET", f"{MOUNT}/api/catalog/secret", [("Authorization", "Bearer {alice}")])
    for stack, result in everywhere(pool, mounted, template, tokens, "alice"):
        [entry] = stack.records(result.probe)
        assert (entry["script_name"], entry["path_info"]) == (MOUNT, "/api/catalog/secret")
        assert entry["user"] == SUBJECTS["alice"]


def test_a_mounted_guard_refuses_any_other_script_name(
    mounted: dict[str, Stack], tokens: dict[str, str], pool: ThreadPoolExecutor
) -> None:
    template = request_bytes(
        "GET", f"{MOUNT}/api/auth/api/catalog/secret", [("SCRIPT_NAME", f"{MOUNT}/api/auth")]
    )
    results = everywhere(pool, mounted, template, tokens)
    assert not wrong(results, {400})
    assert not any(stack.records(result.probe) for stack, result in results)


# -- Class 2: cookie tossing -------------------------------------------------------------


@pytest.mark.parametrize("target", ["/api/catalog/secret", "/api/search", "/internal/admin"])
def test_a_tossed_token_cookie_is_refused(
    stacks: dict[str, Stack], tokens: dict[str, str], pool: ThreadPoolExecutor, target: str
) -> None:
    """Read as a browser writes it, the header holds two different ``token``
    cookies: refused, never the first one, and never anonymous on an optional route."""
    results = everywhere(pool, stacks, request_bytes("GET", target, [("Cookie", TOSSED)]), tokens, "alice")
    assert not wrong(results, {401})
    for stack, result in results:
        assert result.response is not None
        challenge = result.response.header("WWW-Authenticate") or ""
        assert 'error="invalid_request"' in challenge, (stack.name, challenge)
        assert not stack.records(result.probe)


# -- Class 3: a proxy's token header is ambient ------------------------------------------


@pytest.mark.parametrize("headers", [
    pytest.param([("Origin", EVIL)], id="cross-site-origin"),
    pytest.param([("Sec-Fetch-Site", "cross-site")], id="cross-site-fetch-metadata"),
    pytest.param([], id="no-provenance"),
])  # fmt: skip
def test_an_unsafe_request_carrying_only_a_proxy_header_needs_same_origin_proof(
    stacks: dict[str, Stack], tokens: dict[str, str], pool: ThreadPoolExecutor,
    headers: list[tuple[str, str]],
) -> None:  # fmt: skip
    template = request_bytes("POST", "/api/catalog/secret", [(PROXY_HEADER, "{alice}"), *headers])
    assert not wrong(everywhere(pool, stacks, template, tokens), {403})


def test_a_proxy_header_with_same_origin_proof_is_accepted(
    stacks: dict[str, Stack], tokens: dict[str, str], pool: ThreadPoolExecutor
) -> None:
    template = request_bytes("POST", "/api/catalog/secret", [(PROXY_HEADER, "{alice}"), ("Origin", "{origin}")])
    assert not wrong(everywhere(pool, stacks, template, tokens, "alice"), {200})


def test_a_planted_cookie_never_overrides_the_proxy_asserted_user(
    stacks: dict[str, Stack], tokens: dict[str, str], pool: ThreadPoolExecutor
) -> None:
    template = request_bytes("GET", "/api/catalog/secret", [("Cookie", "token={mallory}"), (PROXY_HEADER, "{alice}")])
    results = everywhere(pool, stacks, template, tokens, "alice")
    assert not wrong(results, {200})
    for stack, result in results:
        assert [entry["user"] for entry in stack.records(result.probe)] == [SUBJECTS["alice"]]


# -- Class 4: absurd paths ---------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["/api/catalog/", "/api/auth/"], ids=["protected", "public"])
@pytest.mark.parametrize("credential", [[], [("Authorization", "Bearer {alice}")]], ids=["anonymous", "alice"])
@pytest.mark.parametrize("length", [9_000, 60_000])
def test_a_path_longer_than_the_limit_is_refused_before_anything_else(
    stacks: dict[str, Stack], tokens: dict[str, str], pool: ThreadPoolExecutor,
    prefix: str, credential: list[tuple[str, str]], length: int,
) -> None:  # fmt: skip
    """414 from the guard wherever the server lets such a line through (waitress,
    Werkzeug's server below 64 KiB); gunicorn refuses request lines over 4094
    bytes itself (400). No view runs, public or protected."""
    path = prefix + "a/" * ((length - len(prefix)) // 2)
    results = everywhere(pool, stacks, request_bytes("GET", path, credential), tokens, "alice" if credential else None)
    assert not wrong([(s, r) for s, r in results if s.server in ("waitress", "werkzeug")], {414})
    assert not wrong([(s, r) for s, r in results if s.server in GUNICORN], {400, 414})
    assert not any(stack.records(result.probe) for stack, result in results)


# -- Class 7: CORS preflights answered by the guard --------------------------------------


def test_a_genuine_preflight_is_answered_by_the_guard(
    stacks: dict[str, Stack], tokens: dict[str, str], pool: ThreadPoolExecutor
) -> None:
    results = everywhere(pool, stacks, request_bytes("OPTIONS", "/api/cors/items", PREFLIGHT), tokens)
    assert not wrong(results, {204})
    for stack, result in results:
        assert result.response is not None
        assert result.response.header("Access-Control-Allow-Origin") == CORS_ORIGIN, stack.name
        assert not stack.records(result.probe)


@pytest.mark.parametrize(("headers", "status"), [
    pytest.param([("Origin", EVIL), ("Access-Control-Request-Method", "GET")], 403, id="preflight-from-another-origin"),
    pytest.param([], 401, id="options-without-preflight-headers"),
    pytest.param([("Origin", CORS_ORIGIN)], 401, id="options-without-request-method"),
])  # fmt: skip
def test_any_other_options_request_follows_the_route_policy(
    stacks: dict[str, Stack], tokens: dict[str, str], pool: ThreadPoolExecutor,
    headers: list[tuple[str, str]], status: int,
) -> None:  # fmt: skip
    results = everywhere(pool, stacks, request_bytes("OPTIONS", "/api/cors/items", headers), tokens)
    assert not wrong(results, {status})


def test_an_allowed_origin_can_read_the_answer(
    stacks: dict[str, Stack], tokens: dict[str, str], pool: ThreadPoolExecutor
) -> None:
    template = request_bytes("GET", "/api/cors/items", [("Origin", CORS_ORIGIN), ("Authorization", "Bearer {alice}")])
    results = everywhere(pool, stacks, template, tokens, "alice")
    assert not wrong(results, {200})
    for stack, result in results:
        assert result.response is not None
        assert result.response.header("Access-Control-Allow-Origin") == CORS_ORIGIN, stack.name


# -- Class 8: the bearer token in Set-Cookie ---------------------------------------------


# The guard sets its cookie only for browsers (``set_for="browsers"``): they send fetch metadata.
BROWSER = ("Sec-Fetch-Site", "same-origin")


def token_cookies(result: Exchange) -> list[str]:
    assert result.response is not None
    return [value for value in result.response.all("Set-Cookie") if value.startswith("token=")]


def test_the_token_cookie_is_set_from_the_header(
    stacks: dict[str, Stack], tokens: dict[str, str], pool: ThreadPoolExecutor
) -> None:
    """The control for the next test: a private answer to a browser does get the cookie."""
    template = request_bytes("GET", "/api/catalog/secret", [("Authorization", "Bearer {alice}"), BROWSER])
    for stack, result in everywhere(pool, stacks, template, tokens, "alice"):
        assert [value.split(";")[0] for value in token_cookies(result)] == [f"token={tokens['alice']}"], stack.name


def test_a_publicly_cacheable_answer_never_carries_the_token_cookie(
    stacks: dict[str, Stack], tokens: dict[str, str], pool: ThreadPoolExecutor
) -> None:
    template = request_bytes("GET", "/api/catalog/cached", [("Authorization", "Bearer {alice}"), BROWSER])
    results = everywhere(pool, stacks, template, tokens, "alice")
    assert not wrong(results, {200})
    for stack, result in results:
        assert result.response is not None
        assert "public" in (result.response.header("Cache-Control") or ""), stack.name
        assert token_cookies(result) == [], stack.name
