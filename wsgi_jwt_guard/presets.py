"""Edge presets: the settings of an issuer whose tokens an edge proxy adds.

An identity-aware proxy in front of the app signs in the user itself and
hands the app a JWT in a request header. Three are common, each with its own
header, keys and checks; ``preset`` on an :class:`~wsgi_jwt_guard.issuers.Issuer`
fills them in, and every value it fills can still be set explicitly (key URLs
too, so tests serve keys locally)::

    Issuer(preset="gcp-iap", audience="/projects/123/global/backendServices/456")
    Issuer(preset="cloudflare-access", team="acme", audience="<the application's AUD tag>")
    Issuer(
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf",   # the IdP's 'iss'
        preset="aws-alb",
        signers=["arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188"],
        client_ids=["4fmvht22tjrgd7d3k3tghttct7"],                        # the header's 'client'
    )

``gcp-iap``
    Google Cloud IAP: ``x-goog-iap-jwt-assertion``, ES256, Google's JWKS,
    ``iss`` ``https://cloud.google.com/iap``. ``audience`` is required and
    each must be one of IAP's two forms,
    ``/projects/<number>/global/backendServices/<id>`` or
    ``/projects/<number>/apps/<project id>``.
``cloudflare-access``
    Cloudflare Access: ``Cf-Access-Jwt-Assertion`` and the ``CF_Authorization``
    cookie, RS256, ``iss`` ``https://<team>.cloudflareaccess.com`` and its
    ``/cdn-cgi/access/certs``. ``team`` (or ``issuer`` and ``jwks_uri``) and
    ``audience`` (the application's AUD tag) are required. Only application
    tokens (``type: "app"``) are accepted, never the team domain's global
    session token (``type: "org"``). A service token's ``sub`` is empty: it is
    an identity of kind ``edge-service`` whose subject is its ``common_name``
    (the service token's client ID).
``aws-alb``
    AWS Application Load Balancer: ``x-amzn-oidc-data``, ES256, one PEM per
    ``kid`` at ``https://public-keys.auth.elb.<region>.amazonaws.com/<kid>``
    (``pem_url``, with ``{kid}``). ``issuer`` (the identity provider's, which
    the token's ``iss`` repeats), ``signers`` (the load balancers' ARNs) and
    ``client_ids`` (the OIDC client IDs of their ``authenticate-oidc`` or
    ``authenticate-cognito`` actions) are required; ``region`` is read from the
    ARNs. ALB signs a header of its own: its ``signer`` must be one of
    ``signers`` and its ``client`` one of ``client_ids``; its ``iss`` and ``exp``,
    which repeat the payload's, must equal the token's ``iss`` and must not have
    passed. ALB pads its base64: this preset alone accepts padded tokens.

    ``client_ids`` is required as AWS's own verifier (``aws-jwt-verify``'s
    ``AlbJwtVerifier``) requires ``clientId``: one load balancer may
    authenticate several applications, each its own OIDC client, against the
    same identity provider, and only ``client`` tells their tokens apart. A
    deployment that means to accept them all says so with ``any_client =
    true`` (``clientId: null`` there), never by leaving ``client_ids`` out.

Edge service tokens
    A Cloudflare service token is a machine's credential, checked by
    Cloudflare against its client secret: its identity has kind
    ``edge-service``, not ``user`` (no person signed in) and not ``service``
    (that kind means an HS256 token over *your* ``[service_tokens]`` secrets,
    with no issuer; a rule admitting your own services must not admit whoever
    holds a Cloudflare client secret). A rule's ``tokens`` accepts or refuses
    it like any other kind: ``tokens = ["user"]`` refuses it with 403.

.. warning::
    A preset trusts that only the proxy can set its header: strip it at the
    edge, and never let clients reach the app around the proxy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .claims import check_subject, check_times
from .errors import ConfigError, ExpiredToken, InvalidToken
from .identity import TokenKind
from .validation import flag

if TYPE_CHECKING:
    from .issuers import Issuer

__all__ = ["PRESETS", "check_edge_token", "preset_settings", "preset_subject"]

GCP_IAP = "gcp-iap"
CLOUDFLARE_ACCESS = "cloudflare-access"
AWS_ALB = "aws-alb"
#: The edge presets an issuer may name.
PRESETS = (AWS_ALB, GCP_IAP, CLOUDFLARE_ACCESS)

#: ALB's key URL; ``{region}`` is filled at construction, ``{kid}`` per token.
ALB_PEM_URL = "https://public-keys.auth.elb.{region}.amazonaws.com/{kid}"
IAP_ISSUER = "https://cloud.google.com/iap"
IAP_JWKS = "https://www.gstatic.com/iap/verify/public_key-jwk"

# IAP's two audience forms (backend services are numbered; App Engine by project ID).
_IAP_AUDIENCE = re.compile(
    r"/projects/[0-9]+/(?:global/backendServices/[0-9]+|apps/[a-z][a-z0-9.:-]{2,62})"
)
# A Cloudflare Zero Trust team name: one DNS label.
_TEAM = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
# An ALB's ARN; group 1 is its region.
_ALB_ARN = re.compile(
    r"arn:aws[a-z-]*:elasticloadbalancing:([a-z]{2}(?:-[a-z]+)+-[0-9]):[0-9]{12}:"
    r"loadbalancer/app/[A-Za-z0-9-]{1,32}/[0-9a-f]{1,32}"
)
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]")


def preset_settings(preset: object, given: Mapping[str, Any]) -> dict[str, Any]:
    """The values ``preset`` fills in, for the fields of ``given`` left at their defaults.

    ``given`` maps an issuer's fields to their values, ``None`` (or an empty
    value) where nothing was set: an explicit value always wins.
    """
    if preset is None:
        return {}
    if preset not in PRESETS:
        raise ConfigError("preset", f"unknown preset {preset!r}; choose from {sorted(PRESETS)}")
    filled: dict[str, Any]
    if preset == GCP_IAP:
        filled = {
            "issuer": IAP_ISSUER,
            "jwks_uri": IAP_JWKS,
            "algorithms": ("ES256",),
            "token_header": "x-goog-iap-jwt-assertion",
        }
        _check_iap_audience(given.get("audience"))
    elif preset == CLOUDFLARE_ACCESS:
        team = given.get("team")
        filled = {
            "algorithms": ("RS256",),
            "token_header": "Cf-Access-Jwt-Assertion",
            "token_cookie": "CF_Authorization",
        }
        if team is not None:
            if not isinstance(team, str) or not _TEAM.fullmatch(team):
                raise ConfigError(
                    "team", "expected a Cloudflare team name (<team>.cloudflareaccess.com)"
                )
            domain = f"https://{team}.cloudflareaccess.com"
            filled.update(issuer=domain, jwks_uri=f"{domain}/cdn-cgi/access/certs")
        elif not (given.get("issuer") and given.get("jwks_uri")):
            raise ConfigError("team", "required: the Cloudflare Zero Trust team name")
        if not given.get("audience"):
            raise ConfigError("audience", "required: the Access application's AUD tag")
    else:
        if not given.get("issuer"):
            raise ConfigError("issuer", "required: your identity provider's (the tokens' 'iss')")
        region = _alb_region(given.get("signers"), given.get("region"))
        _check_alb_clients(given.get("client_ids"), given.get("any_client"))
        filled = {
            "algorithms": ("ES256",),
            "token_header": "x-amzn-oidc-data",
            "region": region,
            "pem_url": ALB_PEM_URL.replace("{region}", region),
        }
    if given.get("has_keys"):  # keys configured another way: no URL to fill
        filled.pop("jwks_uri", None)
        filled.pop("pem_url", None)
    return {name: value for name, value in filled.items() if not given.get(name)}


def _listed(value: object) -> list[object]:
    """A setting given as one value or a list of them, as a list."""
    if isinstance(value, str):
        return [value]
    return list(value) if isinstance(value, (list, tuple)) else []


def _check_iap_audience(audience: object) -> None:
    values = _listed(audience)
    if not values:
        raise ConfigError(
            "audience",
            "required: /projects/<number>/global/backendServices/<id> "
            "or /projects/<number>/apps/<project id>",
        )
    for value in values:
        if not isinstance(value, str) or not _IAP_AUDIENCE.fullmatch(value):
            raise ConfigError(
                "audience",
                f"{value!r} is not an IAP audience: /projects/<number>/global/backendServices/<id> "
                "or /projects/<number>/apps/<project id>",
            )


def _alb_region(signers: object, region: object) -> str:
    values = _listed(signers)
    if not values:
        raise ConfigError("signers", "required: the ARNs of the load balancers that sign")
    regions = set()
    for index, arn in enumerate(values):
        match = _ALB_ARN.fullmatch(arn) if isinstance(arn, str) else None
        if match is None:
            raise ConfigError(
                f"signers[{index}]",
                "expected an ALB's ARN "
                "(arn:aws:elasticloadbalancing:<region>:<account>:loadbalancer/app/<name>/<id>)",
            )
        regions.add(match.group(1))
    if region is not None:
        if not isinstance(region, str) or not _REGION.fullmatch(region):
            raise ConfigError("region", "expected an AWS region (eu-west-1)")
        regions.add(region)
    if len(regions) != 1:
        raise ConfigError(
            "signers", "the load balancers must be in one region (one issuer per region)"
        )
    return regions.pop()


def _check_alb_clients(client_ids: object, any_client: object) -> None:
    # Required, as aws-jwt-verify requires clientId; accepting every client is
    # an explicit choice (any_client), as clientId: null is there.
    if any_client is not None and flag(any_client, "any_client"):
        if _listed(client_ids):
            raise ConfigError("any_client", "set client_ids or any_client = true, not both")
    elif not _listed(client_ids):
        raise ConfigError(
            "client_ids",
            "required: the OIDC client IDs of the load balancers' authenticate actions "
            "(the token header's 'client'); any_client = true accepts every client",
        )


def preset_subject(preset: str | None, claims: Mapping[str, Any]) -> tuple[str, TokenKind]:
    """The subject and kind of a verified token of an issuer with ``preset``.

    A Cloudflare Access service token says nothing in ``sub`` (``""``): its
    subject is its ``common_name`` (the service token's client ID) and its kind
    ``edge-service``. Any other token is a ``user`` named by ``sub``, checked by
    :func:`~wsgi_jwt_guard.claims.check_subject`, an empty one refused.
    """
    if preset == CLOUDFLARE_ACCESS and claims.get("sub") == "" and "common_name" in claims:
        return check_subject(claims, "common_name"), "edge-service"
    return check_subject(claims), "user"


def check_edge_token(
    issuer: Issuer,
    header: Mapping[str, Any],
    claims: Mapping[str, Any],
    exp: float,
    now: float,
) -> float:
    """The preset's own checks of a token whose signature verified; the token's expiry.

    ``exp`` is the payload's (checked already); the earlier of it and the
    header's is returned, so nothing caches the token past either.

    * ``signers`` (any issuer that sets them): the header's ``signer`` is one.
    * ``aws-alb``: the header's ``client`` is one of ``client_ids`` (unless
      ``any_client``). ALB repeats ``iss`` and ``exp`` in the header, as RFC 7519
      §5.3 allows for replicated claims; when present, the header's ``iss`` must
      equal the token's and its ``exp`` (a number) must not have passed, with
      the issuer's ``leeway``.
    * ``cloudflare-access``: ``type`` is ``app``, an application token; the team
      domain's global session token (``org``) is not meant for an application.

    Each refusal is an :class:`~wsgi_jwt_guard.errors.InvalidToken` naming the field.
    """
    if issuer.signers and header.get("signer") not in issuer.signers:
        raise InvalidToken("the token's 'signer' is not an accepted load balancer")
    preset = issuer.preset
    if preset == AWS_ALB:
        if not issuer.any_client and header.get("client") not in issuer.client_ids:
            raise InvalidToken("the token's 'client' is not an accepted client ID")
        if "iss" in header and header["iss"] != claims.get("iss"):
            raise InvalidToken("the token header's 'iss' is not the token's issuer")
        if "exp" in header:
            exp = min(exp, _header_expiry(header["exp"], now, issuer.leeway))
    elif preset == CLOUDFLARE_ACCESS and claims.get("type") != "app":
        raise InvalidToken("the token's 'type' is not 'app': not an Access application token")
    return exp


def _header_expiry(value: object, now: float, leeway: float) -> float:
    """The header's ``exp``, read and checked as a payload's (a JSON number, never a bool)."""
    try:
        return check_times({"exp": value}, now=now, leeway=leeway)
    except ExpiredToken:
        raise ExpiredToken("the token has expired (the header's 'exp')") from None
    except InvalidToken as refusal:  # not a (finite) number
        reason = refusal.description.replace("the token's 'exp' claim", "the token header's 'exp'")
        raise InvalidToken(reason) from None
