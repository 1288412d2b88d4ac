"""Static API keys: Backstage's external access ``static`` tokens.

Some callers cannot get a JWT -- a CI job, a monitoring probe, a partner's
cron. Give each a long random key, a subject, and optionally the path
prefixes it may use::

    [[api_keys]]
    key = "<at least 32 random characters>"   # e.g. from: openssl rand -base64 36
    subject = "external:ci-pipeline"
    paths = ["/api/catalog"]                  # omitted: every protected route

The caller sends it like a token, ``Authorization: Bearer <key>``. A matching
key becomes an :class:`~wsgi_jwt_guard.identity.Identity` of kind ``static``
with ``claims == {"sub": subject}``; routes accept it unless their ``tokens``
list leaves ``static`` out. Used outside its ``paths`` it is a 403.

Keys are compared in constant time (:func:`hmac.compare_digest`), after a
lookup by SHA-256 digest: the time a guess takes depends only on the guess's
digest, which tells an attacker nothing about any key. Keys shorter than 32
characters are refused at start-up; rotate a key by listing the new one beside
the old, then removing the old.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType

from .errors import ConfigError, InsufficientScope
from .identity import Identity, TokenSource
from .validation import Settings, strings, text

__all__ = ["APIKey", "APIKeys"]

_MIN_LENGTH = 32
# The token68 alphabet of RFC 7235: what fits after "Bearer ".
_TOKEN68 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/=")


@dataclass(frozen=True)
class APIKey(Settings):
    """One static API key, the subject it stands for and where it may be used."""

    key: str
    subject: str
    #: Path prefixes (segment boundaries, like routes) the key may be used on;
    #: empty means every route that accepts ``static`` tokens.
    paths: Sequence[str] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or len(self.key) < _MIN_LENGTH:
            raise ConfigError("key", f"expected at least {_MIN_LENGTH} random characters")
        if not set(self.key) <= _TOKEN68 or self.key.count(".") == 2:
            raise ConfigError(
                "key", "use letters, digits and -._~+/= only, and not the shape of a JWT"
            )
        text(self.subject, "subject", "the subject the key stands for")
        paths = strings(self.paths, "paths")
        for path in paths:
            if not path.startswith("/"):
                raise ConfigError("paths", f"{path!r} is not a path prefix starting with '/'")
        self._settle(paths=tuple(p.rstrip("/") or "/" for p in paths))

    def __repr__(self) -> str:  # never show the key
        return f"APIKey(subject={self.subject!r}, paths={list(self.paths)!r})"

    def allows(self, path: str) -> bool:
        """Whether the key may be used on the normalized ``path``."""
        if not self.paths:
            return True
        for prefix in self.paths:
            if prefix == "/" or path == prefix or path.startswith(prefix + "/"):
                return True
        return False


# Sources that are cookies: a browser sends them on its own, so never a key.
_COOKIES = frozenset({"cookie", "backstage-cookie", "edge-cookie"})


class APIKeys:
    """The configured keys, looked up by digest and compared in constant time."""

    def __init__(self, keys: Sequence[APIKey]) -> None:
        if isinstance(keys, (str, APIKey)) or not isinstance(keys, Sequence):
            raise ConfigError("api_keys", "expected a list of APIKey objects")
        self._by_digest: dict[bytes, APIKey] = {}
        for index, key in enumerate(keys):
            if not isinstance(key, APIKey):
                raise ConfigError(f"api_keys[{index}]", "expected an APIKey")
            digest = hashlib.sha256(key.key.encode()).digest()
            if digest in self._by_digest:
                raise ConfigError(f"api_keys[{index}].key", "this key is configured twice")
            self._by_digest[digest] = key

    def __bool__(self) -> bool:
        return bool(self._by_digest)

    def identify(self, token: str, source: TokenSource, path: str) -> Identity | None:
        """The identity of ``token`` if it is a configured key; ``None`` if it is not.

        Raises :class:`~wsgi_jwt_guard.errors.InsufficientScope` for a key used
        outside its paths. A key is never read from a cookie, an edge's included.
        """
        if source in _COOKIES:
            return None
        sent = token.encode("utf-8", "surrogateescape")
        key = self._by_digest.get(hashlib.sha256(sent).digest())
        if key is None or not hmac.compare_digest(key.key.encode(), sent):
            return None
        if not key.allows(path):
            raise InsufficientScope("this API key may not be used on this path")
        return Identity(
            subject=key.subject,
            claims=MappingProxyType({"sub": key.subject}),
            issuer=None,
            kind="static",
            source=source,
            expires_at=math.inf,
            token=token,
        )
