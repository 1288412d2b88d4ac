"""JWS signatures, signed and verified in one place, one class per algorithm family.

RFC 7518 §3 and RFC 8037 define these families, and this module is the only
code in the package that touches a signature:

=========================  ===============================  ==============================
family                     algorithms                       signature
=========================  ===============================  ==============================
ECDSA                      ``ES256``, ``ES384``, ``ES512``  ``r || s``, each half the
                                                            curve's size (not DER)
RSASSA-PKCS1-v1_5          ``RS256``, ``RS384``, ``RS512``  as long as the modulus
RSASSA-PSS                 ``PS256``, ``PS384``, ``PS512``  as long as the modulus (MGF1
                                                            and salt of the hash's size)
EdDSA (RFC 8037)           ``EdDSA``                        64 bytes (Ed25519), 114
                                                            (Ed448)
HMAC with SHA-2            ``HS256``, ``HS384``, ``HS512``  the hash's length
=========================  ===============================  ==============================

Each object is built once, for one key and one algorithm, with everything a
check needs prepared (the hash, the padding, the signature size): building
those per call is measurable next to the signature check itself, and a
first-seen token does little else::

    from wsgi_jwt_guard import algorithms

    check = algorithms.verifier(public_key, "ES256")   # a cryptography public key
    check.verify(signing_input, signature)              # True or False, never raises

    sign = algorithms.signer(private_key, "ES256")     # a cryptography private key
    signature = sign.sign(signing_input)                # raw r || s, as JWS wants

    secret = algorithms.HMACKey(key_bytes, "HS256")    # both halves: HMAC is symmetric
    secret.verify(signing_input, secret.sign(signing_input))

A key is pinned to its algorithm here too: an EC key verifies only the
algorithm of its curve, an RSA key only ``RS*`` or ``PS*`` (one of them per
key), an Edwards-curve key only ``EdDSA``. Which keys a deployment
accepts (sizes, ``use``, ``kid``...) is :mod:`wsgi_jwt_guard.keys`'s business.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from .errors import ConfigError

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "EC_ALGORITHMS",
    "EDDSA_ALGORITHMS",
    "HMAC_ALGORITHMS",
    "PSS_ALGORITHMS",
    "RSA_ALGORITHMS",
    "RSA_KEY_ALGORITHMS",
    "ECDSASigner",
    "ECDSAVerifier",
    "EdDSASigner",
    "EdDSAVerifier",
    "HMACKey",
    "RSASigner",
    "RSAVerifier",
    "Signer",
    "Verifier",
    "ec_algorithm",
    "ec_curve",
    "edwards_curve",
    "signer",
    "verifier",
]

# The cryptography key a signer or verifier holds: any, then per family.
_Key = TypeVar("_Key")
_Made = TypeVar("_Made")
_ECKey = TypeVar("_ECKey", bound="ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey")
_RSAKey = TypeVar("_RSAKey", bound="rsa.RSAPublicKey | rsa.RSAPrivateKey")
_EdKey = TypeVar(
    "_EdKey",
    bound="ed25519.Ed25519PublicKey | ed448.Ed448PublicKey"
    " | ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey",
)

EC_ALGORITHMS = frozenset({"ES256", "ES384", "ES512"})
#: RSASSA-PKCS1-v1_5.
RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512"})
#: RSASSA-PSS (RFC 7518 §3.5): FAPI and open-banking issuers sign with these.
PSS_ALGORITHMS = frozenset({"PS256", "PS384", "PS512"})
#: Everything an RSA key may be pinned to (one of them per key).
RSA_KEY_ALGORITHMS = RSA_ALGORITHMS | PSS_ALGORITHMS
#: Ed25519 or Ed448, by the key's curve (RFC 8037).
EDDSA_ALGORITHMS = frozenset({"EdDSA"})
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
#: What an issuer's public keys may sign with (HMAC is for shared secrets only).
ASYMMETRIC_ALGORITHMS = EC_ALGORITHMS | RSA_KEY_ALGORITHMS | EDDSA_ALGORITHMS

# The SHA-2 hash of each size, built once: these objects are immutable, and
# building one on every verification is measurable next to the signature check.
_SHA2: dict[str, hashes.HashAlgorithm] = {
    "256": hashes.SHA256(),
    "384": hashes.SHA384(),
    "512": hashes.SHA512(),
}
_PKCS1 = padding.PKCS1v15()
# RSASSA-PSS as JWS fixes it: MGF1 with the same hash, a salt as long as the hash.
_PSS = {
    size: padding.PSS(mgf=padding.MGF1(hash), salt_length=hash.digest_size)
    for size, hash in _SHA2.items()
}
# EdDSA: the signature size of each curve.
_EDWARDS = {"Ed25519": 64, "Ed448": 114}

# ECDSA: the algorithm of each curve, by the names JWK and cryptography give it,
# and the size of one signature half (RFC 7518 §3.4: P-521 halves are 66 bytes).
_CURVES: dict[str, tuple[str, ec.EllipticCurve, int]] = {
    "ES256": ("P-256", ec.SECP256R1(), 32),
    "ES384": ("P-384", ec.SECP384R1(), 48),
    "ES512": ("P-521", ec.SECP521R1(), 66),
}
_EC_BY_NAME = {
    name: algorithm
    for algorithm, (jwk_name, curve, _) in _CURVES.items()
    for name in (jwk_name, curve.name)
}


def _sha2(algorithm: str, family: frozenset[str]) -> hashes.HashAlgorithm:
    """The hash of ``algorithm``, once it is known to be one of ``family``."""
    if algorithm not in family:
        raise ConfigError("algorithm", f"{algorithm!r} is not one of {sorted(family)}")
    return _SHA2[algorithm[2:]]


def ec_algorithm(curve: str | ec.EllipticCurve) -> str | None:
    """The ``ES*`` algorithm of a curve: a JWK ``crv`` (``"P-256"``) or a
    ``cryptography`` curve; ``None`` for a curve JWS does not sign with."""
    name = curve if isinstance(curve, str) else curve.name
    return _EC_BY_NAME.get(name)


def ec_curve(algorithm: str) -> ec.EllipticCurve:
    """The curve an ``ES*`` algorithm signs on (to generate a key for it)."""
    _sha2(algorithm, EC_ALGORITHMS)
    return _CURVES[algorithm][1]


def _ec_half(key: ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey, alg: str) -> int:
    """The size of a signature half, once ``key`` is known to be on ``alg``'s curve."""
    if ec_algorithm(key.curve) != alg:
        raise ConfigError("algorithm", f"a {key.curve.name} key cannot be used for {alg}")
    return _CURVES[alg][2]


