"""Checking settings: one function per kind of value, each naming the key at fault.

Every settings object (``CookieSettings``, ``Rule``, ``Issuer``...) validates in
its ``__post_init__`` with these, so the same mistake gets the same message
everywhere and a TOML typo like ``enabled = "false"`` (a string, truthy) is
refused instead of being taken for ``True``::

    @dataclass(frozen=True)
    class CookieSettings(Settings):
        name: str = "token"
        enabled: bool = True

        def __post_init__(self) -> None:
            self._settle(name=cookie_name(self.name, "name"), enabled=flag(self.enabled, "enabled"))

Each function returns the value normalized (a tuple for a list, a frozenset
for a set of names) or raises :class:`~wsgi_jwt_guard.errors.ConfigError`.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import math
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

from .errors import ConfigError
from .request import normalize_origin

__all__ = [
    "LOOPBACK_HOSTS",
    "MIN_SECRET_CHARACTERS",
    "Settings",
    "base64_secret",
    "clock_setting",
    "cookie_name",
    "flag",
    "header_key",
    "instance",
    "names",
    "no_unknown_keys",
    "one_of",
    "optional_flag",
    "optional_instance",
    "optional_text",
    "origins",
    "scopes",
    "seconds",
    "secrets",
    "strings",
    "text",
    "url",
    "whole",
]

T = TypeVar("T")

# RFC 6265 §4.1.1 cookie-name: an RFC 9110 token.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")
# RFC 6749 §3.3 scope-token: printable ASCII but the space, double quote and backslash.
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")

# What a URL may hold, written out (RFC 3986 §2): nothing a header's quoted-string
# or a log line would have to escape.
_URL = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")

#: Hosts a plain ``http://`` URL may name: this machine, for local rigs.
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

#: Shared secrets shorter than this are refused: Backstage's documented service
#: secrets are 24 random bytes, 32 base64 characters.
MIN_SECRET_CHARACTERS = 32


class Settings:
    """Base of the frozen settings dataclasses: one way to store normalized values."""

    __slots__ = ()

    def _settle(self, **values: Any) -> None:
        """Store validated, normalized ``values`` on this frozen instance."""
        for name, value in values.items():
            object.__setattr__(self, name, value)


def flag(value: object, key: str) -> bool:
    """``True`` or ``False``, never a string or a number that merely looks like one."""
    if not isinstance(value, bool):
        raise ConfigError(key, "expected true or false")
    return value


def optional_flag(value: object, key: str) -> bool | None:
    return None if value is None else flag(value, key)


def text(value: object, key: str, what: str = "a non-empty string") -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value:
        raise ConfigError(key, f"expected {what}")
    return value


def optional_text(value: object, key: str, what: str = "a non-empty string") -> str | None:
    return None if value is None else text(value, key, what)


def strings(value: object, key: str, *, allow_one: bool = False) -> tuple[str, ...]:
    """A list of non-empty strings (or, with ``allow_one``, a single one)."""
    if allow_one and isinstance(value, str):
        return (text(value, key),)
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise ConfigError(key, "expected a list of strings")
    items = tuple(value)
    if not all(isinstance(item, str) and item for item in items):
        raise ConfigError(key, "expected a list of non-empty strings")
    return items


def scopes(value: object, key: str) -> tuple[str, ...]:
    """A list of OAuth scopes, each one RFC 6749 §3.3 ``scope-token`` (printable
    ASCII without spaces, quotes or backslashes): what a token's ``scope`` can
    grant, and what a challenge's quoted ``scope`` can name."""
    items = strings(value, key)
    for scope in items:
        if not _SCOPE_TOKEN.fullmatch(scope):
            raise ConfigError(
                key,
                f"{scope!r} is not one scope (RFC 6749 §3.3: printable ASCII without spaces,"
                " quotes or backslashes); list each scope on its own",
            )
    return items


def names(
    value: object, key: str, allowed: Collection[str], *, upper: bool = False
) -> frozenset[str]:
    """A set of names drawn from ``allowed`` (``upper``: compared upper-cased)."""
    items = strings(value, key)
    found = frozenset(item.upper() for item in items) if upper else frozenset(items)
    unknown = sorted(found - set(allowed))
    if unknown:
        raise ConfigError(key, f"{unknown[0]!r} is not one of {sorted(allowed)}")
    return found


def one_of(value: T, key: str, options: Sequence[T]) -> T:
    if value not in options:
        raise ConfigError(key, f"expected one of {list(options)}")
    return value


