"""Backstage mode (:mod:`wsgi_jwt_guard.backstage`) with the suite's keys: the edge
cases a real backend never signs. Keys are served by the suite's JWKS server at
Backstage's paths; the oracle is which view ran and as whom, and what was fetched.

Tokens as a real Backstage signs them are in ``tests/backstage_tests/``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from tests.helpers import (
    SigningKey,
    b64url,
    b64url_json,
    bearer,
    build_guard,
    cookie,
    echo_app,
    tls_server,
)
from tests.jwks_server import JWKSServer, serving
from wsgi_jwt_guard import (
    ENVIRON_KEY,
    BackstageSettings,
    ConfigError,
    Identity,
    Issuer,
    JWTGuard,
    Rule,
    from_config,
)
from wsgi_jwt_guard.backstage import BACKSTAGE_COOKIE, CookieEndpoint, _iso, limited_token
from wsgi_jwt_guard.jws import parse

USER = "user:default/alice"
AUTH_JWKS = "/api/auth/.well-known/jwks.json"
CALLER_JWKS = "/api/caller/.backstage/auth/v1/jwks.json"
STRANGER_JWKS = "/api/stranger/.backstage/auth/v1/jwks.json"
ENDPOINT = "/.backstage/auth/v1/cookie"

AUTH_KEY = SigningKey.ec(kid="auth-1")
CALLER_KEY = SigningKey.ec(kid="caller-1")
STRANGER_KEY = SigningKey.ec(kid="stranger-1")


@pytest.fixture
def server() -> Iterator[JWKSServer]:
    state = JWKSServer(
        documents={
            AUTH_JWKS: {"keys": [AUTH_KEY.public_jwk()]},
            CALLER_JWKS: {"keys": [CALLER_KEY.public_jwk()]},
            STRANGER_JWKS: {"keys": [STRANGER_KEY.public_jwk()]},
        }
    )
    with serving(state) as running:
        yield running


def guard_for(server: JWKSServer, **settings: Any) -> JWTGuard:
    settings.setdefault("allowed_plugins", ["caller"])
    return build_guard(
        routes={"/images": Rule("protected", user_cookie=True), "/api": "protected"},
        backstage=BackstageSettings(base_url=server.base, plugin_id="reports", **settings),
    )


def user_token(server: JWKSServer, **overrides: Any) -> str:
    """A user token shaped as Backstage's, ``uip`` included (the limited token's signature)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": f"{server.base}/api/auth",
        "sub": USER,
        "aud": "backstage",
        "iat": now,
        "exp": now + 3600,
    }
    claims.update((name, value) for name, value in overrides.items() if name != "uip")
    limited_input = ".".join([
        b64url_json({"typ": "vnd.backstage.limited-user", "alg": "ES256", "kid": AUTH_KEY.kid}),
        b64url_json({"sub": claims["sub"], "iat": claims["iat"], "exp": claims["exp"]}),
    ])  # fmt: skip
    claims["uip"] = b64url(AUTH_KEY.sign(limited_input.encode()))
    if "uip" in overrides:
        claims["uip"] = overrides["uip"]
    return AUTH_KEY.token(claims, header={"typ": "vnd.backstage.user"})


def limited(**claims: Any) -> str:
    now = int(time.time())
    payload = {"sub": USER, "iat": now, "exp": now + 3600, **claims}
    return AUTH_KEY.token(payload, header={"typ": "vnd.backstage.limited-user"})


def plugin_token(key: SigningKey = CALLER_KEY, *, header: Any = None, **claims: Any) -> str:
    now = int(time.time())
    payload = {"sub": "caller", "aud": "reports", "iat": now, "exp": now + 3600, **claims}
    payload = {name: value for name, value in payload.items() if value is not None}
    return key.token(payload, header={"typ": "vnd.backstage.plugin", **(header or {})})


def guard_seeing(server: JWKSServer) -> tuple[JWTGuard, list[Identity]]:
    """:func:`guard_for`, and the identities its app is handed, in order."""
    guard, seen = guard_for(server), []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ[ENVIRON_KEY])
        start_response("200 OK", [])
        return []

    guard.app = app
    return guard, seen


def get(guard: JWTGuard, path: str, headers: dict[str, str], method: str = "GET") -> Any:
    return Client(guard, use_cookies=False).open(path, method=method, headers=headers)


# -- plugin and on-behalf-of tokens ---------------------------------------------------


