"""The README's provider recipes, each run against tokens shaped like that provider's.

Each recipe's TOML is read out of README.md itself (so the README cannot drift
from what works), its ``jwks_uri`` pointed at a JWKS server on 127.0.0.1 that
publishes the test key, and the guard driven with tokens whose claims are
those the provider documents for its access tokens:

* Keycloak: the access token of a realm (``realm_access.roles``,
  ``resource_access.<client>.roles``, ``aud: "account"``, ``azp``, ``typ:
  "Bearer"``, ``scope`` a space-separated string, ``allowed-origins``), as in
  the Server Administration Guide's "Role scope mappings" / "Audience support"
  and any token from ``/realms/<realm>/protocol/openid-connect/token``.
* Auth0: "Access Token Profiles" (``iss`` with a trailing ``/``, ``aud`` a list
  with the API identifier and ``/userinfo``, ``azp``, ``scope``) with RBAC's
  ``permissions`` list ("Enable Role-Based Access Control for APIs") and a
  namespaced custom claim ("Create Custom Claims": ``https://example.com/roles``).
* Okta: "Access token" claims of a custom authorization server (``ver: 1``,
  ``jti: "AT..."``, ``cid``, ``uid``, ``scp`` a list, ``aud: "api://default"``)
  and a ``groups`` claim added by a groups claim rule.
* Entra ID: "Access token claims reference", v2.0 (``iss``
  ``https://login.microsoftonline.com/{tid}/v2.0``, ``tid``, ``oid``, ``azp``,
  ``scp`` a space-separated string, ``roles`` a list, ``ver: "2.0"``, ``aud``
  the application ID), and the app-only token of client credentials (``roles``,
  no ``scp``).

Every refusal is a 401 or 403 with a reason, never a 500.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client, TestResponse

from tests.helpers import SigningKey, echo_app
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


Guard = Callable[[str], JWTGuard]


@pytest.fixture
def guard_for(jwks_server: JWKSServer, rsa_key: SigningKey, tmp_path: Path) -> Guard:
    """``guard_for(provider)``: the recipe's guard, its keys served by a local JWKS server."""
    jwks_server.publish(rsa_key)

    def build(provider: str) -> JWTGuard:
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


# --- Keycloak ----------------------------------------------------------------------

KEYCLOAK = "https://keycloak.example.com/realms/acme"