def seconds(
    value: object, key: str, *, minimum: float = 0.0, maximum: float = math.inf
) -> float:
    """A finite number of seconds in ``[minimum, maximum]`` (booleans refused)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise ConfigError(key, "expected a number of seconds")
    number = float(value)
    if not minimum <= number <= maximum:
        bound = f"{minimum:g} or more"
        if math.isfinite(maximum):
            bound = f"from {minimum:g} to {maximum:g}"
        raise ConfigError(key, f"expected {bound} seconds")
    return number


def whole(value: object, key: str, *, minimum: int = 0, maximum: int | None = None) -> int:
    """A whole number in ``[minimum, maximum]`` (booleans and floats refused)."""
    if type(value) is not int or value < minimum or (maximum is not None and value > maximum):
        bound = f"from {minimum} to {maximum}" if maximum is not None else f"of at least {minimum}"
        raise ConfigError(key, f"expected a whole number {bound}")
    return value


def secrets(value: object, key: str, *, allow_empty: bool = False) -> tuple[str, ...]:
    """A list of secrets, the signing one first, each at least
    :data:`MIN_SECRET_CHARACTERS` long. A message names the entry at fault
    (``secrets[1]``), never its value."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise ConfigError(key, "expected a list of secrets, the signing one first")
    items = tuple(value)
    if not items and not allow_empty:
        raise ConfigError(key, "expected a non-empty list of secrets")
    for index, item in enumerate(items):
        if not isinstance(item, str) or len(item) < MIN_SECRET_CHARACTERS:
            raise ConfigError(
                f"{key}[{index}]", f"expected at least {MIN_SECRET_CHARACTERS} random characters"
            )
    return items


def base64_secret(value: object, key: str) -> bytes:
    """The bytes of a base64 secret (url-safe or standard, padded or not, as
    Backstage's ``backend.auth.keys[].secret``), at least
    :data:`MIN_SECRET_CHARACTERS` characters; the message never shows it."""
    if not isinstance(value, str) or not _BASE64.fullmatch(value):
        raise ConfigError(key, "a secret must be a base64 string")
    if len(value) < MIN_SECRET_CHARACTERS:
        raise ConfigError(key, f"a secret must be at least {MIN_SECRET_CHARACTERS} characters long")
    data = value.rstrip("=").replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(data + "=" * (-len(data) % 4), validate=True)
    except binascii.Error:
        raise ConfigError(key, "a secret must be a base64 string") from None


def no_unknown_keys(
    mapping: Mapping[str, Any], known: Collection[str], prefix: str, what: str = "unknown setting"
) -> None:
    """Refuse a key of ``mapping`` (a TOML table) that is not ``known``, naming it
    under ``prefix`` and suggesting the likely one (``did you mean 'audience'?``)."""
    for key in mapping:
        if key not in known:
            name = f"{prefix}.{key}" if prefix else str(key)
            close = difflib.get_close_matches(str(key), sorted(known), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(name, f"{what}; {hint}expected one of {sorted(known)}")


def url(value: object, key: str, what: str = "an absolute https:// URL") -> str:
    """An absolute ``https://`` URL (``http://`` only on a loopback host), written
    with URL characters only (no space, quote, backslash or non-ASCII; percent-encode
    those) and without credentials."""
    if not isinstance(value, str) or not _URL.fullmatch(value):
        raise ConfigError(key, f"expected {what}")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  # raises on a port that is not one
    except ValueError:
        raise ConfigError(key, f"expected {what}") from None
    if parts.scheme not in ("https", "http") or not parts.hostname or "@" in parts.netloc:
        raise ConfigError(key, f"expected {what}")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise ConfigError(key, "expected https:// (plain http:// only on localhost)")
    return value


def cookie_name(value: object, key: str) -> str:
    """A cookie name (an RFC 9110 token: letters, digits and ``!#$%&'*+-.^_`|~``)."""
    if not isinstance(value, str) or not _TOKEN.fullmatch(value):
        raise ConfigError(key, "expected a cookie name (letters, digits, -_.)")
    return value


def header_key(value: object, key: str) -> str:
    """The WSGI environ key of a request header name (``X-Token`` -> ``HTTP_X_TOKEN``)."""
    if not isinstance(value, str) or not _HEADER_NAME.fullmatch(value):
        raise ConfigError(key, f"{value!r} is not a header name")
    return "HTTP_" + value.upper().replace("-", "_")


def origins(value: object, key: str, *, wildcard: bool = False) -> frozenset[str]:
    """A list of ``scheme://host[:port]`` origins, normalized (``"*"`` if ``wildcard``)."""
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ConfigError(key, "expected a list of origins")
    found = set()
    for index, origin in enumerate(value):
        if wildcard and origin == "*":
            found.add("*")
            continue
        normalized = normalize_origin(origin) if isinstance(origin, str) else None
        if normalized is None:
            allowed = "scheme://host[:port] or '*'" if wildcard else "scheme://host[:port]"
            raise ConfigError(f"{key}[{index}]", f"expected {allowed} (no path, not 'null')")
        found.add(normalized)
    return frozenset(found)


def instance(value: object, key: str, cls: type[T], default: T | None = None) -> T:
    """``value`` if it is a ``cls`` (or ``default`` for ``None``): a settings object, a string."""
    if value is None and default is not None:
        return default
    if not isinstance(value, cls):
        what = "a string" if cls is str else f"a {cls.__name__} object"
        raise ConfigError(key, f"expected {what}")
    return value


def clock_setting(value: T, key: str = "clock") -> T:
    """``value``, if it is callable: a clock (:mod:`wsgi_jwt_guard.clock`)."""
    if not callable(value):
        raise ConfigError(key, "expected a callable returning the time")
    return value


def optional_instance(value: object, key: str, cls: type[T]) -> T | None:
    """``None``, or ``value`` if it is a ``cls``: a setting that is off unless given."""
    return None if value is None else instance(value, key, cls)
