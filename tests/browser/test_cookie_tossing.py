"""Cookie tossing from a sibling subdomain, in real Chromium (issue 10, class 2).

A page on ``evil.example.test`` may set cookies for the whole of
``example.test``, so also for ``app.example.test``, where the victim is signed
in with the guard's host-only ``token`` cookie. Browsers send the cookie with
the longer ``Path`` first (RFC 6265 §5.4), so the attacker's ``token`` comes
before the victim's; two more cookies holding a lone ``"`` make the header::

    Cookie: token=<mallory>; a="; token=<alice>; b="

A parser that honours quotes (RFC 2109 style, as Werkzeug's does) reads
``"; token=<alice>; b="`` as the value of ``a`` and sees only mallory's token:
the victim would act as the attacker -- her uploads land in his account.
Browsers never quote; read as they write it, the header holds two ``token``
cookies, and the guard must refuse it.

Both hosts resolve to 127.0.0.1 through Chromium's ``--host-resolver-rules``;
the app (Flask behind the guard, as in ``tests/stack``) and the attacker's page
are Werkzeug servers on 127.0.0.1. Debian's ``chromium`` is driven by
Playwright; without it the test is skipped (``.ci/run`` installs it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_cookie_flow import CHROMIUM, LAUNCH_ARGS
from tests.helpers import SERVICE_SECRET, SigningKey
from tests.servers import werkzeug_server
from tests.stack.apps import build
from tests.stack.users import SUBJECTS, user_token

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian's chromium is not installed (apt-get install chromium; .ci/run does); "
    "this test never installs a browser itself",
)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra")

RESOLVE = "--host-resolver-rules=MAP *.example.test 127.0.0.1"

EVIL_PAGE = """<!doctype html>
<title>cute cats</title>
<script>
  // Domain cookies for every sibling of this host. The longer path sorts first.
  document.cookie = "token=%(mallory)s; domain=example.test; path=/api/catalog";
  document.cookie = 'a="; domain=example.test; path=/api';
  document.cookie = 'b="; domain=example.test; path=/';
  window.tossed = true;
</script>
"""


def evil_site(mallory: str) -> Any:
    page = (EVIL_PAGE % {"mallory": mallory}).encode()

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(page)))])
        return [page]

    return app


class Recorder:
    """Outermost, before the guard: the ``Cookie`` header exactly as it arrived."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.cookies: dict[str, str | None] = {}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.cookies[environ.get("PATH_INFO", "")] = environ.get("HTTP_COOKIE")
        return self.app(environ, start_response)


@pytest.fixture
def view_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = tmp_path / "views.jsonl"
    monkeypatch.setenv("STACK_VIEW_LOG", str(log))
    return log


@pytest.fixture
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=[*LAUNCH_ARGS, RESOLVE], headless=True, timeout=30_000
        )
        try:
            yield chromium
        finally:
            chromium.close()


def test_a_cookie_tossed_from_a_sibling_subdomain_never_makes_the_victim_the_attacker(
    browser: Any, ec_key: SigningKey, view_log: Path
) -> None:
    alice, mallory = user_token(ec_key, "alice"), user_token(ec_key, "mallory")
    app = Recorder(build("flask", [ec_key.public_jwk()], SERVICE_SECRET))
    with werkzeug_server(app) as app_port, werkzeug_server(evil_site(mallory)) as evil_port:
        site = f"http://app.example.test:{app_port}"
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(20_000)

        # 1. The victim signs in: a call with her bearer token, and the guard
        #    answers with its host-only token cookie.
        page.goto(f"{site}/api/auth/login")
        status = page.evaluate(
            """token => fetch("/api/catalog/profile", {headers: {Authorization: "Bearer " + token}})
                .then(response => response.status)""",
            alice,
        )
        assert status == 200
        [victim_cookie] = context.cookies(site)
        assert (victim_cookie["name"], victim_cookie["value"]) == ("token", alice)
        assert victim_cookie["domain"] == "app.example.test"  # host-only

        # 2. She visits the attacker's page on a sibling subdomain.
        page.goto(f"http://evil.example.test:{evil_port}/")
        page.wait_for_function("window.tossed === true")
        tossed = {(c["name"], c["domain"], c["path"]) for c in context.cookies(f"{site}/api/catalog/secret")}
        assert ("token", ".example.test", "/api/catalog") in tossed

        # 3. Back on the app, her browser asks for a protected page.
        response = page.goto(f"{site}/api/catalog/secret")
        assert response is not None
        sent = response.request.all_headers().get("cookie")
        arrived = app.cookies["/api/catalog/secret"]

    # The browser really sent the tossing shape, and the server got it unchanged.
    shape = r'token=([\w.-]+); a="; token=([\w.-]+); b="'
    assert sent == arrived, (sent, arrived)
    match = re.fullmatch(shape, arrived or "")
    assert match is not None, arrived
    assert match.groups() == (mallory, alice)

    # The protected view never ran as mallory: refused, or (at most) as alice.
    entries = [json.loads(line) for line in view_log.read_text().splitlines()]
    users = [entry["user"] for entry in entries if entry["view"] == "catalog-secret"]
    assert set(users) <= {SUBJECTS["alice"]}, f"the protected view ran as {users}"
    if response.status == 200:
        assert json.loads(response.body())["user"] == SUBJECTS["alice"]
    else:
        assert response.status == 401
