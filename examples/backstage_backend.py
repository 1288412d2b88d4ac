"""The Backstage backend of the seed documents, as a WSGI app behind the guard.

Route table (the seed's ``apiRouter``):

* ``/api/auth``        public: the auth backend itself (here: a development
  issuer that signs tokens and publishes its JWKS).
* ``/api/catalog``, ``/api/scaffolder``, ``/api/proxy``  protected.
* ``/api/techdocs``    protected, except its static CSS, which browsers load
  without an ``Authorization`` header.
* anything else        authenticated, then answered 404 by the app (the
  seed's ``apiRouter.use(authMiddleware, notFoundHandler())``).

Run it::

    python examples/backstage_backend.py [--port 7007]

It prints a ready token and ``curl`` lines to try. The signing key is made
fresh at every start and lives only in memory: this is a demonstration, not an
identity provider.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import sys
import time
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwk, jwt
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import run_simple
from werkzeug.wrappers import Request, Response

from wsgi_jwt_guard import JWTGuard, from_config, get_identity

ISSUER = "http://127.0.0.1:{port}/api/auth"


class DevIssuer:
    """A throwaway ES256 signing key, standing in for Backstage's auth backend."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        self.kid = secrets.token_hex(8)
        private = ec.generate_private_key(ec.SECP256R1())
        self._pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        public = jwk.construct(private.public_key(), "ES256").to_dict()
        self.public_jwk = {**public, "kid": self.kid, "use": "sig"}

    def mint(self, subject: str, lifetime: int = 3600) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": "backstage",
            "ent": [subject],
            "iat": now,
            "exp": now + lifetime,
        }
        return str(
            jwt.encode(
                claims,
                self._pem.decode(),
                algorithm="ES256",
                headers={"kid": self.kid, "typ": "vnd.backstage.user"},
            )
        )


def guard_config(dev: DevIssuer, service_secret: str) -> dict[str, Any]:
    """The guard's configuration, in the same shape as a guard.toml file."""
    return {
        "default": "protected",
        "issuers": [
            {
                "issuer": dev.issuer,
                "keys": [dev.public_jwk],
                "audience": ["backstage"],
                "algorithms": ["ES256"],
                "token_types": ["vnd.backstage.user"],
            }
        ],
        "service_tokens": {"secrets": [service_secret]},
        "cookie": {"name": "token"},
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


def backend_app(dev: DevIssuer) -> Any:
    """The plugins' routes; the guard has already decided who may reach them."""
    urls = Map(
        [
            Rule("/api/auth/.well-known/jwks.json", endpoint="jwks"),
            Rule("/api/auth/token", endpoint="token"),
            Rule("/api/catalog/entities", endpoint="entities"),
            Rule("/api/scaffolder/v2/tasks", endpoint="tasks"),
            Rule("/api/proxy/<path:rest>", endpoint="proxy"),
            Rule("/api/techdocs/static/docs/<path:rest>", endpoint="techdocs"),
        ]
    )

    def whoami(request: Request) -> dict[str, Any]:
        identity = get_identity(request.environ)
        if identity is None:
            return {"user": None}
        return {
            "user": request.remote_user,
            "kind": identity.kind,
            "source": identity.source,
            "ownership": identity.ownership_refs,
        }

    def app(environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        try:
            endpoint, args = urls.bind_to_environ(environ).match()
        except NotFound:
            # Reached only after authentication, like the seed's notFoundHandler.
            body = json.dumps({"error": "not found"})
            return Response(body, 404, mimetype="application/json")(environ, start_response)
        except HTTPException as exc:
            return exc(environ, start_response)
        body: Any
        if endpoint == "jwks":
            body = {"keys": [dev.public_jwk]}
        elif endpoint == "token":
            subject = request.args.get("sub", "user:default/guest")
            body = {"token": dev.mint(subject)}
        elif endpoint == "entities":
            body = {"items": [{"kind": "Component", "name": "guarded"}], "whoami": whoami(request)}
        elif endpoint == "tasks":
            body = {"tasks": [], "whoami": whoami(request)}
        elif endpoint == "proxy":
            body = {"proxied": args["rest"], "authorization_forwarded": bool(request.authorization)}
        else:
            css = args["rest"].endswith(".css")
            return Response(
                "body { color: #333 }" if css else "<h1>docs</h1>",
                mimetype="text/css" if css else "text/html",
            )(environ, start_response)
        return Response(json.dumps(body), mimetype="application/json")(environ, start_response)

    return app


def build(port: int, service_secret: str | None = None) -> tuple[JWTGuard, DevIssuer, str]:
    """The guarded backend, its development issuer and the service secret."""
    dev = DevIssuer(ISSUER.format(port=port))
    secret = service_secret or base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
    guard = from_config(backend_app(dev), guard_config(dev, secret))
    return guard, dev, secret


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=7007)
    parser.add_argument("--service-secret", default=os.environ.get("BACKEND_SECRET"))
    args = parser.parse_args(argv)
    guard, dev, _ = build(args.port, args.service_secret)
    token = dev.mint("user:default/alice")
    base = f"http://127.0.0.1:{args.port}"
    print(
        f"""
Backstage-style backend behind wsgi_jwt_guard on {base}

A token for user:default/alice (valid one hour):
  TOKEN={token}

Try:
  curl -i "{base}/api/auth/token?sub=user:default/bob"           # public: 200
  curl -i "{base}/api/catalog/entities"                          # protected: 401
  curl -i -H "Authorization: Bearer $TOKEN" "{base}/api/catalog/entities"   # 200
  curl -i "{base}/api/techdocs/static/docs/default/main.css"     # unless: 200
  curl -i -H "Cookie: token=$TOKEN" "{base}/api/techdocs/static/docs/default/index.html"  # 200
  curl -i -H "Authorization: Bearer $TOKEN" "{base}/api/unknown"  # authenticated, then 404
  curl -i --path-as-is "{base}/api/auth/../catalog/entities"     # 400
""",
        flush=True,
    )
    run_simple("127.0.0.1", args.port, guard, threaded=True)


if __name__ == "__main__":
    sys.exit(main())
