"""The demo page in headless Chromium: protected image and stylesheet load via the cookie.

The page (served by ``wsgi-jwt-guard demo``) first loads a protected image and
stylesheet with no token, fetches a token, calls a protected API with the
``Authorization`` header -- the guard answers with the token cookie -- and
loads the image and stylesheet again, which the browser sends with the cookie
alone. This is the techdocs case of the seed, in a real browser.

Debian's ``chromium`` is driven by Playwright (``executable_path``; nothing is
downloaded). Without it the test is skipped; ``.ci/run`` installs it.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.processes import running_demo

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian's chromium is not installed (apt-get install chromium; .ci/run does); "
    "this test never installs a browser itself",
)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra")

LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def test_protected_assets_load_via_the_cookie_only_after_the_header_call(tmp_path: Path) -> None:
    with running_demo() as demo, sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True, timeout=30_000
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(20_000)
            statuses: dict[str, int] = {}
            asset_requests: dict[str, Any] = {}

            def step_of(url: str) -> str | None:
                return url.split("?step=")[1] if "?step=" in url else None

            def on_request(request: Any) -> None:
                if step_of(request.url):
                    asset_requests[step_of(request.url)] = request

            def on_response(response: Any) -> None:
                if step_of(response.url):
                    statuses[step_of(response.url)] = response.status

            page.on("request", on_request)
            page.on("response", on_response)

            page.goto(f"{demo.base}/")
            page.wait_for_function("document.body.dataset.done === 'yes'")

            screenshot = tmp_path / "demo-cookie-flow.png"
            page.screenshot(path=str(screenshot), full_page=True)
            print(f"screenshot of the demo page: {screenshot}")

            # What the page saw, step by step.
            assert page.evaluate("results") == {
                "image-before": False,
                "css-before": False,
                "api": True,
                "image-after": True,
                "css-after": True,
            }
            # What the server answered, independently of the page's bookkeeping.
            assert statuses == {
                "image-before": 401,
                "css-before": 401,
                "image-after": 200,
                "css-after": 200,
            }
            # The image really rendered after, and not before.
            widths = page.evaluate(
                "['image-before', 'image-after'].map(id => document.getElementById(id).naturalWidth)"
            )
            assert widths == [0, 160]
            # The stylesheet really applied.
            color = page.evaluate("getComputedStyle(document.getElementById('styled')).color")
            assert color == "rgb(0, 128, 0)"
            # The later loads carried the cookie and no Authorization header.
            for step in ("image-after", "css-after"):
                headers = asset_requests[step].all_headers()
                assert "authorization" not in headers
                assert re.fullmatch(r"token=[\w-]+\.[\w-]+\.[\w-]+", headers["cookie"])
            for step in ("image-before", "css-before"):
                assert "cookie" not in asset_requests[step].all_headers()
            # The API response showed the identity; the cookie stayed HttpOnly.
            assert '"user": "user:default/alice"' in page.inner_text("#identity")
            assert "token=" not in page.evaluate("document.cookie")
        finally:
            browser.close()
