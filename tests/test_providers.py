"""The README's provider recipes, each run against tokens shaped like that provider's.

Each recipe's TOML is read out of README.md itself (so the README cannot drift
from what works), its ``jwks_uri`` pointed at a JWKS server on 127.0.0.1 that
publishes the test key the way that provider publishes its keys, and the
guard driven with tokens whose header and claims are those the provider
documents for its access tokens (the sources are cited where each token is
built):

* Keycloak 25+: a realm's access token (``typ: "Bearer"``, ``azp``,
  ``realm_access.roles``, ``resource_access.<client>.roles``, ``aud`` a string
  or a list filled by the *Audience Resolve* and *Audience* mappers, ``scope``
  a space-separated string, ``sid`` and ``auth_time``, no ``session_state``),
  a service account's, an ID token and an HS512 refresh token; its JWKS holds
  an ``RSA-OAEP`` encryption key next to the signing key.
* Auth0: the default ("Auth0") access token profile (``iss`` with a trailing
  ``/``, ``aud`` the API identifier, a list with ``/userinfo`` when ``openid``
  was asked for, ``azp``, ``scope``) with RBAC's ``permissions`` and a
  namespaced custom claim; a client-credentials token (``sub``
  ``<client id>@clients``, ``gty``); the RFC 9068 profile (header ``typ:
  at+jwt``, ``client_id`` and ``jti`` instead of ``azp``); and the JWE an
  ``/authorize`` without ``audience`` returns.
* Okta: a custom authorization server's access token (header ``alg`` and
  ``kid`` only; ``ver: 1``, ``jti: "AT..."``, ``cid``, ``uid``, ``scp`` a list,
  ``aud: "api://default"``) with a ``groups`` claim, a client-credentials
  token (``sub`` the client ID, no ``uid``), the org authorization server's
  and an ID token.
* Entra ID: v2.0 access tokens (``iss``
  ``https://login.microsoftonline.com/{tid}/v2.0``, ``aud`` the API's client
  ID, ``tid``, ``oid``, ``azp``, ``scp`` a space-separated string, ``roles`` a
  list, ``ver: "2.0"``; header ``kid`` without ``x5t``), the app-only token of
  client credentials (``roles``, no ``scp``), and v1.0 tokens (``iss``
  ``https://sts.windows.net/{tid}/``, ``appid``, header ``x5t``); its JWKS
  keys carry ``x5t``, ``x5c`` and ``issuer`` and no ``alg``.

Every refusal is a 401 or 403 with a reason, never a 500.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from werkzeug.test import Client, TestResponse

from tests.helpers import (
    SigningKey,
    b64url,
    b64url_json,
    compact,
    echo_app,
    self_signed_certificate,
)
from tests.jwks_server import JWKSServer
from tests.processes import ROOT
from wsgi_jwt_guard import JWTGuard, from_config
from wsgi_jwt_guard.config import load_config

README = (ROOT / "README.md").read_text()
RECIPES = README[README.index("## Provider recipes") :]
RECIPES = RECIPES[: RECIPES.index("\n## ", 1)]


def recipe(provider: str) -> str:
    """The TOML of the README's recipe for ``provider`` (the ``### provider`` section)."""
    section = RECIPES[RECIPES.index(f"### {provider}\n") :]
    section = section[: section.find("\n### ", 1) if "\n### " in section[1:] else len(section)]
    blocks = re.findall(r"```toml\n(.*?)```", section, re.DOTALL)
    assert len(blocks) == 1, f"expected one TOML block in the {provider} recipe"
    return str(blocks[0])


#: ``guard_for(provider, jwks)``: the recipe's guard, ``jwks`` served at its ``jwks_uri``.
Guard = Callable[[str, dict[str, Any]], JWTGuard]


@pytest.fixture
def guard_for(jwks_server: JWKSServer, tmp_path: Path) -> Guard:
    """The recipe of ``provider``, its ``jwks_uri`` a local server publishing ``jwks``."""

    def build(provider: str, jwks: dict[str, Any]) -> JWTGuard:
        jwks_server.document = jwks
        (tmp_path / "guard.toml").write_text(recipe(provider))
        config = load_config(tmp_path / "guard.toml")
        for issuer in config["issuers"]:
            assert issuer["jwks_uri"].startswith("https://"), "the recipe names the real URL"
            issuer["jwks_uri"] = jwks_server.url
        return from_config(echo_app, config)

    return build


def get(guard: JWTGuard, path: str, token: str) -> TestResponse:
    return Client(guard, use_cookies=False).get(path, headers={"Authorization": f"Bearer {token}"})