def test_plugin_token_is_the_calling_plugin(server: JWKSServer) -> None:
    response = get(guard_for(server), "/api/x", bearer(plugin_token()))
    assert response.status_code == 200, response.json
    assert response.json["identity"]["kind"] == "plugin"
    assert response.json["remote_user"] == "plugin:caller"
    assert server.requests == [CALLER_JWKS]  # the caller's keys, nobody else's


def test_on_behalf_of_is_the_user_with_the_plugin_as_actor(server: JWKSServer) -> None:
    guard, seen = guard_seeing(server)
    user_exp = int(time.time()) + 60
    response = get(guard, "/api/x", bearer(plugin_token(obo=limited(exp=user_exp))))
    assert response.status_code == 200
    (identity,) = seen
    assert (identity.kind, identity.subject, identity.actor) == (
        "on-behalf-of",
        USER,
        "plugin:caller",
    )
    assert identity.expires_at == user_exp  # the sooner of the two


def test_on_behalf_of_a_full_user_token_as_backstage_accepts_it(server: JWKSServer) -> None:
    # Backstage's DefaultAuthService verifies `obo` as any user token, full ones included.
    guard, seen = guard_seeing(server)
    full = user_token(server, ent=["group:default/ops"])
    token = plugin_token(obo=full)
    assert get(guard, "/api/x", bearer(token)).status_code == 200
    (identity,) = seen
    assert (identity.kind, identity.subject, identity.actor) == (
        "on-behalf-of",
        USER,
        "plugin:caller",
    )
    # The user's claims, not the plugin token's; the token is the one presented.
    assert identity.claims["iss"] == f"{server.base}/api/auth"
    assert identity.ownership_refs == ["group:default/ops"]
    assert "obo" not in identity.claims
    assert identity.token == token
    # A limited obo gives the limited token's claims: not the plugin token's aud.
    assert get(guard, "/api/x", bearer(plugin_token(obo=limited()))).status_code == 200
    assert seen[-1].claims["sub"] == USER
    assert "aud" not in seen[-1].claims


@pytest.mark.parametrize(
    ("token", "message"),
    [
        pytest.param(
            lambda: plugin_token(sub="../auth"),
            "the plugin token's 'sub' is not a plugin ID",
            id="sub-with-slash-dots",
        ),
        pytest.param(
            lambda: plugin_token(sub="caller\n"),
            "the plugin token's 'sub' is not a plugin ID",
            id="sub-with-newline",
        ),
        pytest.param(
            lambda: plugin_token(sub="caller?x=1"),
            "the plugin token's 'sub' is not a plugin ID",
            id="sub-with-query",
        ),
        pytest.param(
            lambda: plugin_token(sub=None),
            "the plugin token's 'sub' is not a plugin ID",
            id="no-sub",
        ),
        pytest.param(
            lambda: plugin_token(STRANGER_KEY, sub="stranger"),
            "plugin tokens from 'stranger' are not accepted",
            id="plugin-not-allowed",
        ),
        pytest.param(
            lambda: plugin_token(sub="CALLER"),
            "plugin tokens from 'CALLER' are not accepted",
            id="plugin-id-compared-exactly",
        ),
    ],
)
def test_refused_before_any_fetch(server: JWKSServer, token: Any, message: str) -> None:
    response = get(guard_for(server), "/api/x", bearer(token()))
    assert response.status_code == 401
    assert response.json["error"]["message"] == message
    assert server.fetches == 0


@pytest.mark.parametrize(
    ("token", "message"),
    [
        pytest.param(lambda: plugin_token(aud="catalog"), "aud", id="another-aud"),
        pytest.param(lambda: plugin_token(aud=["catalog", "other"]), "aud", id="aud-list"),
        pytest.param(lambda: plugin_token(iat=None), "'iat'", id="no-iat"),
        pytest.param(lambda: plugin_token(exp=int(time.time()) - 10), "expired", id="expired"),
        pytest.param(
            lambda: plugin_token(STRANGER_KEY, header={"kid": "caller-1"}),
            "signature",
            id="signed-by-another-plugin",
        ),
        pytest.param(
            lambda: plugin_token(obo=limited(exp=int(time.time()) - 10)),
            "expired",
            id="obo-expired",
        ),
        pytest.param(
            lambda: plugin_token(
                obo=CALLER_KEY.token(
                    {"sub": USER, "iat": int(time.time()), "exp": int(time.time()) + 60},
                    header={"typ": "vnd.backstage.limited-user", "kid": "auth-1"},
                )
            ),
            "signature",
            id="obo-not-signed-by-auth",
        ),
        pytest.param(
            lambda: plugin_token(
                obo=AUTH_KEY.token({"sub": USER, "exp": 2**31}, header={"typ": "JWT"})
            ),
            "limited user token",
            id="obo-wrong-typ",
        ),
        pytest.param(lambda: plugin_token(obo=42), "'obo'", id="obo-not-a-token"),
        pytest.param(
            lambda: plugin_token(
                obo=AUTH_KEY.token(
                    {"iss": "https://elsewhere", "sub": USER, "iat": 1, "exp": 2**31},
                    header={"typ": "vnd.backstage.user"},
                )
            ),
            "not Backstage's auth plugin",
            id="obo-full-token-of-another-issuer",
        ),
        pytest.param(
            lambda: plugin_token(
                obo=AUTH_KEY.token(
                    {"sub": USER, "aud": "backstage", "iat": 1, "exp": 2**31},
                    header={"typ": "vnd.backstage.user"},
                )
            ),
            "not Backstage's auth plugin",
            id="obo-full-token-without-issuer",
        ),
    ],
)
def test_bad_plugin_tokens_are_refused(server: JWKSServer, token: Any, message: str) -> None:
    response = get(guard_for(server), "/api/x", bearer(token()))
    assert response.status_code == 401
    assert message in response.json["error"]["message"]


