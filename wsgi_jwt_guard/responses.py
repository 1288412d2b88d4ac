"""The answers the guard gives itself.

Every refusal is a small JSON document in Backstage's error shape::

    HTTP/1.1 401 Unauthorized
    WWW-Authenticate: Bearer realm="wsgi-jwt-guard", error="invalid_token",
                      error_description="the token has expired"
    Content-Type: application/json

    {"error": {"name": "AuthenticationError", "message": "the token has expired"},
     "response": {"statusCode": 401}}

A client that sends ``Accept: application/problem+json`` gets RFC 9457
problem details instead. 401 and 403 ``insufficient_scope`` carry an RFC 6750
``WWW-Authenticate`` challenge (with no ``error`` when no token was sent); a
403 for a cross-site request carries none (the token is not at fault); 503 carries
``Retry-After``, 405 ``Allow``. Descriptions come from the guard's own fixed texts
and never echo the token.

A challenge names what a client needs to get a better token: a 403 for the
route's scopes names them all (RFC 6750 §3 ``scope``), and with
:mod:`~wsgi_jwt_guard.metadata` configured every challenge names the metadata
document (RFC 9728 §5.1 ``resource_metadata``)::

    WWW-Authenticate: Bearer realm="wsgi-jwt-guard",
        resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/v1",
        error="insufficient_scope", error_description="token lacks a required scope",
        scope="orders.read orders.refund"

Some requests are the guard's own to answer, before any route is looked up: an
:class:`Endpoint` each (CORS preflights, Backstage's cookie endpoint, the
metadata document).

Where DPoP-bound tokens are accepted (:mod:`wsgi_jwt_guard.binding`), a
request without a token is challenged with ``DPoP`` too, with the proof
algorithms accepted (RFC 9449 §7.1), in the same field after ``Bearer`` as
RFC 9449 §7.2 shows it (``Bearer`` is left out where only DPoP is accepted).
An ``error`` is about the credential sent and is challenged on its scheme
alone -- ``DPoP`` for a DPoP request or a proof's error::

    WWW-Authenticate: Bearer realm="api", DPoP realm="api", algs="ES256 PS256"
    WWW-Authenticate: DPoP realm="api", error="invalid_dpop_proof",
                      error_description="the DPoP proof was used before ('jti')",
                      algs="ES256 PS256"

A ``use_dpop_nonce`` refusal carries the nonce to use in ``DPoP-Nonce`` (RFC 9449 §9).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Protocol

from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from .clock import Clock, system_clock
from .errors import (
    InsufficientScope,
    InvalidDPoPProof,
    InvalidToken,
    KeysUnavailable,
    MethodNotAllowed,
    RequestRefused,
    UseDPoPNonce,
)
from .jws import parse_unverified

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from .request import RequestView

__all__ = [
    "Challenges",
    "Endpoint",
    "challenge",
    "fingerprint",
    "log_refusal",
    "loggable",
    "refuse",
]

log = logging.getLogger("wsgi_jwt_guard")

_PROBLEM = "application/problem+json"
# RFC 6750 §3: error_description (and realm, scope, resource_metadata) may only hold
# %x20-21 / %x23-5B / %x5D-7E: printable ASCII but the double quote and the backslash.
_NOT_QUOTABLE = re.compile(r'[^\x20\x21\x23-\x5b\x5d-\x7e]')


def _wants_problem_details(accept: str | None) -> bool:
    """Whether ``Accept`` prefers RFC 9457 problem details to plain JSON.

    Parsed as werkzeug does (qualities, ``q=0`` meaning "not acceptable",
    wildcards): ``application/json, application/problem+json;q=0`` gets JSON.
    """
    if not accept or "problem" not in accept:  # most clients: nothing to parse
        return False
    parsed = parse_accept_header(accept, MIMEAccept)
    problem, json = parsed.quality(_PROBLEM), parsed.quality("application/json")
    # Named explicitly, it wins a tie with JSON (even one reached by a wildcard).
    return problem > json or (problem > 0 and problem == json and _PROBLEM in parsed.values())


class Endpoint(Protocol):
    """A request the guard answers itself, wherever the route table would send it."""

    def handles(self, request: RequestView) -> bool:
        """Whether this request is this endpoint's: a lookup, asked of every request."""
        ...

    def __call__(self, request: RequestView, start_response: StartResponse) -> Iterable[bytes]:
        """Answer the request, or raise the :class:`RequestRefused` the guard sends instead."""
        ...