def check(response: TestResponse, status: int, reason: str = "") -> dict[str, Any]:
    """The status; for a refusal, its RFC 6750 challenge and a message holding ``reason``."""
    body: dict[str, Any] = response.get_json()
    assert response.status_code == status, body
    if status != 200:
        challenge = response.headers["WWW-Authenticate"]
        error = "insufficient_scope" if status == 403 else "invalid_token"
        assert f'error="{error}"' in challenge, challenge
        assert reason in body["error"]["message"], body["error"]["message"]
    return body


def now() -> int:
    return int(time.time())


def without_none(claims: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``claims`` updated with ``overrides``, a ``None`` override dropping the claim."""
    claims = {**claims, **overrides}
    return {name: value for name, value in claims.items() if value is not None}


def as_kid(key: SigningKey, kid: str) -> SigningKey:
    """The test key under the ``kid`` its provider would give it."""
    return dataclasses.replace(key, kid=kid)


def certificate_der(key: SigningKey) -> bytes:
    """The DER of one self-signed certificate per key, so its thumbprint is stable."""
    return _certificate_der(key.private)


@functools.cache
def _certificate_der(private: Any) -> bytes:
    return self_signed_certificate(private).public_bytes(Encoding.DER)


def x5t(key: SigningKey) -> str:
    """The SHA-1 thumbprint of the key's certificate (JWK ``x5t``, Entra's ``kid``)."""
    return b64url(hashlib.sha1(certificate_der(key)).digest())  # noqa: S324  # a thumbprint


# --- Keycloak ----------------------------------------------------------------------

KEYCLOAK = "https://keycloak.example.com/realms/acme"
KEYCLOAK_KID = "7tKf0r4S1aNq2cX9bVwYhE3mLpJ6uGzDoI8eR5sTnQk"


def keycloak_jwks(key: SigningKey) -> dict[str, Any]:
    """``/realms/acme/protocol/openid-connect/certs``: the realm's ``rsa-generated``
    signing key and its ``rsa-enc-generated`` encryption key (``use: enc``), which
    the guard must pass over."""
    der = certificate_der(key)
    signing = as_kid(key, KEYCLOAK_KID).public_jwk(
        x5c=[base64.b64encode(der).decode()],
        x5t=x5t(key),
        **{"x5t#S256": b64url(hashlib.sha256(der).digest())},
    )
    encryption = as_kid(key, "kQ2oVq0c9b3XyLmE4tRz8NwJ1aHfP6uGsD5eYiTjB7o").public_jwk(
        alg="RSA-OAEP", use="enc"
    )
    return {"keys": [signing, encryption]}


def keycloak_token(
    key: SigningKey, *, header: dict[str, Any] | None = None, **overrides: Any
) -> str:
    """An access token of realm ``acme`` for the client ``orders-ui``, which has an
    *Audience* mapper for ``orders-api``; ``None`` drops a claim."""
    # Shape: Server Administration Guide, "Role mappings in the token" and "Audience
    # support" (https://www.keycloak.org/docs/latest/server_admin/#_oidc_token_role_mappings,
    # https://www.keycloak.org/docs/latest/server_admin/#audience-support): roles under
    # realm_access / resource_access.<client>.roles, `account` in aud through Audience
    # Resolve (the default roles hold account's client roles), never the client itself
    # (that is azp). Upgrading Guide, 25.0.0 (https://www.keycloak.org/docs/latest/upgrading/):
    # the `basic` scope adds sub and auth_time, `session_state` is gone (`sid` stays).
    claims: dict[str, Any] = {
        "exp": now() + 300,
        "iat": now(),
        "auth_time": now() - 30,
        "jti": "onrtac:5d4c6b0a-2a4f-4a3e-9e7a-0f1c2d3e4f50",
        "iss": KEYCLOAK,
        "aud": ["orders-api", "account"],
        "sub": "f7b3c8a2-1d4e-4b6f-9a0c-2e5d7f8a9b1c",
        "typ": "Bearer",
        "azp": "orders-ui",
        "sid": "0e9c6a1b-3c2d-4e5f-8a7b-9c0d1e2f3a4b",
        "acr": "1",
        "allowed-origins": ["https://orders.example.com"],
        "realm_access": {"roles": ["default-roles-acme", "offline_access", "uma_authorization"]},
        "resource_access": {
            "orders-api": {"roles": ["order-reader"]},
            "account": {"roles": ["manage-account", "manage-account-links", "view-profile"]},
        },
        "scope": "openid orders profile email",
        "email_verified": True,
        "name": "Alice Example",
        "preferred_username": "alice",
        "given_name": "Alice",
        "family_name": "Example",
        "email": "alice@example.com",
    }
    return as_kid(key, KEYCLOAK_KID).token(without_none(claims, overrides), header=header)


def keycloak_service_account_token(key: SigningKey) -> str:
    """Client credentials of the client ``reports-job``: its service account's roles
    ("Role mappings in the token"), ``preferred_username`` ``service-account-<client>``,
    ``client_id`` and the client's host, no session (``sid``) and no user claims."""
    return keycloak_token(
        key,
        azp="reports-job",
        sub="3a1f9c2e-7b4d-4e8a-9c6f-1d2e3f4a5b6c",
        preferred_username="service-account-reports-job",
        client_id="reports-job",
        clientHost="10.0.3.17",
        clientAddress="10.0.3.17",
        scope="orders profile email",
        sid=None,
        auth_time=None,
        name=None,
        given_name=None,
        family_name=None,
        email=None,
        email_verified=False,
        **{"allowed-origins": None},
    )


