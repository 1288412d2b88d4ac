"""Strict parsing of compact JWS tokens, before any key is touched.

python-jose is lenient where a guard must not be: it accepts padding and
whitespace in base64, ignores ``crit``, lets duplicate JSON keys overwrite one
another and raises exceptions outside ``JWTError`` on odd input. This module
refuses all of that up front, so the signature check only ever sees
well-formed input:

* exactly three non-empty base64url segments, no padding, no other characters;
* header and payload are UTF-8 JSON objects with no duplicate keys and no
  ``NaN``/``Infinity`` (nor numbers that overflow to them);
* ``alg`` is a string; ``kid`` and ``typ``, when present, are strings;
* header parameters that would make the guard fetch or trust something the
  token chose (``jku``, ``x5u``, ``jwk``, ``x5c``), change how it is processed
  (``crit``, ``b64``, ``zip``, ``enc``) or nest a token (``cty: JWT``) are refused.
  A DPoP proof is the one JWS whose key comes from the request by design
  (RFC 9449 §4.2): :mod:`wsgi_jwt_guard.dpop` parses it with
  ``embedded_key=True``, which lets ``jwk`` (a JSON object) through and nothing else.

Any failure raises :class:`~wsgi_jwt_guard.errors.InvalidToken`.

:func:`parse_unverified` is the lenient reading for people, not for the guard
(``wsgi-jwt-guard inspect`` uses it): it shows the header and claims of a
token :func:`parse` refuses, marked unverified, with the reason it is refused.
Nothing in the request path calls it.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import InvalidToken

__all__ = [
    "CompactJWS",
    "UnverifiedJWS",
    "b64url_decode",
    "b64url_encode",
    "parse",
    "parse_unverified",
]

_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
_FORBIDDEN_HEADERS = frozenset({"jku", "x5u", "jwk", "x5c", "crit", "b64", "zip", "enc"})
_FORBIDDEN_IN_PROOFS = _FORBIDDEN_HEADERS - {"jwk"}


@dataclass(frozen=True, slots=True)
class CompactJWS:
    """A token split and decoded, not yet verified."""

    header: dict[str, Any]
    claims: dict[str, Any]
    #: ``BASE64URL(header) "." BASE64URL(payload)``: what the signature covers.
    signing_input: bytes
    signature: bytes

    @property
    def alg(self) -> str:
        return self.header["alg"]  # type: ignore[no-any-return]  # checked by parse()

    @property
    def kid(self) -> str | None:
        return self.header.get("kid")


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url, as JOSE uses it."""
    return binascii.b2a_base64(data, newline=False).decode("ascii").translate(_TO_URL).rstrip("=")


_TO_URL = str.maketrans("+/", "-_")
_FROM_URL = bytes.maketrans(b"-_", b"+/")


# The last character of a 2- or 3-character tail carries 4 or 2 unused bits;
# only the spellings with those bits zero are canonical. Refusing the others
# means one token has exactly one string form.
_CANONICAL_LAST = {2: frozenset("AQgw"), 3: frozenset("AEIMQUYcgkosw048")}


_PADDING = (b"", b"", b"==", b"=")


def _b64url_decode_checked(segment: str) -> bytes:
    """Python 3.10: check the alphabet with a regular expression, then decode."""
    tail = len(segment) % 4
    if not _SEGMENT.fullmatch(segment) or tail == 1:
        raise ValueError("not unpadded base64url")
    if tail and segment[-1] not in _CANONICAL_LAST[tail]:
        raise ValueError("not canonical base64url")
    data = segment.encode("ascii").translate(_FROM_URL) + _PADDING[tail]
    return binascii.a2b_base64(data)  # the alphabet was checked above


