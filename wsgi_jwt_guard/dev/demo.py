"""The self-contained demo behind ``wsgi-jwt-guard demo``.

One server on 127.0.0.1 holds a whole Backstage-style backend::

    JWTGuard(                                    # verifies via the JWKS URL, over HTTP
        DispatcherMiddleware(
            sample_app,                          # catalog, scaffolder, proxy, techdocs, the page
            {"/api/auth": DevIssuer(...)},       # JWKS, OIDC discovery, token endpoint
        ),
        routes=...,                              # Backstage's table, see demo_config()
    )

The guard knows the development issuer only by its ``jwks_uri`` and fetches
the keys over HTTP like it would from Backstage, Keycloak or Auth0. The page at
``/`` shows the cookie flow in a browser: it fetches a token, calls a protected
API with the ``Authorization`` header (the guard answers with the token
cookie), then loads a protected image and stylesheet, which browsers send
with the cookie alone. The page, its script, the image and the stylesheet are
files in ``wsgi_jwt_guard/dev/assets/``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.wrappers import Request, Response

from ..config import from_config
from ..identity import get_identity
from ..middleware import JWTGuard
from .devissuer import DevIssuer

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["Demo", "demo_config"]

#: Where the page's protected assets live: under /api/techdocs but outside
#: static/docs, so the techdocs CSS exemption does not cover them.
IMAGE_PATH = "/api/techdocs/assets/logo.svg"
STYLESHEET_PATH = "/api/techdocs/assets/site.css"


@cache
def asset(name: str) -> str:
    """The text of ``wsgi_jwt_guard/dev/assets/<name>`` (package data, read once)."""
    return (files(__package__) / "assets" / name).read_text(encoding="utf-8")


@cache
def page() -> str:
    """The demo page at ``/``: ``page.html`` with its script and the assets' paths filled in."""
    html = asset("page.html").replace("{{image}}", IMAGE_PATH)
    html = html.replace("{{stylesheet}}", STYLESHEET_PATH)
    return html.replace("{{script}}", asset("page.js"))


def demo_config(issuer: DevIssuer, service_secrets: Sequence[str] = ()) -> dict[str, Any]:
    """The demo guard's configuration, in the shape of a ``guard.toml``."""
    config: dict[str, Any] = {
        # Backstage's catch-all: anything unlisted is authenticated, then 404.
        # The page at "/" is the one exemption.
        "default": {"policy": "protected", "unless": ["/", "/favicon.ico"]},
        "issuers": [
            {
                "issuer": issuer.issuer,
                "jwks_uri": issuer.jwks_uri,
                "audience": [issuer.audience],
                "algorithms": [issuer.key.algorithm],
                "token_types": [issuer.token_type],
            }
        ],
        "routes": {
            "/api/auth": "public",
            "/api/catalog": "protected",
            "/api/scaffolder": "protected",
            "/api/proxy": "protected",
            "/api/techdocs": {
                "policy": "protected",
                "unless": [r"/api/techdocs/static/docs/.+\.css"],
            },
        },
    }
    if service_secrets:
        config["service_tokens"] = {"secrets": list(service_secrets)}
    return config


