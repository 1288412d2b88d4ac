"""Flask: the current identity, and a decorator that lets a view demand claims.

The guard authenticates (who is it?) before Flask runs; :func:`requires`
authorizes one view (may they?), answering the way the guard answers for a
whole path prefix::

    from flask import Flask
    from wsgi_jwt_guard import from_config
    from wsgi_jwt_guard.adapters.flask import current_identity, requires

    app = Flask(__name__)
    app.wsgi_app = from_config(app.wsgi_app, "guard.toml")

    @app.get("/api/whoami")
    def whoami():
        identity = current_identity()          # None on a public/optional route
        return {"user": identity.subject if identity else None}

    @app.post("/api/admin")
    @requires(claims={"role": "admin"}, scopes=["catalog.write"])
    def admin():
        return {"admin": current_identity().subject}

A failed requirement is the guard's ``403 insufficient_scope`` (its JSON
body, or problem details when asked for); a view that ``requires`` anything
but got no identity -- an ``optional`` route without a token, or an app the
guard does not wrap -- answers ``401`` and never runs. Flask's own 403/401
error handlers are not consulted, so the client sees one shape whichever
layer refused.

Only the identity the guard put in the WSGI environ is read: nothing here
looks at a header or verifies a token.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any, ParamSpec, TypeVar, cast

from flask import abort, request

from ..identity import Identity, TokenKind, get_identity
from ..routing import TOKEN_KINDS
from ._requirement import DEFAULT_REALM, Requirement, refusal_response

__all__ = ["current_identity", "requires"]

P = ParamSpec("P")
R = TypeVar("R")


def current_identity() -> Identity | None:
    """The request's verified :class:`~wsgi_jwt_guard.Identity`, ``None`` if anonymous."""
    return get_identity(request.environ)


def requires(
    *,
    claims: Mapping[str, Any] | None = None,
    claims_any: Sequence[Mapping[str, Any]] = (),
    scopes: Collection[str] = (),
    tokens: Collection[TokenKind] = TOKEN_KINDS,  # type: ignore[assignment]
    realm: str = DEFAULT_REALM,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Run the view only for an identity meeting a guard rule's checks.

    :param claims: claim name -> required value: equal, or contained in a list
        claim; a list value must be contained entirely (as a guard rule). A
        dotted name is a path into nested claims (``realm_access.roles``).
    :param claims_any: claims tables of which at least one must be met
        (``[{"role": "admin"}, {"groups": "ops"}]``), as a rule's ``claims_any``.
    :param scopes: scopes the ``scope``/``scp`` claim must all grant.
    :param tokens: token kinds accepted (``user``, ``service``, ``static``).
    :param realm: the ``WWW-Authenticate`` realm with no guard in front (behind
        one, a refusal is the guard's own answer: its realm, metadata and schemes).

    With no arguments it only demands an identity. Works on ``async`` views
    too. Raises :class:`~wsgi_jwt_guard.ConfigError` at decoration time for
    a malformed requirement.
    """
    requirement = Requirement(claims=claims, claims_any=claims_any, scopes=scopes, tokens=tokens)

    def check() -> None:
        refusal = requirement.refusal(current_identity())
        if refusal is not None:
            # abort(Response) bypasses Flask's error handlers: the guard's shape stays.
            abort(refusal_response(refusal, request.environ, realm=realm))

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        if inspect.iscoroutinefunction(view):
            async_view = cast(Callable[P, Awaitable[Any]], view)

            @functools.wraps(view)
            async def checked_async(*args: P.args, **kwargs: P.kwargs) -> Any:
                check()
                return await async_view(*args, **kwargs)

            return cast(Callable[P, R], checked_async)

        @functools.wraps(view)
        def checked(*args: P.args, **kwargs: P.kwargs) -> R:
            check()
            return view(*args, **kwargs)

        return checked

    return decorator
