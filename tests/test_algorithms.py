"""Sign and verify per algorithm family: ``wsgi_jwt_guard.algorithms`` (RFC 7518 §3, RFC 8037).

Every signature is checked against an independent implementation in both
directions -- python-jose for ES/RS/HS, PyJWT for PS and EdDSA (python-jose has
neither): what this module signs, the other verifies, and what the other
signs, this module verifies.
"""

from __future__ import annotations

import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa, x25519
from jose import jws as jose_jws
from jwt.api_jws import PyJWS
from werkzeug.test import Client

from tests.helpers import ISSUER, build_guard, user_claims
from tests.jwks_server import JWKSServer
from wsgi_jwt_guard import Issuer, algorithms
from wsgi_jwt_guard.algorithms import HMACKey, ec_algorithm, ec_curve, signer, verifier
from wsgi_jwt_guard.errors import ConfigError
from wsgi_jwt_guard.jws import b64url_decode, b64url_encode
from wsgi_jwt_guard.keys import KeySet

DATA = b"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9"
SECRET = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

_PRIVATE: dict[str, Any] = {}


def private_key(algorithm: str) -> Any:
    """One key per algorithm for the whole module (RSA generation is slow)."""
    if algorithm not in _PRIVATE:
        if algorithm.startswith("ES"):
            _PRIVATE[algorithm] = ec.generate_private_key(ec_curve(algorithm))
        elif algorithm == "EdDSA":
            _PRIVATE[algorithm] = ed25519.Ed25519PrivateKey.generate()
        elif algorithm == "Ed448":  # signs as EdDSA, with the other curve
            _PRIVATE[algorithm] = ed448.Ed448PrivateKey.generate()
        else:
            _PRIVATE[algorithm] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _PRIVATE[algorithm]


ASYMMETRIC = [
    pytest.param("ES256", 64, id="ES256"),
    pytest.param("ES384", 96, id="ES384"),
    pytest.param("ES512", 132, id="ES512"),
    pytest.param("RS256", 256, id="RS256"),
    pytest.param("RS384", 256, id="RS384"),
    pytest.param("RS512", 256, id="RS512"),
]
# Algorithms python-jose lacks; PyJWT is the independent implementation for them.
NEWER = [
    pytest.param("PS256", 256, id="PS256"),
    pytest.param("PS384", 256, id="PS384"),
    pytest.param("PS512", 256, id="PS512"),
    pytest.param("EdDSA", 64, id="EdDSA-Ed25519"),
    pytest.param("Ed448", 114, id="EdDSA-Ed448"),
]


def _jws_name(algorithm: str) -> str:
    return "EdDSA" if algorithm == "Ed448" else algorithm


# --- round trips, checked against python-jose ---------------------------------------


@pytest.mark.parametrize(("algorithm", "size"), ASYMMETRIC + NEWER)
def test_asymmetric_signatures_are_what_jws_expects(algorithm: str, size: int) -> None:
    private = private_key(algorithm)
    signature = signer(private, _jws_name(algorithm)).sign(DATA)
    assert len(signature) == size  # ECDSA: raw r || s at the curve's width, never DER
    check = verifier(private.public_key(), _jws_name(algorithm))
    assert check.signature_size == size
    assert check.verify(DATA, signature)


def _header(algorithm: str) -> str:
    return b64url_encode(f'{{"alg":"{algorithm}"}}'.encode())


@pytest.mark.parametrize(("algorithm", "size"), ASYMMETRIC)
def test_jose_verifies_what_this_module_signs(algorithm: str, size: int) -> None:
    private = private_key(algorithm)
    payload = b'{"sub":"alice"}'
    signing_input = f"{_header(algorithm)}.{b64url_encode(payload)}"
    signature = signer(private, algorithm).sign(signing_input.encode())
    token = f"{signing_input}.{b64url_encode(signature)}"
    assert jose_jws.verify(token, private.public_key(), algorithm) == payload


