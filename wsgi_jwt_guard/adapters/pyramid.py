"""Pyramid: a security policy (Pyramid 2's ``ISecurityPolicy``) over the guard's identity.

With the guard in front of the app -- a ``[filter:jwt]`` in the PasteDeploy
pipeline, or ``JWTGuard(config.make_wsgi_app(), ...)`` -- Pyramid's own
security API works as usual::

    from pyramid.config import Configurator
    from wsgi_jwt_guard.adapters.pyramid import GuardSecurityPolicy

    def whoami(request):
        return {"user": request.authenticated_userid,   # the token's subject
                "kind": request.identity.kind}           # the verified Identity

    with Configurator(settings=settings) as config:
        config.set_security_policy(GuardSecurityPolicy())
        config.add_route("whoami", "/api/whoami")
        config.add_view(whoami, route_name="whoami", renderer="json", permission="read")
        app = config.make_wsgi_app()

``request.identity`` is the :class:`~wsgi_jwt_guard.Identity` (``None`` when
anonymous) and ``request.authenticated_userid`` its subject.

Permissions: when the context (or any parent in its lineage) carries an
``__acl__``, Pyramid's :class:`~pyramid.authorization.ACLHelper` decides, with
the principals ``Everyone``; and for a verified identity ``Authenticated``, the
subject, and :attr:`~wsgi_jwt_guard.Identity.ownership_refs` (Backstage's
``ent`` refs, such as ``group:default/team-a``) -- or whatever the
``principals`` callable returns instead. Without any ACL, a verified identity
is granted every permission and an anonymous request none: "needs a valid
token", the guard's ``protected``, per view.

``remember`` and ``forget`` return no headers: the guard owns the token
cookie, and a token is ended at its issuer (or with
:class:`~wsgi_jwt_guard.Revocations`), not by this app.

Only the identity the guard put in the WSGI environ is read: nothing here
looks at a header or verifies a token.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from pyramid.authorization import ACLHelper, Authenticated, Everyone
from pyramid.location import lineage
from pyramid.security import Allowed, Denied

from ..identity import Identity, get_identity

if TYPE_CHECKING:
    from pyramid.config import Configurator
    from pyramid.request import Request

__all__ = ["GuardSecurityPolicy", "includeme"]

Principals = Callable[[Identity], Iterable[str]]


def ownership_principals(identity: Identity) -> list[str]:
    """The default extra principals: Backstage's ownership refs (the ``ent`` claim)."""
    return identity.ownership_refs


class GuardSecurityPolicy:
    """Pyramid's security policy over the guard: who the token says, nothing else.

    :param principals: ``identity -> principals`` added to ``Everyone``,
        ``Authenticated`` and the subject for ACL checks (default: the
        identity's ownership refs). For example, roles from a claim::

            GuardSecurityPolicy(principals=lambda identity: [
                f"role:{role}" for role in identity.claims.get("roles", [])
            ])
    """

    def __init__(self, *, principals: Principals = ownership_principals) -> None:
        self.principals = principals
        self.acl = ACLHelper()

    def identity(self, request: Request) -> Identity | None:
        """The verified identity the guard put in the environ, or ``None``."""
        return get_identity(request.environ)

    def authenticated_userid(self, request: Request) -> str | None:
        """The identity's subject (the guard's ``REMOTE_USER``), or ``None``."""
        identity = get_identity(request.environ)
        return identity.subject if identity is not None else None

    def effective_principals(self, request: Request) -> list[str]:
        """``Everyone``, and for a verified identity ``Authenticated``, its subject and extras."""
        identity = get_identity(request.environ)
        if identity is None:
            return [Everyone]
        return [Everyone, Authenticated, identity.subject, *self.principals(identity)]

    def permits(self, request: Request, context: Any, permission: str) -> Allowed | Denied:
        """The context's ACL decides; without one, a verified identity is required."""
        if any(hasattr(node, "__acl__") for node in lineage(context)):
            result: Allowed | Denied = self.acl.permits(
                context, self.effective_principals(request), permission
            )
            return result
        if get_identity(request.environ) is None:
            return Denied("no verified token (and no ACL on the context)")
        return Allowed("a verified token (and no ACL on the context)")

    def remember(self, request: Request, userid: Any, **kw: Any) -> list[tuple[str, str]]:
        """No headers: the guard sets the token cookie itself."""
        return []

    def forget(self, request: Request, **kw: Any) -> list[tuple[str, str]]:
        """No headers: a token ends at its issuer or by revocation, not here."""
        return []


def includeme(config: Configurator) -> None:
    """``config.include("wsgi_jwt_guard.adapters.pyramid")``: the policy with its defaults."""
    config.set_security_policy(GuardSecurityPolicy())
