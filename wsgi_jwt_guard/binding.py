"""Sender-constrained tokens: a bound token works only for the client it is bound to.

An issuer binds a token with its ``cnf`` claim (RFC 7800). The guard knows two
bindings and checks each on every request, whether the token was verified
just now or comes from the verified-token cache:

* ``cnf.jkt`` -- DPoP (RFC 9449): the request must say ``Authorization: DPoP``
  and carry a proof signed by that key (:mod:`wsgi_jwt_guard.dpop`). A
  DPoP-bound token sent as ``Bearer`` is refused (RFC 9449 §7.2), and so is an
  unbound token sent as ``DPoP`` (it is bound to no key a proof could match).
* ``cnf.x5t#S256`` -- mutual TLS (RFC 8705 §3): the SHA-256 thumbprint of the
  client certificate must equal it. TLS ends at your terminator, so the guard
  reads the certificate from a header the terminator sets
  (:class:`ClientCertificate`), and only when configured. Absent, malformed or
  different: refused (``401 invalid_token``, RFC 8705 §3).

A ``cnf`` holding any other method (``jwk``, ``jku``, ``kid``, ``jwe``) is
refused: the issuer said only the holder of a key may use the token, and the
guard has no way to check that.

**Which tokens need DPoP** is a ``mode``: ``off`` (the ``DPoP`` scheme is
refused, so DPoP-bound tokens cannot be used), ``allowed`` (the default: bound
tokens with a proof, plain tokens as bearer tokens) or ``required`` (plain
tokens are refused). The guard's ``[dpop] mode`` applies to every issuer that
sets no ``dpop`` of its own, and to service tokens and API keys; a route's
``dpop`` narrows it further. A request must pass both its issuer's and its
route's mode: ``required`` on either refuses a plain token, ``off`` on either
refuses ``DPoP``::

    [dpop]
    mode = "allowed"

    [[issuers]]
    issuer = "https://auth.example.com"
    dpop = "required"                  # this issuer's tokens: DPoP only

    [routes]
    "/api/payments" = { policy = "protected", dpop = "required" }

**The certificate header** is trusted only when ``[client_certificate]`` is
configured. Its value must come from the TLS terminator alone: it must
remove any copy a client sends, and send none when the client presented no
certificate (it has checked the chain already; the guard only compares
thumbprints)::

    [client_certificate]
    header = "Client-Cert"             # RFC 9440: Client-Cert: :<base64 DER>:
    format = "rfc9440"                 # or "pem-url" (nginx $ssl_client_escaped_cert, AWS ALB)

``rfc9440`` reads an RFC 8941 byte sequence (``:`` base64 ``:``, padding
optional, nothing else: no parameters, no list). ``pem-url`` reads one
percent-encoded PEM certificate, ``+`` taken literally (nginx's
``$ssl_client_escaped_cert``, AWS ALB's ``X-Amzn-Mtls-Clientcert``). Envoy's
``X-Forwarded-Client-Cert`` is not read: each proxy appends an element to it,
so which element is the client's depends on the hops, which the guard cannot
know. Have Envoy set ``Client-Cert`` instead.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args
from urllib.parse import unquote_to_bytes

from .caches import SharedCache
from .clock import Clock, system_clock
from .dpop import DPoPMode, DPoPProofs, DPoPSettings
from .errors import ConfigError, InvalidToken, RequestRefused
from .extraction import is_dpop_scheme
from .jws import b64url_encode
from .responses import Challenges
from .validation import Settings, header_key, instance, one_of, optional_instance

if TYPE_CHECKING:
    from .identity import Identity
    from .issuers import Issuer
    from .request import RequestView
    from .routing import RouteTable, Rule

__all__ = ["CERTIFICATE_FORMATS", "ClientCertificate", "SenderBinding", "certificate_thumbprint"]

log = logging.getLogger("wsgi_jwt_guard")

CertificateFormat = Literal["rfc9440", "pem-url"]
CERTIFICATE_FORMATS: tuple[str, ...] = get_args(CertificateFormat)

# The confirmation methods the guard checks (RFC 9449 §6.1, RFC 8705 §3.1).
_CHECKED = frozenset({"jkt", "x5t#S256"})
# RFC 8941 §3.3.5 byte sequence: ":" base64 ":"; RFC 9440 defines no parameters.
_BYTE_SEQUENCE = re.compile(r":([A-Za-z0-9+/]*={0,2}):")
_PEM = re.compile(
    r"-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----\s*", re.ASCII
)
_WHITESPACE = re.compile(r"\s+")
_HEADERS_READ_ALREADY = frozenset({"HTTP_AUTHORIZATION", "HTTP_COOKIE", "HTTP_DPOP"})


@dataclass(frozen=True)
class ClientCertificate(Settings):
    """Where the TLS terminator puts the client certificate (see the module docs)."""

    #: The request header, set (and stripped from clients) by the terminator only.
    header: str = "Client-Cert"
    #: ``rfc9440`` (``:<base64 DER>:``) or ``pem-url`` (a percent-encoded PEM).
    format: CertificateFormat = "rfc9440"
    #: The header's WSGI environ key (``HTTP_CLIENT_CERT``), derived.
    environ_key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        key = header_key(self.header, "header")
        if key in _HEADERS_READ_ALREADY:
            raise ConfigError("header", "expected a header of the TLS terminator's own")
        self._settle(format=one_of(self.format, "format", CERTIFICATE_FORMATS), environ_key=key)


def certificate_thumbprint(value: str, format: str = "rfc9440") -> str:
    """The RFC 8705 ``x5t#S256`` of the certificate in a header ``value``:
    base64url SHA-256 of its DER. ``ValueError`` if the value is not one
    certificate in ``format`` (see the module docs)."""
    if format == "rfc9440":
        match = _BYTE_SEQUENCE.fullmatch(value.strip(" \t"))
        if match is None or not match.group(1):
            raise ValueError("not one RFC 8941 byte sequence")
        encoded = match.group(1)
    else:
        text = unquote_to_bytes(value.strip(" \t")).decode("ascii")
        match = _PEM.fullmatch(text.strip())
        if match is None:
            raise ValueError("not one PEM certificate")
        encoded = _WHITESPACE.sub("", match.group(1))
    if "=" not in encoded:  # padding synthesized, as RFC 8941 §4.2.7 asks of parsers
        encoded += "=" * (-len(encoded) % 4)
    if len(encoded) % 4:  # and where it is sent, exactly as base64 pads
        raise ValueError("not base64")
    try:
        der = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise ValueError("not base64") from None
    return b64url_encode(hashlib.sha256(der).digest())


class SenderBinding:
    """The guard's check of bound tokens: one :meth:`check` per authenticated request.

    :param dpop: proof settings and the guard's DPoP mode (default: ``allowed``).
    :param certificate: where the client certificate is read; ``None``: a
        certificate-bound token is refused.
    :param issuers: the issuers, for their own ``dpop`` modes.
    :param cache: the shared cache the proofs' ``jti`` are claimed in.
    :param routes: the route table, for the routes that require DPoP.
    """

    def __init__(
        self,
        dpop: DPoPSettings | None = None,
        certificate: ClientCertificate | None = None,
        issuers: Sequence[Issuer] = (),
        cache: SharedCache | None = None,
        routes: RouteTable | None = None,
        clock: Clock = system_clock,
    ) -> None:
        settings = instance(dpop, "dpop", DPoPSettings, DPoPSettings())
        self.certificate = optional_instance(certificate, "client_certificate", ClientCertificate)
        #: The proof checker (:mod:`wsgi_jwt_guard.dpop`).
        self.proofs = DPoPProofs(settings, cache=cache, clock=clock)
        self.default: DPoPMode = settings.mode
        # Each concrete issuer (a template's tenants included) with a mode of its own.
        self._modes: dict[str | None, DPoPMode] = {}
        for issuer in issuers:  # Issuer objects: the verifier checked them
            if issuer.dpop is not None:
                self._modes.update((iss, issuer.dpop) for iss, _ in issuer.concrete_issuers)
        modes = {self.default, *self._modes.values()}
        algs = self.proofs.challenge_algorithms if modes != {"off"} else None
        bearer = modes != {"required"}
        # What a refusal challenges, by the route's own mode.
        self._challenges = {
            route: (
                Challenges(bearer and route != "required", None if route == "off" else algs),
                Challenges(bearer and route != "required", None if route == "off" else algs, True),
            )
            for route in (None, "off", "allowed", "required")
        }
        self._plain_refused = "required" in modes
        #: For RFC 9728 metadata: the proof algorithms (none where DPoP is off
        #: everywhere), and whether every token must be DPoP-bound.
        self.dpop_algorithms = tuple(settings.algorithms) if algs is not None else ()
        self.dpop_required = modes == {"required"}
        rules = [] if routes is None else [routes.default, *routes.rules.values()]
        #: Whether every request must be checked; else only DPoP requests and
        #: tokens with ``cnf`` (the guard tests this before calling :meth:`check`).
        self.always = self._plain_refused or any(rule.dpop == "required" for rule in rules)
        if dpop is not None and modes != {"off"} and not self.proofs.cache.is_shared:
            log.info("DPoP proofs' jti are remembered per process: share them with [cache]")

    def mode_of(self, identity: Identity) -> DPoPMode:
        """The DPoP mode of ``identity``'s issuer (the guard's for service tokens, API keys)."""
        return self._modes.get(identity.issuer, self.default)

    def check(self, request: RequestView, identity: Identity, rule: Rule) -> None:
        """Refuse the request unless ``identity``'s token may be used by its sender."""
        dpop = identity.source == "dpop"
        claims = identity.claims
        if not dpop and "cnf" not in claims and rule.dpop != "required" and not self._plain_refused:
            return  # the common case: a plain bearer token where plain tokens are fine
        try:
            self._check(request, identity, rule, dpop, claims.get("cnf"))
        except InvalidToken as refusal:
            refusal.source = identity.source  # a bound token in the cookie is cleared
            raise
        except RequestRefused:
            raise
        except Exception:  # a bug or a library surprise must not become a 500 (or a pass)
            log.debug("unexpected error while checking a token's binding", exc_info=True)
            raise InvalidToken("the token's binding could not be checked") from None

    def _check(
        self, request: RequestView, identity: Identity, rule: Rule, dpop: bool, cnf: object
    ) -> None:
        if cnf is not None and not isinstance(cnf, Mapping):
            raise InvalidToken("the token's 'cnf' claim is not an object")
        cnf = cnf or {}
        unknown = cnf.keys() - _CHECKED
        if unknown:
            raise InvalidToken(
                f"the token is bound by a method the guard cannot check (cnf {min(unknown)!r})"
            )
        modes = (rule.dpop, self.mode_of(identity))
        jkt = cnf.get("jkt")
        if dpop:
            if "off" in modes:
                raise InvalidToken("DPoP is not accepted here")
            if not isinstance(jkt, str) or not jkt:
                raise InvalidToken("the token is not bound to a DPoP key: send it as Bearer")
            self.proofs.verify(request, identity.token, jkt)
        elif jkt is not None:
            raise InvalidToken("the token is bound to a DPoP key: send it as 'DPoP' with a proof")
        elif "required" in modes:
            raise InvalidToken("only DPoP-bound tokens are accepted here")
        if "x5t#S256" in cnf:
            self._check_certificate(request.environ, cnf["x5t#S256"])

    def _check_certificate(self, environ: Mapping[str, Any], expected: object) -> None:
        """RFC 8705 §3: the client certificate's thumbprint must be ``cnf.x5t#S256``."""
        if self.certificate is None:
            raise InvalidToken("the token is bound to a client certificate; none is read here")
        value = environ.get(self.certificate.environ_key)
        if not isinstance(value, str) or not value:
            raise InvalidToken("the token is bound to a client certificate and none was presented")
        try:
            thumbprint = certificate_thumbprint(value, self.certificate.format)
        except (ValueError, UnicodeError):
            raise InvalidToken("the client certificate header is malformed") from None
        if not isinstance(expected, str) or not hmac.compare_digest(
            thumbprint.encode(), expected.encode("utf-8", "surrogatepass")
        ):
            raise InvalidToken("the token is bound to another client certificate")

    def challenges(self, rule: Rule, request: RequestView) -> Challenges:
        """The schemes a refusal on ``rule`` challenges (DPoP's ``algs`` included)."""
        value = request.environ.get("HTTP_AUTHORIZATION")
        return self._challenges[rule.dpop][isinstance(value, str) and is_dpop_scheme(value)]