def test_no_plugin_is_allowed_by_default(server: JWKSServer) -> None:
    response = get(guard_for(server, allowed_plugins=[]), "/api/x", bearer(plugin_token()))
    assert response.status_code == 401
    assert server.fetches == 0


def test_wrong_typ_without_iss_is_an_untrusted_issuer(server: JWKSServer) -> None:
    token = CALLER_KEY.token({"sub": "caller", "aud": "reports", "exp": 2**31})
    response = get(guard_for(server), "/api/x", bearer(token))
    assert response.status_code == 401
    assert response.json["error"]["message"] == "the token's issuer is not trusted"


def test_kinds_required_by_rules(server: JWKSServer) -> None:
    guard = build_guard(
        routes={"/users-only": Rule("protected", tokens=["user", "on-behalf-of"])},
        backstage=BackstageSettings(
            base_url=server.base, plugin_id="reports", allowed_plugins=["caller"]
        ),
    )
    assert get(guard, "/users-only", bearer(plugin_token())).status_code == 403
    assert get(guard, "/users-only", bearer(plugin_token(obo=limited()))).status_code == 200
    assert get(guard, "/users-only", bearer(user_token(server))).status_code == 200


# -- user tokens and the implicit issuer ------------------------------------------------


def test_user_tokens_verify_with_the_auth_plugins_keys(server: JWKSServer) -> None:
    response = get(guard_for(server), "/api/x", bearer(user_token(server)))
    assert response.status_code == 200
    assert response.json["identity"]["kind"] == "user"
    assert response.json["identity"]["issuer"] == f"{server.base}/api/auth"


def test_user_tokens_must_be_typed_as_backstage_user_tokens(server: JWKSServer) -> None:
    token = AUTH_KEY.token(
        {"iss": f"{server.base}/api/auth", "sub": USER, "aud": "backstage", "exp": 2**31}
    )
    assert get(guard_for(server), "/api/x", bearer(token)).status_code == 401


def test_an_explicit_auth_issuer_is_used_as_written(server: JWKSServer) -> None:
    issuer = Issuer(f"{server.base}/api/auth", keys=[AUTH_KEY.public_jwk()], audience="backstage")
    guard = build_guard(
        issuers=[issuer],
        routes={"/images": Rule("protected", user_cookie=True)},
        backstage=BackstageSettings(base_url=server.base, plugin_id="reports"),
    )
    token = AUTH_KEY.token(
        {"iss": f"{server.base}/api/auth", "sub": USER, "aud": "backstage", "exp": 2**31}
    )  # no typ: the explicit issuer does not ask for one
    assert get(guard, "/api", bearer(token)).status_code == 200
    assert get(guard, "/images", cookie(limited(), BACKSTAGE_COOKIE)).status_code == 200
    assert server.fetches == 0  # its static keys sign the limited tokens too


# -- limited-user tokens ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "send", "status"),
    [
        pytest.param("/images", "cookie", 200, id="cookie-on-user-cookie-route"),
        pytest.param("/images", "bearer", 200, id="bearer-on-user-cookie-route"),
        pytest.param("/api/x", "bearer", 401, id="bearer-elsewhere"),
        pytest.param("/api/x", "cookie", 401, id="cookie-elsewhere-not-read"),
    ],
)
def test_limited_tokens_only_where_the_route_opts_in(
    server: JWKSServer, path: str, send: str, status: int
) -> None:
    token = limited_token(user_token(server))
    headers = cookie(token, BACKSTAGE_COOKIE) if send == "cookie" else bearer(token)
    response = get(guard_for(server), path, headers)
    assert response.status_code == status, response.json
    if status == 200:
        assert response.json["identity"]["kind"] == "limited-user"
        assert response.json["remote_user"] == USER