def keycloak_token(key: SigningKey, **overrides: Any) -> str:
    """An access token of realm ``acme`` for client ``orders-ui``, as Keycloak 24+ issues it."""
    claims: dict[str, Any] = {
        "exp": now() + 300,
        "iat": now(),
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
    claims.update(overrides)
    for name in [name for name, value in claims.items() if value is None]:
        del claims[name]
    return key.token(claims, header={"typ": "JWT"})


@pytest.mark.parametrize(
    ("path", "overrides", "status", "reason"),
    [
        pytest.param("/api/orders", {}, 200, "", id="client-role-and-scope"),
        pytest.param(
            "/api/orders",
            {"resource_access": {"orders-api": {"roles": ["order-admin"]}}},
            200,
            "",
            id="other-allowed-client-role",
        ),
        pytest.param(
            "/api/orders",
            {"resource_access": {"account": {"roles": ["order-reader"]}}},
            403,
            "resource_access",
            id="role-of-another-client",
        ),
        pytest.param(
            "/api/orders", {"scope": "openid profile email"}, 403, "scope", id="scope-not-granted"
        ),
        pytest.param("/api/admin", {}, 403, "realm_access.roles", id="not-a-realm-admin"),
        pytest.param(
            "/api/admin",
            {"realm_access": {"roles": ["default-roles-acme", "admin"]}},
            200,
            "",
            id="realm-admin",
        ),
        pytest.param("/api/orders", {"typ": "ID"}, 401, "'typ'", id="id-token"),
        pytest.param("/api/orders", {"typ": "Refresh"}, 401, "'typ'", id="refresh-token"),
        pytest.param("/api/orders", {"typ": None}, 401, "'typ'", id="no-typ"),
        pytest.param("/api/orders", {"aud": "account"}, 401, "audience", id="account-only"),
        pytest.param(
            "/api/orders",
            {"iss": "https://keycloak.example.com/realms/other"},
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
    overrides: dict[str, Any],
    status: int,
    reason: str,
) -> None:
    body = check(get(guard_for("Keycloak"), path, keycloak_token(rsa_key, **overrides)), status, reason)
    if status == 200:
        assert body["identity"]["issuer"] == KEYCLOAK
        assert body["remote_user"] == "alice"  # preferred_username, not the UUID


# --- Auth0 -------------------------------------------------------------------------

AUTH0 = "https://example.us.auth0.com/"
AUTH0_API = "https://api.example.com"


def auth0_token(key: SigningKey, **overrides: Any) -> str:
    """An access token for the API ``https://api.example.com``, RBAC permissions on."""
    claims: dict[str, Any] = {
        "iss": AUTH0,
        "sub": "auth0|65f1c0ffee0123456789abcd",
        "aud": [AUTH0_API, "https://example.us.auth0.com/userinfo"],
        "iat": now(),
        "exp": now() + 86400,
        "azp": "Xk2lq9Ws8Jv1bN3mR5tY7uI0oP4aS6dF",
        "scope": "openid profile email read:messages",
        "permissions": ["read:messages"],
        "https://example.com/roles": ["support"],
    }
    claims.update(overrides)
    return key.token(claims, header={"typ": "JWT"})


def auth0_m2m_token(key: SigningKey, **overrides: Any) -> str:
    """Client credentials: no user, ``sub`` = ``<client id>@clients``, ``gty``."""
    claims: dict[str, Any] = {
        "iss": AUTH0,
        "sub": "Xk2lq9Ws8Jv1bN3mR5tY7uI0oP4aS6dF@clients",
        "aud": AUTH0_API,
        "iat": now(),
        "exp": now() + 86400,
        "azp": "Xk2lq9Ws8Jv1bN3mR5tY7uI0oP4aS6dF",
        "scope": "read:messages write:messages",
        "gty": "client-credentials",
        "permissions": ["read:messages", "write:messages"],
    }
    claims.update(overrides)
    return key.token(claims, header={"typ": "JWT"})


@pytest.mark.parametrize(
    ("path", "token", "status", "reason"),
    [
        pytest.param("/api/messages", lambda k: auth0_token(k), 200, "", id="permission"),
        pytest.param(
            "/api/messages",
            lambda k: auth0_token(k, permissions=[], scope="openid read:messages"),
            200,
            "",
            id="scope-alone-counts",
        ),
        pytest.param(
            "/api/messages",
            lambda k: auth0_token(k, permissions=["write:messages"], scope="openid"),
            403,
            "scope",
            id="other-permission",
        ),
        pytest.param("/api/messages", lambda k: auth0_m2m_token(k), 200, "", id="m2m"),
        pytest.param("/api/admin", lambda k: auth0_token(k), 403, "roles", id="support-not-admin"),
        pytest.param(
            "/api/admin",
            lambda k: auth0_token(k, **{"https://example.com/roles": ["admin", "support"]}),
            200,
            "",
            id="namespaced-admin",
        ),
        pytest.param(
            "/api/admin", lambda k: auth0_token(k, roles=["admin"]), 403, "roles", id="roles-plain"
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
            lambda k: auth0_token(k, aud="https://example.us.auth0.com/userinfo"),
            401,
            "audience",
            id="userinfo-only",
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
    body = check(get(guard_for("Auth0"), path, token(rsa_key)), status, reason)
    if status == 200:
        assert body["identity"]["issuer"] == AUTH0


# --- Okta --------------------------------------------------------------------------

OKTA = "https://example.okta.com/oauth2/default"


def okta_token(key: SigningKey, **overrides: Any) -> str:
    """An access token of the ``default`` custom authorization server, with ``groups``."""
    claims: dict[str, Any] = {
        "ver": 1,
        "jti": "AT.c0ffeeAbCdEfGh1234567890abcdefghijklmnopq",
        "iss": OKTA,
        "aud": "api://default",
        "iat": now(),
        "exp": now() + 3600,
        "cid": "0oa1b2c3d4e5f6g7h8i9",
        "uid": "00u1a2b3c4d5e6f7g8h9",
        "scp": ["openid", "email", "reports.read"],
        "auth_time": now() - 60,
        "sub": "alice@example.com",
        "groups": ["Everyone", "Finance"],
    }
    claims.update(overrides)
    return key.token(claims)


@pytest.mark.parametrize(
    ("path", "overrides", "status", "reason"),
    [
        pytest.param("/api/reports", {}, 200, "", id="scope-and-group"),
        pytest.param("/api/reports", {"groups": ["Everyone", "Admins"]}, 200, "", id="other-group"),
        pytest.param("/api/reports", {"groups": ["Everyone"]}, 403, "groups", id="no-group"),
        pytest.param("/api/reports", {"scp": ["openid", "email"]}, 403, "scope", id="no-scope"),
        pytest.param(
            "/api/reports", {"scp": "openid reports.read"}, 200, "", id="scp-as-a-string-too"
        ),
        pytest.param("/api/reports", {"aud": "api://other"}, 401, "audience", id="other-audience"),
        pytest.param(
            "/api/reports",
            {"iss": "https://example.okta.com"},
            401,
            "issuer",
            id="org-authorization-server",
        ),
    ],
)
def test_okta(
    guard_for: Guard,
    rsa_key: SigningKey,
    path: str,
    overrides: dict[str, Any],
    status: int,
    reason: str,
) -> None:
    body = check(get(guard_for("Okta"), path, okta_token(rsa_key, **overrides)), status, reason)
    if status == 200:
        assert body["remote_user"] == "alice@example.com"


def test_okta_client_credentials(guard_for: Guard, rsa_key: SigningKey) -> None:
    # A service app's token: sub is the client ID, no uid, no groups.
    token = okta_token(
        rsa_key, sub="0oa1b2c3d4e5f6g7h8i9", uid=None, groups=None, scp=["reports.read"]
    )
    guard = guard_for("Okta")
    check(get(guard, "/api/reports", token), 403, "groups")
    check(get(guard, "/api/exports", token), 200)


# --- Entra ID ----------------------------------------------------------------------

CONTOSO = "72f988bf-86f1-41af-91ab-2d7cd011db47"
FABRIKAM = "9188040d-6c67-4c5b-b112-36a304b66dad"
OTHER_TENANT = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
APP_ID = "6e74172b-be56-4843-9ff4-e66a39bb12e3"


def entra_token(key: SigningKey, tenant: str = CONTOSO, **overrides: Any) -> str:
    """A v2.0 delegated access token for the API ``APP_ID``, from ``tenant``."""
    claims: dict[str, Any] = {
        "aud": APP_ID,
        "iss": f"https://login.microsoftonline.com/{tenant}/v2.0",
        "iat": now(),
        "nbf": now(),
        "exp": now() + 3600,
        "aio": "AWQAm/8SAAAAQ9Nm1Z8vTq0v0kP9h6XQgR0Jb4m7pX0a1Ff0k1uTtT1v",
        "azp": "c44b4083-3bb0-49c1-b47d-974e53cbdf3c",
        "azpacr": "0",
        "name": "Abe Lincoln",
        "oid": "690222be-ff1a-4d56-abd1-7e4f7d38e474",
        "preferred_username": "abeli@contoso.com",
        "rh": "0.AAAAv4j5cvGGr0GRqy180BHbR...",
        "scp": "Reports.Read User.Read",
        "sub": "HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ",
        "tid": tenant,
        "uti": "fqiBqXLPj0eQa82S-IYFAA",
        "ver": "2.0",
    }
    claims.update(overrides)
    for name in [name for name, value in claims.items() if value is None]:
        del claims[name]
    return key.token(claims, header={"typ": "JWT", "x5t": "nOo3ZDrODXEK1jKWhXslHR_KXEg"})


def entra_app_token(key: SigningKey, tenant: str = CONTOSO, **overrides: Any) -> str:
    """Client credentials: app roles in ``roles``, no ``scp``, ``idtyp: "app"``."""
    overrides = {
        "scp": None,
        "name": None,
        "preferred_username": None,
        "roles": ["Reports.Export"],
        "idtyp": "app",
        "oid": "2e7b2f1a-6b0b-4f7e-9c3a-1b2c3d4e5f60",
        "sub": "2e7b2f1a-6b0b-4f7e-9c3a-1b2c3d4e5f60",
        **overrides,
    }
    return entra_token(key, tenant, **overrides)


@pytest.mark.parametrize(
    ("path", "token", "status", "reason"),
    [
        pytest.param("/api/reports", lambda k: entra_token(k), 200, "", id="contoso-user"),
        pytest.param(
            "/api/reports", lambda k: entra_token(k, FABRIKAM), 200, "", id="fabrikam-user"
        ),
        pytest.param(
            "/api/reports", lambda k: entra_token(k, OTHER_TENANT), 401, "issuer", id="other-tenant"
        ),
        pytest.param(
            "/api/reports",
            lambda k: entra_token(k, iss=f"https://login.microsoftonline.com/{FABRIKAM}/v2.0"),
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
        pytest.param(
            "/api/reports",
            lambda k: entra_token(k, iss=f"https://sts.windows.net/{CONTOSO}/", ver="1.0"),
            401,
            "issuer",
            id="v1-token",
        ),
        pytest.param(
            "/api/reports", lambda k: entra_token(k, scp="User.Read"), 403, "scope", id="no-scope"
        ),
        pytest.param(
            "/api/reports",
            lambda k: entra_token(k, aud="00000003-0000-0000-c000-000000000000"),
            401,
            "audience",
            id="a-graph-token",
        ),
        pytest.param(
            "/api/reports",
            lambda k: entra_token(k, aud=f"api://{APP_ID}"),
            200,
            "",
            id="app-id-uri-audience",
        ),
        pytest.param("/api/export", lambda k: entra_app_token(k), 200, "", id="app-role"),
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
    body = check(get(guard_for("Entra ID"), path, raw), status, reason)
    if status == 200:
        iss = json.loads(base64.urlsafe_b64decode(raw.split(".")[1] + "=="))["iss"]
        assert body["identity"]["issuer"] == iss  # the concrete issuer, tenant filled in
        assert body["remote_user"] in {
            "690222be-ff1a-4d56-abd1-7e4f7d38e474",
            "2e7b2f1a-6b0b-4f7e-9c3a-1b2c3d4e5f60",
        }  # oid: the same user in every app, unlike the pairwise sub


def test_every_recipe_is_tested() -> None:
    assert re.findall(r"^### (.+)$", RECIPES, re.MULTILINE) == [
        "Keycloak",
        "Auth0",
        "Okta",
        "Entra ID",
    ]
