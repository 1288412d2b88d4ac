"""The seed's Backstage backend -- ``wsgi-jwt-guard demo`` -- run as a real server and driven over HTTP.

The demo is the seed's route table behind the guard, with a development issuer
mounted at ``/api/auth`` whose keys the guard fetches from its JWKS URL.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

import pytest
import requests

from tests.helpers import NO_TOKEN_CHALLENGE, SERVICE_SECRET, service_token
from tests.processes import running_demo


@pytest.fixture(scope="module")
def backend() -> Iterator[str]:
    with running_demo(env={"WSGI_JWT_GUARD_SERVICE_SECRET": SERVICE_SECRET}) as demo:
        yield demo.base


# What a browser sends on every request; the guard sets its token cookie only for browsers.
BROWSER = {"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"}


def _token(base: str, subject: str = "user:default/alice") -> str:
    response = requests.get(f"{base}/api/auth/token", params={"sub": subject}, timeout=5)
    assert response.status_code == 200
    return str(response.json()["token"])


def test_public_auth_route_needs_no_token(backend: str) -> None:
    response = requests.get(f"{backend}/api/auth/.well-known/jwks.json", timeout=5)
    assert response.status_code == 200
    assert response.json()["keys"][0]["kty"] == "EC"


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/api/catalog/entities", id="catalog"),
        pytest.param("/api/scaffolder/v2/tasks", id="scaffolder"),
        pytest.param("/api/proxy/github/repos", id="proxy"),
        pytest.param("/api/techdocs/static/docs/default/index.html", id="techdocs-html"),
        pytest.param("/api/unknown", id="catch-all"),
        pytest.param("/api/authx", id="not-a-segment-of-auth"),
    ],
)
def test_protected_routes_refuse_without_token(backend: str, path: str) -> None:
    response = requests.get(backend + path, timeout=5)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == NO_TOKEN_CHALLENGE
    assert response.json()["error"]["name"] == "AuthenticationError"


def test_user_token_reaches_catalog_with_identity(backend: str) -> None:
    token = _token(backend)
    response = requests.get(
        f"{backend}/api/catalog/entities",
        headers={"Authorization": f"Bearer {token}", **BROWSER},
        timeout=5,
    )
    assert response.status_code == 200
    identity = response.json()["identity"]
    assert identity["user"] == "user:default/alice"
    assert identity["kind"] == "user"
    assert identity["source"] == "header"
    assert identity["issuer"] == f"{backend}/api/auth"
    assert identity["ownership"] == ["user:default/alice"]
    assert "HttpOnly" in response.headers["Set-Cookie"]


def test_catch_all_is_authenticated_then_not_found(backend: str) -> None:
    token = _token(backend)
    response = requests.get(
        f"{backend}/api/nothing-here", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert response.status_code == 404


def test_techdocs_css_is_exempt_but_html_is_not(backend: str) -> None:
    css = requests.get(f"{backend}/api/techdocs/static/docs/default/main.css", timeout=5)
    assert css.status_code == 200
    assert css.headers["Content-Type"].startswith("text/css")
    html = requests.get(f"{backend}/api/techdocs/static/docs/default/main.css.html", timeout=5)
    assert html.status_code == 401


def test_cookie_flow_like_a_browser(backend: str) -> None:
    session = requests.Session()
    session.headers.update(BROWSER)
    token = _token(backend)
    before = session.get(f"{backend}/api/techdocs/static/docs/default/index.html", timeout=5)
    assert before.status_code == 401
    api = session.get(
        f"{backend}/api/catalog/entities", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert api.status_code == 200
    assert session.cookies.get("token") == token
    after = session.get(f"{backend}/api/techdocs/static/docs/default/index.html", timeout=5)
    assert after.status_code == 200
    proxied = session.get(f"{backend}/api/proxy/upstream", timeout=5)
    assert proxied.json() == {"proxied": "upstream", "authorization_forwarded": True}


def test_service_token_is_accepted(backend: str) -> None:
    response = requests.get(
        f"{backend}/api/catalog/entities",
        headers={"Authorization": f"Bearer {service_token()}"},
        timeout=5,
    )
    assert response.status_code == 200
    assert response.json()["identity"]["kind"] == "service"
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize(
    "raw_path",
    [
        pytest.param("/api/auth/../catalog/entities", id="dot-dot"),
        pytest.param("/api/auth/%2e%2e/catalog/entities", id="encoded-dot-dot"),
        pytest.param("/api/auth/%252e%252e/catalog/entities", id="double-encoded"),
        pytest.param("/api//catalog/entities", id="double-slash"),
        pytest.param("/api/auth/..%2fcatalog/entities", id="encoded-slash"),
    ],
)
def test_path_tricks_are_refused_by_the_real_server(backend: str, raw_path: str) -> None:
    host, port = backend.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    connection.request("GET", raw_path)
    response = connection.getresponse()
    body = json.loads(response.read())
    connection.close()
    assert response.status == 400
    assert body["error"]["name"] == "InputError"
