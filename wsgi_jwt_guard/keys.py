"""Verification keys, each pinned to exactly one algorithm (DESIGN §2 step 4, §4).

A :class:`PinnedKey` is a public key plus the one algorithm it may be used
with. Pinning is what makes algorithm-confusion attacks impossible: a token
whose ``alg`` differs from its key's is refused before any crypto runs, so an
RSA public key can never be used as an HMAC secret, nor a P-384 key for ES256.

A key's algorithm is its JWK ``alg`` when present (it must be allowed by the
issuer); otherwise an EC key's curve decides, and an RSA key takes the one RSA
algorithm the issuer allows (if it allows several, the key must say which).

Keys are validated before use: only ``RSA`` and ``EC`` public keys, ``use``
absent or ``sig``, no private parts, RSA of at least 2048 bits, no duplicated
``kid``. :meth:`KeySet.from_jwks` with ``strict=False`` (JWKS fetched from the
network) skips a bad key with a warning, so one bad key does not poison the
rest; with ``strict=True`` (keys in the configuration) it raises.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jose import jwk as jose_jwk

from .errors import InvalidToken, UnknownKey

__all__ = ["ALGORITHMS", "KeySet", "PinnedKey", "pin_jwk", "pin_pem"]

log = logging.getLogger("wsgi_jwt_guard")

#: The asymmetric algorithms an issuer may allow (python-jose's signature set).
ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "ES256", "ES384", "ES512"})
_RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512"})
_EC_ALGORITHMS = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
_EC_CURVE_NAMES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
# JWS ECDSA signatures are the raw r||s concatenation (RFC 7518 §3.4).
_EC_SIGNATURE_SIZE = {"ES256": 64, "ES384": 96, "ES512": 132}
_PRIVATE_PARTS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_MIN_RSA_BITS = 2048


# The hash of each algorithm, built once: these objects are immutable and
# building them on every verification is measurable next to the signature check.
_HASHES: dict[str, hashes.HashAlgorithm] = {
    "256": hashes.SHA256(),
    "384": hashes.SHA384(),
    "512": hashes.SHA512(),
}
_PKCS1 = padding.PKCS1v15()


class _ECDSAVerifier:
    """ECDSA over a prepared ``cryptography`` key, taking JWS's raw ``r || s`` signatures."""

    __slots__ = ("_algorithm", "_half", "_public")

    def __init__(self, public: ec.EllipticCurvePublicKey, algorithm: str) -> None:
        self._public = public
        self._algorithm = ec.ECDSA(_HASHES[algorithm[2:]])
        self._half = _EC_SIGNATURE_SIZE[algorithm] // 2

    def verify(self, data: bytes, signature: bytes) -> bool:
        half = self._half
        # OpenSSL takes DER; r and s are unsigned big-endian halves (RFC 7518 §3.4).
        der = encode_dss_signature(
            int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
        )
        try:
            self._public.verify(der, data, self._algorithm)
        except InvalidSignature:
            return False
        return True


class _RSAVerifier:
    """RSASSA-PKCS1-v1_5 over a prepared ``cryptography`` key."""

    __slots__ = ("_hash", "_public")

    def __init__(self, public: rsa.RSAPublicKey, algorithm: str) -> None:
        self._public = public
        self._hash = _HASHES[algorithm[2:]]

    def verify(self, data: bytes, signature: bytes) -> bool:
        try:
            self._public.verify(signature, data, _PKCS1, self._hash)
        except InvalidSignature:
            return False
        return True


def _verifier(public: object, algorithm: str) -> _ECDSAVerifier | _RSAVerifier:
    if isinstance(public, ec.EllipticCurvePublicKey):
        return _ECDSAVerifier(public, algorithm)
    if isinstance(public, rsa.RSAPublicKey):
        return _RSAVerifier(public, algorithm)
    raise ValueError("only RSA and EC public keys are supported")