if sys.version_info >= (3, 11):
    # binascii's strict mode refuses every byte outside the standard alphabet
    # and any misplaced padding, in C. Mapping the standard alphabet's own "+",
    # "/" and "=" to "*" first makes it refuse them too, so it accepts exactly
    # [A-Za-z0-9_-] -- the regular expression's job, at a fraction of its cost.
    _FROM_URL_STRICT = bytes.maketrans(b"-_+/=", b"+/***")

    def _b64url_decode_strict(segment: str) -> bytes:
        """Python 3.11+: the same checks and result as :func:`_b64url_decode_checked`."""
        tail = len(segment) % 4
        if not segment or tail == 1:
            raise ValueError("not unpadded base64url")
        if tail and segment[-1] not in _CANONICAL_LAST[tail]:
            raise ValueError("not canonical base64url")
        try:
            data = segment.encode("ascii").translate(_FROM_URL_STRICT) + _PADDING[tail]
            return binascii.a2b_base64(data, strict_mode=True)
        except (UnicodeEncodeError, binascii.Error):
            raise ValueError("not unpadded base64url") from None

    _b64url_decode = _b64url_decode_strict
else:  # pragma: no cover - exercised on Python 3.10 only
    _b64url_decode = _b64url_decode_checked


def b64url_decode(segment: str) -> bytes:
    """Decode one canonical unpadded base64url segment; ``ValueError`` on anything else."""
    return _b64url_decode(segment)


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key")
    return result


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# Built once: json.loads() with hooks would build a decoder on every call.
_DECODER = json.JSONDecoder(
    object_pairs_hook=_unique_object,
    parse_float=_finite_float,
    parse_constant=_refuse_constant,
)


# Nesting deeper than this is refused. Python up to 3.12 raises RecursionError
# near 1,000 levels, 3.13 parses far deeper; the limit makes every version agree
# and spares the app claims it cannot walk. Only JSON with many brackets is measured.
_MAX_DEPTH = 32


def _too_deep(value: object) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > _MAX_DEPTH:
            return True
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return False


def _json_value(text: str) -> Any:
    """``_DECODER.decode(text)``, through ``raw_decode`` when that settles it."""
    # decode() wraps raw_decode() in two regular expressions for surrounding
    # whitespace. Tokens' JSON has none: take raw_decode()'s answer when it ends
    # exactly at the end of the text, and only otherwise fall back to decode()
    # -- the same result, or its error.
    try:
        value, end = _DECODER.raw_decode(text)
    except json.JSONDecodeError:
        end = -1
    return value if end == len(text) else _DECODER.decode(text)


def _json_object(
    segment: str, what: str, decode: Callable[[str], bytes] = _b64url_decode
) -> dict[str, Any]:
    try:
        text = decode(segment).decode("utf-8")
        value = _json_value(text)
    except (ValueError, RecursionError):
        # json.JSONDecodeError and UnicodeDecodeError are ValueErrors too.
        raise InvalidToken(f"the token {what} is not a valid base64url JSON object") from None
    if not isinstance(value, dict):
        raise InvalidToken(f"the token {what} is not a JSON object")
    if text.count("{") + text.count("[") >= _MAX_DEPTH and _too_deep(value):
        raise InvalidToken(f"the token {what} is nested too deeply")
    return value


def _padded_decode(segment: str) -> bytes:
    """A segment with exactly the padding base64 calls for, or none (AWS ALB's tokens)."""
    if segment.endswith("="):
        unpadded = segment.rstrip("=")
        if len(segment) % 4 or len(segment) - len(unpadded) > 2:
            raise ValueError("not padded base64url")
        segment = unpadded
    return _b64url_decode(segment)


