"""``wsgi-jwt-guard inspect``: what a token says, and what the guard would do with it.

The token is decoded leniently (:func:`wsgi_jwt_guard.jws.parse_unverified`)
and shown, marked unverified, with its fingerprint -- the 12 characters after
``token`` in the guard's refusal log lines, so a user's token can be matched to
a line. Given a configuration, it is then sent through a real
:class:`~wsgi_jwt_guard.JWTGuard` built from that configuration, as one
request: every check the guard makes runs, revocations in the shared cache and
API keys included, and the verdict is the guard's own. With ``--path`` (and
``--method``) the request goes to that path, so the route's policy and its
token kinds, scopes and claims apply; without it, to a catch-all protected
route with no requirements.

A refusal is explained with what the guard's answer leaves out on purpose (a
client must not learn it, a developer needs it): the token's value against the
expected one, and a hint where a known trap applies -- an ``iss`` that differs
only by a trailing slash, Keycloak's default ``account`` audience, an OpenID
Connect ID token sent where an access token is expected.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from werkzeug.test import Client

from ..clock import Clock, system_clock
from ..config import guard_options
from ..errors import InvalidToken
from ..identity import Identity, get_identity
from ..jws import parse_unverified
from ..middleware import JWTGuard
from ..responses import fingerprint

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["Verdict", "ask_the_guard", "describe", "explain", "when"]


@dataclass(frozen=True)
class Verdict:
    """What the guard did with one request carrying the token."""

    #: The HTTP status the client got (200 when the app ran).
    status: int
    #: The identity the app was called with; ``None`` if refused or not needed.
    identity: Identity | None
    #: The refusal's counter name (``expired_token``...), ``None`` if the app ran.
    reason: str | None
    #: The refusal's message, as the client read it.
    message: str


def describe(token: str, now: float) -> list[str]:
    """The token's header and claims (unverified), its times and fingerprint, as lines.

    Raises :class:`~wsgi_jwt_guard.errors.InvalidToken` if it is not a JWT at all.
    """
    unverified = parse_unverified(token)
    claims = unverified.claims
    lines = [
        "Header (unverified):",
        json.dumps(unverified.header, indent=2),
        "Claims (unverified):",
        json.dumps(claims, indent=2),
    ]
    for name in ("iat", "nbf", "exp"):
        if isinstance(claims.get(name), (int, float)) and not isinstance(claims[name], bool):
            lines.append(f"  {name}: {when(claims[name], now)}")
    lines.append(f"Fingerprint: {fingerprint(token)} (the 'token ...' in the guard's log lines)")
    if unverified.refusal is not None:
        lines.append(f"Malformed: the guard refuses this token as it is: {unverified.refusal}.")
    return lines


def ask_the_guard(
    token: str,
    config: Mapping[str, Any],
    path: str | None = None,
    method: str = "GET",
    *,
    clock: Clock = system_clock,
) -> Verdict:
    """Send one request with ``token`` in ``Authorization`` through a guard built
    from ``config``; ``path=None`` asks a catch-all protected route."""
    if path is None:
        config = {**config, "routes": {}, "default": "protected"}
        path = "/"
    seen: list[Identity | None] = []

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        seen.append(get_identity(environ))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b""]

    guard = JWTGuard(app, **guard_options(config), clock=clock)
    mount = guard.mount
    if mount and (path == mount or path.startswith(mount + "/")):
        path, base = path[len(mount) :] or "/", f"http://localhost{mount}"
    else:
        base = "http://localhost"
    response = Client(guard).open(
        path, base_url=base, method=method, headers={"Authorization": f"Bearer {token}"}
    )
    if seen:
        return Verdict(response.status_code, seen[0], None, "")
    refused = [
        name.removeprefix("requests.refused.")
        for name in guard.metrics.snapshot()
        if name.startswith("requests.refused.")
    ]
    try:
        message = str(json.loads(response.get_data())["error"]["message"])
    except (ValueError, KeyError, TypeError):
        message = response.status
    return Verdict(response.status_code, None, refused[0] if refused else None, message)


def explain(verdict: Verdict, token: str, config: Mapping[str, Any], now: float) -> str:
    """Why the guard refused, with the token's values against the expected ones."""
    try:
        unverified = parse_unverified(token)
    except InvalidToken:
        return verdict.message
    header, claims = unverified.header, unverified.claims
    reason, message = verdict.reason, verdict.message
    if unverified.refusal is not None:
        return f"{message} (the token is malformed: {unverified.refusal})"
    if reason == "expired_token" and isinstance(claims.get("exp"), (int, float)):
        return f"expired since {when(claims['exp'], now)}"
    if reason == "unknown_key":
        return f"unknown kid {header.get('kid')!r}: {message}"
    if reason == "keys_unavailable":
        return f"{message} (see the warning above for why the keys could not be fetched)"
    if reason != "invalid_token" or header.get("alg") == "HS256":
        return message
    issuers = [entry for entry in config.get("issuers", []) if isinstance(entry, Mapping)]
    iss = claims.get("iss")
    entry = next((each for each in issuers if each.get("issuer") == iss), None)
    if entry is None:
        return _issuer_mismatch(iss, [each.get("issuer") for each in issuers])
    # The guard's message says which check failed; the values come from comparing here.
    expected = entry.get("audience")
    if expected and not _shares_audience(claims.get("aud"), expected):
        return _audience_mismatch(claims.get("aud"), expected)
    accepted = entry.get("token_types")
    if accepted and header.get("typ") not in accepted:
        text = f"the token's typ {header.get('typ')!r} is not one of {accepted}"
        return text + _id_token_hint(header, claims)
    return message + _id_token_hint(header, claims)


def _shares_audience(aud: object, expected: object) -> bool:
    have = set(aud) if isinstance(aud, list) else {aud}
    want = set(expected) if isinstance(expected, list) else {expected}
    return bool(have & want)


def _issuer_mismatch(iss: object, trusted: list[Any]) -> str:
    text = f"issuer mismatch: {iss!r} is not one of {trusted}"
    if isinstance(iss, str):
        for each in trusted:
            if isinstance(each, str) and each.rstrip("/") == iss.rstrip("/"):
                text += f" (hint: only a trailing slash differs from {each!r}; it must match)"
    return text


def _audience_mismatch(aud: object, expected: object) -> str:
    text = f"the token's aud {aud!r} is not the expected {expected!r}"
    listed = aud if isinstance(aud, list) else [aud]
    if "account" in listed:
        text += (
            " (hint: 'account' is Keycloak's default audience; add an audience mapper"
            " for this service to the client, or list the audience it does carry)"
        )
    return text


def _id_token_hint(header: Mapping[str, Any], claims: Mapping[str, Any]) -> str:
    typ = str(header.get("typ", "")).lower()
    if "nonce" in claims or "at_hash" in claims or typ in ("id", "id_token"):
        return " (hint: this looks like an OpenID Connect ID token; send the access token)"
    return ""


def when(timestamp: float, now: float) -> str:
    """``2023-11-14T22:13:20Z (3 minutes ago)``."""
    try:
        moment = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return f"{timestamp} (out of range)"
    delta = int(timestamp - now)
    relative = f"in {_duration(delta)}" if delta >= 0 else f"{_duration(-delta)} ago"
    return f"{moment.isoformat(timespec='seconds').replace('+00:00', 'Z')} ({relative})"


def _duration(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"
