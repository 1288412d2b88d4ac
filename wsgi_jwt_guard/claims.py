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

from .errors import ConfigError, ExpiredToken, InvalidToken

__all__ = [
    "SCOPE_CLAIMS",
    "UNSAFE_TEXT",
    "ClaimRequirement",
    "check_audience",
    "check_subject",
    "check_times",
    "claim_at",
    "claim_path",
    "claim_requirements",
    "granted_scopes",
    "has_claim",
]

#: What a claim's text may not hold to be written out (``REMOTE_USER``, a header
#: for the app): C0/C1 controls, Unicode line breaks (header and log injection)
#: and lone surrogates, which JSON's \ud800 escapes can produce and no encoder
#: can write out (a 500 later).
UNSAFE_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


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
    """Check ``exp`` (required), ``nbf`` and ``iat``; return ``exp``.

    ``nbf`` and ``iat`` are compared with ``now`` rounded up to a whole second:
    JWT times are whole seconds, truncated by the issuer, so a token minted just
    after a second began, by a clock a few milliseconds ahead of this one, names
    a second that has not begun here -- and is not from the future. ``exp`` is
    compared exactly.
    """
    exp = _number(claims, "exp")
    if exp is None:
        raise InvalidToken("the token has no 'exp' claim")
    if now >= exp + leeway:
        raise ExpiredToken("the token has expired")
    nbf = _number(claims, "nbf")
    iat = _number(claims, "iat")
    if nbf is not None or iat is not None:
        latest = math.ceil(now) + leeway
        if nbf is not None and latest < nbf:
            raise InvalidToken("the token is not valid yet ('nbf' is in the future)")
        if iat is not None and latest < iat:
            raise InvalidToken("the token was issued in the future ('iat')")
    return exp


def check_subject(claims: Mapping[str, Any], name: str = "sub") -> str:
    """The claim that names the user: a non-empty string without control characters."""
    value = claims.get(name)
    if not isinstance(value, str) or not value or UNSAFE_TEXT.search(value):
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


# --- claim paths, required values and scopes ------------------------------------------
#
# Route rules (``claims``, ``claims_any``) and issuers (``required_claims``,
# ``scope_claims``) name claims by path. Paths are split once, when the
# settings are built; a request walks the pre-split segments with dict lookups.


def claim_path(value: object, key: str) -> tuple[str, ...]:
    """Split a claim path into its segments; raise :class:`ConfigError` naming ``key``.

    Segments are separated by ``.`` and walk into JSON objects:
    ``realm_access.roles`` is ``claims["realm_access"]["roles"]``. A segment
    that holds a ``.`` itself is written in double quotes, as in ``jq``:
    ``'resource_access."my.client".roles'`` goes through the client
    ``my.client``, and ``'"https://example.com/app".roles'`` into a namespaced
    claim. A name with ``://`` and no quotes is one claim, taken whole:
    ``https://example.com/roles`` (Auth0's namespaced claims) needs no quotes.
    A quoted segment cannot hold ``"``.

    >>> claim_path('resource_access."my.app".roles', "claims")
    ('resource_access', 'my.app', 'roles')
    """
    if not isinstance(value, str) or not value:
        raise ConfigError(key, "expected a claim name or a dotted claim path")
    if "://" in value and '"' not in value:
        return (value,)  # a namespaced claim (Auth0's "https://example.com/roles"), whole
    segments: list[str] = []
    position, size = 0, len(value)
    while True:
        if value.startswith('"', position):
            end = value.find('"', position + 1)
            if end < 0:
                raise ConfigError(key, "a quoted claim name is not closed by '\"'")
            segment, position = value[position + 1 : end], end + 1
        else:
            end = value.find(".", position)
            end = size if end < 0 else end
            segment, position = value[position:end], end
            if '"' in segment:
                raise ConfigError(key, "quote a whole claim name: '\"name.with.dots\"'")
        if not segment:
            raise ConfigError(key, "a claim path has an empty segment ('..', '\"\"' or an end '.')")
        segments.append(segment)
        if position == size:
            return tuple(segments)
        if value[position] != ".":
            raise ConfigError(key, "expected '.' after a quoted claim name")
        position += 1
        if position == size:
            raise ConfigError(key, "a claim path has an empty segment ('..', '\"\"' or an end '.')")


