"""Claim checks shared by user and service tokens.

Numbers are JSON numbers only: a string, a boolean, ``null`` or a list in
``exp``/``nbf``/``iat`` is refused, where python-jose would call ``int()`` on
it. Every function raises :class:`~wsgi_jwt_guard.errors.InvalidToken`
(or :class:`~wsgi_jwt_guard.errors.ExpiredToken`) with a reason.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from typing import Any

from .errors import ExpiredToken, InvalidToken

__all__ = ["check_audience", "check_subject", "check_times"]

# C0/C1 controls, Unicode line breaks (log injection) and lone surrogates, which
# JSON's \ud800 escapes can produce and no encoder can write out (a 500 later).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def _number(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None and name not in claims:
        return None
    # type() rather than isinstance(): bool is an int subclass and is refused.
    if type(value) is not int and type(value) is not float:
        raise InvalidToken(f"the token's {name!r} claim is not a number")
    number = float(value)
    if not math.isfinite(number):  # NaN compares false both ways: it would never expire
        raise InvalidToken(f"the token's {name!r} claim is not a finite number")
    return number


def check_times(claims: Mapping[str, Any], *, now: float, leeway: float) -> float:
    """Check ``exp`` (required), ``nbf`` and ``iat``; return ``exp``."""
    exp = _number(claims, "exp")
    if exp is None:
        raise InvalidToken("the token has no 'exp' claim")
    if now >= exp + leeway:
        raise ExpiredToken("the token has expired")
    nbf = _number(claims, "nbf")
    if nbf is not None and now + leeway < nbf:
        raise InvalidToken("the token is not valid yet ('nbf' is in the future)")
    iat = _number(claims, "iat")
    if iat is not None and now + leeway < iat:
        raise InvalidToken("the token was issued in the future ('iat')")
    return exp


def check_subject(claims: Mapping[str, Any], name: str = "sub") -> str:
    """The claim that names the user: a non-empty string without control characters."""
    value = claims.get(name)
    if not isinstance(value, str) or not value or _CONTROL.search(value):
        raise InvalidToken(f"the token's {name!r} claim is missing or not a plain string")
    return value


def check_audience(claims: Mapping[str, Any], accepted: Collection[str]) -> None:
    """``aud`` (a string or a list of strings) must name one of ``accepted``."""
    aud = claims.get("aud")
    if isinstance(aud, str):
        # The common shape, answered without building a list (every first-seen token).
        if aud in accepted:
            return
        audiences = [aud]
    elif isinstance(aud, list) and aud and all(isinstance(a, str) for a in aud):
        audiences = aud
    else:
        raise InvalidToken("the token's 'aud' claim is missing or malformed")
    if not any(a in accepted for a in audiences):
        raise InvalidToken("the token is not meant for this audience")