def keycloak_id_token(key: SigningKey, client: str = "orders-ui") -> str:
    """The ID token issued with an access token: ``typ: "ID"``, ``aud`` the client
    itself, no roles (the role mappers add them to access tokens only)."""
    return keycloak_token(
        key,
        typ="ID",
        aud=client,
        azp=client,
        at_hash="Zk3pQw8sNcV1rT5yB0xLmA",
        realm_access=None,
        resource_access=None,
        scope=None,
        **{"allowed-origins": None},
    )


def keycloak_refresh_token() -> str:
    """A refresh token: signed with the realm's ``hmac-generated-hs512`` key,
    ``aud`` the realm itself, ``typ: "Refresh"``."""
    claims = {
        "exp": now() + 1800,
        "iat": now(),
        "jti": "8b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e",
        "iss": KEYCLOAK,
        "aud": KEYCLOAK,
        "sub": "f7b3c8a2-1d4e-4b6f-9a0c-2e5d7f8a9b1c",
        "typ": "Refresh",
        "azp": "orders-ui",
        "sid": "0e9c6a1b-3c2d-4e5f-8a7b-9c0d1e2f3a4b",
        "scope": "openid orders profile email",
    }
    header = {"alg": "HS512", "typ": "JWT", "kid": "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f"}
    return compact(header, claims, lambda data: hmac.new(b"k" * 64, data, hashlib.sha512).digest())


KeycloakToken = Callable[[SigningKey], str]


@pytest.mark.parametrize(
    ("path", "token", "status", "reason"),
    [
        pytest.param(
            "/api/orders", lambda k: keycloak_token(k), 200, "", id="client-role-and-scope"
        ),
        pytest.param(
            "/api/orders",
            lambda k: keycloak_token(k, aud="orders-api"),
            200,
            "",
            id="aud-a-string",  # one audience: a string, as the Audience support example shows
        ),
        pytest.param(
            "/api/orders",
            lambda k: keycloak_token(
                k,
                resource_access={
                    "orders-api": {"roles": ["order-admin"]},
                    "account": {"roles": ["manage-account", "view-profile"]},
                },
            ),
            200,
            "",
            id="other-allowed-client-role",
        ),
        pytest.param(
            "/api/orders",
            lambda k: keycloak_token(k, header={"typ": "at+jwt"}),
            200,
            "",
            id="rfc9068-header",  # the client attribute access.token.header.type.rfc9068
        ),
        pytest.param(
            "/api/orders",
            lambda k: keycloak_service_account_token(k),
            200,
            "",
            id="service-account",
        ),
        pytest.param(
            "/api/orders",
            lambda k: keycloak_token(
                k, resource_access={"account": {"roles": ["manage-account", "view-profile"]}}
            ),
            403,
            "resource_access",
            id="no-role-of-the-api",  # the Audience mapper still names orders-api
        ),
        pytest.param(
            "/api/orders",
            lambda k: keycloak_token(
                k,
                azp="billing-ui",
                aud="account",
                resource_access={
                    "billing-api": {"roles": ["invoice-reader"]},
                    "account": {"roles": ["manage-account", "view-profile"]},
                },
                scope="openid profile email",
            ),
            401,
            "audience",
            id="token-of-another-client",
        ),
        pytest.param(
            "/api/orders",
            lambda k: keycloak_token(k, scope="openid profile email"),
            403,
            "scope",
            id="scope-not-granted",
        ),
        pytest.param(
            "/api/admin",
            lambda k: keycloak_token(k),
            403,
            "realm_access.roles",
            id="not-a-realm-admin",
        ),
        pytest.param(
            "/api/admin",
            lambda k: keycloak_token(
                k, realm_access={"roles": ["default-roles-acme", "offline_access", "admin"]}
            ),
            200,
            "",
            id="realm-admin",
        ),
        pytest.param("/api/orders", lambda k: keycloak_id_token(k), 401, "audience", id="id-token"),
        pytest.param(
            "/api/orders",
            lambda k: keycloak_id_token(k, client="orders-api"),
            401,
            "'typ'",
            id="id-token-of-the-api-client",  # its aud passes: only typ tells it apart
        ),
        pytest.param(
            "/api/orders", lambda k: keycloak_refresh_token(), 401, "algorithm", id="refresh-token"
        ),
        pytest.param(
            "/api/orders", lambda k: keycloak_token(k, typ=None), 401, "'typ'", id="no-typ"
        ),
        pytest.param(
            "/api/orders",
            lambda k: keycloak_token(
                k, aud="account", resource_access={"account": {"roles": ["view-profile"]}}
            ),
            401,
            "audience",
            id="account-only",
        ),
        pytest.param(
            "/api/orders",
            lambda k: keycloak_token(k, iss="https://keycloak.example.com/realms/other"),
            401,
            "issuer",
            id="other-realm",
        ),
    ],
)
def test_keycloak(
    guard_for: Guard,
    rsa_key: SigningKey,
    path: str,
    token: KeycloakToken,
    status: int,
    reason: str,
) -> None:
    guard = guard_for("Keycloak", keycloak_jwks(rsa_key))
    body = check(get(guard, path, token(rsa_key)), status, reason)
    if status == 200:
        assert body["identity"]["issuer"] == KEYCLOAK
        # preferred_username, not the UUID in sub
        assert body["remote_user"] in {"alice", "service-account-reports-job"}


