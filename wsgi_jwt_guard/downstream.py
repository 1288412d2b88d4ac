"""Claims handed to the app as request headers and environ keys; the token passed on or not.

Apps behind an edge proxy often read the user's groups or tenant from a
request header the proxy sets (Envoy's ``claim_to_headers``, oauth2-proxy's
``X-Auth-Request-Groups``) and pass it on to the services they call. The guard
does the same from the verified token: name a request header, or an environ
key of your own, and the claim it carries::

    from wsgi_jwt_guard import DownstreamSettings, JWTGuard

    app = JWTGuard(app, issuers=[...], downstream=DownstreamSettings(
        headers={
            "X-User-Groups": "groups",                                          # a,b,c
            "X-User-Roles": {"claim": "realm_access.roles", "lists": "json"},   # ["a","b"]
        },
        environ={"myapp.tenant": "tid"},
        forward_token=False,    # the app gets neither the Authorization header nor the cookie
    ))

or in TOML (``from_config``)::

    [downstream]
    forward_token = false

    [downstream.headers]
    "X-User-Groups" = "groups"
    "X-User-Roles" = { claim = "realm_access.roles", lists = "json" }

    [downstream.environ]
    "myapp.tenant" = "tid"

Flask's ``request.headers["X-User-Groups"]`` and Django's (``request.headers``,
``META["HTTP_X_USER_GROUPS"]``) then read the guard's value, and an app that
passes the incoming headers on to another service passes it on too.

Claims are named by path, as route rules name them
(:func:`~wsgi_jwt_guard.claims.claim_path`): ``realm_access.roles``,
``'resource_access."my.app".roles'``, ``https://example.com/roles``. A value
becomes text: a string as it is; a number as its JSON text (``3``, ``2.5``);
``true`` or ``false``; an object as compact JSON; a list joined by the
``separator`` (``,`` by default; per mapping too), each item written the same
way, or as JSON with ``lists = "json"``. JSON is ASCII (anything else is a
``\\u`` escape). No claim, or ``null``: no header at all.

**Unsafe values are left out, never escaped or cut.** A value holding a control
character (CR, LF, NUL, tab, DEL, C1 controls, U+2028/U+2029, a lone surrogate),
a list item holding the separator (``"admins,staff"`` would read as two
groups), or a value longer than ``max_length`` bytes (4096) is not written: the
header (or environ key) is absent from that request, the counter
``downstream.withheld`` goes up and an INFO line names the header and why (never
the value). The app reads the token's value or nothing. Use ``lists = "json"``
for lists whose items may hold the separator.

**Text, as PEP 3333 has it.** A header's environ value is its bytes read as
latin-1, as a server hands over what a client sent: the claim's text is encoded
as UTF-8 and those bytes decoded as latin-1, so ``José`` arrives as ``'JosÃ©'``;
``value.encode("latin-1").decode("utf-8")`` gives the text back, and an HTTP
client that passes the header on sends the UTF-8 bytes. An environ key of your
own is no header: it gets the text itself.

**Inbound copies are scrubbed.** The environ key of every mapped header
(``HTTP_X_USER_GROUPS``) and every mapped environ key are deleted from every
request before anything else, on every route, as ``REMOTE_USER`` is. A server
turns ``X-User-Groups`` and ``X_User_Groups`` into that same key (gunicorn with
``header_map = "dangerous"`` or an underscore name in its ``forwarder_headers``,
the standard library's ``wsgiref``; gunicorn's default, waitress, Werkzeug and
Django's ``runserver`` drop names with ``_``), so one deletion covers every
spelling. Public routes and anonymous requests reach the app without them.

**Not passing the token on.** ``forward_token = false`` removes, once a token
has verified, everything the guard reads tokens from: ``Authorization`` (and a
``DPoP`` proof), the
``token_headers`` (the presets' too) and, from ``Cookie``, the token cookie,
an edge preset's and Backstage's ``backstage-auth`` (the other cookies stay byte
for byte); and a cookie token is no longer copied into ``Authorization``.
Requests the guard did not authenticate (public routes, optional ones without a
token) pass as they came. The :class:`~wsgi_jwt_guard.identity.Identity` in the
environ still holds the token: this decides what is passed on, it is no sandbox.

.. warning::
    Such headers are only as trustworthy as the way to the app. If anything
    reaches the app without passing the guard (another port, a sidecar, a
    second mount of the app), a client can set them there. See ``SECURITY.md``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from .backstage import BACKSTAGE_COOKIE
from .claims import UNSAFE_TEXT, claim_at, claim_path
from .errors import ClaimWithheld, ConfigError
from .request import without_cookies
from .responses import loggable
from .validation import Settings, flag, header_key, instance, no_unknown_keys, one_of, whole

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

    from .cookies import CookieSettings
    from .csrf import CSRFSettings
    from .extraction import TokenHeaders
    from .identity import Identity
    from .metrics import Metrics

__all__ = ["ClaimCopy", "Downstream", "DownstreamSettings"]

log = logging.getLogger("wsgi_jwt_guard")

#: How a mapping writes a list: joined by its separator, or as JSON.
ListFormat = Literal["join", "json"]
#: A mapping's value: a claim path, or a table ``{claim, lists, separator}``.
Mapped = str | Mapping[str, Any]

# No claim may take these: the guard, the server or a proxy reads them from the
# client (scrubbing them would break it), or they frame the request.
_RESERVED = frozenset(
    "HTTP_" + name.upper().replace("-", "_")
    for name in (
        "Authorization", "Cookie", "Host", "Content-Length", "Content-Type", "Transfer-Encoding",
        "Connection", "Keep-Alive", "TE", "Trailer", "Upgrade", "Expect", "Forwarded", "X-Real-IP",
        "Origin", "Referer", "User-Agent", "Accept", "X-HTTP-Method-Override", "X-HTTP-Method",
        "X-Method-Override",
    )
)  # fmt: skip
_RESERVED_PREFIXES = ("HTTP_SEC_", "HTTP_PROXY_", "HTTP_ACCESS_CONTROL_", "HTTP_X_FORWARDED_")
# PEP 3333: an extension key is a namespace, a dot, a name. CGI names have no dot.
_ENVIRON_KEY = re.compile(r"[a-z_][a-z0-9_]*(?:\.[A-Za-z0-9_-]+)+")
# Namespaces that belong to WSGI, the guard or a server: scrubbing them breaks it.
_NOT_OURS = frozenset(
    {"wsgi", "wsgi_jwt_guard", "gunicorn", "waitress", "werkzeug", "uwsgi", "mod_wsgi"}
)
_MAPPING_KEYS = ("claim", "lists", "separator")
_JSON = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), allow_nan=False).encode


@dataclass(frozen=True)
class DownstreamSettings(Settings):
    """Claims handed to the app, and whether the token is; see the module docs."""

    #: Request header name -> claim path, or ``{claim, lists, separator}``.
    headers: Mapping[str, Mapped] = field(default_factory=dict)
    #: Environ key of your own (``myapp.tenant``) -> claim path, or the same table.
    environ: Mapping[str, Mapped] = field(default_factory=dict)
    #: Between a list's items (a mapping's ``separator`` overrides it).
    separator: str = ","
    #: Longer values are left out (a header's bytes as sent, an environ key's characters);
    #: 4 KiB stays well inside the 8 KiB header line gunicorn, Apache and nginx accept.
    max_length: int = 4096
    #: ``False``: no ``Authorization`` header or token cookie reaches the app.
    forward_token: bool = True
    #: Every mapping, parsed: what a request looks up.
    copies: tuple[ClaimCopy, ...] = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self) -> None:
        separator = _separator(self.separator, "separator")
        max_length = whole(self.max_length, "max_length", minimum=1, maximum=65536)
        copies: dict[str, ClaimCopy] = {}
        for part, is_header in (("headers", True), ("environ", False)):
            table = getattr(self, part)
            if not isinstance(table, Mapping):
                raise ConfigError(part, "expected a table of names to claim paths")
            for name, mapped in table.items():
                where = f"{part}.{name!r}"
                key = _header_target(name, where) if is_header else _environ_target(name, where)
                if key in copies:
                    raise ConfigError(where, f"the same target as {copies[key].name!r}")
                copies[key] = ClaimCopy(name, key, mapped, where, is_header, separator, max_length)
        self._settle(
            headers=MappingProxyType(dict(self.headers)),
            environ=MappingProxyType(dict(self.environ)),
            forward_token=flag(self.forward_token, "forward_token"),
            copies=tuple(copies.values()),
        )


class ClaimCopy:
    """One mapping: the claim at ``path`` written to the environ key ``key``."""

    __slots__ = ("_mark", "header", "key", "lists", "max_length", "name", "path", "separator")

    def __init__(
        self, name: str, key: str, mapped: object, where: str, header: bool, separator: str,
        max_length: int,
    ) -> None:  # fmt: skip
        lists: ListFormat = "join"
        if isinstance(mapped, Mapping):
            no_unknown_keys(mapped, _MAPPING_KEYS, where)
            if "claim" not in mapped:
                raise ConfigError(f"{where}.claim", "required")
            lists = one_of(mapped.get("lists", "join"), f"{where}.lists", ("join", "json"))
            if "separator" in mapped:
                if lists == "json":
                    raise ConfigError(f"{where}.separator", "lists written as JSON have none")
                separator = _separator(mapped["separator"], f"{where}.separator")
            path = claim_path(mapped["claim"], f"{where}.claim")
        else:
            path = claim_path(mapped, where)
        #: As configured (the header's name), for messages.
        self.name = name
        #: The environ key written: ``HTTP_X_USER_GROUPS`` for a header.
        self.key = key
        self.path = path
        self.header = header
        self.lists = lists
        self.separator = separator
        # What a reader splitting the list finds in an item: ", " is split at ",".
        self._mark = separator.strip() or separator
        self.max_length = max_length

    def value(self, claims: Mapping[str, Any]) -> str | None:
        """The text for the app; ``None`` if the token has no such claim.

        Raises :class:`~wsgi_jwt_guard.errors.ClaimWithheld` for a value that
        cannot be written safely.
        """
        found = claim_at(claims, self.path)
        if found is None:
            return None
        if type(found) is str:
            text = found
        elif type(found) is list and self.lists == "join":
            items = [item if type(item) is str else _json(item) for item in found]
            for item in items:
                if self._mark in item:
                    raise ClaimWithheld(f"a list item holds the separator {self._mark!r}")
            text = self.separator.join(items)
        else:
            text = _json(found)
        if UNSAFE_TEXT.search(text) is not None:
            raise ClaimWithheld("the value holds a control character")
        if self.header and not text.isascii():
            text = text.encode("utf-8").decode("latin-1")  # PEP 3333: bytes as latin-1
        if len(text) > self.max_length:
            raise ClaimWithheld(f"the value is longer than {self.max_length} bytes")
        return text

    def __repr__(self) -> str:
        return f"ClaimCopy({self.name!r}, path={self.path!r}, lists={self.lists!r})"


class Downstream:
    """The guard's inject step beyond ``REMOTE_USER``, and the keys its scrub removes.

    Built once by the guard from :class:`DownstreamSettings` and what the guard
    reads from requests (its token headers, cookies and CSRF header), which no
    mapping may take.
    """

    __slots__ = (
        "_count_withheld", "_token_keys", "copies", "forward_token", "scrubbed", "token_cookies",
    )  # fmt: skip

    def __init__(
        self,
        settings: DownstreamSettings | None,
        *,
        scrubbed: frozenset[str] = frozenset(),
        token_headers: TokenHeaders | None = None,
        csrf: CSRFSettings | None = None,
        cookie: CookieSettings | None = None,
        backstage: bool = False,
        metrics: Metrics | None = None,
    ) -> None:
        settings = instance(settings, "downstream", DownstreamSettings, DownstreamSettings())
        header_keys = token_headers.keys if token_headers is not None else ()
        read = {key: "the guard reads a token from it (token_headers)" for key in header_keys}
        if csrf is not None and csrf.header is not None:
            read[header_key(csrf.header, "csrf.header")] = "it is the CSRF double-submit header"
        for copy in settings.copies:
            if copy.header and copy.key in read:
                raise ConfigError(f"downstream.headers.{copy.name!r}", read[copy.key])
        self.copies = settings.copies
        self.forward_token = settings.forward_token
        #: The environ keys removed from every request: the guard's and each mapping's.
        self.scrubbed = scrubbed | {copy.key for copy in self.copies}
        # A DPoP proof goes with the token it vouches for.
        self._token_keys = ("HTTP_AUTHORIZATION", "HTTP_DPOP", *header_keys)
        cookies = {cookie.name} if cookie is not None and cookie.enabled else set()
        cookies.update(token_headers.cookies if token_headers is not None else ())
        if backstage:
            cookies.add(BACKSTAGE_COOKIE)
        #: The cookies ``forward_token = false`` takes out of ``Cookie``.
        self.token_cookies = frozenset(cookies)
        self._count_withheld: Callable[[], object] = (
            metrics.counter("downstream.withheld") if metrics is not None else _nothing
        )

    def inject(self, environ: WSGIEnvironment, identity: Identity) -> None:
        """Write the mapped claims of ``identity`` into ``environ``; pass the token on or not."""
        if self.copies:
            claims = identity.claims
            for copy in self.copies:
                try:
                    value = copy.value(claims)
                except ClaimWithheld as reason:
                    self._count_withheld()
                    subject = loggable(identity.subject)
                    log.info("left %s out for %s: %s", copy.name, subject, reason)
                    continue
                if value is not None:
                    environ[copy.key] = value
        if self.forward_token:
            if identity.source == "cookie":
                # Let proxied calls forward the credential, as Backstage's middleware does.
                environ["HTTP_AUTHORIZATION"] = f"Bearer {identity.token}"
            return
        for key in self._token_keys:
            environ.pop(key, None)
        cookies = environ.get("HTTP_COOKIE")
        if cookies:
            kept = without_cookies(cookies, self.token_cookies)
            if kept:
                environ["HTTP_COOKIE"] = kept
            else:
                del environ["HTTP_COOKIE"]


def _nothing() -> None:
    return None


def _json(value: object) -> str:
    try:
        return _JSON(value)
    except (TypeError, ValueError):  # claims built in Python (an API key's): not JSON
        raise ClaimWithheld("the value cannot be written as JSON") from None


def _separator(value: object, key: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 8 or not value.isprintable():
        raise ConfigError(key, "expected 1 to 8 printable characters")
    if not value.isascii():
        raise ConfigError(key, "expected ASCII characters")
    return value


def _header_target(name: object, where: str) -> str:
    if isinstance(name, str) and "_" in name:
        raise ConfigError(where, "servers drop header names with '_': use '-'")
    key = header_key(name, where)
    if key in _RESERVED or key.startswith(_RESERVED_PREFIXES):
        raise ConfigError(where, "the guard, the server or a proxy reads this header: no claim")
    return key


def _environ_target(name: object, where: str) -> str:
    if not isinstance(name, str) or not _ENVIRON_KEY.fullmatch(name):
        raise ConfigError(where, "expected an environ key of your own: a namespace, '.', a name")
    if name.partition(".")[0] in _NOT_OURS:
        raise ConfigError(where, f"the {name.partition('.')[0]}.* keys are not the app's to set")
    return name
