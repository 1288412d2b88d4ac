"""Where an issuer publishes its keys, by OIDC discovery.

An issuer configured with ``discovery = true`` names no JWKS URL: it is read
from ``<issuer>/.well-known/openid-configuration``. :class:`Discovery` reads
it and checks it before anything is fetched from it:

* the document's ``issuer`` must equal the configured issuer exactly (no
  trailing-slash or case folding) -- otherwise a document served for another
  tenant, or by a captive portal, would choose the keys;
* its ``jwks_uri`` must be a URL keys may be fetched from
  (:func:`~wsgi_jwt_guard.fetch.check_fetch_url`) on the issuer's own scheme,
  host and port -- unless that host is listed in ``allowed_hosts``
  (Google's ``accounts.google.com`` publishes keys on ``www.googleapis.com``).

::

    discovery = Discovery("https://accounts.google.com", Downloader(),
                          allowed_hosts=["www.googleapis.com"])
    discovery.jwks_uri(now=time.time())    # downloads once, then remembers it a day

The URL found is kept for a day (``ttl``), or until :meth:`Discovery.forget`
-- called when a fetch from it fails, since the issuer may have moved it.

The same document names the issuer's ``introspection_endpoint`` (RFC 8414),
read by :meth:`Discovery.introspection_endpoint` for an issuer that
introspects tokens (:mod:`wsgi_jwt_guard.introspection`), under the same
rules: on the issuer's origin or an allowed host, kept for ``ttl``.
"""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import urlsplit

from .fetch import Downloader, check_fetch_url, same_origin

__all__ = ["Discovery"]


class Discovery:
    """Finds and checks an issuer's ``jwks_uri`` from its OIDC discovery document.

    :param issuer: the issuer URL; the document is at ``<issuer>/.well-known/openid-configuration``.
    :param downloader: what downloads the document.
    :param allowed_hosts: hosts other than the issuer's a ``jwks_uri`` may be on (https only).
    :param insecure_http: allow ``http://`` off loopback (test rigs only).
    :param ttl: seconds a discovered URL is used before the document is read again.
    """

    def __init__(
        self,
        issuer: str,
        downloader: Downloader,
        *,
        allowed_hosts: Collection[str] = (),
        insecure_http: bool = False,
        ttl: float = 86400.0,
    ) -> None:
        self.issuer = issuer
        self.downloader = downloader
        self.allowed_hosts = frozenset(host.lower() for host in allowed_hosts)
        self.insecure_http = insecure_http
        self.ttl = ttl
        self.url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        # (jwks_uri, when found); replaced whole, so threads need no lock to read it.
        self._found: tuple[str, float] | None = None
        # (introspection_endpoint or None when the document names none, when read).
        self._introspection: tuple[str | None, float] | None = None

    @property
    def known_uri(self) -> str | None:
        """The ``jwks_uri`` found last, if any (no I/O)."""
        found = self._found
        return found[0] if found is not None else None

    def jwks_uri(self, *, now: float) -> str:
        """The issuer's checked ``jwks_uri``; downloads the document when not known or too old."""
        found = self._found
        if found is not None and now - found[1] < self.ttl:
            return found[0]
        document = self._document(now)
        uri = self.check(document.get("jwks_uri"))
        self.remember(uri, now=now)
        return uri

    def introspection_endpoint(self, *, now: float) -> str:
        """The issuer's checked ``introspection_endpoint``; downloads the document
        when not known or too old. ``ValueError`` when it names none or a bad one."""
        found = self._introspection
        if found is None or now - found[1] >= self.ttl:
            self._document(now)
            found = self._introspection
        uri = found[0] if found is not None else None
        if uri is None:
            raise ValueError("the discovery document names no valid introspection_endpoint")
        return uri

    def _document(self, now: float) -> dict[str, object]:
        """The discovery document, downloaded and checked; notes its introspection endpoint."""
        document = self.downloader.get_json(self.url).document
        if not isinstance(document, dict):
            raise ValueError("the discovery document is not a JSON object")
        if document.get("issuer") != self.issuer:
            raise ValueError(
                f"the discovery document names issuer {document.get('issuer')!r},"
                f" not {self.issuer!r}"
            )
        endpoint = document.get("introspection_endpoint")
        try:
            checked = None if endpoint is None else self.check(endpoint, "introspection_endpoint")
        except ValueError:
            checked = None  # the keys may still be fine; introspection says why it cannot
        self._introspection = (checked, now)
        return document

    def check(self, uri: object, name: str = "jwks_uri") -> str:
        """``uri`` if keys for this issuer may come from it (or, by ``name``, its
        tokens be sent to it); ``ValueError`` saying why not.

        Also used on a URL another worker discovered and stored in a shared cache.
        """
        check_fetch_url(uri, insecure_http=self.insecure_http)
        assert isinstance(uri, str)
        if same_origin(uri, self.issuer):
            return uri
        parts = urlsplit(uri)
        if parts.scheme == "https" and (parts.hostname or "").lower() in self.allowed_hosts:
            return uri
        raise ValueError(
            f"the discovered {name} {uri!r} is not on the issuer's host"
            " (list its host in jwks_allowed_hosts to trust it)"
        )

    def remember(self, uri: str, *, now: float) -> None:
        """Use ``uri`` (already checked) from ``now`` on: found here or by another worker."""
        found = self._found
        if found is None or found[0] != uri or found[1] < now:
            self._found = (uri, now)

    def forget(self) -> None:
        """Read the document again next time: a fetch from the URL failed, it may have moved."""
        self._found = None
        self._introspection = None