class Verifier(Protocol):
    """Checks signatures of one key with one algorithm."""

    #: The only length a valid signature can have, in bytes.
    signature_size: int

    def verify(self, data: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is a valid signature of ``data``; never raises on bad input."""


class Signer(Protocol):
    """Makes JWS signatures with one private key and one algorithm."""

    algorithm: str

    def sign(self, data: bytes) -> bytes:
        """The JWS signature of ``data`` (the bytes base64url-encoded as the third segment)."""


class _Family(Generic[_Key]):
    """What a signer and a verifier of one family share: the key, its algorithm
    and the signature size, checked and prepared once."""

    __slots__ = ("_key", "algorithm", "signature_size")

    def __init__(self, key: _Key, algorithm: str, signature_size: int) -> None:
        self._key = key
        self.algorithm = algorithm
        #: The only length a valid signature can have, in bytes.
        self.signature_size = signature_size


class _ECDSA(_Family[_ECKey]):
    __slots__ = ("_ecdsa", "_half")

    def __init__(self, key: _ECKey, algorithm: str) -> None:
        self._ecdsa = ec.ECDSA(_sha2(algorithm, EC_ALGORITHMS))
        self._half = _ec_half(key, algorithm)
        super().__init__(key, algorithm, 2 * self._half)


class _Verifies:
    """``verify`` for a family whose check raises ``InvalidSignature``."""

    __slots__ = ()

    def _check(self, data: bytes, signature: bytes) -> None:
        raise NotImplementedError

    def verify(self, data: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is a valid signature of ``data``; never raises on bad input."""
        try:
            self._check(data, signature)
        except InvalidSignature:
            return False
        return True


class ECDSAVerifier(_ECDSA[ec.EllipticCurvePublicKey], _Verifies):
    """ECDSA over a prepared ``cryptography`` public key, taking JWS's raw ``r || s``."""

    __slots__ = ()

    def _check(self, data: bytes, signature: bytes) -> None:
        half = self._half
        if len(signature) != 2 * half:
            raise InvalidSignature
        # OpenSSL takes DER; r and s are unsigned big-endian halves (RFC 7518 §3.4).
        der = encode_dss_signature(
            int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
        )
        self._key.verify(der, data, self._ecdsa)


class ECDSASigner(_ECDSA[ec.EllipticCurvePrivateKey]):
    """ECDSA with a ``cryptography`` private key, giving JWS's raw ``r || s``."""

    __slots__ = ()

    def sign(self, data: bytes) -> bytes:
        # cryptography returns DER; JWS wants the two integers at fixed width.
        r, s = decode_dss_signature(self._key.sign(data, self._ecdsa))
        return r.to_bytes(self._half, "big") + s.to_bytes(self._half, "big")


class _RSA(_Family[_RSAKey]):
    __slots__ = ("_hash", "_padding")

    def __init__(self, key: _RSAKey, algorithm: str) -> None:
        if algorithm not in RSA_KEY_ALGORITHMS:
            raise ConfigError("algorithm", f"an RSA key cannot be used for {algorithm}")
        self._hash = _SHA2[algorithm[2:]]
        self._padding = _PKCS1 if algorithm in RSA_ALGORITHMS else _PSS[algorithm[2:]]
        super().__init__(key, algorithm, (key.key_size + 7) // 8)


class RSAVerifier(_RSA[rsa.RSAPublicKey], _Verifies):
    """RSASSA-PKCS1-v1_5 over a prepared ``cryptography`` public key."""

    __slots__ = ()

    def _check(self, data: bytes, signature: bytes) -> None:
        self._key.verify(signature, data, self._padding, self._hash)


class RSASigner(_RSA[rsa.RSAPrivateKey]):
    """RSASSA-PKCS1-v1_5 with a ``cryptography`` private key."""

    __slots__ = ()

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data, self._padding, self._hash)


def edwards_curve(key: object) -> str | None:
    """``"Ed25519"`` or ``"Ed448"`` for an Edwards-curve key (public or private), else ``None``."""
    if isinstance(key, (ed25519.Ed25519PublicKey, ed25519.Ed25519PrivateKey)):
        return "Ed25519"
    if isinstance(key, (ed448.Ed448PublicKey, ed448.Ed448PrivateKey)):
        return "Ed448"
    return None


class _EdDSA(_Family[_EdKey]):
    __slots__ = ()

    def __init__(self, key: _EdKey, algorithm: str) -> None:
        curve = edwards_curve(key)
        if algorithm not in EDDSA_ALGORITHMS or curve is None:
            raise ConfigError("algorithm", f"an Edwards-curve key cannot be used for {algorithm}")
        super().__init__(key, algorithm, _EDWARDS[curve])


class EdDSAVerifier(_EdDSA["ed25519.Ed25519PublicKey | ed448.Ed448PublicKey"], _Verifies):
    """EdDSA (RFC 8037) over an Ed25519 or Ed448 public key."""

    __slots__ = ()

    def _check(self, data: bytes, signature: bytes) -> None:
        self._key.verify(signature, data)


class EdDSASigner(_EdDSA["ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey"]):
    """EdDSA (RFC 8037) with an Ed25519 or Ed448 private key."""

    __slots__ = ()

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)


