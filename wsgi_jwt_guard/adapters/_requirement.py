"""What a view demands of the identity, checked as the guard checks a rule.

Flask's ``requires`` and the Bottle plugin's route option share this, so a
per-view requirement means exactly what the same ``claims``/``claims_any``/
``scopes``/``tokens`` mean on a guard route (:meth:`wsgi_jwt_guard.Rule.authorize`),
and a refusal is the guard's own answer: the same JSON (or problem details),
status and ``WWW-Authenticate`` challenge, and the same log line.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Response

from ..answers import ANSWERS_KEY, DEFAULT_REALM, Answers
from ..errors import ConfigError, InsufficientScope, MissingToken, RequestRefused
from ..identity import Identity, TokenKind
from ..metrics import reason_of
from ..responses import Challenges, log_refusal, refuse
from ..routing import TOKEN_KINDS, Rule

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["DEFAULT_REALM", "Requirement", "refusal_response"]


# What a requirement table may say: the rule's own names.
_KEYS = frozenset({"claims", "claims_any", "scopes", "tokens"})


class Requirement:
    """A verified identity holding ``claims`` (and one table of ``claims_any``),
    granted ``scopes``, of one of ``tokens``.

    Built (and validated, raising :class:`~wsgi_jwt_guard.ConfigError`) once,
    when the view is decorated or the route installed; a request costs the
    rule's checks only.
    """

    def __init__(
        self,
        *,
        claims: Mapping[str, Any] | None = None,
        claims_any: Sequence[Mapping[str, Any]] = (),
        scopes: Collection[str] = (),
        tokens: Collection[TokenKind] = TOKEN_KINDS,  # type: ignore[assignment]
    ) -> None:
        self.rule = Rule(
            "protected", claims=claims or {}, claims_any=claims_any, scopes=scopes, tokens=tokens
        )

    def refusal(self, identity: Identity | None) -> RequestRefused | None:
        """Why ``identity`` may not run the view, or ``None`` if it may."""
        if identity is None:
            # An optional or public guard route (or no guard at all): fail closed.
            return MissingToken("this view requires a token")
        try:
            self.rule.authorize(identity)
        except InsufficientScope as refusal:
            return refusal
        return None

    def __repr__(self) -> str:
        rule = self.rule
        any_of = f"claims_any={list(rule.claims_any)!r}, " if rule.claims_any else ""
        return (
            f"Requirement(claims={dict(rule.claims)!r}, {any_of}scopes={sorted(rule.scopes)!r}, "
            f"tokens={sorted(rule.tokens)!r})"
        )


def requirement_from(value: object, key: str) -> Requirement:
    """A :class:`Requirement` from a ``{"claims": ..., "claims_any": ..., "scopes": ...,
    "tokens": ...}`` table."""
    if isinstance(value, Requirement):
        return value
    if not isinstance(value, Mapping):
        raise ConfigError(key, "expected a table with claims, claims_any, scopes and/or tokens")
    unknown = sorted(set(value) - _KEYS)
    if unknown:  # a typo must not leave a view open
        raise ConfigError(key, f"unknown keys {unknown}: expected {', '.join(sorted(_KEYS))}")
    try:
        return Requirement(**value)
    except ConfigError as exc:
        raise exc.within(key) from None


def refusal_response(
    refusal: RequestRefused, environ: WSGIEnvironment, *, realm: str = DEFAULT_REALM
) -> Response:
    """The guard's answer to ``refusal``, as a werkzeug response, logged as the guard logs.

    Behind a guard, its own answer on this route (:mod:`wsgi_jwt_guard.answers`):
    its realm, ``resource_metadata`` and schemes. Otherwise (no guard, or one
    with the default realm and no metadata, which hands identities no answers)
    ``realm`` on the scheme the client used: ``DPoP`` for a DPoP request.
    """
    log_refusal(refusal, environ, reason_of(type(refusal)))
    answers = environ.get(ANSWERS_KEY)
    if isinstance(answers, Answers):
        return Response.from_app(partial(answers.for_view, refusal), environ)
    if environ.get("AUTH_TYPE") == "DPoP" and refusal.challenges is None:
        refusal.challenges = Challenges(bearer=False, dpop_algs="", dpop_request=True)

    def answer(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        return refuse(refusal, environ, start_response, realm=realm)

    return Response.from_app(answer, environ)
