"""OAuth 2.0 Protected Resource Metadata (RFC 9728): how a client learns where to get a token.

A client that knows only the API's URL -- an MCP client, a CLI, an agent --
calls it, gets a 401, and needs to know which authorization server issues
tokens for it and which scopes to ask for. With ``resource_metadata`` set, the
guard publishes that as a JSON document and names the document in every
challenge::

    JWTGuard(
        app,
        issuers=[Issuer("https://auth.example.com", jwks_uri=...)],
        routes={"/v1/orders": Rule(scopes=["orders.read"])},
        resource_metadata=ResourceMetadata(
            resource="https://api.example.com/v1",   # this API's identifier (required)
            resource_name="Orders API",
        ),
    )

or in TOML, a ``[resource_metadata]`` table with the same keys. A client then sees::

    GET /v1/orders                                       -> 401
    WWW-Authenticate: Bearer realm="wsgi-jwt-guard",
        resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/v1"

    GET /.well-known/oauth-protected-resource/v1         -> 200, application/json
    {"resource": "https://api.example.com/v1",
     "authorization_servers": ["https://auth.example.com"],
     "scopes_supported": ["orders.read"],
     "bearer_methods_supported": ["header"],
     "resource_name": "Orders API"}

* **Where.** RFC 9728 §3.1 inserts ``/.well-known/oauth-protected-resource``
  between the host and the path of ``resource`` (``https://api.example.com/v1``
  -> ``/.well-known/oauth-protected-resource/v1``; a bare host -> the prefix
  alone), with a terminating ``/`` removed (as RFC 8414 §3.1 does; a client
  that keeps it finds the document there too). The guard sees only requests
  below its ``mount``, so with one the document is at ``<mount>`` + that path,
  and the challenges name that URL. The URL is built from ``resource``, never
  from the request's ``Host``.
* **What.** ``resource`` exactly as configured (RFC 9728 §3.3: a client
  discards a document whose ``resource`` differs from the identifier it
  started from). ``authorization_servers``: as set, else the configured
  issuers' ``issuer`` values, except templates (``{tenant}``) and edge-proxy
  presets, which no client can ask for a token. ``scopes_supported``: as set,
  else every scope a route that is not public requires. ``bearer_methods_supported`` is
  ``["header"]``: the token cookie and proxy headers are not RFC 6750 methods,
  and the guard reads no token from a body or query. ``resource_name``,
  ``resource_documentation`` and any other registered field (``extra``) as set.
  A field with no values is left out (§3.2).
* **How.** ``GET`` and ``HEAD``, answered by the guard on any route table
  (the document is public: a token sent is ignored) and never passed to the
  app; another method is a 405 with ``Allow: GET, HEAD``. ``Content-Type:
  application/json``, ``Cache-Control: public, max-age=<max_age>`` and
  ``Access-Control-Allow-Origin: *``: it is the same for everyone and holds
  nothing a credential unlocks, so any page may read it (browser-based MCP
  clients fetch it cross-origin). The body is built once, when the guard is.
* **Challenges.** Every 401, and every 403 ``insufficient_scope``, carries
  ``resource_metadata="<the document's absolute URL>"`` (RFC 9728 §5.1); a 403
  for the route's scopes also names them (``scope``, RFC 6750 §3).

The document tells anyone the API's identifier, its authorization servers and
its scopes; nothing in it is secret, and nothing in it is trusted by the guard
(it verifies tokens as before).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .errors import ConfigError, MethodNotAllowed
from .request import UNSAFE_PATH, normalize_origin
from .validation import Settings, instance, optional_text, scopes, strings, url, whole

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse

    from .binding import SenderBinding
    from .issuers import Issuer
    from .request import RequestView
    from .routing import RouteTable

__all__ = ["WELL_KNOWN", "MetadataEndpoint", "ResourceMetadata", "metadata_endpoint"]

#: RFC 9728 §3's well-known URI suffix for protected resource metadata.
WELL_KNOWN = "/.well-known/oauth-protected-resource"
#: Fields the guard writes from settings or derives; ``extra`` may not set them.
_OWN_FIELDS = frozenset(
    {
        "resource",
        "authorization_servers",
        "scopes_supported",
        "bearer_methods_supported",
        "resource_name",
        "resource_documentation",
    }
)
_ALLOWED = ("GET", "HEAD")


@dataclass(frozen=True)
class ResourceMetadata(Settings):
    """What the metadata document says (``[resource_metadata]``); see the module docs."""

    #: This API's resource identifier: an ``https://`` URL (``http://`` on
    #: localhost) with no query or fragment, host in lower case and no default
    #: port, as clients compare it. Required.
    resource: str
    #: Issuer identifiers of the authorization servers that issue tokens for
    #: this API. ``None``: the configured issuers' (not templates, not presets).
    authorization_servers: Sequence[str] | None = None
    #: Scopes a client may ask for. ``None``: every scope the routes require.
    scopes_supported: Sequence[str] | None = None
    #: A human-readable name, for a client to show its user.
    resource_name: str | None = None
    #: A URL of documentation for developers.
    resource_documentation: str | None = None
    #: Other metadata fields, written as given (``resource_policy_uri``, ...).
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: Seconds clients and caches may keep the document.
    max_age: int = 3600

    def __post_init__(self) -> None:
        servers = self.authorization_servers
        if servers is not None:
            servers = strings(servers, "authorization_servers")
            for index, server in enumerate(servers):
                _identifier(server, f"authorization_servers[{index}]", "an issuer URL")
        documentation = self.resource_documentation
        self._settle(
            resource=_identifier(self.resource, "resource", "this API's URL"),
            authorization_servers=servers,
            scopes_supported=None
            if self.scopes_supported is None
            else scopes(self.scopes_supported, "scopes_supported"),
            resource_name=optional_text(self.resource_name, "resource_name"),
            resource_documentation=None
            if documentation is None
            else url(documentation, "resource_documentation"),
            extra=_extra(self.extra),
            max_age=whole(self.max_age, "max_age"),
        )

    @property
    def well_known_path(self) -> str:
        """The document's path under RFC 9728 §3.1 (without any ``mount``)."""
        return WELL_KNOWN + urlsplit(self.resource).path.rstrip("/")


