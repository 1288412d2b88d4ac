"""Backstage mode against a real Backstage backend: every token kind Backstage signs,
accepted by the guard exactly where Backstage itself accepts it, and the guard's
cookie endpoint setting byte for byte the cookie Backstage's own endpoint sets.

The guard stands in for the ``target`` plugin (``mount = "/api/target"``,
``plugin_id = "target"``), beside Backstage's own ``target``: each request goes
to both, and the oracle is which view ran and as whom.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from werkzeug.test import Client

from tests.backstage_backend import COOKIE_NAME, PROBE, TARGET, TIMEOUT, Backstage
from tests.backstage_tests.test_real_backstage import GUEST, limited_from
from tests.helpers import bearer, cookie
from wsgi_jwt_guard import BackstageSettings, JWTGuard, Rule, get_identity

MOUNT = f"/api/{TARGET}"
COOKIE_ENDPOINT = "/.backstage/auth/v1/cookie"


def whoami(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """The plugin's views: which one ran (the path) and as whom."""
    identity = get_identity(environ)
    body = {
        "view": environ["PATH_INFO"],
        "remote_user": environ.get("REMOTE_USER"),
        "identity": None
        if identity is None
        else {
            "kind": identity.kind,
            "subject": identity.subject,
            "actor": identity.actor,
            "source": identity.source,
        },
    }
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]


def backstage_guard(backstage: Backstage, **settings: Any) -> JWTGuard:
    settings.setdefault("allowed_plugins", [PROBE])
    return JWTGuard(
        whoami,
        mount=MOUNT,
        backstage=BackstageSettings(base_url=backstage.base_url, plugin_id=TARGET, **settings),
        routes={f"{MOUNT}/cookie-whoami": Rule("protected", user_cookie=True)},
    )


@pytest.fixture(scope="module")
def guard(backstage: Backstage) -> JWTGuard:
    return backstage_guard(backstage)


def ask_guard(guard: JWTGuard, method: str, path: str, headers: dict[str, str]) -> Any:
    client = Client(guard, use_cookies=False)
    return client.open(path, method=method, headers=headers, base_url=f"http://localhost{MOUNT}")


def ask_backstage(backstage: Backstage, method: str, path: str, headers: dict[str, str]) -> Any:
    url = f"{backstage.base_url}{MOUNT}{path}"
    return requests.request(method, url, headers=headers, timeout=TIMEOUT)


def token_of(backstage: Backstage, user_token: str, kind: str) -> str:
    if kind == "user":
        return user_token
    if kind == "plugin":
        return backstage.plugin_token(TARGET)
    if kind == "plugin-for-catalog":
        return backstage.plugin_token("catalog")
    if kind == "obo":
        return backstage.obo_token(user_token, TARGET)
    assert kind == "limited"
    return backstage.limited_cookie(user_token)  # set by Backstage's own endpoint


USER = {"kind": "user", "subject": GUEST, "actor": None}
LIMITED = {"kind": "limited-user", "subject": GUEST, "actor": None}
PLUGIN = {"kind": "plugin", "subject": f"plugin:{PROBE}", "actor": None}
ON_BEHALF = {"kind": "on-behalf-of", "subject": GUEST, "actor": f"plugin:{PROBE}"}
# What Backstage's own target plugin answers for each, to check the guard against.
BACKSTAGE_SAYS = {
    "user": {"type": "user", "userEntityRef": GUEST},
    "limited-user": {"type": "user", "userEntityRef": GUEST},
    "plugin": {"type": "service", "subject": f"plugin:{PROBE}"},
    "on-behalf-of": {"type": "user", "userEntityRef": GUEST, "actor": f"plugin:{PROBE}"},
}


@pytest.mark.parametrize(
    ("kind", "view", "send", "expected"),
    [
        pytest.param("user", "/whoami", "bearer", USER, id="user-bearer"),
        pytest.param("plugin", "/whoami", "bearer", PLUGIN, id="plugin-bearer"),
        pytest.param("obo", "/whoami", "bearer", ON_BEHALF, id="obo-bearer"),
        pytest.param("plugin-for-catalog", "/whoami", "bearer", 401, id="plugin-other-aud"),
        pytest.param("limited", "/whoami", "bearer", 401, id="limited-bearer-on-full-route"),
        pytest.param("limited", "/whoami", "cookie", 401, id="cookie-on-full-route"),
        pytest.param("limited", "/cookie-whoami", "cookie", LIMITED, id="cookie-on-cookie-route"),
        pytest.param(
            "limited", "/cookie-whoami", "bearer", LIMITED, id="limited-bearer-on-cookie-route"
        ),
        pytest.param("user", "/cookie-whoami", "cookie", USER, id="full-token-in-cookie"),
        pytest.param("plugin", "/cookie-whoami", "bearer", PLUGIN, id="plugin-on-cookie-route"),
    ],
)
def test_guard_accepts_each_kind_where_backstage_does(
    guard: JWTGuard,
    backstage: Backstage,
    user_token: str,
    kind: str,
    view: str,
    send: str,
    expected: Any,
) -> None:
    token = token_of(backstage, user_token, kind)
    headers = bearer(token) if send == "bearer" else cookie(token, COOKIE_NAME)
    ours = ask_guard(guard, "GET", view, headers)
    theirs = ask_backstage(backstage, "GET", view, headers)
    assert ours.status_code == theirs.status_code, (ours.get_data(as_text=True), theirs.text)
    if expected == 401:
        assert ours.status_code == 401
        return
    body = ours.json
    assert body["view"] == view
    assert {key: body["identity"][key] for key in ("kind", "subject", "actor")} == expected
    assert body["remote_user"] == expected["subject"]
    assert body["identity"]["source"] == ("header" if send == "bearer" else "backstage-cookie")
    assert theirs.json() == BACKSTAGE_SAYS[expected["kind"]]