# --- Auth0 -------------------------------------------------------------------------

AUTH0 = "https://example.us.auth0.com/"
AUTH0_API = "https://api.example.com"
AUTH0_KID = "nW3kQp8Zr2LxTb6YvJ1mA"
AUTH0_CLIENT = "Xk2lq9Ws8Jv1bN3mR5tY7uI0oP4aS6dF"
#: The namespaced roles claim an Action adds, naming an admin.
ADMIN: dict[str, Any] = {"https://example.com/roles": ["admin", "support"]}


def auth0_jwks(key: SigningKey) -> dict[str, Any]:
    """``/.well-known/jwks.json``: RS256 keys with their certificate (``x5c``, ``x5t``)."""
    return {
        "keys": [
            as_kid(key, AUTH0_KID).public_jwk(
                x5c=[base64.b64encode(certificate_der(key)).decode()], x5t=x5t(key)
            )
        ]
    }


def auth0_token(key: SigningKey, *, header: dict[str, Any] | None = None, **overrides: Any) -> str:
    """A user's access token for the API ``https://api.example.com``, asked for with
    ``openid``, RBAC's permissions on; ``None`` drops a claim."""
    # Shape: "Access Token Profiles", the Auth0 profile
    # (https://auth0.com/docs/secure/tokens/access-tokens/access-token-profiles);
    # aud a list with /userinfo only when openid was asked for ("Get Access Tokens",
    # https://auth0.com/docs/secure/tokens/access-tokens/get-access-tokens); permissions
    # (https://auth0.com/docs/get-started/apis/enable-role-based-access-control-for-apis);
    # a namespaced custom claim, `roles` itself being reserved
    # (https://auth0.com/docs/secure/tokens/json-web-tokens/create-custom-claims).
    claims: dict[str, Any] = {
        "iss": AUTH0,
        "sub": "auth0|65f1c0ffee0123456789abcd",
        "aud": [AUTH0_API, "https://example.us.auth0.com/userinfo"],
        "iat": now(),
        "exp": now() + 86400,
        "azp": AUTH0_CLIENT,
        "scope": "openid profile email read:messages",
        "permissions": ["read:messages"],
        "https://example.com/roles": ["support"],
    }
    return as_kid(key, AUTH0_KID).token(without_none(claims, overrides), header=header)


def auth0_m2m_token(key: SigningKey, **overrides: Any) -> str:
    """Client credentials: no user, ``sub`` ``<client id>@clients``, ``gty``, ``aud`` a string."""
    # Shape: the `sub` row of "Access Token Profiles" (a Machine-to-Machine app's
    # "<client id>@clients"); aud a string without openid ("Get Access Tokens"). That
    # page lists `gty` for password and refresh-token grants only; client-credentials
    # tokens carry "client-credentials" too, and nothing here depends on it.
    m2m: dict[str, Any] = {
        "sub": f"{AUTH0_CLIENT}@clients",
        "aud": AUTH0_API,
        "scope": "read:messages write:messages",
        "gty": "client-credentials",
        "permissions": ["read:messages", "write:messages"],
        "https://example.com/roles": None,
    }
    return auth0_token(key, **{**m2m, **overrides})


def auth0_rfc9068_token(key: SigningKey) -> str:
    """The API set to the RFC 9068 profile: header ``typ: at+jwt``, ``client_id`` and
    ``jti`` instead of ``azp``, never ``gty``."""
    # Shape: "Access Token Profiles", the RFC 9068 profile and "Token profile differences".
    return auth0_token(
        key,
        header={"typ": "at+jwt"},
        azp=None,
        client_id=AUTH0_CLIENT,
        jti="Qe7RfT2yUi9oPa4sDg6hJk",
    )


