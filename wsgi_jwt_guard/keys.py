"""Verification keys, each pinned to exactly one algorithm.

A :class:`PinnedKey` is a public key plus the one algorithm it may be used
with. Pinning is what makes algorithm-confusion attacks impossible: a token
whose ``alg`` differs from its key's is refused before any crypto runs, so an
RSA public key can never be used as an HMAC secret, nor a P-384 key for ES256.

A key's algorithm is its JWK ``alg`` when present (it must be allowed by the
issuer); otherwise an EC key's curve decides, an Edwards-curve key (``OKP``,
``Ed25519`` or ``Ed448``) is ``EdDSA``, and an RSA key takes the one RSA
algorithm (``RS*`` or ``PS*``) the issuer allows (if it allows several, the
key must say which).

Keys are validated before use: only ``RSA``, ``EC`` and ``OKP`` public keys,
``use`` absent or ``sig``, no private parts, RSA of at least 2048 bits, EC
points on their curve, no duplicated ``kid``. :meth:`KeySet.from_jwks` with
``strict=False`` (JWKS fetched from the network) skips a bad key with a
warning, so one bad key does not poison the rest; with ``strict=True`` (keys
in the configuration) it raises :class:`~wsgi_jwt_guard.errors.ConfigError`.
The signature checks themselves are :mod:`wsgi_jwt_guard.algorithms`'.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from . import algorithms
from .errors import ConfigError, InvalidToken, UnknownKey

__all__ = ["ALGORITHMS", "PRIVATE_MEMBERS", "KeySet", "PinnedKey", "pin_jwk", "pin_pem"]

log = logging.getLogger("wsgi_jwt_guard")

#: The asymmetric algorithms an issuer may allow (python-jose's signature set).
ALGORITHMS = algorithms.ASYMMETRIC_ALGORITHMS
#: JWK members that only a private (or symmetric) key has (RFC 7518 §6).
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_MIN_RSA_BITS = 2048
_KEY_TYPES = ("RSA", "EC", "OKP")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")
_EDWARDS: dict[str, Callable[[bytes], object]] = {
    "Ed25519": ed25519.Ed25519PublicKey.from_public_bytes,
    "Ed448": ed448.Ed448PublicKey.from_public_bytes,
}


@dataclass(frozen=True, slots=True)
class PinnedKey:
    """A public key usable with one algorithm only."""

    kid: str | None
    algorithm: str
    #: What checks signatures: ``key.verify(signing_input, signature) -> bool``.
    #: Keys built by :func:`pin_jwk`/:func:`pin_pem` hold an
    #: :mod:`~wsgi_jwt_guard.algorithms` verifier over a prepared
    #: ``cryptography`` public key, so a check is one call into OpenSSL.
    key: Any
    #: The only signature length this key can produce.
    signature_size: int
    #: The issuer this key signs for, as Microsoft Entra ID publishes it on each
    #: key of its shared JWKS (the JWK's ``issuer``, ``{tenantid}`` standing for
    #: any tenant); ``None`` for keys that do not say. See :meth:`may_sign`.
    issuer: str | None = None

    def may_sign(self, iss: str, claims: Mapping[str, Any]) -> bool:
        """Whether this key may sign a token of ``iss`` with these ``claims``.

        Only keys that name an issuer and tokens that name a tenant (``tid``)
        are restricted, as Microsoft's own validator restricts them: the
        token's ``iss`` must hold its ``tid``, and the key's issuer, ``{tenantid}``
        filled in, must be the token's ``iss`` or name the same tenant (a v1.0
        token, ``https://sts.windows.net/<tid>/``, signed by a key published
        for ``https://login.microsoftonline.com/<tid>/v2.0``). A key Microsoft
        publishes for one tenant therefore never verifies another's tokens.
        """
        tid = claims.get("tid")
        if self.issuer is None or not isinstance(tid, str) or not tid:
            return True
        if tid not in iss:
            return False
        effective = self.issuer.replace("{tenantid}", tid)
        if effective == iss:
            return True
        segments = urlsplit(effective).path.split("/")
        return len(segments) > 1 and segments[1] == tid

    def verify(self, signing_input: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is this key's signature of ``signing_input``."""
        if len(signature) != self.signature_size:
            return False  # truncated, DER-encoded or padded signatures
        try:
            return bool(self.key.verify(signing_input, signature))
        except Exception:  # a library surprise must fail closed, never pass or raise
            return False