@pytest.mark.parametrize(("algorithm", "size"), ASYMMETRIC)
def test_this_module_verifies_what_jose_signs(algorithm: str, size: int) -> None:
    private = private_key(algorithm)
    token = jose_jws.sign(b'{"sub":"alice"}', private, algorithm=algorithm)
    head, body, signature = token.split(".")
    check = verifier(private.public_key(), algorithm)
    assert check.verify(f"{head}.{body}".encode(), b64url_decode(signature))


@pytest.mark.parametrize(("algorithm", "size"), NEWER)
def test_pyjwt_verifies_what_this_module_signs(algorithm: str, size: int) -> None:
    private, name = private_key(algorithm), _jws_name(algorithm)
    payload = b'{"sub":"alice"}'
    signing_input = f"{_header(name)}.{b64url_encode(payload)}"
    token = f"{signing_input}.{b64url_encode(signer(private, name).sign(signing_input.encode()))}"
    assert PyJWS().decode(token, private.public_key(), algorithms=[name]) == payload


@pytest.mark.parametrize(("algorithm", "size"), NEWER)
def test_this_module_verifies_what_pyjwt_signs(algorithm: str, size: int) -> None:
    private, name = private_key(algorithm), _jws_name(algorithm)
    token = PyJWS().encode(b'{"sub":"alice"}', private, algorithm=name)
    head, body, signature = token.split(".")
    assert verifier(private.public_key(), name).verify(f"{head}.{body}".encode(), b64url_decode(signature))


def test_pss_is_not_pkcs1() -> None:
    # The same RSA key under RS256 and PS256: neither signature passes for the other.
    private = private_key("RS256")
    pkcs1, pss = signer(private, "RS256").sign(DATA), signer(private, "PS256").sign(DATA)
    assert verifier(private.public_key(), "PS256").verify(DATA, pkcs1) is False
    assert verifier(private.public_key(), "RS256").verify(DATA, pss) is False
    assert verifier(private.public_key(), "PS256").verify(DATA, pss) is True


@pytest.mark.parametrize("algorithm", ["HS256", "HS384", "HS512"])
def test_hmac_signs_like_jose_and_verifies(algorithm: str) -> None:
    key = HMACKey(SECRET, algorithm)
    token = jose_jws.sign(b'{"sub":"alice"}', SECRET.decode(), algorithm=algorithm)
    head, body, signature = token.split(".")
    signing_input = f"{head}.{body}".encode()
    assert key.sign(signing_input) == b64url_decode(signature)
    assert key.verify(signing_input, b64url_decode(signature))
    assert key.signature_size == int(algorithm[2:]) // 8


# --- what never verifies ---------------------------------------------------------------


def _flip_last(signature: bytes) -> bytes:
    return signature[:-1] + bytes([signature[-1] ^ 1])


@pytest.mark.parametrize(("algorithm", "size"), ASYMMETRIC + NEWER)
@pytest.mark.parametrize(
    ("data", "mangle"),
    [
        pytest.param(DATA + b"x", lambda s: s, id="other-data"),
        pytest.param(DATA, _flip_last, id="flipped-bit"),
        pytest.param(DATA, lambda s: s[:-1], id="truncated"),
        pytest.param(DATA, lambda s: s + b"\0", id="padded"),
        pytest.param(DATA, lambda s: b"", id="empty"),
        pytest.param(DATA, lambda s: b"\0" * len(s), id="zeros"),
        pytest.param(DATA, lambda s: b"\xff" * len(s), id="ones"),
    ],
)
def test_bad_signatures_do_not_verify_and_never_raise(
    algorithm: str, size: int, data: bytes, mangle: Any
) -> None:
    private, name = private_key(algorithm), _jws_name(algorithm)
    signature = mangle(signer(private, name).sign(DATA))
    assert verifier(private.public_key(), name).verify(data, signature) is False


