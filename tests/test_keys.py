"""Keys pinned to one algorithm: ``wsgi_jwt_guard.keys`` (DESIGN §2 step 4, §4)."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa

from tests.helpers import SigningKey
from wsgi_jwt_guard.errors import ConfigError, InvalidToken, UnknownKey
from wsgi_jwt_guard.jws import parse
from wsgi_jwt_guard.keys import KeySet, PinnedKey, pin_jwk, pin_pem

ALL = ["ES256", "ES384", "ES512", "RS256", "RS384", "RS512"]
ES = ["ES256", "ES384", "ES512"]


@pytest.fixture(scope="module")
def rsa_1024() -> SigningKey:
    # Deliberately too small: the guard must refuse it.
    private = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    return SigningKey(private, "RS256", "small")


@pytest.fixture(scope="module")
def es384_key() -> SigningKey:
    return SigningKey.ec("ES384", kid="ec-384")


def signed(key: SigningKey, data: bytes = b"header.payload") -> tuple[bytes, bytes]:
    return data, key.sign(data)


def pinned_verifies(pinned: PinnedKey, key: SigningKey) -> bool:
    return pinned.verify(*signed(key))


# --- pin_jwk: EC -----------------------------------------------------------


@pytest.mark.parametrize(
    ("alg", "size"),
    [
        pytest.param("ES256", 64, id="P-256"),
        pytest.param("ES384", 96, id="P-384"),
        pytest.param("ES512", 132, id="P-521"),
    ],
)
@pytest.mark.parametrize("declared", [True, False], ids=["with-alg", "curve-decides"])
def test_ec_keys_are_pinned_by_curve(alg: str, size: int, declared: bool) -> None:
    key = SigningKey.ec(alg, kid=f"k-{alg}")
    jwk = key.public_jwk()
    if not declared:
        del jwk["alg"]
    pinned = pin_jwk(jwk, ALL)
    assert pinned.algorithm == alg
    assert pinned.signature_size == size
    assert pinned.kid == f"k-{alg}"
    assert pinned_verifies(pinned, key)


@pytest.mark.parametrize(
    ("alg", "declared"),
    [
        pytest.param("ES256", "ES384", id="P-256-as-ES384"),
        pytest.param("ES256", "ES512", id="P-256-as-ES512"),
        pytest.param("ES384", "ES256", id="P-384-as-ES256"),
        pytest.param("ES512", "ES256", id="P-521-as-ES256"),
        pytest.param("ES256", "RS256", id="P-256-as-RS256"),
        pytest.param("ES256", "HS256", id="P-256-as-HS256"),
    ],
)
def test_ec_declared_alg_must_fit_the_curve(alg: str, declared: str) -> None:
    jwk = SigningKey.ec(alg).public_jwk(alg=declared)
    with pytest.raises(ConfigError, match="does not fit curve"):
        pin_jwk(jwk, [*ALL, "HS256"])


@pytest.mark.parametrize(
    "crv",
    [pytest.param("secp256k1", id="secp256k1"), pytest.param(None, id="missing")],
)
def test_ec_unsupported_curve_is_refused(ec_key: SigningKey, crv: str | None) -> None:
    jwk = ec_key.public_jwk(crv=crv)
    with pytest.raises(ConfigError, match="curve"):
        pin_jwk(jwk, ALL)


# --- pin_jwk: refused keys -------------------------------------------------


def _without(jwk: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in jwk.items() if k != name}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param({"kty": "oct", "k": "c2VjcmV0"}, "key type|private", id="kty-oct"),
        pytest.param({"kty": "OKP", "crv": "Ed25519"}, "does not fit curve Ed25519", id="kty-okp"),
        pytest.param({"kty": "ec"}, "key type", id="kty-lowercase"),
        pytest.param({"kty": None}, "key type", id="kty-null"),
        pytest.param({"d": "AAAA"}, "private", id="private-d"),
        pytest.param({"use": "enc"}, "use", id="use-enc"),
        pytest.param({"use": "SIG"}, "use", id="use-uppercase"),
        pytest.param({"key_ops": ["encrypt"]}, "key_ops", id="key-ops-without-verify"),
        pytest.param({"key_ops": ["sign"]}, "key_ops", id="key-ops-sign-only"),
        pytest.param({"key_ops": []}, "key_ops", id="key-ops-empty"),
        pytest.param({"key_ops": "verify"}, "key_ops", id="key-ops-string"),
        pytest.param({"kid": 1}, "kid", id="kid-number"),
        pytest.param({"kid": ["ec-1"]}, "kid", id="kid-list"),
        pytest.param({"x": "not base64!"}, "not base64url", id="bad-coordinate"),
        pytest.param({"x": "AAAA"}, "cannot be loaded", id="point-off-the-curve"),
    ],
)
def test_bad_ec_jwk_is_refused(ec_key: SigningKey, change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        pin_jwk({**ec_key.public_jwk(), **change}, ALL)


def test_missing_kty_is_refused(ec_key: SigningKey) -> None:
    with pytest.raises(ConfigError, match="key type"):
        pin_jwk(_without(ec_key.public_jwk(), "kty"), ALL)


@pytest.mark.parametrize(
    "jwk",
    [
        pytest.param([], id="list"),
        pytest.param("eyJrdHkiOiJFQyJ9", id="string"),
        pytest.param(None, id="null"),
    ],
)
def test_jwk_must_be_an_object(jwk: Any) -> None:
    with pytest.raises(ConfigError, match="JSON object"):
        pin_jwk(jwk, ALL)


@pytest.mark.parametrize("part", ["d", "p", "q", "dp", "dq", "qi"])
def test_rsa_private_parts_are_refused(rsa_key: SigningKey, part: str) -> None:
    with pytest.raises(ConfigError, match="private"):
        pin_jwk(rsa_key.public_jwk(**{part: "AQAB"}), ALL)


def test_key_ops_with_verify_and_use_sig_are_accepted(ec_key: SigningKey) -> None:
    pinned = pin_jwk(ec_key.public_jwk(key_ops=["verify"], use="sig"), ALL)
    assert pinned.algorithm == "ES256"
    no_use = _without(ec_key.public_jwk(), "use")
    assert pin_jwk(no_use, ALL).algorithm == "ES256"


# --- pin_jwk: RSA ----------------------------------------------------------


def test_rsa_key_with_alg(rsa_key: SigningKey) -> None:
    pinned = pin_jwk(rsa_key.public_jwk(), ALL)
    assert pinned.algorithm == "RS256"
    assert pinned.signature_size == 256
    assert pinned.kid == "rsa-1"
    assert pinned_verifies(pinned, rsa_key)


def test_rsa_smaller_than_2048_bits_is_refused(rsa_1024: SigningKey) -> None:
    assert rsa_1024.private.key_size == 1024
    with pytest.raises(ConfigError, match="2048"):
        pin_jwk(rsa_1024.public_jwk(), ALL)


def test_rsa_smaller_than_2048_bits_is_refused_as_pem(rsa_1024: SigningKey) -> None:
    with pytest.raises(ConfigError, match="2048"):
        pin_pem(rsa_1024.public_pem(), ["RS256"])


@pytest.mark.parametrize(
    ("allowed", "expected"),
    [
        pytest.param(["RS256", "ES256"], "RS256", id="one-rsa-alg-RS256"),
        pytest.param(["RS512"], "RS512", id="one-rsa-alg-RS512"),
        pytest.param(["ES256", "RS256", "RS384"], None, id="two-rsa-algs"),
        pytest.param(ALL, None, id="all-algs"),
        pytest.param(["ES256"], None, id="no-rsa-alg"),
    ],
)
def test_rsa_without_alg_needs_exactly_one_rsa_alg(
    rsa_key: SigningKey, allowed: list[str], expected: str | None
) -> None:
    jwk = _without(rsa_key.public_jwk(), "alg")
    if expected is None:
        with pytest.raises(ConfigError, match="exactly one RSA algorithm"):
            pin_jwk(jwk, allowed)
    else:
        assert pin_jwk(jwk, allowed).algorithm == expected


@pytest.mark.parametrize(
    ("alg", "declared"),
    [
        pytest.param("RS256", "ES256", id="RSA-as-ES256"),
        pytest.param("RS256", "HS256", id="RSA-as-HS256"),
        pytest.param("RS256", "none", id="RSA-as-none"),
        pytest.param("RS256", 256, id="alg-not-a-string"),
    ],
)
def test_rsa_declared_alg_must_be_an_rsa_signature_alg(
    rsa_key: SigningKey, alg: str, declared: Any
) -> None:
    with pytest.raises(ConfigError, match="not an RSA signature algorithm"):
        pin_jwk(rsa_key.public_jwk(alg=declared), [*ALL, "HS256", "none"])


@pytest.mark.parametrize(
    ("make", "allowed"),
    [
        pytest.param(lambda: SigningKey.ec("ES384").public_jwk(), ["ES256"], id="P-384-ES256-only"),
        pytest.param(lambda: SigningKey.ec("ES256").public_jwk(), ["RS256"], id="EC-RSA-only"),
        pytest.param(
            lambda: SigningKey.ec("ES256").public_jwk(alg=None), ["ES384"], id="EC-no-alg"
        ),
        pytest.param(
            lambda: SigningKey.rsa("RS512").public_jwk(), ["RS256", "ES256"], id="RS512-RS256-only"
        ),
    ],
)
def test_alg_must_be_allowed(make: Any, allowed: list[str]) -> None:
    jwk = {k: v for k, v in make().items() if v is not None}
    with pytest.raises(ConfigError, match="not in the issuer's algorithms"):
        pin_jwk(jwk, allowed)


# --- pin_pem ---------------------------------------------------------------


def test_pem_ec_public_key(ec_key: SigningKey) -> None:
    pinned = pin_pem(ec_key.public_pem(), ["ES256"], kid="from-pem")
    assert pinned.algorithm == "ES256"
    assert pinned.kid == "from-pem"
    assert pinned.signature_size == 64
    assert pinned_verifies(pinned, ec_key)


def test_pem_ec_public_key_as_bytes(es384_key: SigningKey) -> None:
    pinned = pin_pem(es384_key.public_pem().encode(), ES)
    assert pinned.algorithm == "ES384"
    assert pinned.kid is None
    assert pinned_verifies(pinned, es384_key)


def test_pem_rsa_public_key(rsa_key: SigningKey) -> None:
    pinned = pin_pem(rsa_key.public_pem(), ["ES256", "RS256"])
    assert pinned.algorithm == "RS256"
    assert pinned.signature_size == 256
    assert pinned_verifies(pinned, rsa_key)


def test_pem_rsa_public_key_needs_exactly_one_rsa_alg(rsa_key: SigningKey) -> None:
    with pytest.raises(ConfigError, match="exactly one RSA algorithm"):
        pin_pem(rsa_key.public_pem(), ["RS256", "RS512"])


def test_pem_ec_curve_must_be_allowed(es384_key: SigningKey) -> None:
    with pytest.raises(ConfigError, match="not in the issuer's algorithms"):
        pin_pem(es384_key.public_pem(), ["ES256"])


@pytest.mark.parametrize("which", ["ec", "rsa"])
def test_pem_certificate(ec_key: SigningKey, rsa_key: SigningKey, which: str) -> None:
    key = ec_key if which == "ec" else rsa_key
    pem = key.certificate().public_bytes(serialization.Encoding.PEM).decode()
    assert "BEGIN CERTIFICATE" in pem
    pinned = pin_pem(pem, ["ES256", "RS256"])
    assert pinned.algorithm == key.alg
    assert pinned_verifies(pinned, key)


def _private_pem(private: Any, fmt: serialization.PrivateFormat) -> str:
    return private.private_bytes(
        serialization.Encoding.PEM, fmt, serialization.NoEncryption()
    ).decode()


@pytest.mark.parametrize(
    "fmt",
    [
        pytest.param(serialization.PrivateFormat.PKCS8, id="pkcs8"),
        pytest.param(serialization.PrivateFormat.TraditionalOpenSSL, id="traditional"),
    ],
)
@pytest.mark.parametrize("which", ["ec", "rsa"])
def test_pem_private_key_is_refused(
    ec_key: SigningKey, rsa_key: SigningKey, which: str, fmt: serialization.PrivateFormat
) -> None:
    key = ec_key if which == "ec" else rsa_key
    with pytest.raises(ConfigError, match="private key"):
        pin_pem(_private_pem(key.private, fmt), ["ES256", "RS256"])


@pytest.mark.parametrize(
    "pem",
    [
        pytest.param("", id="empty"),
        pytest.param("not a pem at all", id="text"),
        pytest.param("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", id="bad-body"),
        pytest.param(
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", id="bad-certificate"
        ),
        pytest.param(b"\x00\xff\x10", id="binary"),
    ],
)
def test_pem_garbage_is_refused(pem: str | bytes) -> None:
    with pytest.raises(ConfigError, match="cannot be loaded"):
        pin_pem(pem, ["ES256", "RS256"])


def test_pem_unsupported_key_type_is_refused() -> None:
    pem = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ConfigError, match="not in the issuer's algorithms"):
        pin_pem(pem, ["ES256", "RS256"])  # an Ed25519 key is EdDSA's alone
    assert pin_pem(pem, ["ES256", "EdDSA"]).algorithm == "EdDSA"
    dsa_pem = (
        dsa.generate_private_key(2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ConfigError, match="only RSA, EC and Ed25519/Ed448"):
        pin_pem(dsa_pem, ["ES256", "RS256"])


# --- PinnedKey.verify ------------------------------------------------------


def _der_signature(key: SigningKey, data: bytes) -> bytes:
    return key.private.sign(data, ec.ECDSA(hashes.SHA256()))  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda sig, key, data: sig[:-1], id="truncated-by-one"),
        pytest.param(lambda sig, key, data: sig[:32], id="r-only"),
        pytest.param(lambda sig, key, data: b"", id="empty"),
        pytest.param(lambda sig, key, data: sig + b"\x00", id="over-long"),
        pytest.param(lambda sig, key, data: b"\x00" + sig, id="leading-zero"),
        pytest.param(lambda sig, key, data: sig * 2, id="doubled"),
        pytest.param(lambda sig, key, data: _der_signature(key, data), id="der-encoded"),
        pytest.param(lambda sig, key, data: bytes(64), id="zeros"),
        pytest.param(lambda sig, key, data: sig[:-1] + bytes([sig[-1] ^ 1]), id="bit-flip"),
    ],
)
def test_es256_bad_signatures_do_not_verify(ec_key: SigningKey, mangle: Any) -> None:
    pinned = pin_jwk(ec_key.public_jwk(), ALL)
    data, signature = signed(ec_key)
    assert pinned.verify(data, signature) is True
    assert pinned.verify(data, mangle(signature, ec_key, data)) is False


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda sig: sig[:-1], id="truncated"),
        pytest.param(lambda sig: sig[1:], id="first-byte-dropped"),
        pytest.param(lambda sig: sig + b"\x00", id="over-long"),
        pytest.param(lambda sig: b"\x00" + sig, id="leading-zero"),
        pytest.param(lambda sig: bytes(256), id="zeros"),
        pytest.param(lambda sig: sig[:-1] + bytes([sig[-1] ^ 1]), id="bit-flip"),
    ],
)
def test_rs256_bad_signatures_do_not_verify(rsa_key: SigningKey, mangle: Any) -> None:
    pinned = pin_jwk(rsa_key.public_jwk(), ALL)
    data, signature = signed(rsa_key)
    assert pinned.verify(data, signature) is True
    assert pinned.verify(data, mangle(signature)) is False


def test_signature_of_other_data_does_not_verify(ec_key: SigningKey) -> None:
    pinned = pin_jwk(ec_key.public_jwk(), ALL)
    _, signature = signed(ec_key, b"header.payload")
    assert pinned.verify(b"header.payload", signature) is True
    assert pinned.verify(b"header.payloaD", signature) is False


def test_other_key_does_not_verify(ec_key: SigningKey, other_ec_key: SigningKey) -> None:
    pinned = pin_jwk(ec_key.public_jwk(), ALL)
    assert pinned.verify(*signed(other_ec_key)) is False


@pytest.mark.parametrize(
    ("size", "length"),
    [
        pytest.param(64, 63, id="ES256-short"),
        pytest.param(64, 65, id="ES256-long"),
        pytest.param(64, 70, id="ES256-der-sized"),
        pytest.param(256, 255, id="RS256-leading-zero-stripped"),
        pytest.param(256, 257, id="RS256-leading-zero-added"),
        pytest.param(256, 0, id="empty"),
    ],
)
def test_wrong_length_never_reaches_the_library(size: int, length: int) -> None:
    # Even a library that would accept anything is never asked about a
    # signature of a length this key cannot produce.
    class AcceptsAnything:
        calls = 0

        def verify(self, data: bytes, signature: bytes) -> bool:
            self.calls += 1
            return True

    library = AcceptsAnything()
    pinned = PinnedKey("k", "ES256" if size == 64 else "RS256", library, size)
    assert pinned.verify(b"data", bytes(length)) is False
    assert library.calls == 0
    assert pinned.verify(b"data", bytes(size)) is True
    assert library.calls == 1


def test_verify_never_raises(ec_key: SigningKey) -> None:
    class Exploding:
        def verify(self, data: bytes, signature: bytes) -> bool:
            raise RuntimeError("library surprise")

    pinned = PinnedKey("k", "ES256", Exploding(), 64)
    assert pinned.verify(b"data", bytes(64)) is False


def test_a_real_token_verifies(ec_key: SigningKey) -> None:
    jws = parse(ec_key.token())
    pinned = pin_jwk(ec_key.public_jwk(), ["ES256"])
    assert pinned.verify(jws.signing_input, jws.signature) is True


# --- KeySet.find -----------------------------------------------------------


def pinned(key: SigningKey, kid: str | None = "<same>") -> PinnedKey:
    jwk = key.public_jwk()
    if kid != "<same>":
        jwk.pop("kid", None)
        if kid is not None:
            jwk["kid"] = kid
    return pin_jwk(jwk, ALL)


def test_find_by_kid(ec_key: SigningKey, rsa_key: SigningKey) -> None:
    keys = KeySet([pinned(ec_key), pinned(rsa_key)])
    assert keys.find("ec-1", "ES256").kid == "ec-1"
    assert keys.find("rsa-1", "RS256").kid == "rsa-1"
    assert len(keys) == 2
    assert keys


@pytest.mark.parametrize(
    ("kid", "alg"),
    [
        pytest.param("ec-1", "RS256", id="ec-key-as-RS256"),
        pytest.param("ec-1", "ES384", id="ec-key-as-ES384"),
        pytest.param("rsa-1", "ES256", id="rsa-key-as-ES256"),
        pytest.param("rsa-1", "RS384", id="rsa-key-as-RS384"),
        pytest.param("rsa-1", "HS256", id="rsa-key-as-HS256"),
        pytest.param("ec-1", "none", id="ec-key-as-none"),
    ],
)
def test_find_refuses_alg_the_key_is_not_pinned_to(
    ec_key: SigningKey, rsa_key: SigningKey, kid: str, alg: str
) -> None:
    keys = KeySet([pinned(ec_key), pinned(rsa_key)])
    with pytest.raises(InvalidToken, match="pinned") as excinfo:
        keys.find(kid, alg)
    assert not isinstance(excinfo.value, UnknownKey)


@pytest.mark.parametrize(
    "kid",
    [
        pytest.param("nope", id="unknown"),
        pytest.param(None, id="no-kid"),
        pytest.param("EC-1", id="case-changed"),
        pytest.param("__class__", id="attribute-name"),
        pytest.param("../ec-1", id="path"),
    ],
)
def test_find_unknown_kid(ec_key: SigningKey, kid: str | None) -> None:
    keys = KeySet([pinned(ec_key)])
    with pytest.raises(UnknownKey):
        keys.find(kid, "ES256")


@pytest.mark.parametrize("token_kid", [None, "whatever"], ids=["no-kid", "non-matching-kid"])
def test_kidless_key_serves_tokens_without_a_matching_kid(
    ec_key: SigningKey, rsa_key: SigningKey, token_kid: str | None
) -> None:
    unnamed = pinned(ec_key, kid=None)
    keys = KeySet([unnamed, pinned(rsa_key)])
    assert keys.find(token_kid, "ES256") is unnamed
    # A kid-less ES256 key is no key for an RS256 token without a named match.
    with pytest.raises(UnknownKey):
        keys.find(token_kid, "RS256")


def test_named_key_wins_over_kidless_key(ec_key: SigningKey, other_ec_key: SigningKey) -> None:
    named = pinned(ec_key)
    unnamed = pinned(other_ec_key, kid=None)
    keys = KeySet([named, unnamed])
    assert keys.find("ec-1", "ES256") is named
    assert keys.find("other", "ES256") is unnamed


def test_two_kidless_keys_for_one_alg_are_refused(ec_key: SigningKey, other_ec_key: SigningKey) -> None:
    """Which of them would a kid-less token mean? Refused when built, not guessed per request."""
    with pytest.raises(ConfigError, match="no kid, for ES256"):
        KeySet([pinned(ec_key, kid=None), pinned(other_ec_key, kid=None)])


def test_two_kidless_keys_for_one_alg_in_a_jwks(ec_key: SigningKey, other_ec_key: SigningKey) -> None:
    document = {"keys": [ec_key.public_jwk(kid=None), other_ec_key.public_jwk(kid=None)]}
    for jwk in document["keys"]:
        del jwk["kid"]
    with pytest.raises(ConfigError, match="no kid, for ES256"):
        KeySet.from_jwks(document, ["ES256"], strict=True)
    skipped: list[str] = []
    keys = KeySet.from_jwks(document, ["ES256"], strict=False, on_skip=skipped.append)
    assert len(keys) == 0
    assert skipped == ["several keys have no kid, for ES256; none of them is used"]


def test_kidless_keys_of_different_algs_each_serve_their_alg(
    ec_key: SigningKey, rsa_key: SigningKey
) -> None:
    unnamed_ec = pinned(ec_key, kid=None)
    unnamed_rsa = pinned(rsa_key, kid=None)
    keys = KeySet([unnamed_ec, unnamed_rsa])
    assert keys.find(None, "ES256") is unnamed_ec
    assert keys.find(None, "RS256") is unnamed_rsa


def test_keyset_refuses_duplicate_kid(ec_key: SigningKey, other_ec_key: SigningKey) -> None:
    with pytest.raises(ConfigError, match="ec-1"):
        KeySet([pinned(ec_key), pinned(other_ec_key)])


def test_empty_keyset() -> None:
    keys = KeySet()
    assert not keys
    assert len(keys) == 0
    with pytest.raises(UnknownKey):
        keys.find(None, "ES256")


# --- KeySet.from_jwks ------------------------------------------------------


def test_from_jwks(ec_key: SigningKey, rsa_key: SigningKey) -> None:
    document = {"keys": [ec_key.public_jwk(), rsa_key.public_jwk()]}
    keys = KeySet.from_jwks(document, ALL, strict=True)
    assert sorted(key.kid or "" for key in keys) == ["ec-1", "rsa-1"]
    assert keys.find("rsa-1", "RS256").algorithm == "RS256"


def test_from_jwks_single_jwk(ec_key: SigningKey) -> None:
    keys = KeySet.from_jwks(ec_key.public_jwk(), ALL, strict=True)
    assert len(keys) == 1
    assert keys.find("ec-1", "ES256").verify(*signed(ec_key))


@pytest.mark.parametrize(
    ("document", "message"),
    [
        pytest.param([], "expected a JWKS", id="list"),
        pytest.param("keys", "expected a JWKS", id="string"),
        pytest.param({}, "expected a JWKS", id="empty-object"),
        pytest.param({"key": []}, "expected a JWKS", id="misspelt"),
        pytest.param({"keys": {"kty": "EC"}}, "not a list", id="keys-not-a-list"),
        pytest.param({"keys": None}, "not a list", id="keys-null"),
    ],
)
@pytest.mark.parametrize("strict", [True, False], ids=["strict", "lenient"])
def test_from_jwks_refuses_non_jwks(document: Any, message: str, strict: bool) -> None:
    with pytest.raises(ConfigError, match=message):
        KeySet.from_jwks(document, ALL, strict=strict)


BAD_KEYS = [
    pytest.param({"kty": "oct", "k": "c2VjcmV0"}, "keys[1].kty", id="oct"),
    pytest.param({"kty": "OKP", "crv": "X25519", "x": "AA"}, "keys[1].crv", id="okp-x25519"),
    pytest.param({"kty": "OKP", "crv": "Ed25519", "x": "AA"}, "keys[1].alg", id="okp-not-allowed"),
    pytest.param(
        {"kty": "OKP", "crv": "Ed25519", "x": "AA", "alg": "EdDSA"}, "keys[1].alg", id="okp-alg-not-allowed"
    ),
    pytest.param("not a key", "keys[1]", id="string"),
    pytest.param(
        {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "use": "enc"}, "keys[1].use", id="use-enc"
    ),
    pytest.param({"kty": "EC", "crv": "P-256", "alg": "ES384"}, "keys[1].alg", id="alg-off-curve"),
    pytest.param({"kty": "EC", "crv": "secp256k1"}, "keys[1].crv", id="curve"),
]


@pytest.mark.parametrize(("bad", "key"), BAD_KEYS)
def test_from_jwks_strict_names_the_member_of_a_bad_key(ec_key: SigningKey, bad: Any, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        KeySet.from_jwks({"keys": [ec_key.public_jwk(), bad]}, ALL, strict=True)
    assert caught.value.key == key


@pytest.mark.parametrize(("bad", "key"), [p for p in BAD_KEYS if p.id != "use-enc"])
def test_from_jwks_lenient_skips_a_bad_key(
    ec_key: SigningKey, rsa_key: SigningKey, bad: Any, key: str
) -> None:
    skipped: list[str] = []
    document = {"keys": [ec_key.public_jwk(), bad, rsa_key.public_jwk()]}
    keys = KeySet.from_jwks(document, ALL, strict=False, on_skip=skipped.append)
    assert sorted(key.kid or "" for key in keys) == ["ec-1", "rsa-1"]
    assert len(skipped) == 1
    assert skipped[0].startswith(f"{key}: ")


def test_from_jwks_lenient_skips_small_rsa_and_private_keys(
    ec_key: SigningKey, rsa_1024: SigningKey, rsa_key: SigningKey
) -> None:
    skipped: list[str] = []
    document = {"keys": [rsa_1024.public_jwk(), rsa_key.public_jwk(d="AQAB"), ec_key.public_jwk()]}
    keys = KeySet.from_jwks(document, ALL, strict=False, on_skip=skipped.append)
    assert [key.kid for key in keys] == ["ec-1"]
    assert len(skipped) == 2


def test_from_jwks_lenient_passes_over_encryption_keys_quietly(
    ec_key: SigningKey, rsa_key: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    # Keycloak publishes each realm's RSA-OAEP key beside its signing key: no warning per fetch.
    encryption = {**rsa_key.public_jwk(), "kid": "enc-1", "use": "enc", "alg": "RSA-OAEP"}
    skipped: list[str] = []
    document = {"keys": [ec_key.public_jwk(), encryption]}
    with caplog.at_level("WARNING", logger="wsgi_jwt_guard"):
        keys = KeySet.from_jwks(document, ALL, strict=False, on_skip=skipped.append)
        KeySet.from_jwks(document, ALL, strict=False)
    assert [key.kid for key in keys] == ["ec-1"]
    assert skipped == []
    assert caplog.text == ""
    with pytest.raises(UnknownKey):
        keys.find("enc-1", "RS256")


def test_from_jwks_lenient_logs_skipped_keys_by_default(
    ec_key: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    document = {"keys": [ec_key.public_jwk(), {"kty": "oct"}]}
    with caplog.at_level("WARNING", logger="wsgi_jwt_guard"):
        keys = KeySet.from_jwks(document, ALL, strict=False)
    assert len(keys) == 1
    assert "skipping a JWKS key" in caplog.text


def test_from_jwks_strict_raises_on_duplicate_kid(
    ec_key: SigningKey, other_ec_key: SigningKey
) -> None:
    document = {"keys": [ec_key.public_jwk(), other_ec_key.public_jwk()]}
    with pytest.raises(ConfigError, match="ec-1"):
        KeySet.from_jwks(document, ALL, strict=True)


def test_from_jwks_lenient_drops_every_key_of_a_duplicated_kid(
    ec_key: SigningKey, other_ec_key: SigningKey, rsa_key: SigningKey
) -> None:
    skipped: list[str] = []
    document = {"keys": [ec_key.public_jwk(), rsa_key.public_jwk(), other_ec_key.public_jwk()]}
    keys = KeySet.from_jwks(document, ALL, strict=False, on_skip=skipped.append)
    # Neither of the two "ec-1" keys may be used: which one is genuine is unknowable.
    assert [key.kid for key in keys] == ["rsa-1"]
    with pytest.raises(UnknownKey):
        keys.find("ec-1", "ES256")
    assert any("ec-1" in reason for reason in skipped)


def test_from_jwks_lenient_with_only_bad_keys_is_empty() -> None:
    keys = KeySet.from_jwks({"keys": [{"kty": "oct"}]}, ALL, strict=False, on_skip=lambda _: None)
    assert not keys


ENTRA = "https://login.microsoftonline.com"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
MSA = "9188040d-6c67-4c5b-b112-36a304b66dad"


@pytest.mark.parametrize(
    ("key_issuer", "iss", "tid", "may"),
    [
        pytest.param(None, f"{ENTRA}/{TENANT}/v2.0", TENANT, True, id="key-names-no-issuer"),
        pytest.param(f"{ENTRA}/{{tenantid}}/v2.0", f"{ENTRA}/{TENANT}/v2.0", TENANT, True, id="template-any-tenant"),
        pytest.param(f"{ENTRA}/{{tenantid}}/v2.0", f"https://sts.windows.net/{TENANT}/", TENANT, True, id="template-v1-token"),
        pytest.param(f"{ENTRA}/{MSA}/v2.0", f"{ENTRA}/{MSA}/v2.0", MSA, True, id="scoped-own-tenant"),
        pytest.param(f"{ENTRA}/{MSA}/v2.0", f"https://sts.windows.net/{MSA}/", MSA, True, id="scoped-own-tenant-v1"),
        pytest.param(f"{ENTRA}/{MSA}/v2.0", f"{ENTRA}/{TENANT}/v2.0", TENANT, False, id="scoped-other-tenant"),
        pytest.param(f"{ENTRA}/{{tenantid}}/v2.0", f"{ENTRA}/{TENANT}/v2.0", MSA, False, id="tid-not-in-iss"),
        pytest.param(f"{ENTRA}/{MSA}/v2.0", "https://auth.example.test", None, True, id="no-tid-not-restricted"),
    ],
)
def test_a_key_published_for_a_tenant_signs_for_that_tenant_only(
    rsa_key: SigningKey, key_issuer: str | None, iss: str, tid: str | None, may: bool
) -> None:
    jwk = rsa_key.public_jwk() if key_issuer is None else rsa_key.public_jwk(issuer=key_issuer)
    pinned = pin_jwk(jwk, ["RS256"])
    assert pinned.issuer == key_issuer
    claims = {"iss": iss} if tid is None else {"iss": iss, "tid": tid}
    assert pinned.may_sign(iss, claims) is may


def test_a_key_issuer_that_is_not_a_string_is_refused(rsa_key: SigningKey) -> None:
    with pytest.raises(ConfigError) as caught:
        pin_jwk(rsa_key.public_jwk(issuer=["x"]), ["RS256"])
    assert caught.value.key == "issuer"
