"""Real Backstage tokens, and what the guard does with each of them today.

Issue 13's groundwork: a real Backstage backend (``tests/backstage/``, the new
backend system from npm, started once per session by ``tests/backstage_backend.py``)
signs every token here; nothing is hand-made. Startup takes about 3 s on a
two-core machine (6 s while it compiles something else), stopping under 0.1 s;
with the backend up, the rest of this module takes about 3 s.

Three kinds of facts are pinned, so a change in Backstage or in the guard shows:

* The guard, configured with Backstage's auth plugin as an issuer, accepts
  Backstage's user tokens.
* The exact shape of every token kind (header and claims, decoded unverified),
  which key set signs which kind (each checked with python-jose, a JOSE
  implementation independent of both Backstage and the guard), the limited-user
  token's derivation from the full token, and the cookie endpoint's response.
  Issue 13's Backstage mode is built on these.
* Where Backstage itself accepts each kind (``/api/target/whoami`` and its
  ``user-cookie`` sibling): the behaviour the guard's Backstage mode must match.
  And that the guard, without Backstage mode, refuses every kind but the user
  token (``test_backstage_mode.py`` tests the mode).
"""

from __future__ import annotations

import base64
import datetime
import email.utils
import json
from collections.abc import Callable
from typing import Any

import pytest
import requests
from jose import jws
from jose.exceptions import JWSError
from werkzeug.test import Client

from tests.backstage_backend import COOKIE_NAME, PROBE, TARGET, TIMEOUT, Backstage
from tests.helpers import b64url_json, bearer, cookie, echo_app
from wsgi_jwt_guard import CookieSettings, Issuer, JWTGuard

GUEST = "user:development/guest"
USER_TYP = "vnd.backstage.user"
PLUGIN_TYP = "vnd.backstage.plugin"
LIMITED_TYP = "vnd.backstage.limited-user"
#: Backstage's default lifetime of user tokens and of plugin keys' tokens.
ONE_HOUR = 3600


