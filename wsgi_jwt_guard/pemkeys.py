"""Keys published one PEM per ``kid``, as AWS ALB publishes them.

ALB keeps no JWKS: the key of a token whose header says ``kid: <kid>`` is the
PEM at ``https://public-keys.auth.elb.<region>.amazonaws.com/<kid>``.
:class:`PEMKeysByKid` fetches such a key the first time a ``kid`` is seen and
keeps it -- a ``kid``'s key never changes, a new key gets a new ``kid``::

    keys = PEMKeysByKid("https://public-keys.auth.elb.eu-west-1.amazonaws.com/{kid}", ["ES256"])
    keys.find("0e1f4cfe-9e2a-4c9b-8b0c-3d5e0f1a2b3c", "ES256")

The ``kid`` comes from a token, so anyone can send any: only a ``kid`` of
safe characters (letters, digits, ``-`` and ``_``, at most 128) is ever put
in a URL; a ``kid`` whose fetch found no key is refused with no fetch until
the ``cooldown`` of ``policy`` has passed; at most :data:`MAX_KIDS` keys are
held. A fetched PEM is stored in the shared cache, so workers fetch each key
once between them. After a ``kid`` with no key, no other unknown ``kid`` is
fetched within the cooldown either, so random kids cost one fetch per
cooldown. A failed download (not a 4xx answer) is a 503: "cannot check".
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Collection
from typing import TYPE_CHECKING

from cachelib import BaseCache

from .caches import SharedCache
from .clock import Clock, system_clock
from .errors import ConfigError, KeysUnavailable, UnknownKey
from .fetch import Downloader
from .keys import PinnedKey, pin_pem
from .refresh import RefreshPolicy

if TYPE_CHECKING:
    from .metrics import Metrics

__all__ = ["MAX_KIDS", "PEMKeysByKid"]

log = logging.getLogger("wsgi_jwt_guard")

#: Keys held at most; the oldest used goes first. ALB rotates rarely.
MAX_KIDS = 64
# Kids remembered as having no key; past this the memory starts over.
_MAX_MISSES = 1024
# A kid goes into a URL path: nothing that could leave that path segment.
_KID = re.compile(r"[A-Za-z0-9_-]{1,128}")
# How long the shared cache keeps a fetched PEM (seconds): a kid's key is fixed.
_SHARED_TTL = 24 * 3600


class PEMKeysByKid:
    """The key of each ``kid`` at ``url_template`` (``{kid}`` replaced), fetched once.

    :param url_template: the key URL, with ``{kid}`` where the token's ``kid`` goes.
    :param algorithms: the algorithms a key may be pinned to.
    :param cache: the cache shared with other workers (default: this process only).
    :param policy: its ``cooldown`` is how long a ``kid`` with no key stays refused.
    :param downloader: downloads the PEMs (timeouts, size cap, TLS, redirects).
    :param clock: the time; tests replace it.
    :param metrics: counts ``keys.fetch.ok`` / ``keys.fetch.failed``.
    """

    def __init__(
        self,
        url_template: str,
        algorithms: Collection[str],
        *,
        cache: BaseCache | None = None,
        policy: RefreshPolicy | None = None,
        downloader: Downloader | None = None,
        clock: Clock = system_clock,
        metrics: Metrics | None = None,
    ) -> None:
        if url_template.count("{kid}") != 1:
            raise ConfigError("pem_url", "expected a URL with '{kid}' once")
        self.url_template = url_template
        self.algorithms = tuple(algorithms)
        self.cache = cache if isinstance(cache, SharedCache) else SharedCache(cache, clock=clock)
        self.policy = policy or RefreshPolicy()
        self.downloader = downloader or Downloader(max_bytes=16 * 1024)
        self.clock = clock
        self.metrics = metrics
        self._keys: OrderedDict[str, PinnedKey] = OrderedDict()
        self._misses: dict[str, float] = {}
        self._last_miss = -float("inf")
        self._lock = threading.Lock()

    def find(self, kid: str | None, algorithm: str) -> PinnedKey:
        """The key of ``kid`` pinned to ``algorithm``; fetched the first time."""
        key = self._keys.get(kid) if kid is not None else None
        if key is None:
            key = self._load(kid)
        if key.algorithm != algorithm:
            raise UnknownKey("the token's algorithm does not match its key")
        return key

    def _load(self, kid: str | None) -> PinnedKey:
        if kid is None or not _KID.fullmatch(kid):
            raise UnknownKey("the token's 'kid' is missing or not a key ID")
        now = self.clock()
        # Within the cooldown of a kid with no key, no unknown kid is fetched:
        # random kids cost one fetch per cooldown, as with a JWKS.
        missed = self._misses.get(kid, self._last_miss)
        if now - missed < self.policy.cooldown:
            raise UnknownKey("no key is published for the token's 'kid'")
        url = self.url_template.replace("{kid}", kid)
        cache_key = "wsgi_jwt_guard:pem:" + hashlib.sha256(url.encode()).hexdigest()
        pem = self.cache.get(cache_key)
        key = self._pinned(pem, kid) if isinstance(pem, str) else None
        if key is None:
            pem = self._download(url, kid, now)
            key = self._pinned(pem, kid)
            if key is None:
                self._miss(kid, now)
                raise UnknownKey("the key published for the token's 'kid' is not usable")
            self.cache.set(cache_key, pem, timeout=_SHARED_TTL)
        with self._lock:
            self._keys[kid] = key
            self._keys.move_to_end(kid)
            while len(self._keys) > MAX_KIDS:
                self._keys.popitem(last=False)
        return key

    def _download(self, url: str, kid: str, now: float) -> str:
        try:
            text = self.downloader.get_text(url).document
        except ValueError as exc:  # an answer, but no key: remember the kid has none
            self._count("keys.fetch.failed")
            if str(exc).startswith("HTTP 4"):
                self._miss(kid, now)
                raise UnknownKey("no key is published for the token's 'kid'") from None
            raise KeysUnavailable(f"the token's key could not be fetched: {exc}") from None
        except Exception as exc:  # the network: cannot check, not invalid
            self._count("keys.fetch.failed")
            log.warning("fetching %s failed: %s", url, exc)
            raise KeysUnavailable("the token's key could not be fetched") from None
        self._count("keys.fetch.ok")
        return str(text)

    def _pinned(self, pem: str, kid: str) -> PinnedKey | None:
        try:
            return pin_pem(pem, self.algorithms, kid)
        except (ConfigError, UnicodeError):
            return None

    def _miss(self, kid: str, now: float) -> None:
        with self._lock:
            if len(self._misses) >= _MAX_MISSES:
                self._misses.clear()
            self._misses[kid] = now
            self._last_miss = now

    def _count(self, name: str) -> None:
        if self.metrics is not None:
            self.metrics.increment(name)