def _identifier(value: object, key: str, what: str) -> str:
    """An RFC 9728 resource or RFC 8414 issuer identifier: an https URL with no
    query or fragment, its origin written as clients normalize it, a plain path."""
    example = "https://api.example.com/v1"
    value = url(value, key, f"{what}, such as {example!r}")
    parts = urlsplit(value)
    if "?" in value or "#" in value:
        raise ConfigError(key, "expected no query or fragment (RFC 9728 §1.2, RFC 8414 §2)")
    origin = f"{parts.scheme}://{parts.netloc}"
    normalized = normalize_origin(origin)
    if normalized is None:
        raise ConfigError(key, f"expected {what}, such as {example!r}")
    if normalized != origin:
        raise ConfigError(key, f"write {origin!r} as clients compare it: {normalized!r}")
    if UNSAFE_PATH.search(parts.path) or any(c in parts.path for c in ";%"):
        raise ConfigError(key, "expected a plain path: no '.' or '..' segment, '//', ';' or '%'")
    return value


def _extra(value: object) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError("extra", "expected a table of metadata fields")
    for name, item in value.items():
        if not isinstance(name, str) or not name:
            raise ConfigError("extra", "expected metadata field names")
        if name in _OWN_FIELDS:
            raise ConfigError(f"extra.{name}", "the guard writes this field: use its own setting")
        try:
            json.dumps(item, allow_nan=False)
        except (TypeError, ValueError):
            raise ConfigError(f"extra.{name}", "expected a JSON value") from None
    return dict(value)


def metadata_endpoint(
    settings: ResourceMetadata | None,
    issuers: Iterable[Issuer],
    routes: RouteTable,
    mount: str = "",
    binding: SenderBinding | None = None,
) -> MetadataEndpoint | None:
    """The guard's metadata endpoint, or ``None`` without settings; ``binding``
    says which DPoP proofs the guard accepts and whether it requires DPoP."""
    if settings is None:
        return None
    settings = instance(settings, "resource_metadata", ResourceMetadata)
    servers = settings.authorization_servers
    if servers is None:  # only issuers a client can ask: concrete, not an edge proxy
        servers = [issuer.issuer for issuer in issuers if not issuer.tenants and not issuer.preset]
    scopes = routes.scopes if settings.scopes_supported is None else settings.scopes_supported
    return MetadataEndpoint(
        settings,
        authorization_servers=servers,
        scopes=scopes,
        mount=mount,
        dpop_algorithms=() if binding is None else binding.dpop_algorithms,
        dpop_required=binding is not None and binding.dpop_required,
    )


class MetadataEndpoint:
    """``GET``/``HEAD <mount>/.well-known/oauth-protected-resource<path>``, answered in the guard.

    ``url`` is the document's absolute URL, which challenges name.
    """

    def __init__(
        self,
        settings: ResourceMetadata,
        *,
        authorization_servers: Sequence[str] = (),
        scopes: Sequence[str] = (),
        mount: str = "",
        dpop_algorithms: Sequence[str] = (),
        dpop_required: bool = False,
    ) -> None:
        parts = urlsplit(settings.resource)
        path = mount + settings.well_known_path
        self.url = f"{parts.scheme}://{parts.netloc}{path}"
        # A client that keeps the resource's terminating slash (as some do) finds it too.
        kept = mount + WELL_KNOWN + parts.path if parts.path not in ("", "/") else path
        self._paths = frozenset({path, kept})
        document: dict[str, Any] = {"resource": settings.resource}
        if authorization_servers:
            document["authorization_servers"] = list(dict.fromkeys(authorization_servers))
        if scopes:
            document["scopes_supported"] = list(scopes)
        document["bearer_methods_supported"] = ["header"]
        if dpop_algorithms:  # RFC 9728 §2: what DPoP proofs may be signed with
            document["dpop_signing_alg_values_supported"] = list(dpop_algorithms)
        if dpop_required:
            document["dpop_bound_access_tokens_required"] = True
        if settings.resource_name is not None:
            document["resource_name"] = settings.resource_name
        if settings.resource_documentation is not None:
            document["resource_documentation"] = settings.resource_documentation
        document.update(settings.extra)
        self.document = document
        self._body = json.dumps(document).encode("utf-8")
        self._headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(self._body))),
            ("Cache-Control", f"public, max-age={settings.max_age}"),
            ("Access-Control-Allow-Origin", "*"),
        ]

    def handles(self, request: RequestView) -> bool:
        """Whether the request is for the document (any method: others get a 405)."""
        return request.path in self._paths

    def __call__(self, request: RequestView, start_response: StartResponse) -> Iterable[bytes]:
        """The document, or :class:`~wsgi_jwt_guard.errors.MethodNotAllowed` (405)."""
        if request.method not in _ALLOWED:
            raise MethodNotAllowed(
                "the resource metadata is read with GET or HEAD", allowed=_ALLOWED
            )
        start_response("200 OK", list(self._headers))
        return [] if request.method == "HEAD" else [self._body]
