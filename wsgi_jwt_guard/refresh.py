"""When an issuer's keys are fetched again: :class:`RefreshPolicy`.

One frozen settings object holds every timing decision about a JWKS, so an
:class:`~wsgi_jwt_guard.issuers.Issuer` embeds it (``jwks_refresh``) and the
client that fetches reads it, and no default is written down twice::

    Issuer("https://auth.example.com", jwks_uri="https://auth.example.com/jwks",
           jwks_refresh=RefreshPolicy(cooldown=10, prefetch=True))

or in TOML, inside an ``[[issuers]]`` table::

    jwks_refresh = { cooldown = 10, prefetch = true }

The life of a fetched JWKS, for a TTL of 600 s (``Cache-Control: max-age``
within ``[min_ttl, max_ttl]``, else ``default_ttl``, unless ``ttl`` is set):

* 0 -- 480 s: used as it is.
* From 480 s (``refresh_ahead`` = 0.8 of the TTL): the next request starts a
  background refresh and goes on with the keys in hand; with ``prefetch`` a
  background thread does it even when no request comes. No request waits.
* From 600 s (the TTL): a request waits for the refresh (at most ``wait``),
  so keys the issuer has withdrawn stop verifying; if the issuer cannot be
  reached, the keys in hand keep serving (stale-if-error) ...
* ... until ``max_stale`` (a day): then they are dropped, and the issuer's
  tokens get 503 with ``Retry-After`` until a fetch succeeds.

A token whose ``kid`` is not in the keys (the issuer rotated) makes the
request wait for a refetch -- one that is running, or a new one at most once
per ``cooldown`` (fleet-wide with a shared cache), so a flood of random kids
costs one fetch per cooldown. After a failed fetch the next is tried after
``retry_min`` seconds, doubling up to ``retry_max``: an issuer that comes back
is seen within seconds, and one that stays down is asked rarely.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from .errors import ConfigError
from .validation import flag, seconds

__all__ = ["RefreshPolicy"]


@dataclass(frozen=True)
class RefreshPolicy:
    """How long fetched keys are used, and when they are fetched again (see the module docs)."""

    #: Seconds a fetched JWKS is used; ``None``: the response's
    #: ``Cache-Control: max-age`` within ``[min_ttl, max_ttl]``, else ``default_ttl``.
    ttl: float | None = None
    #: Bounds for a ``Cache-Control`` TTL: ``no-store`` means ``min_ttl``, and an
    #: issuer asking for a week is asked again after ``max_ttl``.
    min_ttl: float = 60.0
    max_ttl: float = 3600.0
    #: The TTL when the response has no ``max-age``.
    default_ttl: float = 600.0
    #: The share of the TTL after which keys are refreshed in the background,
    #: before anyone has to wait; 1 refreshes only when due.
    refresh_ahead: float = 0.8
    #: Minimum seconds between refetches for unknown ``kid`` values: a flood of
    #: random kids costs one fetch per cooldown, and a rotation within the
    #: cooldown of the last such refetch waits for the TTL refresh or the cooldown.
    cooldown: float = 30.0
    #: How long the last good keys keep serving while the issuer cannot be reached.
    max_stale: float = 86400.0
    #: Seconds before retrying after a failed fetch, doubled per failure up to
    #: ``retry_max``: recovery within seconds, and a down issuer is not hammered.
    retry_min: float = 1.0
    retry_max: float = 10.0
    #: The longest a request waits for keys being fetched (a cold start, an
    #: unknown kid, expired keys); past it the request gets 503 with
    #: ``Retry-After`` (or the stale keys, if any).
    wait: float = 5.0
    #: Fetch as soon as the guard is built (in each worker after a fork) and
    #: keep the keys fresh from a background thread, so the first requests and
    #: idle workers never wait; needs threads (uWSGI: ``enable-threads``).
    prefetch: bool = False

    def __post_init__(self) -> None:
        for item in fields(self):
            if item.name == "prefetch":
                flag(self.prefetch, "prefetch")
            elif item.name != "ttl" or self.ttl is not None:
                seconds(getattr(self, item.name), item.name)
        if self.min_ttl > self.max_ttl:
            raise ConfigError("min_ttl", "is greater than max_ttl")
        if self.retry_min > self.retry_max:
            raise ConfigError("retry_min", "is greater than retry_max")
        if not 0 < self.refresh_ahead <= 1:
            raise ConfigError("refresh_ahead", "expected a share of the TTL, above 0 and at most 1")

    def ttl_for(self, max_age: int | None) -> float:
        """The TTL of a document served with this ``Cache-Control: max-age``."""
        if self.ttl is not None:
            return float(self.ttl)
        if max_age is None:
            return float(min(max(self.default_ttl, self.min_ttl), self.max_ttl))
        return float(min(max(max_age, self.min_ttl), self.max_ttl))

    def retry_delay(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th failed fetch in a row before the next."""
        if failures <= 0:
            return 0.0
        return float(min(self.retry_max, self.retry_min * 2.0 ** min(failures - 1, 30)))