def _algorithm_for(kty: str, curve: object, declared: object, allowed: Collection[str]) -> str:
    """The one algorithm a key may sign with: its curve's, its ``alg``, or the issuer's RSA one."""
    algorithm: str | None
    if kty == "OKP":
        if curve not in _EDWARDS:
            raise ConfigError("crv", f"unsupported curve {curve!r}")
        if declared is not None and declared != "EdDSA":
            raise ConfigError("alg", f"{declared!r} does not fit curve {curve}")
        algorithm = "EdDSA"
    elif kty == "EC":
        algorithm = None
        if isinstance(curve, (str, ec.EllipticCurve)):
            algorithm = algorithms.ec_algorithm(curve)
        if algorithm is None:
            raise ConfigError("crv", f"unsupported curve {getattr(curve, 'name', curve)!r}")
        if declared is not None and declared != algorithm:
            raise ConfigError("alg", f"{declared!r} does not fit curve {curve}")
    elif declared is not None:
        if declared not in algorithms.RSA_KEY_ALGORITHMS:
            raise ConfigError("alg", f"{declared!r} is not an RSA signature algorithm")
        algorithm = str(declared)
    else:
        candidates = algorithms.RSA_KEY_ALGORITHMS.intersection(allowed)
        if len(candidates) != 1:
            raise ConfigError(
                "alg", "an RSA key without 'alg' needs exactly one RSA algorithm allowed"
            )
        (algorithm,) = candidates
    if algorithm not in allowed:
        raise ConfigError("alg", f"algorithm {algorithm} is not in the issuer's algorithms")
    return algorithm


def _pinned(
    kid: str | None, algorithm: str, public: object, issuer: str | None = None
) -> PinnedKey:
    if isinstance(public, rsa.RSAPublicKey) and public.key_size < _MIN_RSA_BITS:
        raise ConfigError("n", f"RSA keys must have at least {_MIN_RSA_BITS} bits")
    check = algorithms.verifier(public, algorithm)
    return PinnedKey(kid, algorithm, check, check.signature_size, issuer)


def pin_jwk(jwk: object, allowed: Collection[str]) -> PinnedKey:
    """Validate one JWK and pin it to its algorithm.

    Raises :class:`~wsgi_jwt_guard.errors.ConfigError` saying why not; its
    ``key`` names the JWK member at fault (``kty``, ``crv``, ``alg``...) when
    there is one.
    """
    if not isinstance(jwk, Mapping):
        raise ConfigError("", "a JWK must be a JSON object")
    kty = jwk.get("kty")
    if kty not in _KEY_TYPES:
        raise ConfigError("kty", f"unsupported key type {kty!r}")
    if PRIVATE_MEMBERS.intersection(jwk):
        raise ConfigError("", "the key holds private parts; publish public keys only")
    if jwk.get("use", "sig") != "sig":
        raise ConfigError("use", "the key's 'use' is not 'sig'")
    ops = jwk.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        raise ConfigError("key_ops", "the key's 'key_ops' do not include 'verify'")
    kid = jwk.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise ConfigError("kid", "the key's 'kid' is not a string")
    issuer = jwk.get("issuer")  # Microsoft's: the issuer the key signs for
    if issuer is not None and not isinstance(issuer, str):
        raise ConfigError("issuer", "the key's 'issuer' is not a string")
    algorithm = _algorithm_for(kty, jwk.get("crv"), jwk.get("alg"), allowed)
    return _pinned(kid, algorithm, _public_key(jwk, kty), issuer)


def _public_key(jwk: Mapping[str, Any], kty: str) -> object:
    """The ``cryptography`` public key of a JWK whose type and curve are known to be supported."""
    if kty == "OKP":
        return _loaded("x", lambda: _EDWARDS[jwk["crv"]](_member(jwk, "x")))
    if kty == "EC":
        curve = algorithms.ec_curve(algorithms.ec_algorithm(str(jwk["crv"])) or "")
        x, y = _number(jwk, "x"), _number(jwk, "y")
        return _loaded("x", lambda: ec.EllipticCurvePublicNumbers(x, y, curve).public_key())
    n, e = _number(jwk, "n"), _number(jwk, "e")
    return _loaded("n", lambda: rsa.RSAPublicNumbers(e, n).public_key())


