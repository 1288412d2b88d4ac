"""From a token string to a verified :class:`~wsgi_jwt_guard.identity.Identity`.

The order is fixed and every step fails closed:

1. :func:`~wsgi_jwt_guard.jws.parse` -- strict shape, JSON and header rules.
2. Choose who must have signed it: ``HS256`` tokens are service tokens and go
   to :class:`~wsgi_jwt_guard.service.ServiceTokens`; any other ``alg`` is a
   user token and its (not yet trusted) ``iss`` picks a configured
   :class:`~wsgi_jwt_guard.issuers.Issuer` by exact match -- an unknown ``iss``
   is refused with no network I/O.
3. Find the key by ``kid``; the key's pinned algorithm must equal ``alg``.
4. Check the signature, and only then the claims (``typ``, ``exp``, ``nbf``,
   ``iat``, ``aud``, ``sub``, required claims).

Anything unexpected raised on the way becomes a 401 ``invalid_token``: a bad
token can never produce a 500.

A token that verified is remembered in a :class:`~wsgi_jwt_guard.token_cache.TokenCache`
(by its full string, until its ``exp`` or the cache's ``max_age``), so the same
token again skips all four steps. Refused tokens are never remembered. The
headers of verified tokens are remembered too (a few per issuer), so a new
token with a known header skips decoding and checking it again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from types import MappingProxyType
from typing import TYPE_CHECKING

from cachelib import BaseCache

from .backstage import BACKSTAGE_TYPES, BackstageSettings, BackstageTokens
from .claims import (
    check_audience,
    check_subject,
    check_times,
    claim_at,
    granted_scopes,
)
from .clock import Clock, system_clock
from .errors import ConfigError, InvalidToken, RequestRefused
from .identity import Identity, TokenSource
from .introspection import Introspector
from .issuers import Issuer, KeySource, key_source
from .jws import CompactJWS, parse
from .presets import check_edge_token, preset_subject
from .service import ServiceTokens
from .token_cache import TokenCache
from .validation import seconds, text, whole

if TYPE_CHECKING:
    from .metrics import Metrics

__all__ = ["Verifier"]

log = logging.getLogger("wsgi_jwt_guard")

# Distinct headers of verified tokens kept for reuse. Issuers use one header per
# key, so this covers many rotations; past it the table starts over. Only
# verified tokens add to it, so refused ones cannot fill or churn it.
_KNOWN_HEADERS_MAX = 64


class Verifier:
    """Verifies tokens against the configured issuers and service secrets.

    Each issuer's keys are loaded when the verifier is built
    (:func:`~wsgi_jwt_guard.issuers.key_source`): a key file that cannot be
    read is a :class:`~wsgi_jwt_guard.errors.ConfigError` naming the issuer
    (``issuers[0].keys_file``), never a refusal at the first request.
    ``clock`` tells the time for token expiry, the token cache and key refresh.
    """

    def __init__(
        self,
        issuers: Sequence[Issuer] = (),
        service_tokens: ServiceTokens | None = None,
        *,
        backstage: BackstageSettings | None = None,
        remote_user_claim: str = "sub",
        cache: BaseCache | None = None,
        metrics: Metrics | None = None,
        token_cache_size: int = 10_000,
        token_cache_max_age: float | None = 300.0,
        clock: Clock = system_clock,
    ) -> None:
        if not isinstance(issuers, Sequence) or not all(isinstance(i, Issuer) for i in issuers):
            raise ConfigError("issuers", "expected a list of Issuer objects")
        if service_tokens is not None and not isinstance(service_tokens, ServiceTokens):
            raise ConfigError("service_tokens", "expected a ServiceTokens object")
        if backstage is not None:
            if not isinstance(backstage, BackstageSettings):
                raise ConfigError("backstage", "expected a BackstageSettings object")
            issuers = backstage.with_user_issuer(issuers)
        if not issuers and service_tokens is None:
            raise ConfigError("issuers", "configure at least one issuer or [service_tokens]")
        whole(token_cache_size, "token_cache_size")
        if token_cache_max_age is not None:
            seconds(token_cache_max_age, "token_cache_max_age")
            if not token_cache_max_age:
                raise ConfigError("token_cache_max_age", "expected more than 0 seconds, or None")
        #: The time, in seconds since the epoch (see :mod:`wsgi_jwt_guard.clock`).
        self.clock = clock
        # Each accepted `iss` (a template's, one per tenant) -> its issuer, keys
        # and tenant: a token's issuer is found by one dict lookup.
        self._issuers: dict[str, tuple[Issuer, KeySource, str | None]] = {}
        self._sources: dict[str, KeySource] = {}
        for index, issuer in enumerate(issuers):
            try:
                shared = None
                if not issuer.discovery or not issuer.tenants:
                    shared = key_source(issuer, cache=cache, metrics=metrics, clock=clock)
                    self._sources[issuer.issuer] = shared
                for iss, tenant in issuer.concrete_issuers:
                    if iss in self._issuers:
                        raise ConfigError("issuer", f"{iss!r} is configured twice")
                    keys = shared
                    if keys is None:  # a template with discovery: each tenant's own document
                        tenant_issuer = replace(issuer, issuer=iss, tenants=(), tenant_claim=None)
                        keys = key_source(tenant_issuer, cache=cache, metrics=metrics, clock=clock)
                        self._sources[iss] = keys
                    self._issuers[iss] = (issuer, keys, tenant)
            except ConfigError as exc:
                raise exc.within(f"issuers[{index}]") from None
        self.service_tokens = service_tokens
        #: Backstage's plugin, on-behalf-of and limited-user tokens, if configured.
        self.backstage = None
        if backstage is not None:
            user_issuer = self._issuers[backstage.auth_issuer][0]
            self.backstage = BackstageTokens(
                backstage,
                user_issuer,
                self._sources[user_issuer.issuer],
                cache=cache,
                metrics=metrics,
                clock=clock,
            )
        self.remote_user_claim = text(remote_user_claim, "remote_user_claim", "a claim name")
        #: Asks the one issuer with ``introspect`` about opaque tokens, if any.
        self.introspector = _introspector(
            issuers, self._sources, cache, self.remote_user_claim, metrics, clock=clock
        )
        #: Identities of verified tokens; ``hits``/``misses`` count lookups.
        self.token_cache = TokenCache(token_cache_size, max_age=token_cache_max_age)
        self._known_headers: dict[str, dict[str, object]] = {}
        self._padding = any(issuer.accepts_padding for issuer in issuers)

    @property
    def key_sources(self) -> Mapping[str, KeySource]:
        """Each issuer's key source, by issuer URL (read by :mod:`wsgi_jwt_guard.health`).

        A multi-tenant issuer has one source under its template, or with
        ``discovery`` one per tenant under each tenant's issuer URL.
        """
        return MappingProxyType(self._sources)

    # The clock under its former name, for code that replaced ``verifier.now``.
    @property
    def now(self) -> Clock:
        return self.clock

    @now.setter
    def now(self, clock: Clock) -> None:
        self.clock = clock

    def verify(self, token: str, source: TokenSource) -> Identity:
        """Verify ``token``; raise a :class:`RequestRefused` subclass saying why not."""
        try:
            now = self.clock()
            identity = self.token_cache.get(token, source, now)
            if identity is not None:
                return identity
            introspector = self.introspector
            if introspector is not None and introspector.handles(token):  # opaque, or "always"
                identity, until = introspector.verify(token, source, now)
                self.token_cache.put(identity, now, until=until)
                return identity
            known = self._known_headers
            padded = self._padding and "=" in token  # only an ALB issuer accepts it
            jws = parse(token, known, padding=padded)
            if padded and (jws.alg == "HS256" or jws.header.get("typ") in BACKSTAGE_TYPES):
                raise InvalidToken("padded base64 is accepted only from AWS ALB")
            if jws.alg == "HS256":
                identity = self._service_identity(jws, token, source, now)
            elif self.backstage is not None and jws.header.get("typ") in BACKSTAGE_TYPES:
                identity = self.backstage.verify(jws, token, source, now)
            else:
                identity = self._user_identity(jws, token, source, now)
            # Verified: remember it, and its header for the next token.
            self.token_cache.put(identity, now)
            head = token[: token.index(".")]
            if head not in known:
                if len(known) >= _KNOWN_HEADERS_MAX:
                    known.clear()
                known[head] = jws.header
            return identity
        except InvalidToken as refusal:
            refusal.source = source
            raise
        except RequestRefused:
            raise
        except Exception:
            # A bug or a library surprise must not become a 500 (or a pass).
            log.debug("unexpected error while verifying a token", exc_info=True)
            raise InvalidToken("the token could not be verified", source=source) from None

    def _service_identity(
        self, jws: CompactJWS, token: str, source: TokenSource, now: float
    ) -> Identity:
        if self.service_tokens is None:
            raise InvalidToken("service tokens are not accepted")
        exp = self.service_tokens.verify(jws, now=now)
        return Identity(
            self.service_tokens.subject,
            MappingProxyType(jws.claims),
            None,
            "service",
            source,
            exp,
            token,
        )

    def _user_identity(
        self, jws: CompactJWS, token: str, source: TokenSource, now: float
    ) -> Identity:
        claims = jws.claims
        iss = claims.get("iss")
        entry = self._issuers.get(iss) if isinstance(iss, str) else None
        if entry is None:
            raise InvalidToken("the token's issuer is not trusted")
        issuer, keys, tenant = entry
        if not issuer.accepts_padding and "=" in token:
            raise InvalidToken("padded base64 is accepted only from AWS ALB")
        if jws.alg not in issuer.algorithms:
            raise InvalidToken("the token's algorithm is not allowed for its issuer")
        key = keys.find(jws.kid, jws.alg)
        if not key.verify(jws.signing_input, jws.signature):
            raise InvalidToken("the token signature does not verify")
        if not issuer.accepts_type(jws.header.get("typ")):
            raise InvalidToken("the token's type ('typ') is not accepted")
        exp = check_times(claims, now=now, leeway=issuer.leeway)
        exp = check_edge_token(issuer, jws.header, claims, exp, now)
        if issuer.audience:
            check_audience(claims, issuer.audience)
        subject, kind = preset_subject(issuer.preset, claims)
        if self.remote_user_claim != "sub":
            subject = check_subject(claims, self.remote_user_claim)
        issuer.check_required_claims(claims)
        if tenant is not None and issuer.tenant_path is not None:
            held = claim_at(claims, issuer.tenant_path)
            if type(held) is not str or held != tenant:
                raise InvalidToken(
                    f"the token's {issuer.tenant_claim!r} claim is not the tenant of its issuer"
                )
        if key.issuer is not None and not key.may_sign(str(iss), claims):  # Entra ID
            raise InvalidToken("the token's signing key is published for another tenant")
        return Identity(
            subject,
            MappingProxyType(claims),
            iss,  # the concrete issuer, a template's tenant filled in
            kind,
            source,
            exp,
            token,
            granted_scopes(claims, issuer.scope_paths),
        )


def _introspector(
    issuers: Sequence[Issuer],
    sources: Mapping[str, KeySource],
    cache: BaseCache | None,
    remote_user_claim: str,
    metrics: Metrics | None,
    *,
    clock: Clock = system_clock,
) -> Introspector | None:
    """The introspector of the one issuer with ``introspect`` on, if any.

    An opaque token names no issuer: with two introspecting issuers, each would
    learn the other's tokens, so a second one is a configuration error.
    """
    chosen = [(index, issuer) for index, issuer in enumerate(issuers) if issuer.introspect != "off"]
    if not chosen:
        return None
    if len(chosen) > 1:
        raise ConfigError(
            f"issuers[{chosen[1][0]}].introspect",
            f"only one issuer may introspect tokens (issuers[{chosen[0][0]}] does): an opaque"
            " token names no issuer, and every introspecting issuer would be sent it",
        )
    index, issuer = chosen[0]
    discovery = getattr(sources.get(issuer.issuer), "discovery", None) if issuer.discovery else None
    ca_bundle = os.path.abspath(issuer.ca_bundle) if issuer.ca_bundle is not None else None
    try:
        return Introspector(
            issuer,
            cache=cache,
            discovery=discovery,
            ca_bundle=ca_bundle,
            remote_user_claim=remote_user_claim,
            metrics=metrics,
            clock=clock,
        )
    except ConfigError as exc:
        raise exc.within(f"issuers[{index}]") from None
