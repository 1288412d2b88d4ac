"""The development issuer and its signing key: ``wsgi_jwt_guard.dev.devissuer``.

Tokens it signs must verify with the guard's own key handling
(:func:`~wsgi_jwt_guard.keys.pin_jwk` over its published JWKS), since that is
what the demo and the examples rely on. The dev package itself stays fenced
off: importing the guard never imports it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, x25519
from werkzeug.test import Client

from wsgi_jwt_guard.dev import DevIssuer, SigningKey
from wsgi_jwt_guard.dev.demo import page
from wsgi_jwt_guard.errors import ConfigError
from wsgi_jwt_guard.jws import parse
from wsgi_jwt_guard.keys import ALGORITHMS, KeySet

NOW = 1_700_000_000
ISSUER = "http://127.0.0.1:7008/api/auth"


def verifies(key: SigningKey, token: str) -> bool:
    """Whether the guard's key handling accepts ``token`` under ``key``'s published JWK."""
    jws = parse(token)
    pinned = KeySet.from_jwks({"keys": [key.public_jwk()]}, ALGORITHMS, strict=True)
    return pinned.find(jws.kid, jws.alg).verify(jws.signing_input, jws.signature)


# --- SigningKey ----------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_a_generated_key_signs_tokens_the_guard_verifies(algorithm: str) -> None:
    key = SigningKey.generate(algorithm, kid="k1")
    token = key.sign({"sub": "alice"}, header={"typ": "vnd.backstage.user"})
    jws = parse(token)
    assert jws.header == {"alg": algorithm, "typ": "vnd.backstage.user", "kid": "k1"}
    assert jws.claims == {"sub": "alice"}
    assert verifies(key, token)
    assert key.public_jwk()["alg"] == algorithm
    assert "d" not in key.public_jwk()


def test_a_signature_of_another_key_does_not_verify() -> None:
    key, other = SigningKey.generate("ES256", kid="k1"), SigningKey.generate("ES256", kid="k1")
    assert not verifies(key, other.sign({"sub": "alice"}))


@pytest.mark.parametrize(
    ("private", "algorithm", "setting"),
    [
        pytest.param(lambda: ec.generate_private_key(ec.SECP256R1()), "ES384", "algorithm", id="P-256-as-ES384"),
        pytest.param(lambda: ec.generate_private_key(ec.SECP256R1()), "RS256", "algorithm", id="EC-as-RS256"),
        pytest.param(lambda: ec.generate_private_key(ec.SECP256K1()), None, "key", id="secp256k1"),
        pytest.param(lambda: rsa.generate_private_key(65537, 2048), "ES256", "algorithm", id="RSA-as-ES256"),
        pytest.param(lambda: rsa.generate_private_key(65537, 2048), "HS256", "algorithm", id="RSA-as-HS256"),
        pytest.param(ed25519.Ed25519PrivateKey.generate, "ES256", "algorithm", id="ed25519-as-ES256"),
        pytest.param(lambda: rsa.generate_private_key(65537, 2048), "EdDSA", "algorithm", id="RSA-as-EdDSA"),
        pytest.param(x25519.X25519PrivateKey.generate, None, "key", id="x25519"),
        pytest.param(lambda: b"secret", None, "key", id="bytes"),
    ],
)
def test_a_key_signs_with_its_own_algorithm_only(
    private: Callable[[], Any], algorithm: str | None, setting: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        SigningKey(private(), algorithm=algorithm)
    assert caught.value.key == setting


@pytest.mark.parametrize("algorithm", ["PS256", "PS512", "EdDSA", "ES384"])
def test_every_asymmetric_algorithm_round_trips(algorithm: str) -> None:
    # Signed here, and checked through the guard's own key pinning from the public JWK.
    key = SigningKey.generate(algorithm, kid="k1")
    assert key.algorithm == algorithm
    assert verifies(key, key.sign({"sub": "alice"}))
    jwk = key.public_jwk()
    assert jwk["alg"] == algorithm
    assert not {"d", "p", "q"} & set(jwk)


@pytest.mark.parametrize("algorithm", ["HS256", "none", "Ed25519", "PS1024"])
def test_generate_refuses_what_it_cannot_make(algorithm: str) -> None:
    with pytest.raises(ConfigError) as caught:
        SigningKey.generate(algorithm)
    assert caught.value.key == "algorithm"


def _pem(private: Any, password: bytes | None = None) -> bytes:
    encryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )
    )


def _private_jwk(key: SigningKey) -> bytes:
    from jose import jwk

    document = jwk.construct(key.private, key.algorithm).to_dict()
    return json.dumps({**document, "kid": "from-file", "alg": key.algorithm}).encode()


@pytest.mark.parametrize(
    ("write", "algorithm", "kid"),
    [
        pytest.param(lambda k: _pem(k.private), "ES256", None, id="ec-pem"),
        pytest.param(lambda k: _private_jwk(k), "ES256", "from-file", id="ec-jwk"),
    ],
)
def test_from_file(tmp_path: Path, write: Callable[[SigningKey], bytes], algorithm: str, kid: str | None) -> None:
    original = SigningKey.generate("ES256")
    (tmp_path / "key").write_bytes(write(original))
    key = SigningKey.from_file(tmp_path / "key")
    assert (key.algorithm, key.kid) == (algorithm, kid)
    assert key.public_jwk()["x"] == original.public_jwk()["x"]
    assert verifies(key, key.sign({"sub": "alice"}))


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        pytest.param(b"not a key at all", "not a PEM private key", id="garbage"),
        pytest.param(b'{"kty": "EC", "x": "secretish"}', "not a private JWK", id="public-jwk"),
        pytest.param(b"{not json", "not valid JSON", id="bad-json"),
        pytest.param(
            lambda: _pem(ec.generate_private_key(ec.SECP256R1()), b"pw"), "encrypted", id="encrypted"
        ),
    ],
)
def test_from_file_says_what_is_wrong_without_the_content(
    tmp_path: Path, content: bytes | Callable[[], bytes], fragment: str
) -> None:
    data = content() if callable(content) else content
    (tmp_path / "key").write_bytes(data)
    with pytest.raises(ConfigError) as caught:
        SigningKey.from_file(tmp_path / "key")
    assert caught.value.key == "key"
    assert fragment in str(caught.value)
    assert "secretish" not in str(caught.value)


def test_from_file_that_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        SigningKey.from_file(tmp_path / "absent.pem")


# --- DevIssuer -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def issuer() -> DevIssuer:
    return DevIssuer(ISSUER, clock=lambda: NOW + 0.5)


def test_mint_takes_the_time_from_the_clock(issuer: DevIssuer) -> None:
    claims = parse(issuer.mint("user:default/alice")).claims
    assert claims == {
        "iss": ISSUER,
        "sub": "user:default/alice",
        "aud": "backstage",
        "ent": ["user:default/alice"],
        "iat": NOW,
        "exp": NOW + 3600,
    }
    assert parse(issuer.mint("bob", now=NOW - 60, lifetime=5)).claims["exp"] == NOW - 55


def _get(issuer: DevIssuer, path: str, **kwargs: Any) -> tuple[int, Any, str]:
    response = Client(issuer).open(path, **kwargs)
    assert response.mimetype == "application/json"
    return response.status_code, response.get_json(), response.headers["Cache-Control"]


def test_the_jwks_and_discovery_documents(issuer: DevIssuer) -> None:
    status, jwks, cache = _get(issuer, "/.well-known/jwks.json")
    assert (status, jwks, cache) == (200, {"keys": [issuer.key.public_jwk()]}, "no-store")
    status, discovery, _ = _get(issuer, "/.well-known/openid-configuration/")
    assert status == 200
    assert discovery["issuer"] == ISSUER
    assert discovery["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"
    assert discovery["id_token_signing_alg_values_supported"] == ["ES256"]


@pytest.mark.parametrize(
    ("kwargs", "subject"),
    [
        pytest.param({"query_string": {"sub": "user:default/bob"}}, "user:default/bob", id="get"),
        pytest.param({"method": "POST", "data": {"sub": "user:default/carol"}}, "user:default/carol", id="form"),
        pytest.param({"method": "POST", "json": {"sub": "user:default/dan"}}, "user:default/dan", id="json"),
        pytest.param({"method": "POST", "json": {"sub": 7}}, "user:default/guest", id="json-not-a-string"),
        pytest.param({}, "user:default/guest", id="no-subject"),
    ],
)
def test_the_token_endpoint_signs_for_anyone(
    issuer: DevIssuer, kwargs: dict[str, Any], subject: str
) -> None:
    status, body, cache = _get(issuer, "/token", **kwargs)
    assert (status, cache) == (200, "no-store")
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 3600)
    assert parse(body["token"]).claims["sub"] == subject
    assert verifies(issuer.key, body["token"])


@pytest.mark.parametrize(
    ("path", "method"),
    [
        pytest.param("/", "GET", id="root"),
        pytest.param("/token", "DELETE", id="token-delete"),
        pytest.param("/.well-known/other", "GET", id="other-document"),
    ],
)
def test_anything_else_is_404(issuer: DevIssuer, path: str, method: str) -> None:
    status, body, _ = _get(issuer, path, method=method)
    assert status == 404
    assert body["error"]["name"] == "NotFoundError"


# --- the fence and the package data ----------------------------------------------------


def test_the_guard_never_imports_the_dev_package() -> None:
    # Every module outside dev/ imported in a fresh interpreter: none pulls dev/ in.
    code = """
import pkgutil, sys, wsgi_jwt_guard
for module in pkgutil.iter_modules(wsgi_jwt_guard.__path__):
    if module.name not in ("dev", "__main__"):
        __import__(f"wsgi_jwt_guard.{module.name}")
print(sorted(name for name in sys.modules if name.startswith("wsgi_jwt_guard.dev")))
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_demo_page_is_built_from_its_package_data() -> None:
    html = page()
    assert "{{" not in html
    assert 'data-image="/api/techdocs/assets/logo.svg"' in html
    assert "document.body.dataset.image" in html  # page.js, inlined