class HMACKey:
    """HMAC with SHA-2 over a shared secret: signs, and verifies in constant time."""

    __slots__ = ("_digest", "_secret", "algorithm", "signature_size")

    def __init__(self, secret: bytes, algorithm: str = "HS256") -> None:
        if not isinstance(secret, bytes) or not secret:
            raise ConfigError("secret", "expected non-empty bytes")
        digest = _sha2(algorithm, HMAC_ALGORITHMS)
        self._secret = secret
        self._digest = digest.name  # "sha256": hmac.digest's one-shot C path
        self.algorithm = algorithm
        self.signature_size = digest.digest_size

    def sign(self, data: bytes) -> bytes:
        return hmac.digest(self._secret, data, self._digest)

    def verify(self, data: bytes, signature: bytes) -> bool:
        return hmac.compare_digest(hmac.digest(self._secret, data, self._digest), signature)

    def __repr__(self) -> str:
        return f"HMACKey(<secret>, {self.algorithm!r})"  # never the secret


# Which family serves which kind of ``cryptography`` key.
_VERIFIERS: tuple[tuple[tuple[type, ...], Callable[[Any, str], Verifier]], ...] = (
    ((ec.EllipticCurvePublicKey,), ECDSAVerifier),
    ((rsa.RSAPublicKey,), RSAVerifier),
    ((ed25519.Ed25519PublicKey, ed448.Ed448PublicKey), EdDSAVerifier),
)
_SIGNERS: tuple[tuple[tuple[type, ...], Callable[[Any, str], Signer]], ...] = (
    ((ec.EllipticCurvePrivateKey,), ECDSASigner),
    ((rsa.RSAPrivateKey,), RSASigner),
    ((ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey), EdDSASigner),
)


def verifier(public: object, algorithm: str) -> Verifier:
    """The verifier of ``algorithm`` for a ``cryptography`` public key.

    Raises :class:`~wsgi_jwt_guard.errors.ConfigError` when the key cannot
    sign with ``algorithm`` (another family, another curve).
    """
    return _of_family(public, algorithm, _VERIFIERS, "public")


def signer(private: object, algorithm: str) -> Signer:
    """The signer of ``algorithm`` for a ``cryptography`` private key (see :func:`verifier`)."""
    return _of_family(private, algorithm, _SIGNERS, "private")


def _of_family(
    key: object,
    algorithm: str,
    families: tuple[tuple[tuple[type, ...], Callable[[Any, str], _Made]], ...],
    kind: str,
) -> _Made:
    for types, family in families:
        if isinstance(key, types):
            return family(key, algorithm)
    raise ConfigError("key", f"only RSA, EC and Ed25519/Ed448 {kind} keys are supported")