def test_a_cached_limited_token_is_still_refused_elsewhere(server: JWKSServer) -> None:
    guard = guard_for(server)
    token = limited()
    assert get(guard, "/images", bearer(token)).status_code == 200
    assert get(guard, "/api/x", bearer(token)).status_code == 401


def test_the_backstage_cookie_is_an_ambient_credential(server: JWKSServer) -> None:
    guard = guard_for(server)
    headers = cookie(limited(), BACKSTAGE_COOKIE)
    refused = get(guard, "/images", headers, method="POST")
    assert refused.status_code == 403
    assert "backstage-auth cookie" in refused.json["error"]["message"]
    same_site = {**headers, "Origin": "http://localhost"}
    assert get(guard, "/images", same_site, method="POST").status_code == 200


def test_limited_token_is_rebuilt_from_the_full_token(server: JWKSServer) -> None:
    full = user_token(server)
    token = limited_token(full)
    head, payload, signature = token.split(".")
    assert head == b64url(b'{"typ":"vnd.backstage.limited-user","alg":"ES256","kid":"auth-1"}')
    assert payload.startswith(b64url(f'{{"sub":"{USER}","iat":'.encode())[:20])
    assert signature == parse(full).claims["uip"]


# -- the cookie endpoint ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        pytest.param(lambda s: {}, 401, id="no-token"),
        pytest.param(lambda s: bearer(limited()), 401, id="limited-bearer"),
        pytest.param(lambda s: cookie(limited(), BACKSTAGE_COOKIE), 401, id="limited-cookie"),
        pytest.param(lambda s: bearer(plugin_token()), 403, id="plugin-token"),
        pytest.param(lambda s: bearer(user_token(s, uip=None)), 401, id="no-uip"),
        pytest.param(lambda s: bearer(user_token(s, uip="a;b")), 401, id="uip-not-a-signature"),
        pytest.param(lambda s: bearer(user_token(s, cnf={"jkt": "x" * 43})), 401, id="dpop-bound"),
    ],
)
def test_cookie_endpoint_refusals(server: JWKSServer, headers: Any, status: int) -> None:
    response = get(guard_for(server), ENDPOINT, headers(server))
    assert response.status_code == status
    assert "Set-Cookie" not in response.headers


def test_cookie_endpoint_issues_the_limited_cookie(server: JWKSServer) -> None:
    guard = guard_for(server)
    full = user_token(server)
    response = get(guard, ENDPOINT, bearer(full))
    assert response.status_code == 200
    value = response.headers["Set-Cookie"]
    assert value.startswith(f"{BACKSTAGE_COOKIE}={limited_token(full)}; Domain=127.0.0.1; Path=/;")
    assert value.endswith("; HttpOnly; Priority=High; SameSite=Lax")
    assert response.json["expiresAt"].endswith(".000Z")
    # The cookie it set opens the user-cookie route, and only that.
    held = cookie(limited_token(full), BACKSTAGE_COOKIE)
    assert get(guard, "/images", held).json["remote_user"] == USER
    assert get(guard, "/api/x", held).status_code == 401


@pytest.mark.parametrize("obo", ["limited", "full"])
def test_cookie_endpoint_on_behalf_of_a_user_hands_on_the_users_limited_token(
    server: JWKSServer, obo: str
) -> None:
    # As Backstage's issueUserCookie: the limited form of the obo token, until *it* expires.
    user_exp = int(time.time()) + 1800
    full = user_token(server, exp=user_exp)
    held = limited_token(full) if obo == "limited" else full
    token = plugin_token(obo=held, exp=user_exp - 600)  # the plugin's token expires first
    response = get(guard_for(server), ENDPOINT, bearer(token))
    assert response.status_code == 200, response.json
    value = response.headers["Set-Cookie"]
    assert value.startswith(f"{BACKSTAGE_COOKIE}={limited_token(full)}; ")
    assert f"Expires={formatdate(user_exp, usegmt=True)};" in value
    assert response.json["expiresAt"] == _iso(user_exp)


