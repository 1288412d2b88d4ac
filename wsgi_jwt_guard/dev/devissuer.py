"""A development issuer: signs tokens and publishes its keys, for demos and tests.

Trying the guard needs an issuer whose tokens it can verify. :class:`DevIssuer`
is a tiny one, and a WSGI application at the same time::

    from werkzeug.serving import run_simple
    from wsgi_jwt_guard.dev.devissuer import DevIssuer

    issuer = DevIssuer("http://127.0.0.1:7008")       # a fresh ES256 key
    token = issuer.mint("user:default/alice")          # sign a token in process
    run_simple("127.0.0.1", 7008, issuer)              # or serve it:

It answers, relative to its issuer URL (it may be mounted under a prefix with
Werkzeug's ``DispatcherMiddleware``, as ``wsgi-jwt-guard demo`` mounts it at
``/api/auth``):

* ``/.well-known/jwks.json`` -- the public key, for the guard's ``jwks_uri``;
* ``/.well-known/openid-configuration`` -- OIDC discovery pointing there;
* ``/token?sub=<subject>`` (GET, or POST with a ``sub`` form field or JSON
  member) -- ``{"token": ..., "token_type": "Bearer", "expires_in": ...}``.

.. warning::
    Anyone who can reach the token endpoint gets a token for any subject it
    asks for. The key lives in memory and is new at every start. This is for a
    laptop and a test suite, never for a network others can reach.

:class:`SigningKey` is the signing half on its own: an EC or RSA private key
(generated, or read from a PEM or JWK file) that signs compact JWS tokens
with :mod:`wsgi_jwt_guard.algorithms`. ``wsgi-jwt-guard mint`` uses it.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from jose import jwk as jose_jwk
from werkzeug.wrappers import Request, Response

from .. import algorithms
from ..clock import Clock, system_clock
from ..errors import ConfigError
from ..jws import b64url_decode, b64url_encode

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["DevIssuer", "SigningKey"]


class SigningKey:
    """A private EC, RSA or Edwards-curve key that signs JWTs with one algorithm.

    :param private: a ``cryptography`` EC, RSA, Ed25519 or Ed448 private key.
    :param algorithm: ``ES256``/``ES384``/``ES512`` (fixed by an EC key's curve),
        ``RS256``/``RS384``/``RS512``/``PS256``/``PS384``/``PS512`` (RSA; default
        ``RS256``), or ``EdDSA`` (Ed25519 and Ed448 keys).
    :param kid: the ``kid`` put in token headers and the public JWK.
    """

    def __init__(
        self, private: Any, *, algorithm: str | None = None, kid: str | None = None
    ) -> None:
        if isinstance(private, ec.EllipticCurvePrivateKey):
            fitting = algorithms.ec_algorithm(private.curve)
            if fitting is None:
                raise ConfigError("key", f"unsupported curve {private.curve.name}")
            if algorithm not in (None, fitting):
                raise ConfigError("algorithm", f"a {private.curve.name} key signs {fitting} only")
            algorithm = fitting
        elif isinstance(private, rsa.RSAPrivateKey):
            algorithm = algorithm or "RS256"
            if algorithm not in algorithms.RSA_KEY_ALGORITHMS:
                raise ConfigError("algorithm", "an RSA key signs RS256/384/512 or PS256/384/512")
        elif algorithms.edwards_curve(private) is not None:
            if algorithm not in (None, "EdDSA"):
                raise ConfigError("algorithm", "an Ed25519 or Ed448 key signs EdDSA only")
            algorithm = "EdDSA"
        else:
            raise ConfigError("key", "expected an EC, RSA, Ed25519 or Ed448 private key")
        self.private = private
        self.algorithm: str = algorithm
        self.kid = kid
        self._signer = algorithms.signer(private, algorithm)

    @classmethod
    def generate(cls, algorithm: str = "ES256", *, kid: str | None = None) -> SigningKey:
        """A fresh key for ``algorithm``, with a random ``kid`` unless one is given."""
        kid = kid or secrets.token_hex(8)
        if algorithm in algorithms.EC_ALGORITHMS:
            return cls(ec.generate_private_key(algorithms.ec_curve(algorithm)), kid=kid)
        if algorithm in algorithms.EDDSA_ALGORITHMS:
            return cls(ed25519.Ed25519PrivateKey.generate(), kid=kid)
        if algorithm not in algorithms.RSA_KEY_ALGORITHMS:
            choices = sorted(algorithms.ASYMMETRIC_ALGORITHMS)
            raise ConfigError("algorithm", f"expected one of {choices}")
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(private, algorithm=algorithm, kid=kid)

    @classmethod
    def from_file(
        cls, path: str | Path, *, algorithm: str | None = None, kid: str | None = None
    ) -> SigningKey:
        """Read a PEM private key or a private JWK (JSON) file.

        A JWK's own ``alg`` and ``kid`` apply unless ``algorithm``/``kid`` are
        given. Raises :class:`~wsgi_jwt_guard.errors.ConfigError` saying what is
        wrong with the file, without showing any of its content.
        """
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise ConfigError("key", f"cannot read {str(path)!r}: {exc.strerror}") from None
        if data.lstrip().startswith(b"{"):
            try:
                document = json.loads(data)
            except ValueError:
                raise ConfigError("key", f"{str(path)!r} is not valid JSON") from None
            if not isinstance(document, dict) or "d" not in document:
                raise ConfigError("key", f"{str(path)!r} is not a private JWK (no 'd')")
            algorithm = algorithm or document.get("alg")
            kid = kid or document.get("kid")
            try:
                if document.get("kty") == "OKP":
                    private = _OKP_PRIVATE[document["crv"]](b64url_decode(document["d"]))
                else:
                    jwk = jose_jwk.construct(document, _jwk_algorithm(document))
                    private = jwk.prepared_key
            except Exception:
                raise ConfigError("key", f"{str(path)!r} is not a usable private JWK") from None
            return cls(private, algorithm=algorithm, kid=kid)
        try:
            loaded = load_pem_private_key(data, password=None)
        except TypeError:
            raise ConfigError("key", f"{str(path)!r} is encrypted; decrypt it first") from None
        except ValueError:
            raise ConfigError("key", f"{str(path)!r} is not a PEM private key") from None
        return cls(loaded, algorithm=algorithm, kid=kid)

    def public_jwk(self) -> dict[str, Any]:
        """The public key as a JWK, with ``alg``, ``use`` and ``kid``."""
        public = _public_jwk(self.private.public_key())
        public.update({"alg": self.algorithm, "use": "sig"})
        if self.kid is not None:
            public["kid"] = self.kid
        return public

    def sign(self, claims: Mapping[str, Any], *, header: Mapping[str, Any] | None = None) -> str:
        """A compact JWS over ``claims``; ``header`` adds or replaces header members."""
        head: dict[str, Any] = {"alg": self.algorithm, "typ": "JWT"}
        if self.kid is not None:
            head["kid"] = self.kid
        head.update(header or {})
        segments = [_json_segment(head), _json_segment(dict(claims))]
        signing_input = ".".join(segments).encode("ascii")
        return f"{'.'.join(segments)}.{b64url_encode(self._signer.sign(signing_input))}"


# JWK curve names (RFC 7518 §6.2.1.1) of cryptography's curves.
_JWK_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}


def _public_jwk(public: Any) -> dict[str, Any]:
    """The JWK members of a public key (RFC 7518 §6, RFC 8037 §2)."""
    curve = algorithms.edwards_curve(public)
    if curve is not None:
        return {"kty": "OKP", "crv": curve, "x": b64url_encode(public.public_bytes_raw())}
    numbers = public.public_numbers()
    if isinstance(public, rsa.RSAPublicKey):
        return {"kty": "RSA", "n": _b64url_int(numbers.n), "e": _b64url_int(numbers.e)}
    size = (public.curve.key_size + 7) // 8  # coordinates at the curve's full width
    return {
        "kty": "EC",
        "crv": _JWK_CURVES[public.curve.name],
        "x": b64url_encode(numbers.x.to_bytes(size, "big")),
        "y": b64url_encode(numbers.y.to_bytes(size, "big")),
    }


def _b64url_int(value: int) -> str:
    return b64url_encode(value.to_bytes((value.bit_length() + 7) // 8 or 1, "big"))


_OKP_PRIVATE: dict[str, Any] = {
    "Ed25519": ed25519.Ed25519PrivateKey.from_private_bytes,
    "Ed448": ed448.Ed448PrivateKey.from_private_bytes,
}


def _jwk_algorithm(document: Mapping[str, Any]) -> str:
    return algorithms.ec_algorithm(str(document.get("crv"))) or "RS256"


def _json_segment(value: Mapping[str, Any]) -> str:
    return b64url_encode(json.dumps(value, separators=(",", ":")).encode())


class DevIssuer:
    """An issuer that signs tokens for any subject and serves its JWKS (see module docs).

    :param issuer: the ``iss`` of its tokens, and the URL it is served at.
    :param audience: the ``aud`` of its tokens (Backstage's is ``backstage``).
    :param lifetime: seconds until minted tokens expire.
    :param token_type: the header ``typ`` (Backstage user tokens: ``vnd.backstage.user``).
    :param key: the signing key; a fresh ES256 key by default.
    :param clock: where ``iat`` and ``exp`` come from (:mod:`wsgi_jwt_guard.clock`).
    """

    def __init__(
        self,
        issuer: str,
        *,
        audience: str = "backstage",
        lifetime: int = 3600,
        token_type: str = "vnd.backstage.user",  # noqa: S107 - a media type
        key: SigningKey | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.lifetime = lifetime
        self.token_type = token_type
        self.key = key if key is not None else SigningKey.generate("ES256")
        self.clock = clock

    @property
    def jwks_uri(self) -> str:
        """Where the issuer's JWKS is served (give it to the guard's ``Issuer``)."""
        return f"{self.issuer}/.well-known/jwks.json"

    def mint(
        self, subject: str, *, lifetime: int | None = None, now: float | None = None, **claims: Any
    ) -> str:
        """A signed user token for ``subject``; ``claims`` add or replace claims.

        ``now`` (seconds since the epoch) defaults to the issuer's clock;
        ``ent`` (Backstage's ownership refs) defaults to ``[subject]``.
        """
        issued = int(self.clock() if now is None else now)
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.audience,
            "ent": [subject],
            "iat": issued,
            "exp": issued + (self.lifetime if lifetime is None else lifetime),
        }
        payload.update(claims)
        return self.key.sign(payload, header={"typ": self.token_type})

    def discovery(self) -> dict[str, Any]:
        """The OIDC discovery document."""
        return {
            "issuer": self.issuer,
            "jwks_uri": self.jwks_uri,
            "token_endpoint": f"{self.issuer}/token",
            "id_token_signing_alg_values_supported": [self.key.algorithm],
            "subject_types_supported": ["public"],
            "response_types_supported": ["id_token"],
        }

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Serve the JWKS, the discovery document and the token endpoint."""
        request = Request(environ)
        path = request.path.rstrip("/")
        body: Any
        if path == "/.well-known/jwks.json":
            body = {"keys": [self.key.public_jwk()]}
        elif path == "/.well-known/openid-configuration":
            body = self.discovery()
        elif path == "/token" and request.method in ("GET", "POST"):
            subject = request.values.get("sub") or _json_member(request, "sub")
            subject = subject or "user:default/guest"
            body = {
                "token": self.mint(subject),
                "token_type": "Bearer",
                "expires_in": self.lifetime,
            }
        else:
            body, status = {"error": {"name": "NotFoundError", "message": "no such endpoint"}}, 404
            return _json_response(body, status)(environ, start_response)
        return _json_response(body)(environ, start_response)


def _json_member(request: Request, name: str) -> str | None:
    document = request.get_json(silent=True) if request.is_json else None
    value = document.get(name) if isinstance(document, dict) else None
    return value if isinstance(value, str) else None


def _json_response(body: object, status: int = 200) -> Response:
    response = Response(json.dumps(body, indent=2), status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response
