"""JWT authentication for any WSGI application.

``wsgi_jwt_guard`` wraps a WSGI app, decides per path prefix whether a token
is needed, verifies ``Authorization: Bearer`` (or token-cookie, or DPoP-bound)
JWTs against
configured issuers and service secrets, and calls the app with ``REMOTE_USER``
and the verified :class:`Identity` -- or answers 400/401/403/503 itself.

See :class:`JWTGuard` for the Python API and :func:`from_config` for the
dict/TOML configuration. The root exports what an application touches: the
guard, what it is given (issuers, settings, keys, caches, revocations), what
it hands back (identities, health) and the errors it raises. Its working
parts stay in their modules: ``wsgi_jwt_guard.verification.Verifier``,
``wsgi_jwt_guard.metrics.Metrics`` (read through ``JWTGuard.metrics``).
"""

from __future__ import annotations

import logging

from .apikeys import APIKey
from .backstage import BackstageSettings
from .binding import ClientCertificate
from .caches import SharedCache
from .config import from_config, load_config
from .cookies import CookieSettings
from .cors import CORSSettings
from .csrf import CSRFSettings
from .downstream import DownstreamSettings
from .dpop import DPoPSettings
from .errors import (
    AuthenticationError,
    ConfigError,
    CrossSiteRequest,
    ExpiredToken,
    GuardError,
    InsufficientScope,
    IntrospectionUnavailable,
    InvalidDPoPProof,
    InvalidRequest,
    InvalidToken,
    KeysUnavailable,
    MethodNotAllowed,
    MissingToken,
    PathTooLong,
    PreflightRefused,
    RequestRefused,
    RevokedToken,
    UnknownKey,
    UnsafePath,
    UseDPoPNonce,
)
from .health import KeysHealth
from .identity import ENVIRON_KEY, Identity, get_identity
from .introspection import IntrospectionSettings
from .issuers import Issuer
from .metadata import ResourceMetadata
from .middleware import JWTGuard
from .refresh import RefreshPolicy
from .revocation import Revocations
from .routing import Policy, RouteTable, Rule
from .service import ServiceTokens, mint_service_token

__all__ = [
    "ENVIRON_KEY",
    "APIKey",
    "AuthenticationError",
    "BackstageSettings",
    "CORSSettings",
    "CSRFSettings",
    "ClientCertificate",
    "ConfigError",
    "CookieSettings",
    "CrossSiteRequest",
    "DPoPSettings",
    "DownstreamSettings",
    "ExpiredToken",
    "GuardError",
    "Identity",
    "InsufficientScope",
    "IntrospectionSettings",
    "IntrospectionUnavailable",
    "InvalidDPoPProof",
    "InvalidRequest",
    "InvalidToken",
    "Issuer",
    "JWTGuard",
    "KeysHealth",
    "KeysUnavailable",
    "MethodNotAllowed",
    "MissingToken",
    "PathTooLong",
    "Policy",
    "PreflightRefused",
    "RefreshPolicy",
    "RequestRefused",
    "ResourceMetadata",
    "Revocations",
    "RevokedToken",
    "RouteTable",
    "Rule",
    "ServiceTokens",
    "SharedCache",
    "UnknownKey",
    "UnsafePath",
    "UseDPoPNonce",
    "from_config",
    "get_identity",
    "load_config",
    "mint_service_token",
]

__version__ = "0.1.0"

# A library prints nothing unless the application configures logging.
logging.getLogger("wsgi_jwt_guard").addHandler(logging.NullHandler())