def auth0_opaque_token() -> str:
    """What ``/authorize`` without ``audience`` gives: an encrypted token (JWE,
    five segments) for ``/userinfo`` only, not a JWT an API can read."""
    header = {"alg": "dir", "enc": "A256GCM", "iss": AUTH0}
    return ".".join(
        [b64url_json(header), "", b64url(b"\x01" * 12), b64url(b"\x02" * 96), b64url(b"\x03" * 16)]
    )


@pytest.mark.parametrize(
    ("path", "token", "status", "reason"),
    [
        pytest.param("/api/messages", lambda k: auth0_token(k), 200, "", id="permission"),
        pytest.param(
            "/api/messages",
            lambda k: auth0_token(k, aud=AUTH0_API, scope="profile email read:messages"),
            200,
            "",
            id="aud-a-string-without-openid",
        ),
        pytest.param(
            "/api/messages",
            lambda k: auth0_token(k, permissions=None, scope="openid read:messages"),
            200,
            "",
            id="scope-alone-counts",  # RBAC on, "Add Permissions in the Access Token" off
        ),
        pytest.param(
            "/api/messages",
            lambda k: auth0_token(k, permissions=["write:messages"], scope="openid"),
            403,
            "scope",
            id="other-permission",
        ),
        pytest.param("/api/messages", lambda k: auth0_m2m_token(k), 200, "", id="m2m"),
        pytest.param(
            "/api/messages",
            lambda k: auth0_m2m_token(k, scope="write:messages", permissions=["write:messages"]),
            403,
            "scope",
            id="m2m-without-the-permission",
        ),
        pytest.param(
            "/api/messages", lambda k: auth0_rfc9068_token(k), 200, "", id="rfc9068-profile"
        ),
        pytest.param("/api/admin", lambda k: auth0_token(k), 403, "roles", id="support-not-admin"),
        pytest.param(
            "/api/admin",
            lambda k: auth0_token(k, **ADMIN),
            200,
            "",
            id="namespaced-admin",
        ),
        pytest.param(
            "/api/admin",
            lambda k: auth0_token(k, roles=["admin"]),
            403,
            "roles",
            id="roles-not-namespaced",
        ),
        pytest.param(
            "/api/messages",
            lambda k: auth0_token(k, iss=AUTH0.rstrip("/")),
            401,
            "issuer",
            id="iss-without-slash",
        ),
        pytest.param(
            "/api/messages",
            lambda k: auth0_token(k, iss="https://login.example.com/"),
            401,
            "issuer",
            id="custom-domain-not-configured",  # iss is the domain the token came from
        ),
        pytest.param(
            "/api/messages",
            lambda k: auth0_token(
                k,
                aud=[
                    "https://example.us.auth0.com/api/v2/",
                    "https://example.us.auth0.com/userinfo",
                ],
                scope="openid profile read:users",
                permissions=["read:users"],
            ),
            401,
            "audience",
            id="management-api-token",
        ),
        pytest.param(
            "/api/messages", lambda k: auth0_opaque_token(), 401, "", id="opaque-without-audience"
        ),
    ],
)
def test_auth0(
    guard_for: Guard,
    rsa_key: SigningKey,
    path: str,
    token: Callable[[SigningKey], str],
    status: int,
    reason: str,
) -> None:
    guard = guard_for("Auth0", auth0_jwks(rsa_key))
    body = check(get(guard, path, token(rsa_key)), status, reason)
    if status == 200:
        assert body["identity"]["issuer"] == AUTH0


# --- Okta --------------------------------------------------------------------------

OKTA = "https://example.okta.com/oauth2/default"
OKTA_KID = "Xq3v8ZtR0pLk5NmW2sYcB7hJ9uE4gFaD6oI1eKrTlQw"
OKTA_CLIENT = "0oa1b2c3d4e5f6g7h8i9"


def okta_jwks(key: SigningKey) -> dict[str, Any]:
    """``/oauth2/default/v1/keys``: plain RS256 keys, no certificate."""
    return {"keys": [as_kid(key, OKTA_KID).public_jwk()]}


def okta_token(key: SigningKey, **overrides: Any) -> str:
    """An access token of the ``default`` custom authorization server, with the
    ``groups`` claim it was configured to add; ``None`` drops a claim."""
    # Shape: OpenID Connect & OAuth 2.0 API, "Access token": header alg and kid only (no
    # typ), payload ver (an integer), jti, iss, aud, iat, exp, cid, uid (only with a user),
    # scp (an array), sub (https://developer.okta.com/docs/reference/api/oidc/#access-token);
    # groups from "Add a Groups claim for a Custom Authorization Server"
    # (https://developer.okta.com/docs/guides/customize-tokens-groups-claim/).
    claims: dict[str, Any] = {
        "ver": 1,
        "jti": "AT.c0ffeeAbCdEfGh1234567890abcdefghijklmnopq",
        "iss": OKTA,
        "aud": "api://default",
        "iat": now(),
        "exp": now() + 3600,
        "cid": OKTA_CLIENT,
        "uid": "00u1a2b3c4d5e6f7g8h9",
        "scp": ["openid", "email", "reports.read"],
        "auth_time": now() - 60,
        "sub": "alice@example.com",
        "groups": ["Everyone", "Finance"],
    }
    return compact({"kid": OKTA_KID, "alg": "RS256"}, without_none(claims, overrides), key.sign)