@pytest.mark.parametrize(
    ("data", "signature"),
    [
        pytest.param(DATA + b"x", None, id="other-data"),
        pytest.param(DATA, b"", id="empty"),
        pytest.param(DATA, b"\0" * 32, id="zeros"),
        pytest.param(DATA, "short", id="truncated"),
    ],
)
def test_bad_hmac_signatures_do_not_verify(data: bytes, signature: bytes | str | None) -> None:
    key = HMACKey(SECRET)
    good = key.sign(DATA)
    if signature is None:
        signature = good
    elif signature == "short":
        signature = good[:-1]
    assert key.verify(data, signature) is False  # type: ignore[arg-type]
    assert HMACKey(SECRET[::-1]).verify(DATA, good) is False


def test_a_key_of_another_ec_curve_does_not_verify() -> None:
    signature = signer(private_key("ES256"), "ES256").sign(DATA)
    other = ec.generate_private_key(ec.SECP256R1())
    assert verifier(other.public_key(), "ES256").verify(DATA, signature) is False


# --- keys pinned to their algorithm ----------------------------------------------------


@pytest.mark.parametrize(
    ("make_key", "algorithm", "key"),
    [
        pytest.param(lambda: private_key("ES384"), "ES256", "algorithm", id="P-384-as-ES256"),
        pytest.param(lambda: private_key("ES256"), "ES512", "algorithm", id="P-256-as-ES512"),
        pytest.param(lambda: private_key("ES256"), "RS256", "algorithm", id="EC-as-RS256"),
        pytest.param(lambda: private_key("RS256"), "ES256", "algorithm", id="RSA-as-ES256"),
        pytest.param(lambda: private_key("RS256"), "HS256", "algorithm", id="RSA-as-HS256"),
        pytest.param(lambda: private_key("ES256"), "HS256", "algorithm", id="EC-as-HS256"),
        pytest.param(lambda: private_key("RS256"), "EdDSA", "algorithm", id="RSA-as-EdDSA"),
        pytest.param(lambda: private_key("ES256"), "EdDSA", "algorithm", id="EC-as-EdDSA"),
        pytest.param(ed25519.Ed25519PrivateKey.generate, "ES256", "algorithm", id="ed25519-as-ES256"),
        pytest.param(ed25519.Ed25519PrivateKey.generate, "PS256", "algorithm", id="ed25519-as-PS256"),
        pytest.param(lambda: private_key("ES256"), "none", "algorithm", id="none"),
        pytest.param(
            lambda: ec.generate_private_key(ec.SECP256K1()), "ES256", "algorithm", id="secp256k1"
        ),
        pytest.param(lambda: x25519.X25519PrivateKey.generate(), "EdDSA", "key", id="x25519"),
        pytest.param(lambda: SECRET, "HS256", "key", id="bytes"),
    ],
)
@pytest.mark.parametrize("half", ["signer", "verifier"])
def test_a_key_is_used_with_its_own_algorithm_only(
    make_key: Any, algorithm: str, key: str, half: str
) -> None:
    private = make_key()
    material = private if half == "signer" or isinstance(private, bytes) else private.public_key()
    build = signer if half == "signer" else verifier
    with pytest.raises(ConfigError) as caught:
        build(material, algorithm)
    assert caught.value.key == key


@pytest.mark.parametrize(
    ("secret", "algorithm"),
    [
        pytest.param(b"", "HS256", id="empty"),
        pytest.param("text", "HS256", id="str"),
        pytest.param(SECRET, "RS256", id="asymmetric-alg"),
        pytest.param(SECRET, "HS1", id="unknown-alg"),
    ],
)
def test_hmac_key_arguments_are_checked(secret: Any, algorithm: str) -> None:
    with pytest.raises(ConfigError):
        HMACKey(secret, algorithm)


def test_hmac_key_repr_hides_the_secret() -> None:
    assert SECRET.decode() not in repr(HMACKey(SECRET))