class Demo:
    """The demo's issuer, guard and sample app for a server at ``base_url``.

    ``service_secrets``, when given, make the guard accept service tokens too.
    """

    def __init__(self, base_url: str, *, service_secrets: Sequence[str] = ()) -> None:
        self.base_url = base_url.rstrip("/")
        self.issuer = DevIssuer(f"{self.base_url}/api/auth")
        tree = DispatcherMiddleware(_sample_app, {"/api/auth": self.issuer})
        config = demo_config(self.issuer, service_secrets)
        self.guard: JWTGuard = from_config(tree, config)
        self.accepts_service_tokens = bool(service_secrets)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return self.guard(environ, start_response)

    def banner(self, subject: str = "user:default/alice") -> str:
        """What ``wsgi-jwt-guard demo`` prints: URLs, a token and ``curl`` lines.

        Each ``curl`` line ends with a comment naming the status it gets; the
        test suite runs the lines and holds them to it.
        """
        base, auth = self.base_url, self.issuer.issuer
        catalog = f"{base}/api/catalog/entities"
        header = '-H "Authorization: Bearer $TOKEN"'
        service = (
            "\nService tokens are accepted too (WSGI_JWT_GUARD_SERVICE_SECRET is set):\n"
            f'curl -i -H "Authorization: Bearer $(wsgi-jwt-guard mint --service)" {catalog}'
            "  # service token: 200\n"
            if self.accepts_service_tokens
            else ""
        )
        return f"""\
wsgi-jwt-guard demo: a development issuer and a Backstage-style app behind the guard

  Web page (cookie flow)  {base}/
  Issuer                  {auth}
  JWKS                    {auth}/.well-known/jwks.json
  OIDC discovery          {auth}/.well-known/openid-configuration
  Token endpoint          {auth}/token?sub=<subject>   (GET, or POST sub=...)

A token for {subject}, valid {self.issuer.lifetime // 60} minutes:

export TOKEN={self.issuer.mint(subject)}

Paste the line above into a shell, then try:

curl -i '{auth}/token?sub=user:default/bob'  # public route: 200
curl -i {catalog}  # protected, no token: 401
curl -i {header} {catalog}  # protected, with the token: 200 and your identity
curl -i -c cookies.txt -H 'Sec-Fetch-Site: same-origin' {header} {catalog}  # browser, cookie: 200
curl -i -b cookies.txt {base}{IMAGE_PATH}  # cookie only: 200
curl -i {base}{IMAGE_PATH}  # neither: 401
curl -i {base}/api/techdocs/static/docs/default/main.css  # techdocs CSS is exempt: 200
{service}
Press Ctrl-C to stop."""


# --- the sample app: what Backstage's plugins would be -------------------------------


def _whoami(environ: WSGIEnvironment) -> dict[str, Any] | None:
    identity = get_identity(environ)
    if identity is None:
        return None
    return {
        "user": environ.get("REMOTE_USER"),
        "kind": identity.kind,
        "source": identity.source,
        "issuer": identity.issuer,
        "ownership": identity.ownership_refs,
        "expires_at": identity.expires_at,
    }


def _sample_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    request = Request(environ)
    path = request.path
    response: Response
    if path == "/":
        response = Response(page(), mimetype="text/html")
    elif path == "/api/catalog/entities":
        items = [{"kind": "Component", "metadata": {"name": "wsgi-jwt-guard"}}]
        response = _json({"identity": _whoami(environ), "items": items})
    elif path == "/api/scaffolder/v2/tasks":
        response = _json({"tasks": [], "identity": _whoami(environ)})
    elif path.startswith("/api/proxy/"):
        rest = path.removeprefix("/api/proxy/")
        forwarded = request.headers.get("Authorization", "").startswith("Bearer ")
        response = _json({"proxied": rest, "authorization_forwarded": forwarded})
    elif path == IMAGE_PATH:
        response = Response(asset("logo.svg"), mimetype="image/svg+xml")
    elif path == STYLESHEET_PATH:
        response = Response(asset("site.css"), mimetype="text/css")
    elif path.startswith("/api/techdocs/static/docs/"):
        css = path.endswith(".css")
        text = "main { font-family: sans-serif }" if css else "<h1>Docs</h1>"
        response = Response(text, mimetype="text/css" if css else "text/html")
    else:  # Backstage's notFoundHandler, reached only after authentication
        response = _json({"error": {"name": "NotFoundError", "message": path}}, 404)
    return response(environ, start_response)


def _json(body: object, status: int = 200) -> Response:
    return Response(json.dumps(body, indent=2) + "\n", status, mimetype="application/json")