def _member(jwk: Mapping[str, Any], name: str) -> bytes:
    """A base64url member's bytes (padding tolerated, as in JWKS found in the wild)."""
    value = jwk.get(name)
    if not isinstance(value, str) or not _BASE64URL.fullmatch(value):
        raise ConfigError(name, f"the key's {name!r} is not base64url")
    try:
        return base64.urlsafe_b64decode(value.rstrip("=") + "=" * (-len(value.rstrip("=")) % 4))
    except binascii.Error:
        raise ConfigError(name, f"the key's {name!r} is not base64url") from None


def _number(jwk: Mapping[str, Any], name: str) -> int:
    return int.from_bytes(_member(jwk, name), "big")


def _loaded(name: str, load: Callable[[], object]) -> object:
    try:
        return load()
    except (ValueError, TypeError) as exc:  # not on the curve, wrong size, e < 3...
        raise ConfigError(name, f"the key cannot be loaded: {exc}") from None


def pin_pem(pem: str | bytes, allowed: Collection[str], kid: str | None = None) -> PinnedKey:
    """Load a PEM public key or certificate and pin it; :class:`ConfigError` says why not."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    if b"PRIVATE KEY" in data:
        raise ConfigError("", "the PEM holds a private key; configure the public key")
    public: object
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            public = x509.load_pem_x509_certificate(data).public_key()
        else:
            public = load_pem_public_key(data)
    except Exception as exc:
        raise ConfigError("", f"the PEM cannot be loaded: {exc}") from None
    curve = algorithms.edwards_curve(public)
    if not isinstance(public, (ec.EllipticCurvePublicKey, rsa.RSAPublicKey)) and curve is None:
        raise ConfigError("", "only RSA, EC and Ed25519/Ed448 public keys are supported")
    try:
        if isinstance(public, ec.EllipticCurvePublicKey):
            algorithm = _algorithm_for("EC", public.curve, None, allowed)
        elif curve is not None:
            algorithm = _algorithm_for("OKP", curve, None, allowed)
        else:
            algorithm = _algorithm_for("RSA", None, None, allowed)
        return _pinned(kid, algorithm, public)
    except ConfigError as exc:  # a PEM has no JWK members to blame
        raise ConfigError("", exc.message) from None


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
                raise ConfigError("", f"several keys have {_slot(key)}; give each key its own kid")
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

        With ``strict`` any bad key raises :class:`ConfigError` (its ``key``
        says which: ``keys[1].alg``); without it bad keys and every key of a
        duplicated ``kid`` (or kid-less algorithm) are skipped and reported to
        ``on_skip`` (by default a logged warning); encryption keys (``use: enc``),
        which identity providers publish beside their signing keys, are skipped
        without a report.
        """
        if isinstance(document, Mapping) and "keys" in document:
            entries = document["keys"]
        elif isinstance(document, Mapping) and "kty" in document:
            entries = [document]
        else:
            raise ConfigError("", "expected a JWKS ({'keys': [...]}) or a JWK")
        if not isinstance(entries, list):
            raise ConfigError("keys", "the JWKS 'keys' member is not a list")
        report = on_skip or (lambda reason: log.warning("skipping a JWKS key: %s", reason))
        pinned: list[PinnedKey] = []
        for index, entry in enumerate(entries):
            if not strict and isinstance(entry, Mapping) and entry.get("use") == "enc":
                # Published beside the signing keys (Keycloak's every realm): not a mistake.
                log.debug("skipping JWKS key %d: an encryption key ('use': 'enc')", index)
                continue
            try:
                pinned.append(pin_jwk(entry, allowed))
            except ConfigError as exc:
                if strict:
                    raise exc.within(f"keys[{index}]") from None
                report(str(exc.within(f"keys[{index}]")))
        slots = [_slot(key) for key in pinned]
        duplicated = sorted({slot for slot in slots if slots.count(slot) > 1})
        if duplicated and strict:
            message = f"several keys have {duplicated[0]}; give each key its own kid"
            raise ConfigError("keys", message)
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