@dataclass(frozen=True)
class Challenges:
    """Which schemes a refusal challenges (:attr:`RequestRefused.challenges`)."""

    #: Whether ``Bearer`` tokens are accepted.
    bearer: bool = True
    #: The ``algs`` of the ``DPoP`` challenge (``"ES256 PS256"``, ``""`` to leave
    #: them out); ``None``: DPoP is not accepted.
    dpop_algs: str | None = None
    #: Whether the request used the ``DPoP`` scheme (its errors go on that challenge).
    dpop_request: bool = False


_BEARER_ONLY = Challenges()


def challenge(refusal: RequestRefused, realm: str, resource_metadata: str | None = None) -> str:
    """The ``WWW-Authenticate`` value for a 401 or 403: ``Bearer``, ``DPoP`` or both.

    With no ``error`` (no token sent) every accepted scheme is challenged; an
    ``error`` is about the credential sent, and goes on its scheme's challenge
    alone: ``DPoP`` for a DPoP request or a proof's error, or where ``Bearer``
    is not accepted. Every challenge names the metadata document when there is
    one, and a 403 for scopes names them. Every value is an RFC 6750 §3
    quoted-string: settings refuse a ``"`` or ``\\`` (and anything outside
    printable ASCII), and any that arrive another way are dropped here, so none
    can end the string early.
    """
    offered = refusal.challenges or _BEARER_ONLY
    params = f'realm="{_NOT_QUOTABLE.sub("", realm)}"'
    if resource_metadata is not None:
        params += f', resource_metadata="{_NOT_QUOTABLE.sub("", resource_metadata)}"'
    dpop, algs = None, ""
    if offered.dpop_algs is not None:
        dpop = f"DPoP {params}"
        algs = f', algs="{offered.dpop_algs}"' if offered.dpop_algs else ""
    if refusal.error is None:
        schemes = [f"Bearer {params}"] if offered.bearer or dpop is None else []
        return ", ".join([*schemes, *([] if dpop is None else [dpop + algs])])
    error = (
        f'error="{refusal.error}", '
        f'error_description="{_NOT_QUOTABLE.sub("", refusal.description)}"'
    )
    if isinstance(refusal, InsufficientScope) and refusal.scope:
        error += f', scope="{_NOT_QUOTABLE.sub("", refusal.scope)}"'
    if dpop is not None and (
        offered.dpop_request
        or not offered.bearer
        or isinstance(refusal, (InvalidDPoPProof, UseDPoPNonce))
    ):
        return f"{dpop}, {error}{algs}"
    return f"Bearer {params}, {error}"


def refuse(
    refusal: RequestRefused,
    environ: WSGIEnvironment,
    start_response: StartResponse,
    *,
    realm: str,
    resource_metadata: str | None = None,
    extra_headers: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    """Answer the request with ``refusal``; the wrapped app is never called.

    ``resource_metadata`` is the absolute URL of the RFC 9728 metadata document
    that challenges name, if the guard serves one.
    """
    status = HTTPStatus(refusal.status)
    if _wants_problem_details(environ.get("HTTP_ACCEPT")):
        content_type = "application/problem+json"
        document: object = {
            "type": "about:blank",
            "title": status.phrase,
            "status": status.value,
            "detail": refusal.description,
        }
    else:
        content_type = "application/json"
        document = {
            "error": {"name": refusal.name, "message": refusal.description},
            "response": {"statusCode": status.value},
        }
    body = json.dumps(document).encode("utf-8")
    headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
    ]
    # A 403 is a bearer-token matter (insufficient_scope) only when it has an
    # error code; a refused cross-site request is not about the token at all.
    if status == HTTPStatus.UNAUTHORIZED or refusal.error is not None:
        headers.append(("WWW-Authenticate", challenge(refusal, realm, resource_metadata)))
    if isinstance(refusal, KeysUnavailable):
        headers.append(("Retry-After", str(refusal.retry_after)))
    elif isinstance(refusal, MethodNotAllowed):
        headers.append(("Allow", ", ".join(refusal.allowed)))
    elif isinstance(refusal, UseDPoPNonce):
        headers.append(("DPoP-Nonce", refusal.nonce))
    headers.extend(extra_headers)
    start_response(f"{status.value} {status.phrase}", headers)
    return [] if environ.get("REQUEST_METHOD") == "HEAD" else [body]