def test_cookie_endpoint_is_below_the_mount(server: JWKSServer) -> None:
    guard = build_guard(
        mount="/api/reports",
        backstage=BackstageSettings(base_url=server.base, plugin_id="reports"),
    )
    client = Client(guard, use_cookies=False)
    base = "http://localhost/api/reports"
    response = client.get(ENDPOINT, headers=bearer(user_token(server)), base_url=base)
    assert response.status_code == 200
    assert "Set-Cookie" in response.headers


def test_cookie_endpoint_can_be_left_to_the_app(server: JWKSServer) -> None:
    guard = guard_for(server, cookie_endpoint=False)
    response = get(guard, ENDPOINT, bearer(user_token(server)))
    assert response.json["path"] == ENDPOINT  # the app ran
    assert "Set-Cookie" not in response.headers


def test_https_cookie_is_secure_and_same_site_none() -> None:
    settings = BackstageSettings(base_url="https://backstage.example.com/", plugin_id="reports")
    endpoint = CookieEndpoint(settings, verifier=None)  # type: ignore[arg-type]
    assert endpoint.set_cookie("x", 0) == (
        f"{BACKSTAGE_COOKIE}=x; Domain=backstage.example.com; Path=/;"
        " Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; Priority=High; SameSite=None"
    )


def test_a_private_ca_verifies_the_backends_tls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # requests would let these override the session's `verify`: the setting must decide.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    context, ca = tls_server(tmp_path)
    state = JWKSServer(
        documents={
            AUTH_JWKS: {"keys": [AUTH_KEY.public_jwk()]},
            CALLER_JWKS: {"keys": [CALLER_KEY.public_jwk()]},
        }
    )
    with serving(state, tls=context) as server:
        untrusted = guard_for(server)
        assert get(untrusted, "/api/x", bearer(plugin_token())).status_code == 503
        assert server.fetches == 0  # the TLS handshake failed: nothing was asked
        guard = guard_for(server, ca_bundle=str(ca))
        assert get(guard, "/api/x", bearer(plugin_token())).status_code == 200  # plugin keys
        assert get(guard, "/api/x", bearer(user_token(server))).status_code == 200  # auth keys
        assert server.requests == [CALLER_JWKS, AUTH_JWKS]


def test_a_missing_ca_bundle_is_named_at_startup(server: JWKSServer, tmp_path: Path) -> None:
    issuer = Issuer(f"{server.base}/api/auth", keys=[AUTH_KEY.public_jwk()])
    settings = BackstageSettings(
        base_url=server.base, plugin_id="reports", ca_bundle=str(tmp_path / "ca.pem")
    )
    # Even when the auth issuer is configured apart, whose keys need no TLS.
    with pytest.raises(ConfigError, match="no such file") as caught:
        build_guard(issuers=[issuer], backstage=settings)
    assert caught.value.key == "ca_bundle"


# -- settings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        pytest.param({"plugin_id": "re/ports"}, "plugin_id", id="plugin-id"),
        pytest.param({"allowed_plugins": ["*"]}, "allowed_plugins[0]", id="no-wildcards"),
        pytest.param({"allowed_plugins": "caller"}, "allowed_plugins", id="a-string"),
        pytest.param({"base_url": "http://backstage.example.com"}, "base_url", id="plain-http"),
        pytest.param({"base_url": "backstage.example.com"}, "base_url", id="not-a-url"),
        pytest.param({"leeway": 3600}, "leeway", id="leeway"),
    ],
)
def test_settings_are_validated(settings: dict[str, Any], key: str) -> None:
    values = {"base_url": "https://backstage.example.com", "plugin_id": "reports", **settings}
    with pytest.raises(ConfigError) as caught:
        BackstageSettings(**values)
    assert caught.value.key == key


def test_user_cookie_needs_limited_user_tokens() -> None:
    with pytest.raises(ConfigError) as caught:
        Rule("protected", user_cookie=True, tokens=["user"])
    assert caught.value.key == "tokens"


def test_the_backstage_table_in_configuration(server: JWKSServer) -> None:
    guard = from_config(
        echo_app,
        {
            "backstage": {
                "base_url": server.base,
                "plugin_id": "reports",
                "allowed_plugins": ["caller"],
                "jwks_refresh": {"cooldown": 5},
            },
            "routes": {"/images": {"policy": "protected", "user_cookie": True}},
        },
    )
    assert get(guard, "/api/x", bearer(plugin_token())).status_code == 200
    assert get(guard, "/images", cookie(limited(), BACKSTAGE_COOKIE)).status_code == 200
    with pytest.raises(ConfigError) as caught:
        from_config(echo_app, {"backstage": {"base_url": server.base}})
    assert caught.value.key == "backstage.plugin_id"
