"""The request as the guard's steps see it: worked out once, read by each step.

:class:`RequestView` is built at the top of ``JWTGuard.__call__`` and handed
to routing, extraction and the CSRF check, so no step parses what another
already parsed, and no step reaches into another's helpers:

* ``path`` -- the path to match: ``mount + PATH_INFO``, decoded and checked
  (:func:`normalize_path`). Frameworks route on ``PATH_INFO``; a
  ``SCRIPT_NAME`` other than the configured ``mount`` is refused, since some
  servers let a client set it.
* ``method`` and ``methods`` -- ``REQUEST_METHOD``, and every method an
  override header (``X-HTTP-Method-Override`` and its kin) names, which some
  frameworks honour.
* ``cookie(name)`` -- the ``Cookie`` header read the way browsers write it
  (RFC 6265 §5.4): ``name=value`` pairs joined by ``;``, no quoting that could
  group pairs. Parsers written for the older RFC 2109 grammar (werkzeug's
  ``parse_cookie`` among them) read ``a="; token=x; b="`` as one quoted value;
  a browser sends those as three cookies, and a sibling subdomain can make it
  send exactly that to hide a second ``token``.
* ``origin`` and ``own_origin`` -- the ``Origin`` header, and this request's
  own ``scheme://host[:port]``, both normalized (:func:`normalize_origin`).

Everything but the path is worked out on first use only: most requests never
need their cookies split or their origin parsed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from werkzeug.wsgi import get_host

from .errors import PathTooLong, UnsafePath

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

__all__ = [
    "UNSAFE_PATH",
    "RequestView",
    "describe_unsafe",
    "normalize_origin",
    "normalize_path",
    "without_cookies",
]

# One scan finds every form of path the guard refuses (see the routing docs).
# Still-encoded escapes after the server decoded the path mean double encoding:
# %2e . %2f / %5c \ %00 NUL %3b ; and %25XX (a third layer, any character).
UNSAFE_PATH = re.compile(
    r"[\x00-\x1f\x7f\\]|%(?:2[eEfF]|5[cC]|00|3[bB]|25[0-9A-Fa-f]{2})|//|/\.\.?(?:/|$)"
)
#: Headers that frameworks and middleware honour to change the request method.
_METHOD_OVERRIDES = ("HTTP_X_HTTP_METHOD_OVERRIDE", "HTTP_X_HTTP_METHOD", "HTTP_X_METHOD_OVERRIDE")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Host names as browsers send them in Origin: underscores too (Docker service names).
_HOST = re.compile(r"[a-z0-9._-]+|\[[0-9a-f:.]+\]")


class RequestView:
    """One request's path, methods, cookies and origins, for the guard's steps."""

    __slots__ = ("_cookies", "_methods", "environ", "method", "path", "response_headers")

    def __init__(self, environ: WSGIEnvironment, path: str) -> None:
        self.environ = environ
        #: ``mount + PATH_INFO``, decoded and checked: what the route table sees.
        self.path = path
        #: ``REQUEST_METHOD`` as sent.
        self.method: str = environ.get("REQUEST_METHOD", "GET")
        self._methods: frozenset[str] | None = None
        self._cookies: dict[str, list[str]] | None = None
        #: Headers a step adds to the app's response if the request is allowed
        #: (a renewed ``DPoP-Nonce``); most requests have none.
        self.response_headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, environ: WSGIEnvironment, mount: str = "", max_length: int = 8192) -> RequestView:
        """The view of ``environ``; refuses an unsafe path (see :func:`normalize_path`)."""
        return cls(environ, normalize_path(environ, mount, max_length))

    @property
    def methods(self) -> frozenset[str]:
        """``REQUEST_METHOD`` and every method an override header names, upper case."""
        if self._methods is None:
            methods = {self.method.upper()}
            for key in _METHOD_OVERRIDES:
                value = self.environ.get(key)
                if value is not None:
                    parts = (part.strip().upper() for part in str(value).split(","))
                    methods.update(part for part in parts if part)  # "" overrides nothing
            self._methods = frozenset(methods)
        return self._methods

    def cookie(self, name: str) -> list[str]:
        """Every value of the cookie ``name``, in the order sent (see the module docs).

        Values keep the header's bytes as PEP 3333 gives them (latin-1 text); a
        value wholly wrapped in a pair of quotes (RFC 6265 §4.1.1's form) is
        unwrapped, as Go's ``net/http`` does.
        """
        cookies = self._cookies
        if cookies is None:
            cookies = self._cookies = _split_cookies(self.environ.get("HTTP_COOKIE", ""))
        return cookies.get(name, [])

    @property
    def origin(self) -> str | None:
        """The ``Origin`` header as sent, ``None`` if absent."""
        return self.environ.get("HTTP_ORIGIN")

    def own_origin(self) -> str | None:
        """This request's own origin, from ``wsgi.url_scheme`` and ``Host``, normalized."""
        scheme = str(self.environ.get("wsgi.url_scheme", "http"))
        return normalize_origin(f"{scheme}://{get_host(self.environ)}")


def _split_cookies(header: str) -> dict[str, list[str]]:
    """Every ``name=value`` pair of a ``Cookie`` header; linear in its length."""
    cookies: dict[str, list[str]] = {}
    # str.split(";") compares character by character; the test for ";" runs in
    # memchr, and a header of one cookie (a long token) needs no split.
    for pair in header.split(";") if ";" in header else (header,):
        name, equals, value = pair.partition("=")
        if not equals:
            continue  # a nameless cookie: never one of ours
        value = value.strip(" \t")
        if value[-1:] == '"' and value[:1] == '"' and len(value) >= 2:  # rare: test last
            value = value[1:-1]
        cookies.setdefault(name.strip(" \t"), []).append(value)
    return cookies


def without_cookies(header: str, names: Collection[str]) -> str:
    """A ``Cookie`` header without the pairs named ``names``; the rest byte for byte.

    Pairs are split as :meth:`RequestView.cookie` reads them (at every ``;``,
    no quoting), so every pair the guard reads as one of ``names`` is gone,
    tossed copies included. Names are compared with any whitespace around them
    removed, which also catches what a laxer parser downstream would read as
    one of them. A nameless pair (no ``=``) is no cookie of ours and stays.
    """
    pairs = header.split(";")
    kept = [
        pair for pair in pairs if "=" not in pair or pair.partition("=")[0].strip() not in names
    ]
    if len(kept) == len(pairs):
        return header
    return ";".join(kept).lstrip(" \t")


def normalize_path(environ: WSGIEnvironment, mount: str = "", max_length: int = 8192) -> str:
    """The decoded path to match, ``mount + PATH_INFO``; refuses what is unsafe.

    :class:`~wsgi_jwt_guard.errors.UnsafePath` (400) if ``SCRIPT_NAME`` is not
    ``mount`` or the path is ambiguous, :class:`~wsgi_jwt_guard.errors.PathTooLong`
    (414) past ``max_length`` characters -- checked before anything else.
    """
    script_name: str = environ.get("SCRIPT_NAME", "")
    if script_name != mount and script_name != mount + "/":
        raise UnsafePath(
            "the request's SCRIPT_NAME is not where this service is mounted"
            " (the guard's 'mount' setting)"
        )
    path_info: str = environ.get("PATH_INFO", "")
    if len(path_info) > max_length:
        raise PathTooLong(f"the request path is longer than {max_length} characters")
    if path_info and path_info[0] != "/":
        # PEP 3333: empty or from '/'. With SCRIPT_NAME '/api/' a server may hand
        # over 'catalog': the app routes on that, while 'mount + PATH_INFO' would
        # read '/apicatalog' -- never decide on a path the app does not see.
        raise UnsafePath("the request's PATH_INFO must be empty or start with '/'")
    raw = mount + path_info
    if (
        raw[:1] == "/"
        and raw.isascii()
        and "%" not in raw
        and "//" not in raw
        and "/." not in raw
        and "\\" not in raw
        and raw.isprintable()
    ):
        # Nothing UNSAFE_PATH could match (printable ASCII has no control
        # character), found by C substring scans: most paths end here.
        return raw
    if raw.isascii():
        path = raw  # ASCII reads the same in latin-1 and UTF-8
    else:
        try:
            # PEP 3333 hands over the path's bytes as latin-1 characters.
            path = raw.encode("latin-1").decode("utf-8")
        except UnicodeError:
            raise UnsafePath("the request path is not valid UTF-8") from None
    if not path:
        return "/"
    if path[0] != "/":
        raise UnsafePath("the request path must start with '/'")
    found = UNSAFE_PATH.search(path)
    if found is None and not path.isascii():
        # Full-width dots, slashes and backslashes become ASCII under NFKC.
        found = UNSAFE_PATH.search(unicodedata.normalize("NFKC", path))
    if found is not None:
        raise UnsafePath(describe_unsafe(found.group()))
    return path


def describe_unsafe(match: str) -> str:
    """Why a path holding ``match`` (a hit of :data:`UNSAFE_PATH`) is refused."""
    if match == "//":
        return "the request path has an empty segment ('//')"
    if match.startswith("/."):
        return "the request path has a '.' or '..' segment"
    if match.startswith("%"):
        return "the request path is encoded twice (an escape is left after decoding)"
    return "the request path holds a backslash or a control character"


def normalize_origin(value: str) -> str | None:
    """``scheme://host[:port]`` lower-cased, default port dropped; ``None`` if not an origin.

    Only ``http``/``https`` origins with a host and nothing else -- no path,
    query, fragment or credentials; ``null`` and malformed values are ``None``.
    """
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:  # a port out of range, a broken IPv6 literal
        return None
    scheme, host = parts.scheme.lower(), parts.hostname
    if (
        scheme not in _DEFAULT_PORTS
        or not host
        or parts.path
        or parts.query
        or parts.fragment
        or parts.username is not None
        or value.strip().endswith(("?", "#", "@"))
    ):
        return None
    if ":" in host:
        host = f"[{host}]"
    if not _HOST.fullmatch(host):
        return None
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"
