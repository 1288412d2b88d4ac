"""Where the guard keeps state that workers and hosts share.

JWKS documents and revocation entries go into a ``cachelib`` cache. Which one
is a deployment decision:

========== ================================ ==================================
``type``   cachelib class                   shared by
========== ================================ ==================================
memory     ``SimpleCache`` (the default)    the threads of one process
filesystem ``FileSystemCache``              the worker processes of one host
redis      ``RedisCache``                   every host using the Redis server
memcached  ``MemcachedCache`` (pymemcache)  every host using the servers
========== ================================ ==================================

From configuration::

    [cache]
    type = "redis"
    url = "redis://cache.internal:6379/0"
    key_prefix = "myservice:"            # before the guard's own "wsgi_jwt_guard:..." keys

The guard stores only JSON text and reads it back as text:
:class:`SharedCache` gives Redis and file-system caches a serializer that
never unpickles, and builds memcached clients without one. cachelib's own
serializers use ``pickle``, so anyone able to write to a cache server could
otherwise run code in every worker. Whatever is read is validated again by
its reader (a corrupt or poisoned entry is ignored and refetched).

Whoever can write to the cache server could otherwise plant signing keys or
lift revocations. With ``secrets``, every entry the guard writes carries an
HMAC-SHA256 over its key and value, and an entry without a valid one is
ignored as if absent (then refetched or overwritten)::

    [cache]
    type = "redis"
    url = "redis://cache.internal:6379/0"
    secrets = ["<32+ random characters>", "<the previous one, while rotating>"]

The first secret signs, every one verifies: to rotate, put the new secret
first and keep the old one until every worker runs with the new list. Give
every worker the same list (``WSGI_JWT_GUARD_CONFIG`` or the file); a worker
without it writes entries the others ignore. The guard logs a warning at start
when a shared cache has no secrets. An HMAC cannot stop deletion: someone who
can delete entries can still make workers refetch keys, or forget a revocation
they have not read yet -- restrict who can reach the cache server (Redis ACLs,
a private network), and keep the secrets out of it.

If the shared cache fails (Redis down, memcached unreachable),
:class:`SharedCache` logs one warning, carries on with an in-process cache and
tries the shared one again after ``retry_after`` seconds. Requests keep being
served; what needs the shared cache (one fetch for all workers, revocations
made elsewhere) degrades to per-process until it is back.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import hmac
import logging
import os
import threading
import weakref
from collections.abc import Mapping, Sequence
from typing import IO, Any

from cachelib import BaseCache, FileSystemCache, MemcachedCache, RedisCache, SimpleCache
from cachelib.serializers import BaseSerializer

from .clock import Clock, system_clock
from .errors import ConfigError
from .validation import no_unknown_keys, whole
from .validation import secrets as validated_secrets

__all__ = ["CACHE_TYPES", "SharedCache", "build_cache"]

log = logging.getLogger("wsgi_jwt_guard")

CACHE_TYPES = ("memory", "filesystem", "redis", "memcached")
# A cache server that does not answer within this long is treated as down:
# requests must not queue behind it.
_SOCKET_TIMEOUT = 0.5
# Authenticated entries: "<tag><base64url HMAC-SHA256 (43 chars)>.<value>".
_SIGNED = "wjg1:"
_MAC_LENGTH = 43
# Backends warned about once, however many SharedCache views they get.
_WARNED: weakref.WeakSet[BaseCache] = weakref.WeakSet()
# memcached caches in use. A process forked after one of them connected (a
# gunicorn worker under --preload) would share its sockets with its parent and
# read the parent's answers: redis-py notices a fork and reconnects, pymemcache
# does not, so children drop the connections they inherited.
_MEMCACHED: weakref.WeakSet[BaseCache] = weakref.WeakSet()


def _drop_inherited_connections() -> None:
    for cache in list(_MEMCACHED):
        close = getattr(getattr(cache, "_client", None), "close", None)
        if close is not None:
            with contextlib.suppress(Exception):  # only closes this process's descriptors
                close()


if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=_drop_inherited_connections)


class _TextSerializer(BaseSerializer):
    """Text and whole numbers, tagged; never pickles and never unpickles.

    ``FileSystemCache`` keeps its file count as an ``int`` through the same
    serializer, hence the ``i`` tag beside ``t`` for text. Anything else read
    back (a pickle another client wrote) is ``None``.
    """

    def dumps(self, value: Any, protocol: int = 0) -> bytes:
        if isinstance(value, str):
            return b"t" + value.encode("utf-8")
        if type(value) is int:
            return b"i%d" % value
        raise TypeError("the guard stores text only")

    def loads(self, bvalue: bytes | None) -> Any:
        if not isinstance(bvalue, bytes):
            return None
        try:
            if bvalue.startswith(b"t"):
                return bvalue[1:].decode("utf-8")
            if bvalue.startswith(b"i"):
                return int(bvalue[1:])
        except ValueError:  # also UnicodeDecodeError
            pass
        return None

    def dump(self, value: Any, f: IO[bytes], protocol: int = 0) -> None:
        f.write(self.dumps(value))

    def load(self, f: IO[bytes]) -> Any:
        return self.loads(f.read())


class _Outage:
    """When a shared backend may be tried again (``-inf``: it is not known to be down)."""

    __slots__ = ("down_until", "lock")

    def __init__(self) -> None:
        self.down_until = float("-inf")
        self.lock = threading.Lock()


# One outage record per backend object, however many SharedCache views wrap it
# (the JWKS clients and the revocations each hold one).
_OUTAGES: weakref.WeakKeyDictionary[BaseCache, _Outage] = weakref.WeakKeyDictionary()
_OUTAGES_LOCK = threading.Lock()


def _outage_of(cache: BaseCache | None) -> _Outage:
    if cache is None:
        return _Outage()
    with _OUTAGES_LOCK:
        outage = _OUTAGES.get(cache)
        if outage is None:
            outage = _OUTAGES[cache] = _Outage()
        return outage


def _text_only(cache: BaseCache) -> BaseCache:
    """``cache``, or a shallow copy of it that stores and reads text only."""
    if isinstance(cache, (RedisCache, FileSystemCache)):
        # A copy, so that an application sharing the cache object keeps its
        # own serializer; the copy shares the connection or directory.
        text = copy.copy(cache)
        text.serializer = _TextSerializer()  # type: ignore[assignment]
        return text
    if isinstance(cache, MemcachedCache) and _may_unpickle(getattr(cache, "_client", None)):
        # pylibmc and python-memcached unpickle whatever an entry's flags ask for.
        raise ConfigError(
            "cache", "this memcached client may unpickle entries; use type = 'memcached'"
        )
    return cache


def _may_unpickle(client: object) -> bool:
    """Whether a memcached client could deserialize entries with ``pickle``."""
    if not type(client).__module__.startswith("pymemcache"):
        return True
    # A HashClient keeps its options for the per-server clients it creates.
    options = getattr(client, "default_kwargs", None) or vars(client)
    if options.get("deserializer") is not None:
        return True
    serde = options.get("serde")
    deserialize = getattr(serde, "deserialize", None)
    return serde is not None and getattr(deserialize, "__name__", "") != "_default_deserialize"


class SharedCache(BaseCache):
    """A text-only, optionally authenticated view of a shared cache that falls
    back to process memory.

    :param cache: the shared cache; ``None`` means process memory only.
    :param secrets: HMAC secrets (32+ characters each); the first signs, all
        verify. Entries without a valid HMAC read as absent.
    :param retry_after: seconds to use process memory before trying a failed
        shared cache again.
    """

    def __init__(
        self,
        cache: BaseCache | None = None,
        *,
        secrets: Sequence[str] = (),
        retry_after: float = 10.0,
        clock: Clock = system_clock,
    ) -> None:
        super().__init__(default_timeout=300)
        if cache is not None and not isinstance(cache, BaseCache):
            raise ConfigError("cache", "expected a cachelib cache")
        outage: _Outage
        if isinstance(cache, SharedCache):
            secrets = secrets or cache.secrets
            outage = cache._outage
            cache = cache.shared
        else:
            outage = _outage_of(cache)
        #: Whether the backend is down, shared by every view of it in this process,
        #: so one failure is noticed, waited out and logged once, not once per view.
        self._outage: _Outage = outage
        #: The HMAC secrets, the signing one first.
        self.secrets: tuple[str, ...] = validated_secrets(secrets, "secrets", allow_empty=True)
        self._keys = [secret.encode("utf-8") for secret in self.secrets]
        self.shared: BaseCache | None = _text_only(cache) if cache is not None else None
        if isinstance(self.shared, MemcachedCache):
            _MEMCACHED.add(self.shared)
        if (
            cache is not None
            and not self.secrets
            and not isinstance(cache, SimpleCache)
            and cache not in _WARNED
        ):
            _WARNED.add(cache)
            log.warning(
                "the shared cache %s has no secrets: anyone who can write to it can plant"
                " signing keys or lift revocations; set [cache] secrets",
                type(cache).__name__,
            )
        self.local = SimpleCache(threshold=10_000)
        self.retry_after = retry_after
        self.clock = clock

    @property
    def is_shared(self) -> bool:
        """Whether a shared cache is configured (it may be down right now)."""
        return self.shared is not None

    def _call(self, operation: str, *args: Any) -> tuple[bool, Any]:
        """``(True, result)`` from the shared cache, or ``(False, None)`` when it is down."""
        outage = self._outage
        if self.shared is None or self.clock() < outage.down_until:
            return False, None
        try:
            return True, getattr(self.shared, operation)(*args)
        except Exception as exc:
            with outage.lock:
                first = self.clock() >= outage.down_until
                if first:
                    outage.down_until = self.clock() + self.retry_after
            if first:
                log.warning(
                    "shared cache %s failed (%s); using process memory for %ss",
                    type(self.shared).__name__,
                    exc,
                    self.retry_after,
                )
            return False, None

    def get(self, key: str) -> Any:
        ok, value = self._call("get", key)
        if not ok:
            value = self.local.get(key)
            return value if isinstance(value, str) else None  # process memory: trusted
        return self._read(key, value)

    def get_many(self, *keys: str) -> list[Any]:
        """Several entries in one round trip (Redis ``MGET``, memcached ``get_multi``)."""
        if not keys:
            return []
        ok, values = self._call("get_many", *keys)
        if not ok:
            return [self.get(key) for key in keys]  # process memory
        return [self._read(key, value) for key, value in zip(keys, values, strict=True)]

    def _read(self, key: str, value: Any) -> str | None:
        """What the shared cache returned for ``key``, as text, if authentic."""
        if isinstance(value, bytes):  # memcached hands back what it was given, as bytes
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError:
                return None
        if not isinstance(value, str):
            return None
        return self._opened(key, value) if self._keys else value

    def set(self, key: str, value: Any, timeout: Any = None) -> bool:
        """Store ``value`` in the shared cache; ``False`` if only process memory has it."""
        self.local.set(key, value, timeout)
        ok, stored = self._call("set", key, self._sealed(key, value), timeout)
        return ok and stored is not False

    def add(self, key: str, value: Any, timeout: Any = None) -> bool:
        """Store ``value`` unless ``key`` exists: the shared cache's atomic claim.

        A key holding an unauthenticated entry exists too: ``add`` is then
        ``False`` while :meth:`get` reads ``None``.
        """
        ok, added = self._call("add", key, self._sealed(key, value), timeout)
        if ok:
            return bool(added)
        return bool(self.local.add(key, value, timeout))

    def add_shared(self, key: str, value: Any, timeout: Any = None) -> bool | None:
        """:meth:`add` in the shared cache alone; ``None`` when there is none or it
        is down. For claims that must not land in process memory's bounded cache,
        which evicts entries before they expire once it is full."""
        ok, added = self._call("add", key, self._sealed(key, value), timeout)
        return bool(added) if ok else None

    def _mac(self, secret: bytes, key: str, value: str) -> str:
        # The key is signed too: an entry copied under another key is refused.
        message = key.encode("utf-8", "surrogatepass") + b"\0" + value.encode("utf-8")
        digest = hmac.new(secret, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")

    def _sealed(self, key: str, value: Any) -> Any:
        if not self._keys or not isinstance(value, str):
            return value
        return f"{_SIGNED}{self._mac(self._keys[0], key, value)}.{value}"

    def _opened(self, key: str, entry: str) -> str | None:
        """The value of an authenticated ``entry``; ``None`` if it is not one."""
        start = len(_SIGNED)
        dot = start + _MAC_LENGTH
        if not entry.startswith(_SIGNED) or entry[dot : dot + 1] != ".":
            return None
        sent = entry[start:dot].encode("ascii", "replace")
        value = entry[dot + 1 :]
        for secret in self._keys:
            if hmac.compare_digest(sent, self._mac(secret, key, value).encode("ascii")):
                return value
        return None

    def delete(self, key: str) -> bool:
        self.local.delete(key)
        ok, deleted = self._call("delete", key)
        return bool(deleted) if ok else True

    def has(self, key: str) -> bool:
        return self.get(key) is not None

    def clear(self) -> bool:
        self.local.clear()
        ok, cleared = self._call("clear")
        return bool(cleared) if ok else True


def build_cache(config: Mapping[str, Any]) -> BaseCache:
    """The cache a ``[cache]`` table describes (see the module docs).

    ``memory``: ``threshold``. ``filesystem``: ``dir`` (required), ``threshold``.
    ``redis``: ``url`` (required, ``redis://`` or ``rediss://``). ``memcached``:
    ``servers`` (required, ``["host:port", ...]``). All: ``key_prefix``,
    ``secrets`` (the result is then a :class:`SharedCache` that signs entries).
    """
    known = {
        "memory": {"threshold"},
        "filesystem": {"dir", "threshold"},
        "redis": {"url"},
        "memcached": {"servers"},
    }
    kind = config.get("type", "memory")
    if kind not in known:
        raise ConfigError("cache.type", f"expected one of {list(CACHE_TYPES)}")
    allowed = known[kind] | {"type", "key_prefix", "secrets"}
    no_unknown_keys(config, allowed, "cache", f"unknown for type {kind!r}")
    prefix = config.get("key_prefix", "")
    if not isinstance(prefix, str):
        raise ConfigError("cache.key_prefix", "expected a string")
    threshold = whole(config.get("threshold", 10_000), "cache.threshold", minimum=1)
    secrets = validated_secrets(config.get("secrets", ()), "cache.secrets", allow_empty=True)
    cache: BaseCache
    if kind == "memory":
        cache = SimpleCache(threshold=threshold)
    elif kind == "filesystem":
        directory = config.get("dir")
        if not isinstance(directory, str) or not directory:
            raise ConfigError("cache.dir", "expected the directory the workers share")
        cache = FileSystemCache(directory, threshold=threshold, mode=0o600)
    elif kind == "redis":
        cache = _redis(config.get("url"), prefix)
    else:
        cache = _memcached(config.get("servers"), prefix)
    return SharedCache(cache, secrets=secrets) if secrets else cache


def _redis(url: object, prefix: str) -> BaseCache:
    if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("cache.url", "expected a redis:// or rediss:// URL")
    try:
        import redis
    except ImportError:
        raise ConfigError("cache.type", "type = 'redis' needs: pip install redis") from None
    try:
        client = redis.Redis.from_url(
            url, socket_timeout=_SOCKET_TIMEOUT, socket_connect_timeout=_SOCKET_TIMEOUT
        )
    except ValueError as exc:
        raise ConfigError("cache.url", str(exc)) from None
    return RedisCache(host=client, key_prefix=prefix)


def _memcached(servers: object, prefix: str) -> BaseCache:
    if (
        isinstance(servers, str)
        or not isinstance(servers, list)
        or not servers
        or not all(isinstance(s, str) and ":" in s for s in servers)
    ):
        raise ConfigError("cache.servers", 'expected a list of "host:port" strings')
    try:
        from pymemcache.client.hash import HashClient  # type: ignore[import-untyped]
    except ImportError:
        raise ConfigError("cache.type", "type = 'memcached' needs pymemcache installed") from None
    addresses = []
    for server in servers:
        host, _, port = server.rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError("cache.servers", f"{server!r} is not host:port")
        addresses.append((host, int(port)))
    # No serde: values go in and come out as bytes, so nothing is ever unpickled.
    client = HashClient(
        addresses,
        connect_timeout=_SOCKET_TIMEOUT,
        timeout=_SOCKET_TIMEOUT,
        retry_attempts=1,
        encoding="utf-8",
        default_noreply=False,  # add() must report whether it claimed the key
    )
    return MemcachedCache(servers=client, key_prefix=prefix)