def decode(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Header, claims and the raw signature segment, unverified."""
    header, claims, signature = token.split(".")

    def part(segment: str) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(
            base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        )
        return value

    return part(header), part(claims), signature


def signed_by(token: str, keys: list[dict[str, Any]]) -> bool:
    """Whether ``token``'s signature verifies with the key its ``kid`` names in ``keys``."""
    kid = decode(token)[0]["kid"]
    for key in keys:
        if key["kid"] == kid:
            try:
                jws.verify(token, key, algorithms=["ES256"])
            except JWSError:
                return False
            return True
    return False


def limited_from(user_token: str) -> str:
    """The limited-user token Backstage derives from a full one: a new header, only
    ``sub``/``iat``/``exp``, and the full token's ``uip`` claim as the signature."""
    header, claims, _ = decode(user_token)
    return ".".join([
        b64url_json({"typ": LIMITED_TYP, "alg": header["alg"], "kid": header["kid"]}),
        b64url_json({"sub": claims["sub"], "iat": claims["iat"], "exp": claims["exp"]}),
        claims["uip"],
    ])  # fmt: skip


@pytest.fixture(scope="module")
def guard(backstage: Backstage) -> Client:
    """The guard as a user configures it for Backstage today: its auth plugin as the
    issuer, and Backstage's cookie name so the limited-user cookie reaches the verifier."""
    issuer = Issuer(backstage.auth_issuer, jwks_uri=backstage.auth_jwks_uri)
    app = JWTGuard(echo_app, issuers=[issuer], cookie=CookieSettings(name=COOKIE_NAME))
    return Client(app, use_cookies=False)


# -- user tokens: accepted by the guard today ---------------------------------


@pytest.mark.parametrize(
    "issuer_of",
    [
        pytest.param(lambda b: Issuer(b.auth_issuer, jwks_uri=b.auth_jwks_uri), id="jwks_uri"),
        pytest.param(lambda b: Issuer(b.auth_issuer, discovery=True), id="oidc-discovery"),
    ],
)
def test_user_token_verifies_through_the_guard(
    backstage: Backstage, user_token: str, issuer_of: Callable[[Backstage], Issuer]
) -> None:
    client = Client(JWTGuard(echo_app, issuers=[issuer_of(backstage)]), use_cookies=False)
    response = client.get("/api/catalog/entities", headers=bearer(user_token))
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.json
    assert body["remote_user"] == GUEST
    assert body["identity"]["subject"] == GUEST
    assert body["identity"]["issuer"] == backstage.auth_issuer
    assert body["identity"]["kind"] == "user"
    assert body["identity"]["source"] == "header"
    assert body["identity"]["expires_at"] == decode(user_token)[1]["exp"]
    # No `ent` in the token (see below), so no ownership refs in the identity.
    assert body["identity"]["ownership_refs"] == []


def test_guest_sign_in_answer(backstage: Backstage) -> None:
    answer = backstage.sign_in()
    identity = answer["backstageIdentity"]
    assert identity["identity"] == {
        "type": "user",
        "userEntityRef": GUEST,
        "ownershipEntityRefs": [GUEST],
    }
    assert ONE_HOUR - 10 <= identity["expiresInSeconds"] <= ONE_HOUR  # counted from now
    assert answer["profile"] == {}


def test_user_token_shape(backstage: Backstage, user_token: str) -> None:
    header, claims, _ = decode(user_token)
    assert set(header) == {"typ", "alg", "kid"}
    assert header["typ"] == USER_TYP
    assert header["alg"] == "ES256"
    # The ownership refs (`ent`) are left out of user tokens by default
    # (auth.omitIdentityTokenOwnershipClaim); `uip` is the limited token's signature.
    assert set(claims) == {"iss", "sub", "aud", "iat", "exp", "uip"}
    assert claims["iss"] == backstage.auth_issuer
    assert claims["sub"] == GUEST
    assert claims["aud"] == "backstage"
    assert claims["exp"] - claims["iat"] == ONE_HOUR
    auth_keys = backstage.jwks(backstage.auth_jwks_uri)
    assert [key["kid"] for key in auth_keys] == [header["kid"]]
    assert {key["kty"] for key in auth_keys} == {"EC"}
    assert {(key["crv"], key["alg"]) for key in auth_keys} == {("P-256", "ES256")}
    assert signed_by(user_token, auth_keys)


def test_oidc_discovery_names_the_user_token_keys(backstage: Backstage) -> None:
    url = f"{backstage.auth_issuer}/.well-known/openid-configuration"
    document = requests.get(url, timeout=TIMEOUT).json()
    assert document["issuer"] == backstage.auth_issuer
    assert document["jwks_uri"] == backstage.auth_jwks_uri


# -- plugin-to-plugin tokens ----------------------------------------------------


def test_plugin_token_shape(backstage: Backstage, user_token: str) -> None:
    token = backstage.plugin_token(TARGET)
    header, claims, _ = decode(token)
    assert set(header) == {"typ", "alg", "kid"}
    assert header["typ"] == PLUGIN_TYP
    assert header["alg"] == "ES256"
    # No iss: the caller is `sub`, the callee `aud` (a string, not a list).
    assert claims.keys() == {"sub", "aud", "iat", "exp"}
    assert claims["sub"] == PROBE
    assert claims["aud"] == TARGET
    assert claims["exp"] - claims["iat"] == ONE_HOUR
    # Signed by the calling plugin's own key, published under the caller's
    # path, never by the auth plugin's user-token key.
    assert header["kid"] != decode(user_token)[0]["kid"]
    assert signed_by(token, backstage.jwks(backstage.plugin_jwks_uri(PROBE)))
    assert not signed_by(token, backstage.jwks(backstage.auth_jwks_uri))


def test_each_plugin_signs_with_a_key_of_its_own(backstage: Backstage, user_token: str) -> None:
    first, second = backstage.plugin_token(TARGET), backstage.plugin_token("catalog")
    assert decode(first)[0]["kid"] == decode(second)[0]["kid"]
    probe_keys = {key["kid"] for key in backstage.jwks(backstage.plugin_jwks_uri(PROBE))}
    assert decode(first)[0]["kid"] in probe_keys
    # Every plugin serves the endpoint; its key appears once it has signed something.
    assert backstage.jwks(backstage.plugin_jwks_uri(TARGET)) == []
    # The auth plugin signed a plugin token at sign-in (its catalog lookup for the
    # guest), with a plugin key apart from the key it signs user tokens with.
    auth_plugin_keys = {key["kid"] for key in backstage.jwks(backstage.plugin_jwks_uri("auth"))}
    assert len(auth_plugin_keys) == 1
    user_keys = {key["kid"] for key in backstage.jwks(backstage.auth_jwks_uri)}
    assert auth_plugin_keys.isdisjoint(user_keys)
    assert auth_plugin_keys.isdisjoint(probe_keys)


def test_plugin_tokens_are_issued_for_plugins_that_are_not_installed(backstage: Backstage) -> None:
    assert decode(backstage.plugin_token("catalog"))[1]["aud"] == "catalog"
    response = requests.get(backstage.plugin_jwks_uri("catalog"), timeout=TIMEOUT)
    assert response.status_code == 404


def test_obo_token_shape(backstage: Backstage, user_token: str) -> None:
    token = backstage.obo_token(user_token, TARGET)
    header, claims, _ = decode(token)
    user_header, user_claims, _ = decode(user_token)
    assert set(header) == {"typ", "alg", "kid"}
    assert header["typ"] == PLUGIN_TYP
    assert claims.keys() == {"sub", "aud", "iat", "exp", "obo"}
    assert (claims["sub"], claims["aud"]) == (PROBE, TARGET)
    # Never outlives the user's token.
    assert claims["exp"] == min(claims["iat"] + ONE_HOUR, user_claims["exp"])
    assert signed_by(token, backstage.jwks(backstage.plugin_jwks_uri(PROBE)))
    # `obo` is the user's limited token, signed by the auth plugin's user-token key.
    assert claims["obo"] == limited_from(user_token)
    obo_header, obo_claims, obo_signature = decode(claims["obo"])
    assert obo_header == {"typ": LIMITED_TYP, "alg": "ES256", "kid": user_header["kid"]}
    assert obo_claims == {key: user_claims[key] for key in ("sub", "iat", "exp")}
    assert obo_signature == user_claims["uip"]
    assert signed_by(claims["obo"], backstage.jwks(backstage.auth_jwks_uri))


# -- limited-user tokens and the cookie endpoint --------------------------------


def test_limited_token_is_the_user_token_reshaped_byte_for_byte(
    backstage: Backstage, user_token: str
) -> None:
    """Compact JSON, keys in this order: anyone holding a full token's `uip` can
    rebuild the exact limited token Backstage sets in its cookie."""
    limited = backstage.limited_token(user_token)
    assert limited == limited_from(user_token)
    assert signed_by(limited, backstage.jwks(backstage.auth_jwks_uri))
    assert set(decode(limited)[1]) == {"sub", "iat", "exp"}  # no iss, aud, ent


@pytest.mark.parametrize("plugin", [PROBE, TARGET, "auth"])
def test_cookie_endpoint_sets_the_limited_token(
    backstage: Backstage, user_token: str, plugin: str
) -> None:
    response = backstage.cookie_response(user_token, plugin)
    exp = decode(user_token)[1]["exp"]
    assert response.json() == {"expiresAt": _iso_millis(exp)}
    name_value, *attributes = response.headers["Set-Cookie"].split("; ")
    assert name_value == f"{COOKIE_NAME}={limited_from(user_token)}"
    # Domain is the backend's host, even an IP; Secure only on https (or localhost),
    # and SameSite=Lax without it (None with it).
    assert attributes == [
        "Domain=127.0.0.1",
        "Path=/",
        f"Expires={email.utils.formatdate(exp, usegmt=True)}",
        "HttpOnly",
        "Priority=High",
        "SameSite=Lax",
    ]


def test_cookie_endpoint_delete_clears_the_cookie(backstage: Backstage, user_token: str) -> None:
    url = f"{backstage.base_url}/api/{PROBE}/.backstage/auth/v1/cookie"
    response = requests.delete(url, headers=bearer(user_token), timeout=TIMEOUT)
    assert response.status_code == 204
    assert response.headers["Set-Cookie"] == (
        f"{COOKIE_NAME}=; Domain=127.0.0.1; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT;"
        " HttpOnly; Priority=High; SameSite=Lax"
    )


@pytest.mark.parametrize(
    ("send", "status", "message"),
    [
        pytest.param("nothing", 401, "Missing credentials", id="no-token"),
        pytest.param(
            "plugin", 403, "This endpoint does not allow 'service' credentials", id="plugin-token"
        ),
        pytest.param("limited-bearer", 401, "Illegal limited user token", id="limited-bearer"),
        pytest.param("limited-cookie", 401, "Missing credentials", id="limited-cookie"),
    ],
)
def test_cookie_endpoint_needs_a_full_user_token(
    backstage: Backstage, user_token: str, send: str, status: int, message: str
) -> None:
    limited = limited_from(user_token)
    headers = {
        "nothing": {},
        "plugin": bearer(backstage.plugin_token(PROBE)),
        "limited-bearer": bearer(limited),
        "limited-cookie": cookie(limited, COOKIE_NAME),
    }[send]
    url = f"{backstage.base_url}/api/{PROBE}/.backstage/auth/v1/cookie"
    response = requests.get(url, headers=headers, timeout=TIMEOUT)
    assert response.status_code == status
    assert response.json()["error"]["message"] == message
    assert "Set-Cookie" not in response.headers


# -- where Backstage itself accepts each kind: the Backstage mode's oracle --------

USER = {"type": "user", "userEntityRef": GUEST}
ON_BEHALF = {"type": "user", "userEntityRef": GUEST, "actor": f"plugin:{PROBE}"}
SERVICE = {"type": "service", "subject": f"plugin:{PROBE}"}


@pytest.mark.parametrize(
    ("kind", "route", "send", "expected"),
    [
        pytest.param("user", "whoami", "bearer", USER, id="user-bearer"),
        pytest.param("plugin", "whoami", "bearer", SERVICE, id="plugin-bearer"),
        pytest.param("obo", "whoami", "bearer", ON_BEHALF, id="obo-bearer"),
        pytest.param("plugin-for-catalog", "whoami", "bearer", 401, id="plugin-other-aud"),
        pytest.param("limited", "whoami", "bearer", 401, id="limited-bearer-on-full-route"),
        pytest.param("limited", "whoami", "cookie", 401, id="cookie-on-full-route"),
        pytest.param("limited", "cookie-whoami", "cookie", USER, id="cookie-on-cookie-route"),
        pytest.param(
            "limited", "cookie-whoami", "bearer", USER, id="limited-bearer-on-cookie-route"
        ),
        # A full token in the cookie is accepted too, wherever the cookie is.
        pytest.param("user", "cookie-whoami", "cookie", USER, id="full-token-in-cookie"),
    ],
)
def test_where_backstage_accepts_each_kind(
    backstage: Backstage, user_token: str, kind: str, route: str, send: str, expected: Any
) -> None:
    token = _token(backstage, user_token, kind)
    headers = bearer(token) if send == "bearer" else cookie(token, COOKIE_NAME)
    url = f"{backstage.base_url}/api/{TARGET}/{route}"
    response = requests.get(url, headers=headers, timeout=TIMEOUT)
    if expected == 401:
        assert response.status_code == 401, response.text
    else:
        assert response.status_code == 200, response.text
        assert response.json() == expected


# -- what the guard does with them without Backstage mode --------------------------


@pytest.mark.parametrize(
    ("kind", "send"),
    [
        pytest.param("plugin", "bearer", id="plugin"),
        pytest.param("obo", "bearer", id="obo"),
        pytest.param("limited", "bearer", id="limited-bearer"),
        pytest.param("limited", "cookie", id="limited-cookie"),
    ],
)
def test_guard_without_backstage_mode_refuses_other_kinds(
    guard: Client, backstage: Backstage, user_token: str, kind: str, send: str
) -> None:
    # An issuer alone trusts tokens by `iss`, and none of these carries one;
    # BackstageSettings (test_backstage_mode.py) verifies them.
    token = _token(backstage, user_token, kind)
    headers = bearer(token) if send == "bearer" else cookie(token, COOKIE_NAME)
    response = guard.get("/api/target/whoami", headers=headers)
    assert response.status_code == 401
    assert response.json["error"]["message"] == "the token's issuer is not trusted"


def test_guard_accepts_the_user_token_beside_them(guard: Client, user_token: str) -> None:
    response = guard.get("/api/target/whoami", headers=bearer(user_token))
    assert response.status_code == 200
    assert response.json["identity"]["subject"] == GUEST


def _token(backstage: Backstage, user_token: str, kind: str) -> str:
    if kind == "user":
        return user_token
    if kind == "plugin":
        return backstage.plugin_token(TARGET)
    if kind == "plugin-for-catalog":
        return backstage.plugin_token("catalog")
    if kind == "obo":
        return backstage.obo_token(user_token, TARGET)
    assert kind == "limited"
    return backstage.limited_cookie(user_token)


def _iso_millis(seconds: int) -> str:
    """JavaScript's ``Date.toISOString()`` of a whole second."""
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")