def test_plugin_not_allowed_is_refused_without_fetching_its_keys(
    backstage: Backstage, user_token: str
) -> None:
    guard = backstage_guard(backstage, allowed_plugins=["catalog"])
    for token in (backstage.plugin_token(TARGET), backstage.obo_token(user_token, TARGET)):
        response = ask_guard(guard, "GET", "/whoami", bearer(token))
        assert response.status_code == 401
        assert response.json["error"]["message"] == "plugin tokens from 'probe' are not accepted"
    assert guard.metrics.snapshot().get("keys.fetch.ok", 0) == 0
    assert guard.metrics.snapshot().get("keys.fetch.failed", 0) == 0
    # ...while the user token beside it verifies (one fetch: the auth plugin's keys).
    assert ask_guard(guard, "GET", "/whoami", bearer(user_token)).status_code == 200
    assert guard.metrics.snapshot()["keys.fetch.ok"] == 1


def test_no_plugin_is_allowed_by_default(backstage: Backstage) -> None:
    guard = backstage_guard(backstage, allowed_plugins=[])
    response = ask_guard(guard, "GET", "/whoami", bearer(backstage.plugin_token(TARGET)))
    assert response.status_code == 401


# -- the cookie endpoint --------------------------------------------------------------


def test_cookie_endpoint_sets_backstages_cookie_byte_for_byte(
    guard: JWTGuard, backstage: Backstage, user_token: str
) -> None:
    ours = ask_guard(guard, "GET", COOKIE_ENDPOINT, bearer(user_token))
    theirs = ask_backstage(backstage, "GET", COOKIE_ENDPOINT, bearer(user_token))
    assert ours.status_code == theirs.status_code == 200
    assert ours.json == theirs.json()
    # The same host (127.0.0.1) for both: Domain included.
    assert ours.headers.getlist("Set-Cookie") == [theirs.headers["Set-Cookie"]]
    assert ours.headers["Set-Cookie"].startswith(f"{COOKIE_NAME}={limited_from(user_token)};")


def test_the_guards_cookie_is_accepted_where_backstage_accepts_its_own(
    guard: JWTGuard, backstage: Backstage, user_token: str
) -> None:
    set_cookie = ask_guard(guard, "GET", COOKIE_ENDPOINT, bearer(user_token)).headers["Set-Cookie"]
    value = set_cookie.split(";")[0].split("=", 1)[1]
    for view, accepted in (("/cookie-whoami", True), ("/whoami", False)):
        headers = cookie(value, COOKIE_NAME)
        ours = ask_guard(guard, "GET", view, headers)
        theirs = ask_backstage(backstage, "GET", view, headers)
        assert (ours.status_code, theirs.status_code) == ((200, 200) if accepted else (401, 401))
        if accepted:
            assert ours.json["identity"]["subject"] == GUEST
            assert ours.json["identity"]["kind"] == "limited-user"


def test_cookie_endpoint_delete_clears_it_as_backstage_does(
    guard: JWTGuard, backstage: Backstage, user_token: str
) -> None:
    # Any full credential may clear it, a plugin's too (Backstage's default auth policy).
    for token in (user_token, backstage.plugin_token(TARGET)):
        ours = ask_guard(guard, "DELETE", COOKIE_ENDPOINT, bearer(token))
        theirs = ask_backstage(backstage, "DELETE", COOKIE_ENDPOINT, bearer(token))
        assert ours.status_code == theirs.status_code == 204
        assert ours.headers.getlist("Set-Cookie") == [theirs.headers["Set-Cookie"]]
    limited = limited_from(user_token)
    for headers in ({}, bearer(limited), cookie(limited, COOKIE_NAME)):
        ours = ask_guard(guard, "DELETE", COOKIE_ENDPOINT, headers)
        theirs = ask_backstage(backstage, "DELETE", COOKIE_ENDPOINT, headers)
        assert ours.status_code == theirs.status_code == 401
        assert "Set-Cookie" not in ours.headers


@pytest.mark.parametrize(
    ("send", "status"),
    [
        pytest.param("nothing", 401, id="no-token"),
        pytest.param("plugin", 403, id="plugin-token"),
        pytest.param("limited-bearer", 401, id="limited-bearer"),
        pytest.param("limited-cookie", 401, id="limited-cookie"),
    ],
)
def test_cookie_endpoint_refuses_as_backstage_does(
    guard: JWTGuard, backstage: Backstage, user_token: str, send: str, status: int
) -> None:
    limited = limited_from(user_token)
    headers = {
        "nothing": {},
        "plugin": bearer(backstage.plugin_token(TARGET)),
        "limited-bearer": bearer(limited),
        "limited-cookie": cookie(limited, COOKIE_NAME),
    }[send]
    ours = ask_guard(guard, "GET", COOKIE_ENDPOINT, headers)
    theirs = ask_backstage(backstage, "GET", COOKIE_ENDPOINT, headers)
    assert ours.status_code == theirs.status_code == status
    assert "Set-Cookie" not in ours.headers


def test_cookie_endpoint_keeps_a_cookie_that_lasts(
    guard: JWTGuard, backstage: Backstage, user_token: str
) -> None:
    headers = {**bearer(user_token), **cookie(limited_from(user_token), COOKIE_NAME)}
    ours = ask_guard(guard, "GET", COOKIE_ENDPOINT, headers)
    theirs = ask_backstage(backstage, "GET", COOKIE_ENDPOINT, headers)
    assert ours.status_code == theirs.status_code == 200
    assert ours.json == theirs.json()
    assert "Set-Cookie" not in ours.headers
    assert "Set-Cookie" not in theirs.headers
