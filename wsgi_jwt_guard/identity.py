"""The verified identity the guard hands to the wrapped application.

After a token verifies, the guard stores an :class:`Identity` in
``environ["wsgi_jwt_guard.identity"]`` and sets ``REMOTE_USER``. Read it with
:func:`get_identity`, which works in any framework that exposes the WSGI
environ::

    from wsgi_jwt_guard import get_identity

    def view(request):                      # Flask: request.environ
        identity = get_identity(request.environ)
        if identity is None:                # an `optional` route, no token
            return "hello, guest"
        return f"hello, {identity.subject} ({identity.kind} token)"
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .claims import granted_scopes

__all__ = ["ENVIRON_KEY", "Identity", "TokenKind", "TokenSource", "get_identity"]

#: Where the guard stores the :class:`Identity` in the WSGI environ.
ENVIRON_KEY = "wsgi_jwt_guard.identity"

#: ``user``: signed by a configured issuer; ``service``: an HS256 service token;
#: ``static``: a configured API key (:mod:`wsgi_jwt_guard.apikeys`). Backstage
#: mode (:mod:`wsgi_jwt_guard.backstage`) adds ``plugin`` (another plugin's own
#: token), ``on-behalf-of`` (a plugin's token for a user: the subject is the
#: user, the ``actor`` the plugin) and ``limited-user`` (Backstage's cookie
#: token, only on routes with ``user_cookie``). ``edge-service``: an edge
#: proxy's token for a machine, not a person (a Cloudflare Access service
#: token; see :mod:`wsgi_jwt_guard.presets`): the subject is its client ID.
TokenKind = Literal[
    "user", "service", "static", "plugin", "on-behalf-of", "limited-user", "edge-service"
]
#: ``header``: ``Authorization: Bearer``; ``cookie``: the token cookie;
#: ``custom-header``: one of the guard's ``token_headers`` (an identity-aware
#: proxy's assertion, such as ``X-Goog-IAP-JWT-Assertion``); ``backstage-cookie``:
#: Backstage's ``backstage-auth`` cookie (:mod:`wsgi_jwt_guard.backstage`).
#: ``edge-cookie``: an edge preset's cookie (Cloudflare Access's ``CF_Authorization``).
#: ``dpop``: ``Authorization: DPoP``, a DPoP-bound token whose proof was checked
#: (:mod:`wsgi_jwt_guard.dpop`).
TokenSource = Literal[
    "header", "cookie", "custom-header", "backstage-cookie", "edge-cookie", "dpop"
]


@dataclass(frozen=True)
class Identity:
    """Who made the request, as proven by a verified token."""

    #: The user name the app sees as ``REMOTE_USER`` (``sub`` by default).
    subject: str
    #: Every claim of the verified token (read-only).
    claims: Mapping[str, Any]
    #: The ``iss`` of a user (or edge service) token; ``None`` for service tokens and API keys.
    issuer: str | None
    kind: TokenKind
    source: TokenSource
    #: The token's ``exp``, in seconds since the epoch (``inf`` for API keys).
    expires_at: float
    #: The raw token, for forwarding to other services. Kept out of ``repr``.
    token: str = field(repr=False)
    #: The scopes the token grants, read once when it verified: by default the
    #: union of ``scope`` and ``scp`` (space-separated strings or lists) and
    #: ``permissions`` (a list); an issuer's ``scope_claims`` can name others.
    scopes: frozenset[str] | None = None
    #: Who sent the request for the subject: the calling plugin (``plugin:<id>``)
    #: of a Backstage ``on-behalf-of`` token; ``None`` when the subject sent it.
    actor: str | None = None

    def __post_init__(self) -> None:
        if self.scopes is None:
            object.__setattr__(self, "scopes", granted_scopes(self.claims))

    @property
    def ownership_refs(self) -> list[str]:
        """Backstage's ``ent`` claim: the entity refs the user owns or belongs to."""
        ent = self.claims.get("ent")
        if isinstance(ent, list):
            return [ref for ref in ent if isinstance(ref, str)]
        return []


def get_identity(environ: Mapping[str, Any]) -> Identity | None:
    """Return the request's verified :class:`Identity`, or ``None`` if anonymous."""
    identity = environ.get(ENVIRON_KEY)
    return identity if isinstance(identity, Identity) else None