def log_refusal(
    refusal: RequestRefused, environ: WSGIEnvironment, reason: str, clock: Clock = system_clock
) -> None:
    """One INFO record per refusal; everything request-derived escaped (:func:`loggable`).

    The line says what was refused and why, then what the token says of itself
    (unverified): ``refused GET /api/catalog: expired_token (the token has
    expired), token 3f9a0c1d2b4e iss=https://auth.example.com sub=user:default/alice
    aud=backstage kid=k1 expired=73s``. The same values are the record's
    ``guard_*`` attributes, for JSON formatters. The token itself never is.
    """
    if not log.isEnabledFor(logging.INFO):
        return
    fields: dict[str, object] = {
        "guard_method": loggable(environ.get("REQUEST_METHOD", ""), 32),
        "guard_path": loggable(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")),
        "guard_reason": reason,
        "guard_status": refusal.status,
        "guard_message": loggable(refusal.description),
        "guard_token": fingerprint(refusal.token) if refusal.token else None,
    }
    if refusal.token:
        fields.update(_token_facts(refusal.token, clock()))
    facts = " ".join(f"{name[6:]}={fields[name]}" for name in _FACTS if name in fields)
    log.info(
        "refused %s %s: %s (%s), token %s%s",
        fields["guard_method"],
        fields["guard_path"],
        reason,
        fields["guard_message"],
        fields["guard_token"] or "-",
        " " + facts if facts else "",
        extra=fields,
    )


# What a refusal line reports of a token, in this order.
_FACTS = ("guard_iss", "guard_sub", "guard_aud", "guard_kid", "guard_alg", "guard_expired")


def _token_facts(token: str, now: float) -> dict[str, object]:
    """The token's own ``iss``, ``sub``, ``aud``, ``kid``, ``alg`` and, once past
    ``exp``, how long ago it expired (``expired`` in whole seconds): read without
    verifying, escaped, each at most 128 characters."""
    try:
        unverified = parse_unverified(token)
    except InvalidToken:
        return {}
    claims, header = unverified.claims, unverified.header
    aud = claims.get("aud")
    if isinstance(aud, list):
        aud = ",".join(str(each) for each in aud)
    facts: dict[str, object] = {
        "guard_iss": claims.get("iss"),
        "guard_sub": claims.get("sub"),
        "guard_aud": aud,
        "guard_kid": header.get("kid"),
        "guard_alg": header.get("alg"),
    }
    exp = claims.get("exp")
    if isinstance(exp, (int, float)) and not isinstance(exp, bool) and exp < now:
        facts["guard_expired"] = f"{int(now - exp)}s"
    return {name: loggable(value, 128) for name, value in facts.items() if value is not None}


def fingerprint(token: str) -> str:
    """A short, non-reversible name for a token, for logs: never log the token itself."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()[:12]


# Anything outside printable ASCII, and the backslash that starts an escape.
_UNLOGGABLE = re.compile(r"[^\x20-\x5b\x5d-\x7e]")


def loggable(value: object, limit: int = 256) -> str:
    """``value`` safe to write into a log line: escaped, one line, at most ``limit`` long.

    Control characters (ESC, CR, LF, vertical tab, NEL, U+2028...) and any
    other non-ASCII character become ``\\xNN``/``\\uNNNN`` escapes, so request
    data can neither forge a line nor drive an operator's terminal.
    """
    text = str(value)
    cut = len(text) > limit
    if cut:
        text = text[:limit]
    if not text.isascii() or not text.isprintable() or "\\" in text:
        text = _UNLOGGABLE.sub(_escape, text)
    return text + "..." if cut else text


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code == 0x5C:
        return "\\\\"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