def okta_service_token(key: SigningKey) -> str:
    """Client credentials of a service app: ``sub`` is its client ID, no ``uid``, no
    ``auth_time``, no groups (there is no user)."""
    return okta_token(
        key, sub=OKTA_CLIENT, uid=None, auth_time=None, groups=None, scp=["reports.read"]
    )


def okta_id_token(key: SigningKey) -> str:
    """The ID token of the same sign-in: ``jti: "ID..."``, ``aud`` the client, no ``cid``/``scp``."""
    return okta_token(
        key,
        jti="ID.pT3vWq8ZkN2rLx5YbJ0cHmE7sAfGu9DoKi1eR4nVtQw",
        aud=OKTA_CLIENT,
        sub="00u1a2b3c4d5e6f7g8h9",
        cid=None,
        uid=None,
        scp=None,
        amr=["pwd"],
        idp="00o1a2b3c4d5e6f7g8h9",
        at_hash="Lw0rXk3Tq9PzB6mN_vYc2A",
    )


@pytest.mark.parametrize(
    ("path", "token", "status", "reason"),
    [
        pytest.param("/api/reports", lambda k: okta_token(k), 200, "", id="scope-and-group"),
        pytest.param(
            "/api/reports",
            lambda k: okta_token(k, groups=["Everyone", "Admins"]),
            200,
            "",
            id="other-group",
        ),
        pytest.param(
            "/api/reports",
            lambda k: okta_token(k, groups=["Everyone"]),
            403,
            "groups",
            id="no-group",
        ),
        pytest.param(
            "/api/reports",
            lambda k: okta_token(k, scp=["openid", "email"]),
            403,
            "scope",
            id="no-scope",
        ),
        pytest.param(
            "/api/reports",
            lambda k: okta_service_token(k),
            403,
            "groups",
            id="service-app-no-groups",
        ),
        pytest.param("/api/exports", lambda k: okta_service_token(k), 200, "", id="service-app"),
        pytest.param(
            "/api/reports",
            lambda k: okta_token(k, aud="api://other"),
            401,
            "audience",
            id="other-audience",
        ),
        pytest.param("/api/reports", lambda k: okta_id_token(k), 401, "audience", id="id-token"),
        pytest.param(
            "/api/reports",
            lambda k: okta_token(k, cid=None),
            401,
            "'cid'",
            id="no-cid",  # required_claims: every Okta access token carries cid
        ),
        pytest.param(
            "/api/reports",
            lambda k: okta_token(
                k, iss="https://example.okta.com", aud="https://example.okta.com", groups=None
            ),
            401,
            "issuer",
            id="org-authorization-server",
        ),
        pytest.param(
            "/api/reports",
            lambda k: okta_token(k, iss="https://example.okta.com/oauth2/aus9s8r7q6p5o4n3m2l1"),
            401,
            "issuer",
            id="other-custom-authorization-server",
        ),
    ],
)
def test_okta(
    guard_for: Guard,
    rsa_key: SigningKey,
    path: str,
    token: Callable[[SigningKey], str],
    status: int,
    reason: str,
) -> None:
    guard = guard_for("Okta", okta_jwks(rsa_key))
    body = check(get(guard, path, token(rsa_key)), status, reason)
    if status == 200:
        assert body["remote_user"] in {"alice@example.com", OKTA_CLIENT}  # sub


# --- Entra ID ----------------------------------------------------------------------

CONTOSO = "72f988bf-86f1-41af-91ab-2d7cd011db47"
#: The tenant of personal Microsoft accounts ("consumers"): a real `tid` in tokens.
MSA = "9188040d-6c67-4c5b-b112-36a304b66dad"
OTHER_TENANT = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
APP_ID = "6e74172b-be56-4843-9ff4-e66a39bb12e3"
CLIENT_ID = "c44b4083-3bb0-49c1-b47d-974e53cbdf3c"
USER_OID = "5b8e2c1d-4a7f-4e9b-8c3d-2f1a0e9d8c7b"
DAEMON_OID = "2e7b2f1a-6b0b-4f7e-9c3a-1b2c3d4e5f60"


def entra_jwks(key: SigningKey) -> dict[str, Any]:
    """``/common/discovery/v2.0/keys``: ``kid`` = ``x5t``, the certificate in ``x5c``,
    an ``issuer`` template and no ``alg``."""
    jwk = as_kid(key, x5t(key)).public_jwk(
        x5t=x5t(key),
        x5c=[base64.b64encode(certificate_der(key)).decode()],
        issuer="https://login.microsoftonline.com/{tenantid}/v2.0",
    )
    del jwk["alg"]
    return {"keys": [jwk]}