@dataclass(frozen=True, slots=True)
class PinnedKey:
    """A public key usable with one algorithm only."""

    kid: str | None
    algorithm: str
    #: What checks signatures: ``key.verify(signing_input, signature) -> bool``.
    #: Keys built by :func:`pin_jwk`/:func:`pin_pem` hold a prepared
    #: ``cryptography`` public key, so a check is one call into OpenSSL.
    key: Any
    #: The only signature length this key can produce.
    signature_size: int

    def verify(self, signing_input: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is this key's signature of ``signing_input``."""
        if len(signature) != self.signature_size:
            return False  # truncated, DER-encoded or padded signatures
        try:
            return bool(self.key.verify(signing_input, signature))
        except Exception:  # a library surprise must fail closed, never pass or raise
            return False


def _algorithm_for(kty: str, curve: str | None, declared: object, allowed: Collection[str]) -> str:
    if kty == "EC":
        if curve not in _EC_ALGORITHMS:
            raise ValueError(f"unsupported curve {curve!r}")
        algorithm = _EC_ALGORITHMS[curve]
        if declared is not None and declared != algorithm:
            raise ValueError(f"'alg' {declared!r} does not fit curve {curve}")
    elif declared is not None:
        if declared not in _RSA_ALGORITHMS:
            raise ValueError(f"'alg' {declared!r} is not an RSA signature algorithm")
        algorithm = str(declared)
    else:
        candidates = _RSA_ALGORITHMS.intersection(allowed)
        if len(candidates) != 1:
            raise ValueError("an RSA key without 'alg' needs exactly one RSA algorithm allowed")
        (algorithm,) = candidates
    if algorithm not in allowed:
        raise ValueError(f"algorithm {algorithm} is not in the issuer's algorithms")
    return algorithm


def _rsa_bits(key: rsa.RSAPublicKey) -> int:
    if key.key_size < _MIN_RSA_BITS:
        raise ValueError(f"RSA keys must have at least {_MIN_RSA_BITS} bits")
    return key.key_size


def pin_jwk(jwk: object, allowed: Collection[str]) -> PinnedKey:
    """Validate one JWK and pin it to its algorithm; ``ValueError`` says why not."""
    if not isinstance(jwk, Mapping):
        raise ValueError("a JWK must be a JSON object")
    kty = jwk.get("kty")
    if kty not in ("RSA", "EC"):
        raise ValueError(f"unsupported key type {kty!r}")
    if _PRIVATE_PARTS.intersection(jwk):
        raise ValueError("the key holds private parts; publish public keys only")
    if jwk.get("use", "sig") != "sig":
        raise ValueError("the key's 'use' is not 'sig'")
    ops = jwk.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        raise ValueError("the key's 'key_ops' do not include 'verify'")
    kid = jwk.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise ValueError("the key's 'kid' is not a string")
    algorithm = _algorithm_for(kty, jwk.get("crv"), jwk.get("alg"), allowed)
    try:
        key = jose_jwk.construct(dict(jwk), algorithm)
    except Exception as exc:
        raise ValueError(f"the key cannot be loaded: {exc}") from None
    public = key.prepared_key
    size = (_rsa_bits(public) + 7) // 8 if kty == "RSA" else _EC_SIGNATURE_SIZE[algorithm]
    return PinnedKey(kid, algorithm, _verifier(public, algorithm), size)


def pin_pem(pem: str | bytes, allowed: Collection[str], kid: str | None = None) -> PinnedKey:
    """Load a PEM public key or certificate and pin it; ``ValueError`` says why not."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    if b"PRIVATE KEY" in data:
        raise ValueError("the PEM holds a private key; configure the public key")
    public: object
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            public = x509.load_pem_x509_certificate(data).public_key()
        else:
            public = load_pem_public_key(data)
    except Exception as exc:
        raise ValueError(f"the PEM cannot be loaded: {exc}") from None
    if isinstance(public, ec.EllipticCurvePublicKey):
        curve = _EC_CURVE_NAMES.get(public.curve.name)
        algorithm = _algorithm_for("EC", curve, None, allowed)
        size = _EC_SIGNATURE_SIZE[algorithm]
    elif isinstance(public, rsa.RSAPublicKey):
        algorithm = _algorithm_for("RSA", None, None, allowed)
        size = (_rsa_bits(public) + 7) // 8
    else:
        raise ValueError("only RSA and EC public keys are supported")
    return PinnedKey(kid, algorithm, _verifier(public, algorithm), size)


def _slot(key: PinnedKey) -> str:
    """What must be unique in a key set: the kid, or the algorithm of a kid-less key."""
    return f"the kid {key.kid!r}" if key.kid is not None else f"no kid, for {key.algorithm}"


class KeySet:
    """An issuer's keys by ``kid``.

    A key without a ``kid`` serves the tokens of its algorithm whose ``kid`` is
    absent or matches no key; there may be one such key per algorithm.
    """

    def __init__(self, keys: Iterable[PinnedKey] = ()) -> None:
        self._by_kid: dict[str, PinnedKey] = {}
        self._unnamed: dict[str, PinnedKey] = {}
        for key in keys:
            slots = self._unnamed if key.kid is None else self._by_kid
            index = key.algorithm if key.kid is None else key.kid
            if index in slots:
                raise ValueError(f"several keys have {_slot(key)}; give each key its own kid")
            slots[index] = key

    @classmethod
    def from_jwks(
        cls,
        document: object,
        allowed: Collection[str],
        *,
        strict: bool,
        on_skip: Callable[[str], None] | None = None,
    ) -> KeySet:
        """Build from a JWKS document (``{"keys": [...]}``) or a single JWK.

        With ``strict`` any bad key raises ``ValueError``; without it bad keys
        and every key of a duplicated ``kid`` (or kid-less algorithm) are
        skipped and reported to ``on_skip`` (by default a logged warning).
        """
        if isinstance(document, Mapping) and "keys" in document:
            entries = document["keys"]
        elif isinstance(document, Mapping) and "kty" in document:
            entries = [document]
        else:
            raise ValueError("expected a JWKS ({'keys': [...]}) or a JWK")
        if not isinstance(entries, list):
            raise ValueError("the JWKS 'keys' member is not a list")
        report = on_skip or (lambda reason: log.warning("skipping a JWKS key: %s", reason))
        pinned: list[PinnedKey] = []
        for index, entry in enumerate(entries):
            try:
                pinned.append(pin_jwk(entry, allowed))
            except ValueError as exc:
                if strict:
                    raise ValueError(f"key {index}: {exc}") from None
                report(f"key {index}: {exc}")
        slots = [_slot(key) for key in pinned]
        duplicated = sorted({slot for slot in slots if slots.count(slot) > 1})
        if duplicated and strict:
            raise ValueError(f"several keys have {duplicated[0]}; give each key its own kid")
        for slot in duplicated:
            report(f"several keys have {slot}; none of them is used")
        return cls(key for key, slot in zip(pinned, slots, strict=True) if slot not in duplicated)

    def find(self, kid: str | None, algorithm: str) -> PinnedKey:
        """The key for a token's ``kid`` and ``alg``; raises :class:`InvalidToken`."""
        key = self._by_kid.get(kid) if kid is not None else None
        if key is None:
            key = self._unnamed.get(algorithm)
            if key is None:
                raise UnknownKey("no key of the issuer matches the token's 'kid'")
        if key.algorithm != algorithm:
            raise InvalidToken("the token's 'alg' is not the one its key is pinned to")
        return key

    def __iter__(self) -> Iterator[PinnedKey]:
        yield from self._by_kid.values()
        yield from self._unnamed.values()

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __bool__(self) -> bool:
        return bool(self._by_kid or self._unnamed)
