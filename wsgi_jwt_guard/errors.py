"""Everything the guard raises, under one root: :class:`GuardError`.

Two families hang off it:

* :class:`ConfigError` -- raised while the guard is being built, never during a
  request. It names the configuration key at fault (``issuers[0].algorithms``).
* :class:`RequestRefused` -- the guard answers the request itself. Each
  subclass carries the HTTP status, the RFC 6750 ``error`` code and a
  description of *why*, written for the client and never echoing the token.

Catching :class:`RequestRefused` around the request path is what guarantees a
bad request is answered with a 4xx/503 and never turns into a 500.

One more never leaves the guard: :class:`ClaimWithheld`, a claim's value that
cannot be handed to the app safely; the guard leaves it out and carries on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from .identity import TokenSource
    from .responses import Challenges

__all__ = [
    "AuthenticationError",
    "ClaimWithheld",
    "ConfigError",
    "CrossSiteRequest",
    "ExpiredToken",
    "GuardError",
    "InsufficientScope",
    "IntrospectionUnavailable",
    "InvalidDPoPProof",
    "InvalidRequest",
    "InvalidToken",
    "KeysUnavailable",
    "MethodNotAllowed",
    "MissingToken",
    "PathTooLong",
    "PreflightRefused",
    "RequestRefused",
    "RevokedToken",
    "UnknownKey",
    "UnsafePath",
    "UseDPoPNonce",
]


class GuardError(Exception):
    """Root of every exception raised by ``wsgi_jwt_guard``."""


class ConfigError(GuardError, ValueError):
    """The configuration is invalid; ``key`` names the setting at fault."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        self.message = message
        super().__init__(f"{key}: {message}" if key else message)

    def within(self, prefix: str) -> ConfigError:
        """The same error with its key placed under ``prefix`` (``issuers[0]``)."""
        key = f"{prefix}.{self.key}" if self.key else prefix
        return ConfigError(key, self.message)


class ClaimWithheld(GuardError):
    """A claim's value that cannot be handed to the app safely; the message says why.

    Raised and caught inside the guard (:mod:`wsgi_jwt_guard.downstream`): the
    header or environ key is left out, counted and logged; the request goes on.
    """


class RequestRefused(GuardError):
    """A request the guard answers itself instead of calling the app."""

    status: ClassVar[int] = 401
    #: The RFC 6750 ``error`` code for ``WWW-Authenticate``, if any.
    error: ClassVar[str | None] = None
    #: The Backstage-style error name in the JSON body.
    name: ClassVar[str] = "AuthenticationError"
    #: The counter a refusal is counted under, when the class name does not
    #: spell it (see :func:`~wsgi_jwt_guard.metrics.reason_of`).
    reason: ClassVar[str | None] = None

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description
        #: The refused token, for the log line to describe (its fingerprint,
        #: ``iss``, ``sub``...); never logged or sent itself.
        self.token: str | None = None
        #: The ``WWW-Authenticate`` schemes the route accepts (Bearer, DPoP),
        #: set by the guard once it knows the route; ``None``: Bearer alone.
        self.challenges: Challenges | None = None


class UnsafePath(RequestRefused):
    """The path cannot be normalized safely (dot segments, ``%2f``, NUL, ...)."""

    status = 400
    name = "InputError"


class PathTooLong(RequestRefused):
    """414: the path is longer than ``max_path_length``; refused before any other work."""

    status = 414
    name = "InputError"


class AuthenticationError(RequestRefused):
    """401: the request is not authenticated."""


class MissingToken(AuthenticationError):
    """No token was sent; RFC 6750 says the challenge then carries no ``error``."""


class InvalidRequest(AuthenticationError):
    """The ``Authorization`` header or token cookie is malformed or ambiguous."""

    error = "invalid_request"


class InvalidToken(AuthenticationError):
    """A token was sent and refused: malformed, bad signature, bad claims, ...

    ``source`` says where the refused token came from (``"cookie"``, ...) when
    known, so that a refused cookie can be cleared.
    """

    error = "invalid_token"

    def __init__(self, description: str, *, source: TokenSource | None = None) -> None:
        super().__init__(description)
        self.source = source


class InvalidDPoPProof(AuthenticationError):
    """401: the ``DPoP`` proof of a DPoP-bound token is missing, malformed,
    replayed, or made for another request or key (RFC 9449 §7.1); see
    :mod:`wsgi_jwt_guard.dpop`."""

    error = "invalid_dpop_proof"
    reason = "invalid_dpop_proof"


class UseDPoPNonce(AuthenticationError):
    """401: the guard wants a ``DPoP`` proof with the server nonce it sends in
    the ``DPoP-Nonce`` header (RFC 9449 §9); the client retries with it."""

    error = "use_dpop_nonce"
    reason = "use_dpop_nonce"

    def __init__(self, description: str, *, nonce: str) -> None:
        super().__init__(description)
        #: The nonce to put in the next proof.
        self.nonce = nonce


class ExpiredToken(InvalidToken):
    """The token's ``exp`` has passed (a cookie holding it is cleared)."""


class RevokedToken(InvalidToken):
    """The token was revoked (its ``jti``, or its subject before its ``iat``);
    see :mod:`wsgi_jwt_guard.revocation`."""


class UnknownKey(InvalidToken):
    """No key of the issuer matches the token's ``kid`` (a JWKS may be refetched)."""


class InsufficientScope(RequestRefused):
    """403: a valid token that this route does not accept.

    ``scope``, when the route's scopes were not all granted, is all of them,
    space separated: the challenge's RFC 6750 ``scope``, so a client can ask
    for a token that has them.
    """

    status = 403
    error = "insufficient_scope"
    name = "NotAllowedError"

    def __init__(self, description: str, *, scope: str | None = None) -> None:
        super().__init__(description)
        self.scope = scope


class CrossSiteRequest(RequestRefused):
    """403: an unsafe request authenticated by the token cookie that does not
    show it came from this site (see :mod:`wsgi_jwt_guard.csrf`). The token is
    fine, so there is no ``WWW-Authenticate`` challenge and the cookie is kept."""

    status = 403
    name = "NotAllowedError"


class PreflightRefused(RequestRefused):
    """403: a CORS preflight the guard answers itself and does not allow (its
    origin, method or headers are not in :class:`~wsgi_jwt_guard.cors.CORSSettings`)."""

    status = 403
    name = "NotAllowedError"


class MethodNotAllowed(RequestRefused):
    """405: a method an endpoint the guard answers itself does not serve (the
    resource metadata document is ``GET``/``HEAD``); ``allowed`` are those it does."""

    status = 405
    name = "MethodNotAllowedError"

    def __init__(self, description: str, *, allowed: tuple[str, ...] = ()) -> None:
        super().__init__(description)
        self.allowed = allowed


class KeysUnavailable(RequestRefused):
    """503: no keys could be loaded for the token's issuer."""

    status = 503
    name = "ServiceUnavailableError"

    def __init__(self, description: str, *, retry_after: int = 30) -> None:
        super().__init__(description)
        self.retry_after = retry_after


class IntrospectionUnavailable(KeysUnavailable):
    """503: the token's issuer could not be asked about an opaque token (its
    introspection endpoint is unreachable, slow, failing or answers nonsense);
    see :mod:`wsgi_jwt_guard.introspection`."""