def entra_token(key: SigningKey, tenant: str = CONTOSO, **overrides: Any) -> str:
    """A v2.0 delegated access token for the API ``APP_ID``, the user in ``tenant``;
    ``None`` drops a claim."""
    # Shape: "Access token claims reference"
    # (https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference):
    # header typ JWT, alg, kid (x5t only in v1.0 tokens); aud always the API's client ID in
    # v2.0; iss .../{tid}/v2.0; azp/azpacr (v2.0), scp a space-separated string (user
    # tokens only), roles an array; and the v2.0 sample of "Access tokens"
    # (https://learn.microsoft.com/en-us/entra/identity-platform/access-tokens).
    claims: dict[str, Any] = {
        "aud": APP_ID,
        "iss": f"https://login.microsoftonline.com/{tenant}/v2.0",
        "iat": now(),
        "nbf": now(),
        "exp": now() + 4500,
        "aio": "E2ZgYNh3kL8pQ1rS5tUvWxYz0aBcDeFgHiJkLmNoPqRs",
        "azp": CLIENT_ID,
        "azpacr": "0",
        "name": "Abe Lincoln",
        "oid": USER_OID,
        "preferred_username": "abeli@contoso.com",
        "rh": "0.AQEAc2lnbmluZy10ZXN0LWRhdGEtb25seQ",
        "scp": "Reports.Read User.Read",
        "sub": "Vq7Lr2pZtXc9NwE4hKs1aYbD0fGmJ3uR6oTiC8eW5nA",
        "tid": tenant,
        "uti": "Tz4mQ8rLk2WbN0cY-PaHBB",
        "ver": "2.0",
    }
    return as_kid(key, x5t(key)).token(without_none(claims, overrides))


def entra_app_token(key: SigningKey, tenant: str = CONTOSO, **overrides: Any) -> str:
    """Client credentials: the app's permissions in ``roles``, no ``scp``, no user
    claims, ``sub`` = ``oid`` (the client's service principal); ``idtyp: "app"``
    only if the API asks for that optional claim."""
    # Shape: the `roles` and `scp` rows of "Access token claims reference"; `idtyp` in
    # "Optional claims reference"
    # (https://learn.microsoft.com/en-us/entra/identity-platform/optional-claims-reference).
    return entra_token(
        key,
        tenant,
        **{
            "scp": None,
            "name": None,
            "preferred_username": None,
            "azpacr": "1",
            "roles": ["Reports.Export"],
            "oid": DAEMON_OID,
            "sub": DAEMON_OID,
            **overrides,
        },
    )


def entra_v1_token(key: SigningKey, tenant: str = CONTOSO, **overrides: Any) -> str:
    """A v1.0 token (the API's ``accessTokenAcceptedVersion`` unset or 1): ``iss``
    ``https://sts.windows.net/{tid}/``, ``appid``/``appidacr``, ``unique_name``,
    ``aud`` possibly the App ID URI, header ``x5t``."""
    # Shape: the v1.0 rows of "Access token claims reference" and the v1.0 sample of
    # "Access tokens"; `aud` forms in "Optional claims reference" (v1.0 `aud`).
    claims: dict[str, Any] = {
        "aud": f"api://{APP_ID}",
        "iss": f"https://sts.windows.net/{tenant}/",
        "iat": now(),
        "nbf": now(),
        "exp": now() + 4500,
        "acr": "1",
        "aio": "E2ZgYJr7mN1pQ4sT8uVwXyZa0bCdEfGhIjKlMnOp",
        "amr": ["pwd"],
        "appid": CLIENT_ID,
        "appidacr": "0",
        "family_name": "Lincoln",
        "given_name": "Abe",
        "ipaddr": "203.0.113.7",
        "name": "Abe Lincoln",
        "oid": USER_OID,
        "rh": "0.AQEAc2lnbmluZy10ZXN0LWRhdGEtb25seQ",
        "scp": "Reports.Read",
        "sub": "Hn5Yw1cTq8Zb3LrKx0VmPa7EdJ2sUg9FoB4iN6tRyWk",
        "tid": tenant,
        "unique_name": "abeli@contoso.com",
        "upn": "abeli@contoso.com",
        "uti": "Rk9bQa2Zx7WmC4nL-TeSAA",
        "ver": "1.0",
    }
    signing = as_kid(key, x5t(key))
    return signing.token(without_none(claims, overrides), header={"x5t": x5t(key)})


