"""Bottle: a plugin (plugin API 2) that hands routes the identity and enforces requirements.

Install it once on the app; a route gets the verified
:class:`~wsgi_jwt_guard.Identity` by naming an ``identity`` parameter (``None``
on a public or optional guard route without a token), and a ``jwt`` route
option demands claims, scopes or token kinds, as a guard rule would
(``jwt=True`` demands only an identity)::

    import bottle
    from wsgi_jwt_guard import from_config
    from wsgi_jwt_guard.adapters.bottle import GuardPlugin

    app = bottle.Bottle()
    app.install(GuardPlugin())

    @app.get("/api/whoami")
    def whoami(identity):
        return {"user": identity.subject if identity else None}

    @app.post("/api/admin", jwt={"claims": {"role": "admin"}, "scopes": ["catalog.write"]})
    def admin(identity):
        return {"admin": identity.subject}

    application = from_config(app, "guard.toml")

A failed requirement answers the guard's ``403 insufficient_scope``; a route
with a requirement that got no identity answers ``401``; the route never runs
in either case. The requirement is checked by this plugin, so it holds only
where the plugin applies: install it on the app (not per route), and do not
``skip`` it on a route with a ``jwt`` option. An unknown key in ``jwt`` is a
:class:`~wsgi_jwt_guard.ConfigError` when the route is first called.

Only the identity the guard put in the WSGI environ is read: nothing here
looks at a header or verifies a token.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import bottle

from ..identity import get_identity
from ._requirement import DEFAULT_REALM, Requirement, refusal_response, requirement_from

__all__ = ["GuardPlugin"]


class GuardPlugin:
    """The Bottle plugin; ``keyword`` names the parameter that receives the identity.

    :param keyword: the callback parameter that gets the identity.
    :param option: the route option holding a requirement table
        (``claims``, ``claims_any``, ``scopes``, ``tokens``).
    :param realm: the ``WWW-Authenticate`` realm with no guard in front (behind
        one, a refusal is the guard's own answer: its realm, metadata and schemes).
    """

    api = 2

    def __init__(
        self, *, keyword: str = "identity", option: str = "jwt", realm: str = DEFAULT_REALM
    ) -> None:
        self.keyword = keyword
        self.option = option
        self.realm = realm
        self.name = f"jwt_guard:{keyword}"

    def setup(self, app: bottle.Bottle) -> None:
        """Refuse a second plugin handing out the same keyword (the routes would be ambiguous)."""
        for other in app.plugins:
            if other is not self and getattr(other, "keyword", None) == self.keyword:
                raise bottle.PluginError(f"another plugin already hands out {self.keyword!r}")

    def apply(self, callback: Callable[..., Any], route: bottle.Route) -> Callable[..., Any]:
        """Wrap ``callback`` if the route asks for the identity or has a requirement."""
        wants_identity = self.keyword in _parameters(route.callback)
        requirement = self._requirement(route.config)
        if not wants_identity and requirement is None:
            return callback  # nothing to do: no per-request cost
        keyword, realm = self.keyword, self.realm

        @functools.wraps(callback)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            environ = bottle.request.environ
            identity = get_identity(environ)
            if requirement is not None:
                refusal = requirement.refusal(identity)
                if refusal is not None:
                    answer = refusal_response(refusal, environ, realm=realm)
                    raise bottle.HTTPResponse(
                        body=answer.get_data(),
                        status=answer.status_code,
                        headers=answer.headers.to_wsgi_list(),
                    )
            if wants_identity:
                kwargs[keyword] = identity
            return callback(*args, **kwargs)

        return wrapper

    def _requirement(self, config: Mapping[str, Any]) -> Requirement | None:
        """The route's requirement, from its ``jwt`` option.

        Bottle 0.13 flattens nested route options (``jwt.claims.role``), so the
        table is rebuilt from the flattened keys; claim names may hold dots.
        """
        if self.option in config:  # not flattened: True, or a table on an older Bottle
            value = config[self.option]
            return Requirement() if value is True else requirement_from(value, self.option)
        prefix = f"{self.option}."
        flat = {key[len(prefix) :]: v for key, v in config.items() if key.startswith(prefix)}
        if not flat:
            return None
        table: dict[str, Any] = {}
        for key, value in flat.items():
            if key.startswith("claims."):
                table.setdefault("claims", {})[key[len("claims.") :]] = value
            else:
                table[key] = value  # claims_any, scopes, tokens; anything else is refused below
        return requirement_from(table, self.option)


def _parameters(callback: Callable[..., Any]) -> set[str]:
    # inspect.signature follows functools.wraps; Bottle's get_undecorated_callback
    # never returns for a closure with no callable in its cells (Bottle 0.13).
    try:
        return set(inspect.signature(callback).parameters)
    except (TypeError, ValueError):  # a builtin or C callable: it asks for nothing
        return set()
