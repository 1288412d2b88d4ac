"""The peers, written the way their own documentation shows them.

* :class:`PyJWTMiddleware` -- a hand-written WSGI middleware around PyJWT's
  ``PyJWKClient`` (its default JWKS-set caching) and ``jwt.decode`` with the
  signing key it returns, ``algorithms``, ``audience`` and ``issuer``: the
  recipe of PyJWT's "Retrieve RSA signing keys from a JWKS endpoint" usage
  example, which is what services write today.
* :class:`JoseMiddleware` -- ``jose.jwt.decode(token, jwks, algorithms=...,
  audience=..., issuer=...)`` per request, with the JWKS dictionary fetched
  once at start-up (python-jose's documented key argument may be a JWK set).
* :func:`flask_app` -- one Flask app; either flask-jwt-extended protects its
  view (``@jwt_required()``, ``JWT_ALGORITHM``/``JWT_PUBLIC_KEY`` for
  asymmetric keys, ``JWT_DECODE_AUDIENCE``/``JWT_DECODE_ISSUER``), or the guard
  wraps its ``wsgi_app``.

None of them caches verified tokens: they do not offer it.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any

import jwt as pyjwt
from flask import Flask, request
from jose import jwt as jose_jwt

from bench.fixtures import AUDIENCE, ISSUER, PATH

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _unauthorized(start_response: Callable[..., Any]) -> list[bytes]:
    start_response("401 Unauthorized", [("WWW-Authenticate", "Bearer")])
    return [b""]


def _bearer(environ: dict[str, Any]) -> str | None:
    scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    return token if scheme.lower() == "bearer" and token else None


class PyJWTMiddleware:
    """PyJWT + ``PyJWKClient``, as a WSGI middleware."""

    def __init__(self, app: WSGIApp, jwks_uri: str, algorithms: list[str]) -> None:
        self.app = app
        self.algorithms = algorithms
        self.jwks_client = pyjwt.PyJWKClient(jwks_uri)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        token = _bearer(environ)
        if token is None:
            return _unauthorized(start_response)
        try:
            signing_key = self.jwks_client.get_signing_key_from_jwt(token)
            claims = pyjwt.decode(
                token,
                signing_key.key,
                algorithms=self.algorithms,
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iss", "sub"]},
            )
        except pyjwt.PyJWTError:
            return _unauthorized(start_response)
        environ["REMOTE_USER"] = claims["sub"]
        environ["jwt.claims"] = claims
        return self.app(environ, start_response)


class JoseMiddleware:
    """``jose.jwt.decode`` per request, with the JWKS fetched once."""

    def __init__(self, app: WSGIApp, jwks_uri: str, algorithms: list[str]) -> None:
        self.app = app
        self.algorithms = algorithms
        with urllib.request.urlopen(jwks_uri) as response:  # noqa: S310 - 127.0.0.1
            self.jwks = json.load(response)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        token = _bearer(environ)
        if token is None:
            return _unauthorized(start_response)
        try:
            claims = jose_jwt.decode(
                token, self.jwks, algorithms=self.algorithms, audience=AUDIENCE, issuer=ISSUER
            )
        except Exception:  # jose raises JWTError, and more on odd input
            return _unauthorized(start_response)
        environ["REMOTE_USER"] = claims["sub"]
        environ["jwt.claims"] = claims
        return self.app(environ, start_response)


def flask_app(*, public_pem: str | None = None, algorithm: str = "ES256") -> Flask:
    """The same small Flask app; with ``public_pem``, flask-jwt-extended protects it."""
    app = Flask("bench")
    if public_pem is None:

        @app.get(PATH)
        def hello() -> str:
            request.environ.get("REMOTE_USER")  # what the guard set; read like the peer's identity
            return "hello"

        return app

    from flask_jwt_extended import JWTManager, get_jwt_identity, jwt_required

    app.config.update(
        JWT_ALGORITHM=algorithm,
        JWT_PUBLIC_KEY=public_pem,
        JWT_PRIVATE_KEY="unused: this app only verifies",
        JWT_TOKEN_LOCATION=["headers"],
        JWT_DECODE_AUDIENCE=AUDIENCE,
        JWT_DECODE_ISSUER=ISSUER,
    )
    JWTManager(app)

    @app.get(PATH)
    @jwt_required()
    def protected_hello() -> str:
        get_jwt_identity()
        return "hello"

    return app