@pytest.mark.parametrize(
    ("path", "token", "status", "reason"),
    [
        pytest.param("/api/reports", lambda k: entra_token(k), 200, "", id="contoso-user"),
        pytest.param("/api/reports", lambda k: entra_token(k, MSA), 200, "", id="personal-account"),
        pytest.param(
            "/api/reports", lambda k: entra_token(k, OTHER_TENANT), 401, "issuer", id="other-tenant"
        ),
        pytest.param(
            "/api/export",
            lambda k: entra_app_token(k, OTHER_TENANT),
            401,
            "issuer",
            id="other-tenants-app",
        ),
        pytest.param(
            "/api/reports",
            lambda k: entra_token(k, iss=f"https://login.microsoftonline.com/{MSA}/v2.0"),
            401,
            "'tid'",
            id="tid-not-the-issuers-tenant",
        ),
        pytest.param(
            "/api/reports",
            lambda k: entra_token(k, iss="https://login.microsoftonline.com/common/v2.0"),
            401,
            "issuer",
            id="common-is-never-an-issuer",
        ),
        pytest.param("/api/reports", lambda k: entra_v1_token(k), 401, "issuer", id="v1-token"),
        pytest.param(
            "/api/reports",
            lambda k: entra_token(k, ver="1.0"),
            401,
            "'ver'",
            id="v1-ver-under-a-v2-issuer",
        ),
        pytest.param(
            "/api/reports", lambda k: entra_token(k, scp="User.Read"), 403, "scope", id="no-scope"
        ),
        pytest.param(
            "/api/reports",
            lambda k: entra_token(k, aud="3f9c2a1b-5d4e-4f6a-8b7c-9d0e1f2a3b4c"),
            401,
            "audience",
            id="another-apis-token",
        ),
        pytest.param(
            "/api/reports",
            lambda k: entra_token(k, aud=f"api://{APP_ID}"),
            401,
            "audience",
            id="app-id-uri-is-a-v1-audience",
        ),
        pytest.param("/api/export", lambda k: entra_app_token(k), 200, "", id="app-role"),
        pytest.param(
            "/api/export",
            lambda k: entra_app_token(k, idtyp="app"),
            200,
            "",
            id="app-role-with-idtyp",
        ),
        pytest.param(
            "/api/reports", lambda k: entra_app_token(k), 403, "scope", id="app-token-has-no-scp"
        ),
        pytest.param(
            "/api/export",
            lambda k: entra_token(k, roles=["Reports.Export"]),
            200,
            "",
            id="user-assigned-app-role",
        ),
        pytest.param("/api/export", lambda k: entra_token(k), 403, "roles", id="no-app-role"),
        pytest.param(
            "/api/export",
            lambda k: entra_app_token(k, roles=["Reports.Read"]),
            403,
            "roles",
            id="other-app-role",
        ),
    ],
)
def test_entra_id(
    guard_for: Guard,
    rsa_key: SigningKey,
    path: str,
    token: Callable[[SigningKey], str],
    status: int,
    reason: str,
) -> None:
    raw = token(rsa_key)
    body = check(get(guard_for("Entra ID", entra_jwks(rsa_key)), path, raw), status, reason)
    if status == 200:
        iss = json.loads(base64.urlsafe_b64decode(raw.split(".")[1] + "=="))["iss"]
        assert body["identity"]["issuer"] == iss  # the concrete issuer, tenant filled in
        # oid: the same user in every app, unlike the pairwise sub
        assert body["remote_user"] in {USER_OID, DAEMON_OID}


@pytest.mark.parametrize(
    ("token", "status"),
    [
        pytest.param(lambda k: entra_token(k, MSA), 200, id="its-own-tenant"),
        pytest.param(lambda k: entra_token(k), 401, id="another-tenant"),
    ],
)
def test_entra_id_keys_published_for_one_tenant_sign_for_it_only(
    guard_for: Guard, rsa_key: SigningKey, token: Callable[[SigningKey], str], status: int
) -> None:
    """The shared ``/common/discovery/v2.0/keys`` carries keys whose ``issuer`` names one
    tenant; Microsoft says to check it (access-tokens#validate-the-issuer): such a key
    never verifies another tenant's tokens, though the tenant is allowed."""
    scoped = SigningKey.rsa()
    jwks = entra_jwks(rsa_key)
    jwk = as_kid(scoped, x5t(scoped)).public_jwk(
        x5t=x5t(scoped), issuer=f"https://login.microsoftonline.com/{MSA}/v2.0"
    )
    del jwk["alg"]
    jwks["keys"].append(jwk)
    guard = guard_for("Entra ID", jwks)
    check(get(guard, "/api/reports", token(scoped)), status, "another tenant")
    # The shared key with the {tenantid} template signs for any allowed tenant.
    check(get(guard, "/api/reports", entra_token(rsa_key)), 200)


def test_every_recipe_is_tested() -> None:
    assert re.findall(r"^### (.+)$", RECIPES, re.MULTILINE) == [
        "Keycloak",
        "Auth0",
        "Okta",
        "Entra ID",
    ]
