"""Downloading a JSON document from an issuer, within bounds.

Keys decide who gets in, and an issuer's endpoint is on someone else's
network: a download that hangs, trickles, grows without end or is redirected
elsewhere must fail quickly and cleanly instead. :class:`Downloader` does one
thing, ``get_json(url)`` (or ``get_text(url)``), with

* connect and read timeouts, and an overall deadline for the body (a server
  sending one byte a second never trips a read timeout);
* a size cap on the decoded body (a gzip bomb counts at its full size);
* TLS verification, with ``ca_bundle`` for a private CA (passed per request:
  a session's own ``verify`` loses to ``REQUESTS_CA_BUNDLE``);
* redirects followed only on the same scheme, host and port, at most three;
* ``Accept: application/json`` and nothing from any request being served.

:meth:`Downloader.post_form` POSTs a form to a token introspection endpoint
within the same bounds, following no redirect at all.

::

    download = Downloader(max_bytes=64 * 1024).get_json("https://auth.example.com/jwks")
    download.document, download.max_age     # the JSON, Cache-Control max-age

Any failure raises an exception saying why (``ValueError`` for a bad answer,
a ``requests`` exception for the network). URLs come from configuration,
never from a token: :func:`check_fetch_url` is what configuration checks them with.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from werkzeug.datastructures import ResponseCacheControl
from werkzeug.http import parse_cache_control_header

from .validation import LOOPBACK_HOSTS

__all__ = ["Downloaded", "Downloader", "check_fetch_url", "same_origin"]

_MAX_REDIRECTS = 3


def check_fetch_url(url: object, *, insecure_http: bool = False) -> str:
    """``url`` if keys may be fetched from it; ``ValueError`` saying why not.

    ``https://`` always; ``http://`` only on a loopback host (local rigs) or
    with ``insecure_http``.
    """
    if not isinstance(url, str):
        raise ValueError("expected a URL")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("expected an absolute https:// URL")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS and not insecure_http:
        raise ValueError("keys must be fetched over https (insecure_http = true to override)")
    return url


def same_origin(first: str, second: str) -> bool:
    """Whether two URLs share scheme, host (case-insensitively) and port."""
    return _origin(first) == _origin(second)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


@dataclass(frozen=True)
class Downloaded:
    """A JSON document as downloaded."""

    #: The parsed JSON (any type: the caller validates it).
    document: Any
    #: ``Cache-Control: max-age`` in seconds; 0 for ``no-store``/``no-cache``; ``None`` if absent.
    max_age: int | None
    #: Where it was finally read from (after same-origin redirects).
    url: str


class Downloader:
    """Downloads JSON documents with timeouts, a deadline, a size cap and safe redirects.

    :param timeout: ``(connect, read)`` timeouts in seconds, per network operation.
    :param total_timeout: the most seconds reading a body may take, however it trickles.
    :param max_bytes: the largest body accepted, after content decoding.
    :param ca_bundle: a PEM file of CAs to verify TLS with, instead of the system's.
    :param session: the ``requests`` session to use (one per issuer keeps connections
        alive); a forked child uses a new default one (see :meth:`after_fork`).
    """

    def __init__(
        self,
        *,
        timeout: tuple[float, float] = (3.05, 5.0),
        total_timeout: float = 10.0,
        max_bytes: int = 512 * 1024,
        ca_bundle: str | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.timeout = timeout
        self.total_timeout = total_timeout
        self.max_bytes = max_bytes
        self.ca_bundle = ca_bundle
        self.session = session or requests.Session()

    @property
    def longest(self) -> float:
        """About the longest one :meth:`get_json` can take, redirects included."""
        connect, read = self.timeout
        return (_MAX_REDIRECTS + 1) * (connect + read) + self.total_timeout

    def after_fork(self) -> None:
        """Start afresh in a forked child: new session, no connection of the parent's.

        The parent's pooled connections would be shared with it and its other
        children, and the pool's lock may have been held at the fork by a thread
        the child does not have -- so the old session is abandoned, not closed.
        A session passed to the constructor is replaced by a default one.
        """
        self.session = requests.Session()

    def get_json(self, url: str) -> Downloaded:
        """The JSON document at ``url``; raises saying why it could not be had."""
        body, max_age, url = self._get(url, "application/json")
        return Downloaded(json.loads(body), max_age, url)

    def get_text(self, url: str) -> Downloaded:
        """The UTF-8 text at ``url`` (a PEM key), as :attr:`Downloaded.document`."""
        body, max_age, url = self._get(url, "*/*")
        return Downloaded(body.decode("utf-8"), max_age, url)

    def post_form(self, url: str, form: Mapping[str, str], auth: tuple[str, str]) -> Downloaded:
        """POST ``form`` (``application/x-www-form-urlencoded``) with HTTP Basic ``auth``
        and return the JSON answer (RFC 7662 introspection).

        Same timeouts, deadline, size cap and TLS as :meth:`get_json`, but no
        redirect is followed, not even to the same host: the form carries a
        token, and it goes to the configured URL or nowhere. Any answer but 200
        raises ``ValueError`` naming its status.
        """
        with self.session.post(
            url,
            data=dict(form),
            auth=auth,
            timeout=self.timeout,
            allow_redirects=False,
            stream=True,
            headers={"Accept": "application/json"},
            verify=self.ca_bundle if self.ca_bundle is not None else True,
        ) as response:
            if response.status_code != 200:
                raise ValueError(f"HTTP {response.status_code}")
            body = self._read(response)
        return Downloaded(json.loads(body), None, url)

    def _get(self, url: str, accept: str) -> tuple[bytes, int | None, str]:
        for _ in range(_MAX_REDIRECTS + 1):
            with self.session.get(
                url,
                timeout=self.timeout,
                allow_redirects=False,
                stream=True,
                headers={"Accept": accept},
                verify=self.ca_bundle if self.ca_bundle is not None else True,
            ) as response:
                if response.is_redirect:
                    target = urljoin(url, response.headers.get("Location", ""))
                    if not same_origin(target, url):
                        raise ValueError(f"refused a redirect to another host: {target!r}")
                    url = target
                    continue
                if response.status_code != 200:
                    raise ValueError(f"HTTP {response.status_code}")
                body = self._read(response)
                return body, _max_age(response.headers.get("Cache-Control", "")), url
        raise ValueError(f"more than {_MAX_REDIRECTS} redirects")

    def _read(self, response: requests.Response) -> bytes:
        body = bytearray()
        deadline = time.monotonic() + self.total_timeout
        for chunk in _arriving_chunks(response):
            body += chunk
            if len(body) > self.max_bytes:
                raise ValueError(f"the document is larger than {self.max_bytes} bytes")
            if time.monotonic() > deadline:  # a server trickling bytes
                raise ValueError(f"the download took over {self.total_timeout} seconds")
        return bytes(body)


def _max_age(cache_control: str) -> int | None:
    """``max-age`` of a ``Cache-Control`` header; 0 for ``no-store``/``no-cache``.

    A ``no-cache`` naming fields (``no-cache="Set-Cookie"``) only limits those
    fields, so ``max-age`` still holds. Directive names are case-insensitive
    (RFC 9111 §5.2), which werkzeug's parser does not do itself.
    """
    directives = parse_cache_control_header(cache_control.lower(), cls=ResponseCacheControl)
    if directives.no_store or directives.no_cache is True:
        return 0
    return None if directives.max_age is None else max(0, directives.max_age)


def _arriving_chunks(response: requests.Response) -> Iterator[bytes]:
    """The body as it arrives, so a deadline between chunks can cut a trickle short."""
    read1 = getattr(response.raw, "read1", None)  # urllib3 2; 1.x blocks per full chunk
    if read1 is None:
        yield from response.iter_content(65536)
        return
    while chunk := read1(65536, decode_content=True):
        yield chunk