# --- the tables ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("curve", "algorithm"),
    [
        pytest.param("P-256", "ES256", id="jwk-P-256"),
        pytest.param("P-384", "ES384", id="jwk-P-384"),
        pytest.param("P-521", "ES512", id="jwk-P-521"),
        pytest.param(ec.SECP256R1(), "ES256", id="secp256r1"),
        pytest.param(ec.SECP384R1(), "ES384", id="secp384r1"),
        pytest.param(ec.SECP521R1(), "ES512", id="secp521r1"),
        pytest.param("secp256k1", None, id="secp256k1"),
        pytest.param(ec.SECP256K1(), None, id="secp256k1-object"),
        pytest.param("P-512", None, id="P-512-is-no-curve"),
    ],
)
def test_ec_algorithm_of_a_curve(curve: Any, algorithm: str | None) -> None:
    assert ec_algorithm(curve) == algorithm


def test_ec_curve_of_an_algorithm_round_trips() -> None:
    for algorithm in sorted(algorithms.EC_ALGORITHMS):
        assert ec_algorithm(ec_curve(algorithm)) == algorithm
    with pytest.raises(ConfigError):
        ec_curve("RS256")


def test_the_families_partition_the_algorithms() -> None:
    families = [
        algorithms.EC_ALGORITHMS,
        algorithms.RSA_ALGORITHMS,
        algorithms.PSS_ALGORITHMS,
        algorithms.EDDSA_ALGORITHMS,
        algorithms.HMAC_ALGORITHMS,
    ]
    assert sum(len(family) for family in families) == len(frozenset().union(*families)) == 13
    assert frozenset().union(*families[:4]) == algorithms.ASYMMETRIC_ALGORITHMS


# --- through the guard: keys from a JWKS over HTTP, tokens minted by PyJWT ------------------


@pytest.mark.parametrize(
    ("private", "algorithm", "jwk_extra"),
    [
        pytest.param(lambda: private_key("PS256"), "PS256", {"alg": "PS256"}, id="PS256"),
        pytest.param(lambda: private_key("PS512"), "PS512", {}, id="PS512-alg-from-the-issuer"),
        pytest.param(lambda: private_key("EdDSA"), "EdDSA", {}, id="EdDSA-Ed25519"),
        pytest.param(lambda: private_key("Ed448"), "EdDSA", {"alg": "EdDSA"}, id="EdDSA-Ed448"),
    ],
)
def test_the_guard_accepts_pss_and_eddsa_tokens_minted_elsewhere(
    jwks_server: JWKSServer, private: Any, algorithm: str, jwk_extra: dict[str, Any]
) -> None:
    key = private()
    jwk = json.loads(jwt.get_algorithm_by_name(algorithm).to_jwk(key.public_key()))
    jwks_server.document = {"keys": [{**jwk, "kid": "k1", "use": "sig", **jwk_extra}]}
    guard = build_guard(issuers=[Issuer(ISSUER, jwks_uri=jwks_server.url, algorithms=[algorithm])])
    claims = user_claims()
    token = jwt.encode(claims, key, algorithm=algorithm, headers={"kid": "k1"})
    client = Client(guard)
    answer = client.get("/api/catalog/x", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    assert answer.json["remote_user"] == "user:default/alice"  # type: ignore[index]
    # The key is pinned: the same token relabelled for another algorithm is refused.
    other = "RS256" if algorithm == "EdDSA" else "EdDSA"
    head = b64url_encode(json.dumps({"alg": other, "kid": "k1"}).encode())
    relabelled = head + token[token.index(".") :]
    refused = client.get("/api/catalog/x", headers={"Authorization": f"Bearer {relabelled}"})
    assert refused.status_code == 401


def test_an_issuer_allowing_several_rsa_algorithms_needs_alg_on_its_keys(
    jwks_server: JWKSServer,
) -> None:
    key = private_key("PS256")
    jwk = json.loads(jwt.get_algorithm_by_name("PS256").to_jwk(key.public_key()))
    with pytest.raises(ConfigError, match="exactly one RSA algorithm"):
        Issuer(ISSUER, keys=[jwk], algorithms=["RS256", "PS256"]).key_source()
    issuer = Issuer(ISSUER, keys=[{**jwk, "alg": "PS256"}], algorithms=["RS256", "PS256"])
    source = issuer.key_source()
    assert isinstance(source, KeySet)
    assert [key.algorithm for key in source] == ["PS256"]