def parse(
    token: str,
    known_headers: Mapping[str, dict[str, Any]] | None = None,
    *,
    padding: bool = False,
    embedded_key: bool = False,
) -> CompactJWS:
    """Split, decode and sanity-check ``token`` without verifying it.

    ``known_headers`` maps header segments (the exact base64url text) to what
    this function returned for them before. The verifier passes the headers of
    tokens that verified: an issuer's tokens share a handful of headers, and a
    header that passed every check once passes them again, so its decoding is
    skipped. The returned ``header`` may then be shared: never mutate it.

    ``padding`` also accepts segments padded with ``=`` as base64 pads them
    (AWS ALB's tokens; the verifier allows it only for the ``aws-alb`` preset).
    The signing input stays the token's text, padding included.

    ``embedded_key`` accepts a ``jwk`` header holding a JSON object: a DPoP
    proof's own public key, which its caller must check and trust for nothing
    but that proof (:mod:`wsgi_jwt_guard.dpop`). Never for access tokens.
    """
    if not token.isascii() or token.count(".") != 2:
        raise InvalidToken("the token is not a compact JWS (three base64url segments)")
    head, body, signature_segment = token.split(".")
    known = known_headers.get(head) if known_headers else None
    decode = _padded_decode if padding else _b64url_decode
    header = _json_object(head, "header", decode) if known is None else known
    claims = _json_object(body, "payload", decode)
    try:
        signature = decode(signature_segment)
    except ValueError:
        raise InvalidToken("the token signature is not valid base64url") from None
    signing_input = token[: len(head) + 1 + len(body)].encode("ascii")
    if known is None:
        _check_header(header, _FORBIDDEN_IN_PROOFS if embedded_key else _FORBIDDEN_HEADERS)
        if embedded_key and not isinstance(header.get("jwk"), dict):
            raise InvalidToken("the token header 'jwk' is not a JSON object")
    return CompactJWS(header, claims, signing_input, signature)


def _check_header(header: dict[str, Any], forbidden_names: frozenset[str]) -> None:
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise InvalidToken("the token header has no 'alg'")
    forbidden = forbidden_names.intersection(header)
    if forbidden:
        raise InvalidToken(f"the token header parameter {min(forbidden)!r} is not accepted")
    cty = header.get("cty")
    # RFC 7515 §4.1.10: "JWT" is short for "application/jwt", case-insensitively.
    if cty is not None and (
        not isinstance(cty, str) or cty.lower().removeprefix("application/") == "jwt"
    ):
        raise InvalidToken("nested tokens are not accepted")
    for name in ("kid", "typ"):
        if name in header and not isinstance(header[name], str):
            raise InvalidToken(f"the token header {name!r} is not a string")


# --- the lenient reading, for people -------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnverifiedJWS:
    """What a token says about itself, decoded leniently and **not verified**.

    Anyone can write anything in a token: this is for showing to a person
    (``wsgi-jwt-guard inspect``), never for deciding anything.
    """

    header: dict[str, Any]
    claims: dict[str, Any]
    #: Why :func:`parse` refuses the token, or ``None`` if it accepts it.
    refusal: str | None


def parse_unverified(token: str) -> UnverifiedJWS:
    """Decode the header and claims of ``token`` even where :func:`parse` refuses it.

    A token the strict parser accepts reads exactly as :func:`parse` reads it.
    Otherwise base64 padding, the standard alphabet, non-canonical spellings,
    duplicate JSON keys (the last wins), ``NaN``, deep nesting and forbidden
    header parameters are let through, and :attr:`UnverifiedJWS.refusal` says
    what the guard would refuse. Raises
    :class:`~wsgi_jwt_guard.errors.InvalidToken` only when not even this
    reading finds a header and claims: not three segments, or a header or
    payload that is not base64 of a JSON object.
    """
    try:
        strict = parse(token)
    except InvalidToken as refused:
        refusal = refused.description
    else:
        return UnverifiedJWS(strict.header, strict.claims, None)
    segments = token.split(".")
    if len(segments) != 3:
        raise InvalidToken(f"expected 3 dot-separated segments, got {len(segments)}")
    header = _lenient_object(segments[0], "header")
    claims = _lenient_object(segments[1], "payload")
    return UnverifiedJWS(header, claims, refusal)


def _lenient_object(segment: str, what: str) -> dict[str, Any]:
    try:
        data = segment.strip().rstrip("=").encode("ascii").translate(_FROM_URL)
        text = base64.b64decode(data + _PADDING[len(data) % 4]).decode("utf-8", "replace")
        value = json.loads(text)
    except (ValueError, RecursionError):  # binascii.Error and JSONDecodeError too
        raise InvalidToken(f"the {what} is not base64url JSON") from None
    if not isinstance(value, dict):
        raise InvalidToken(f"the {what} is not a JSON object")
    return value