def claim_at(claims: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """The value at ``path`` in ``claims``, or ``None`` if any step is missing or not an object."""
    value = claims.get(path[0])
    if len(path) > 1:
        for segment in path[1:]:
            if not isinstance(value, dict):
                return None
            value = value.get(segment)
    return value


def has_claim(claims: Mapping[str, Any], path: tuple[str, ...]) -> bool:
    """Whether ``claims`` hold something (``null`` included) at ``path``."""
    value: Any = claims
    for segment in path:
        if not isinstance(value, Mapping) or segment not in value:
            return False
        value = value[segment]
    return True


_VALUE_TYPES = (str, int, float, bool)


class ClaimRequirement:
    """One claim a token must hold: ``key`` (as configured) at a path, with values.

    A scalar is met by an equal claim or a list claim containing it; a list
    of values (``all``) must each be met; ``{ any = [...] }`` needs one. Equal
    means same JSON type too: a required ``true`` is not met by ``1``.
    """

    __slots__ = ("any", "head", "key", "rest", "values")

    def __init__(self, key: str, wanted: object, where: str) -> None:
        path = claim_path(key, where)
        self.key = key
        self.head = path[0]
        self.rest = path[1:]
        self.any = False
        if isinstance(wanted, Mapping):
            if len(wanted) != 1 or not ({"any", "all"} & set(wanted)):
                raise ConfigError(where, "expected a value, a list (all of), or { any = [...] }")
            self.any = "any" in wanted
            wanted = wanted["any" if self.any else "all"]
            if not isinstance(wanted, list) or not wanted:
                raise ConfigError(where, "expected a non-empty list of values")
        values = tuple(wanted) if isinstance(wanted, list) else (wanted,)
        if not all(isinstance(v, _VALUE_TYPES) for v in values):
            raise ConfigError(where, "required values are strings, numbers or booleans")
        self.values = values

    def met_by(self, claims: Mapping[str, Any]) -> bool:
        """Whether ``claims`` hold the required value(s) at this path."""
        have = claims.get(self.head)
        if self.rest:
            for segment in self.rest:
                if not isinstance(have, dict):
                    return False
                have = have.get(segment)
        if have is None:
            return False
        values = self.values
        if len(values) == 1:  # the common case, without an iterator
            return _holds(have, values[0])
        # Loops, not any()/all(): no generator object on every request.
        if self.any:
            for value in self.values:  # noqa: SIM110
                if _holds(have, value):
                    return True
            return False
        for value in self.values:  # noqa: SIM110
            if not _holds(have, value):
                return False
        return True

    def __repr__(self) -> str:
        return f"ClaimRequirement({self.key!r}, {'any' if self.any else 'all'}={self.values!r})"


def _holds(have: object, value: object) -> bool:
    # type() is compared because `True == 1` in Python; a required `true` must not be met by `1`.
    if type(have) is list:
        for item in have:  # noqa: SIM110
            if type(item) is type(value) and item == value:
                return True
        return False
    return type(have) is type(value) and have == value


def claim_requirements(table: object, key: str) -> tuple[ClaimRequirement, ...]:
    """A ``claims`` table (claim path -> required value) as pre-split requirements."""
    if not isinstance(table, Mapping):
        raise ConfigError(key, "expected a table of claim paths to required values")
    requirements = []
    for name, wanted in table.items():
        if not isinstance(name, str):
            raise ConfigError(key, "expected a table of claim paths to required values")
        requirements.append(ClaimRequirement(name, wanted, f"{key}.{name!r}"))
    return tuple(requirements)


#: Where scopes are read from unless an issuer says otherwise: OAuth's ``scope``
#: (space separated), ``scp`` (Okta: a list; Entra ID: space separated) and
#: ``permissions`` (Auth0 RBAC: a list).
SCOPE_CLAIMS = ("scope", "scp", "permissions")
_DEFAULT_SCOPE_PATHS = tuple((name,) for name in SCOPE_CLAIMS)


def granted_scopes(
    claims: Mapping[str, Any], paths: tuple[tuple[str, ...], ...] = _DEFAULT_SCOPE_PATHS
) -> frozenset[str]:
    """The scopes a token grants: the union of the claims at ``paths``, each a
    space-separated string or a list of strings (other items are ignored)."""
    granted: set[str] = set()
    for path in paths:
        value = claim_at(claims, path)
        if isinstance(value, str):
            granted.update(value.split())
        elif isinstance(value, list):
            granted.update(v for v in value if isinstance(v, str) and v)
    return frozenset(granted)
