"""Edge presets (:mod:`wsgi_jwt_guard.presets`): each vendor's token, in its exact
shape, signed with the suite's keys and verified through the guard against
keys served locally in the vendor's exact format."""

from __future__ import annotations

import base64
import json
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client, create_environ

from tests.helpers import ROUTES, TEST_CLIENT_ORIGIN, SigningKey, build_guard, echo_app
from tests.jwks_server import JWKSServer, JWKSServers, answer
from wsgi_jwt_guard import Issuer, Rule
from wsgi_jwt_guard.apikeys import APIKey, APIKeys
from wsgi_jwt_guard.config import from_config
from wsgi_jwt_guard.errors import ConfigError
from wsgi_jwt_guard.extraction import TokenHeaders, extract_token
from wsgi_jwt_guard.request import RequestView

IAP_AUDIENCE = "/projects/123456789012/global/backendServices/987654321"
CF_AUD = "32eafc7626e974616deaf0dc3ce63d7bcbed58a2731e84d06bc3cdf1b53c4228"
ALB_ARN = (
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188"
)
OTHER_ARN = ALB_ARN.replace("50dc6c495c0c9188", "0123456789abcdef")
COGNITO = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEfGhI"
ALB_KID = "0e1f4cfe-9e2a-4c9b-8b0c-3d5e0f1a2b3c"
ALB_CLIENT = "4fmvht22tjrgd7d3k3tghttct7"  # the Cognito app client of the ALB's action
CF_SERVICE_CLIENT = "88bf3b6d86161464f6509f7219099e57.access"
#: Leaves a field out of a token.
ABSENT = object()


def _now() -> int:
    return int(time.time())


def _padded(data: bytes) -> str:
    """base64url *with* padding, as AWS ALB writes each segment."""
    return base64.urlsafe_b64encode(data).decode("ascii")


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _unpadded(data: bytes) -> str:
    return _padded(data).rstrip("=")


def _sign(key: SigningKey, header: Any, claims: Any, encode: Any = _unpadded) -> str:
    signing_input = f"{encode(_json(header))}.{encode(_json(claims))}"
    return f"{signing_input}.{encode(key.sign(signing_input.encode()))}"


def _get(guard: Any, headers: dict[str, str], path: str = "/api/catalog") -> tuple[int, Any]:
    # use_cookies=False: a client with a cookie jar replaces a Cookie header.
    client = Client(guard, use_cookies=False)
    response = client.get(path, headers={"Origin": TEST_CLIENT_ORIGIN, **headers})
    body = response.get_json() if response.status_code == 200 else response.get_data(True)
    return response.status_code, body


def _guard(*issuers: Issuer) -> Any:
    return build_guard(issuers=list(issuers))  # reads each preset's header on its own


# --- Google IAP -----------------------------------------------------------------------


def iap_token(key: SigningKey, **overrides: Any) -> str:
    now = _now()
    claims = {
        "aud": IAP_AUDIENCE,
        "azp": IAP_AUDIENCE,
        "email": "alice@example.com",
        "exp": now + 600,
        "hd": "example.com",
        "iat": now,
        "iss": "https://cloud.google.com/iap",
        "sub": "accounts.google.com:118133858486581853996",
        **overrides,
    }
    return _sign(key, {"alg": "ES256", "kid": key.kid, "typ": "JWT"}, claims)


@pytest.fixture
def iap(jwks_server: JWKSServer) -> tuple[SigningKey, Any]:
    key = SigningKey.ec(kid="0oeLcQ")
    jwks_server.publish(key)  # Google's public_key-jwk is a plain JWKS
    issuer = Issuer(preset="gcp-iap", audience=IAP_AUDIENCE, jwks_uri=jwks_server.url)
    return key, _guard(issuer)


def test_iap_token_from_its_header(iap: tuple[SigningKey, Any]) -> None:
    key, guard = iap
    status, body = _get(guard, {"X-Goog-IAP-JWT-Assertion": iap_token(key)})
    assert status == 200, body
    assert body["remote_user"] == "accounts.google.com:118133858486581853996"
    assert body["identity"]["issuer"] == "https://cloud.google.com/iap"
    assert body["identity"]["source"] == "custom-header"


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"aud": "/projects/123456789012/global/backendServices/1"}, id="other-aud"),
        pytest.param({"aud": "/projects/123456789012/apps/other-project"}, id="app-engine-aud"),
        pytest.param({"iss": "https://accounts.google.com"}, id="other-iss"),
        pytest.param({"exp": 1}, id="expired"),
    ],
)
def test_iap_wrong_tokens_refused(iap: tuple[SigningKey, Any], overrides: Any) -> None:
    key, guard = iap
    status, _ = _get(guard, {"X-Goog-IAP-JWT-Assertion": iap_token(key, **overrides)})
    assert status == 401


def test_iap_padding_refused(iap: tuple[SigningKey, Any]) -> None:
    key, guard = iap
    claims = json.loads(base64.urlsafe_b64decode(iap_token(key).split(".")[1] + "=="))
    padded = _sign(key, {"alg": "ES256", "kid": key.kid, "typ": "JWT"}, claims, _padded)
    assert "=" in padded
    assert _get(guard, {"X-Goog-IAP-JWT-Assertion": padded})[0] in (400, 401)
    assert _get(guard, {"Authorization": f"Bearer {padded}"})[0] == 401


@pytest.mark.parametrize(
    "audience",
    [
        pytest.param("/projects/1/apps/my-project", id="app-engine"),
        pytest.param(["/projects/1/global/backendServices/2", "/projects/1/apps/p-1"], id="both"),
    ],
)
def test_iap_audience_forms(audience: Any) -> None:
    issuer = Issuer(preset="gcp-iap", audience=audience)
    assert issuer.issuer == "https://cloud.google.com/iap"
    assert issuer.jwks_uri == "https://www.gstatic.com/iap/verify/public_key-jwk"
    assert issuer.algorithms == ("ES256",)
    assert issuer.token_header == "x-goog-iap-jwt-assertion"


@pytest.mark.parametrize(
    "audience",
    [
        pytest.param((), id="none"),
        pytest.param("123456789012", id="bare-number"),
        pytest.param("/projects/x/global/backendServices/2", id="project-not-a-number"),
        pytest.param("/projects/1/global/backendServices/2/", id="trailing-slash"),
    ],
)
def test_iap_audience_checked(audience: Any) -> None:
    with pytest.raises(ConfigError, match="audience"):
        Issuer(preset="gcp-iap", audience=audience)


# --- Cloudflare Access --------------------------------------------------------------------


def cf_claims(**overrides: Any) -> dict[str, Any]:
    now = _now()
    claims = {
        "aud": [CF_AUD],
        "email": "alice@example.com",
        "exp": now + 600,
        "iat": now,
        "nbf": now,
        "iss": "https://acme.cloudflareaccess.com",
        "type": "app",
        "identity_nonce": "6ei69kawdKzMIAPF",
        "sub": "7335d417-61da-459d-899c-0a01c76a2f94",
        "country": "US",
        **overrides,
    }
    return {name: value for name, value in claims.items() if value is not ABSENT}


@pytest.fixture
def cloudflare(jwks_servers: JWKSServers) -> tuple[SigningKey, Any]:
    key = SigningKey.rsa(kid="c3f1bd2e0b0b8c26d1f5f1d2a8b8b9b3d6e0c1a2b3c4d5e6f7a8b9c0d1e2f3a4")
    jwk = key.public_jwk()
    pem = key.public_pem()
    # Cloudflare's certs document: the JWKS, plus the same keys as certificates.
    document = {
        "keys": [jwk],
        "public_cert": {"kid": key.kid, "cert": pem},
        "public_certs": [{"kid": key.kid, "cert": pem}],
    }
    server = jwks_servers(documents={"/cdn-cgi/access/certs": document}, document=None)
    issuer = Issuer(
        preset="cloudflare-access",
        team="acme",
        audience=CF_AUD,
        jwks_uri=f"{server.base}/cdn-cgi/access/certs",
    )
    routes = {
        **ROUTES,
        "/api/people": Rule(tokens=["user"]),
        "/api/machines": Rule(tokens=["edge-service"]),
        "/api/internal": Rule(tokens=["service"]),  # the guard's own HS256 service tokens
    }
    return key, build_guard(issuers=[issuer], routes=routes)


def cf_token(key: SigningKey, **overrides: Any) -> str:
    return _sign(key, {"alg": "RS256", "kid": key.kid}, cf_claims(**overrides))


def test_cloudflare_user_token(cloudflare: tuple[SigningKey, Any]) -> None:
    key, guard = cloudflare
    status, body = _get(guard, {"Cf-Access-Jwt-Assertion": cf_token(key)})
    assert status == 200, body
    assert body["remote_user"] == "7335d417-61da-459d-899c-0a01c76a2f94"
    assert body["identity"]["issuer"] == "https://acme.cloudflareaccess.com"


def cf_service_token(key: SigningKey, **overrides: Any) -> str:
    """A service token's application token: Cloudflare's service-token payload, exactly."""
    now = _now()
    claims = {
        "type": "app",
        "aud": [CF_AUD],
        "exp": now + 600,
        "iss": "https://acme.cloudflareaccess.com",
        "common_name": CF_SERVICE_CLIENT,
        "iat": now,
        "sub": "",
        **overrides,
    }
    claims = {name: value for name, value in claims.items() if value is not ABSENT}
    return _sign(key, {"alg": "RS256", "kid": key.kid}, claims)


def test_cloudflare_service_token_is_its_common_name(cloudflare: tuple[SigningKey, Any]) -> None:
    key, guard = cloudflare
    status, body = _get(guard, {"Cf-Access-Jwt-Assertion": cf_service_token(key)})
    assert status == 200, body
    assert body["remote_user"] == CF_SERVICE_CLIENT
    assert body["identity"]["subject"] == CF_SERVICE_CLIENT
    assert body["identity"]["kind"] == "edge-service"
    assert body["identity"]["issuer"] == "https://acme.cloudflareaccess.com"


@pytest.mark.parametrize(
    ("path", "user", "edge_service"),
    [
        pytest.param("/api/catalog", 200, 200, id="every-kind"),
        pytest.param("/api/people", 200, 403, id="users-only"),
        pytest.param("/api/machines", 403, 200, id="edge-services-only"),
        pytest.param("/api/internal", 403, 403, id="own-service-tokens-only"),
    ],
)
def test_cloudflare_service_tokens_are_their_own_kind(
    cloudflare: tuple[SigningKey, Any], path: str, user: int, edge_service: int
) -> None:
    key, guard = cloudflare
    assert _get(guard, {"Cf-Access-Jwt-Assertion": cf_token(key)}, path)[0] == user
    assert _get(guard, {"Cf-Access-Jwt-Assertion": cf_service_token(key)}, path)[0] == edge_service


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"type": "org"}, id="global-session-token"),
        pytest.param({"type": ABSENT}, id="no-type"),
        pytest.param({"type": None}, id="type-null"),
        pytest.param({"type": ["app"]}, id="type-a-list"),
        pytest.param({"type": "APP"}, id="type-other-case"),
    ],
)
def test_cloudflare_only_application_tokens(
    cloudflare: tuple[SigningKey, Any], overrides: Any
) -> None:
    key, guard = cloudflare
    for token in (cf_token(key, **overrides), cf_service_token(key, **overrides)):
        status, body = _get(guard, {"Cf-Access-Jwt-Assertion": token})
        assert status == 401
        assert "'type'" in body


def test_cloudflare_cookie(cloudflare: tuple[SigningKey, Any]) -> None:
    key, guard = cloudflare
    status, body = _get(guard, {"Cookie": f"CF_Authorization={cf_token(key)}"})
    assert status == 200, body
    assert body["identity"]["source"] == "edge-cookie"
    assert body["authorization"] is None  # not the guard's cookie: not forwarded as a bearer
    # Ambient: an unsafe cross-site request with it is refused.
    response = Client(guard, use_cookies=False).post(
        "/api/catalog",
        headers={"Origin": "https://evil.example", "Cookie": f"CF_Authorization={cf_token(key)}"},
    )
    assert response.status_code == 403


def test_preset_headers_and_cookie_are_token_sources() -> None:
    issuers = [
        Issuer(preset="cloudflare-access", team="acme", audience=CF_AUD),
        Issuer(preset="gcp-iap", audience=IAP_AUDIENCE),
    ]
    headers = TokenHeaders(["X-Goog-IAP-JWT-Assertion"], issuers)
    assert headers.keys == ("HTTP_X_GOOG_IAP_JWT_ASSERTION", "HTTP_CF_ACCESS_JWT_ASSERTION")
    assert headers.cookies == ("CF_Authorization",)
    environ = create_environ("/api/catalog", headers={"Cookie": "CF_Authorization=a.b.c"})
    found = extract_token(
        RequestView(environ, "/api/catalog"),
        cookie_name=None,
        max_size=8192,
        headers=headers,
    )
    assert found == ("a.b.c", "edge-cookie")


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"aud": ["0" * 64]}, id="other-aud"),
        pytest.param({"iss": "https://other.cloudflareaccess.com"}, id="other-team"),
        pytest.param({"sub": "", "common_name": ""}, id="service-token-without-name"),
        pytest.param({"sub": "", "common_name": "a\nb.access"}, id="common-name-control-char"),
        pytest.param({"sub": "", "common_name": 7}, id="common-name-not-a-string"),
        pytest.param({"sub": ""}, id="empty-sub-no-common-name"),
    ],
)
def test_cloudflare_wrong_tokens_refused(
    cloudflare: tuple[SigningKey, Any], overrides: Any
) -> None:
    key, guard = cloudflare
    assert _get(guard, {"Cf-Access-Jwt-Assertion": cf_token(key, **overrides)})[0] == 401


def test_cloudflare_settings() -> None:
    issuer = Issuer(preset="cloudflare-access", team="acme", audience=CF_AUD)
    assert issuer.jwks_uri == "https://acme.cloudflareaccess.com/cdn-cgi/access/certs"
    assert issuer.algorithms == ("RS256",)
    assert issuer.token_cookie == "CF_Authorization"
    with pytest.raises(ConfigError, match="audience"):
        Issuer(preset="cloudflare-access", team="acme")
    with pytest.raises(ConfigError, match="team"):
        Issuer(preset="cloudflare-access", audience=CF_AUD)
    with pytest.raises(ConfigError, match="team"):
        Issuer(preset="cloudflare-access", team="acme.example", audience=CF_AUD)
    with pytest.raises(ConfigError, match="team"):
        Issuer("https://auth.example.com", jwks_uri="https://auth.example.com/j", team="acme")


def test_empty_sub_refused_without_cloudflare_preset(iap: tuple[SigningKey, Any]) -> None:
    key, guard = iap
    token = iap_token(key, sub="", common_name="client.access")
    assert _get(guard, {"X-Goog-IAP-JWT-Assertion": token})[0] == 401


# --- AWS ALB --------------------------------------------------------------------------------


def alb_token(
    key: SigningKey, signer: str = ALB_ARN, header: dict[str, Any] | None = None, **overrides: Any
) -> str:
    """ALB's x-amzn-oidc-data, its header in ALB's order; ``header`` replaces fields of it."""
    now = _now()
    fields = {
        "typ": "JWT",
        "kid": key.kid,
        "alg": "ES256",
        "iss": COGNITO,
        "client": ALB_CLIENT,
        "signer": signer,
        "exp": now + 120,
        **(header or {}),
    }
    header = {name: value for name, value in fields.items() if value is not ABSENT}
    claims = {
        "sub": "23d498b2-3031-70d2-8a15-49dd886a087b",
        "email_verified": "true",
        "email": "alice@example.com",
        "username": "23d498b2-3031-70d2-8a15-49dd886a087b",
        "exp": now + 120,
        "iss": COGNITO,
        **overrides,
    }
    return _sign(key, header, claims, _padded)


@pytest.fixture
def alb(jwks_servers: JWKSServers) -> tuple[SigningKey, Any, JWKSServer]:
    key = SigningKey.ec(kid=ALB_KID)
    pem = key.public_pem().encode()

    def one_pem_per_kid(handler: BaseHTTPRequestHandler) -> None:
        if server.status != 200:  # a test takes the key server down
            handler.send_error(server.status)
        elif handler.path == f"/{ALB_KID}":
            answer(200, pem, {"Content-Type": "application/octet-stream"})(handler)
        else:
            handler.send_error(404)

    server = jwks_servers(one_pem_per_kid)
    issuer = Issuer(
        COGNITO,
        preset="aws-alb",
        signers=ALB_ARN,
        client_ids=ALB_CLIENT,
        pem_url=server.base + "/{kid}",
    )
    return key, _guard(issuer), server


def test_alb_token_with_padding(alb: tuple[SigningKey, Any, JWKSServer]) -> None:
    key, guard, server = alb
    token = alb_token(key)
    assert "=" in token
    status, body = _get(guard, {"X-Amzn-Oidc-Data": token})
    assert status == 200, body
    assert body["remote_user"] == "23d498b2-3031-70d2-8a15-49dd886a087b"
    assert _get(guard, {"X-Amzn-Oidc-Data": alb_token(key, email="bob@example.com")})[0] == 200
    assert server.requests == [f"/{ALB_KID}"]  # one PEM, fetched once


@pytest.mark.parametrize(
    ("signer", "overrides"),
    [
        pytest.param(OTHER_ARN, {}, id="other-signer"),
        pytest.param("", {}, id="empty-signer"),
        pytest.param(ALB_ARN, {"iss": "https://cognito-idp.eu-west-1.amazonaws.com/x"}, id="iss"),
        pytest.param(ALB_ARN, {"exp": 1}, id="expired"),
    ],
)
def test_alb_wrong_tokens_refused(
    alb: tuple[SigningKey, Any, JWKSServer], signer: str, overrides: Any
) -> None:
    key, guard, _ = alb
    token = alb_token(key, signer, **overrides)
    assert _get(guard, {"X-Amzn-Oidc-Data": token})[0] == 401


@pytest.mark.parametrize(
    ("header", "field"),
    [
        pytest.param({"client": "7v0ther4ppcl1ent1d"}, "'client'", id="other-client"),
        pytest.param({"client": ABSENT}, "'client'", id="no-client"),
        pytest.param({"client": [ALB_CLIENT]}, "'client'", id="client-a-list"),
        pytest.param({"iss": COGNITO + "x"}, "'iss'", id="header-iss-other"),
        pytest.param({"iss": None}, "'iss'", id="header-iss-null"),
        pytest.param({"exp": 1}, "'exp'", id="header-exp-passed"),
        pytest.param({"exp": "4102444800"}, "'exp'", id="header-exp-a-string"),
        pytest.param({"exp": True}, "'exp'", id="header-exp-a-boolean"),
        pytest.param({"signer": OTHER_ARN}, "'signer'", id="other-signer"),
        pytest.param({"signer": ABSENT}, "'signer'", id="no-signer"),
    ],
)
def test_alb_header_refused_naming_the_field(
    alb: tuple[SigningKey, Any, JWKSServer], header: dict[str, Any], field: str
) -> None:
    key, guard, _ = alb
    status, body = _get(guard, {"X-Amzn-Oidc-Data": alb_token(key, header=header)})
    assert status == 401
    assert field in body


def test_alb_header_iss_and_exp_may_be_absent(alb: tuple[SigningKey, Any, JWKSServer]) -> None:
    key, guard, _ = alb
    token = alb_token(key, header={"iss": ABSENT, "exp": ABSENT})
    assert _get(guard, {"X-Amzn-Oidc-Data": token})[0] == 200


def test_alb_identity_expires_with_the_earlier_exp(
    alb: tuple[SigningKey, Any, JWKSServer],
) -> None:
    key, guard, _ = alb
    soon = _now() + 30  # the payload's is 120 s away
    status, body = _get(guard, {"X-Amzn-Oidc-Data": alb_token(key, header={"exp": soon})})
    assert status == 200, body
    assert body["identity"]["expires_at"] == soon


def test_alb_any_client(alb: tuple[SigningKey, Any, JWKSServer]) -> None:
    key, _, server = alb
    issuer = Issuer(
        COGNITO, preset="aws-alb", signers=ALB_ARN, any_client=True, pem_url=server.base + "/{kid}"
    )
    guard = _guard(issuer)
    for client in (ALB_CLIENT, "7v0ther4ppcl1ent1d"):
        assert _get(guard, {"X-Amzn-Oidc-Data": alb_token(key, header={"client": client})})[0] == 200
    # Only the client goes unchecked: the load balancer still is.
    assert _get(guard, {"X-Amzn-Oidc-Data": alb_token(key, OTHER_ARN)})[0] == 401


def test_alb_key_server_down_is_503_and_not_asked_again_at_once(
    alb: tuple[SigningKey, Any, JWKSServer],
) -> None:
    key, _, server = alb
    issuer = Issuer(
        COGNITO,
        preset="aws-alb",
        signers=ALB_ARN,
        client_ids=ALB_CLIENT,
        pem_url=server.base + "/{kid}",
        jwks_refresh={"retry_min": 30, "retry_max": 60},
    )
    guard = _guard(issuer)
    server.status = 503
    client = Client(guard, use_cookies=False)
    headers = {"Origin": TEST_CLIENT_ORIGIN, "X-Amzn-Oidc-Data": alb_token(key)}
    for _ in range(3):
        response = client.get("/api/catalog", headers=headers)
        assert response.status_code == 503  # cannot check: not a 401
        assert 1 <= int(response.headers["Retry-After"]) <= 30
    assert server.fetches == 1  # then the retry delay: the key server is not hammered


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        pytest.param({}, "client_ids", id="client-ids-required"),
        pytest.param({"client_ids": []}, "client_ids", id="client-ids-empty"),
        pytest.param({"client_ids": [""]}, "client_ids", id="client-id-empty-string"),
        pytest.param({"client_ids": [ALB_CLIENT], "any_client": True}, "any_client", id="both"),
        pytest.param({"any_client": "yes"}, "any_client", id="any-client-not-a-flag"),
    ],
)
def test_alb_client_settings_checked(settings: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        Issuer(COGNITO, preset="aws-alb", signers=[ALB_ARN], **settings)


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        pytest.param({"client_ids": [ALB_CLIENT]}, "client_ids", id="client-ids"),
        pytest.param({"any_client": True}, "any_client", id="any-client"),
    ],
)
def test_alb_client_settings_only_for_alb(settings: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=f"{key}: only with preset = 'aws-alb'"):
        Issuer(preset="gcp-iap", audience=IAP_AUDIENCE, **settings)
    with pytest.raises(ConfigError, match=key):
        Issuer("https://auth.example.test", jwks_uri="https://auth.example.test/j", **settings)


def test_alb_unknown_kids_bounded(alb: tuple[SigningKey, Any, JWKSServer]) -> None:
    _, guard, server = alb
    for kid in ("no-such-kid", "other-kid", "../../etc/passwd", "a/b", "k" * 200):
        stranger = SigningKey.ec(kid=kid)
        assert _get(guard, {"X-Amzn-Oidc-Data": alb_token(stranger)})[0] == 401
    # One 404, then the cooldown: no other unknown kid is fetched, unsafe kids never.
    assert server.requests == ["/no-such-kid"]


def test_alb_settings() -> None:
    issuer = Issuer(COGNITO, preset="aws-alb", signers=[ALB_ARN], client_ids=[ALB_CLIENT])
    assert issuer.region == "eu-west-1"
    assert issuer.pem_url == "https://public-keys.auth.elb.eu-west-1.amazonaws.com/{kid}"
    assert issuer.token_header == "x-amzn-oidc-data"
    assert issuer.accepts_padding
    with pytest.raises(ConfigError, match="signers"):
        Issuer(COGNITO, preset="aws-alb", client_ids=[ALB_CLIENT])
    with pytest.raises(ConfigError, match="identity provider"):
        Issuer(preset="aws-alb", signers=[ALB_ARN], client_ids=[ALB_CLIENT])
    with pytest.raises(ConfigError, match="signers"):
        Issuer(
            COGNITO,
            preset="aws-alb",
            signers=["arn:aws:iam::123456789012:user/x"],
            client_ids=[ALB_CLIENT],
        )
    with pytest.raises(ConfigError, match="signers"):
        Issuer(
            COGNITO, preset="aws-alb", signers=[ALB_ARN], client_ids=[ALB_CLIENT], region="us-east-1"
        )
    with pytest.raises(ConfigError, match="preset"):
        Issuer(COGNITO, preset="aws-elb", signers=[ALB_ARN])


def test_padding_only_for_alb_issuers(jwks_server: JWKSServer) -> None:
    """A guard with an ALB issuer parses padded tokens, but only an ALB issuer's pass."""
    key = SigningKey.ec(kid="plain-1")
    jwks_server.publish(key)
    plain = Issuer("https://auth.example.test", jwks_uri=jwks_server.url)
    alb_issuer = Issuer(
        COGNITO,
        preset="aws-alb",
        signers=ALB_ARN,
        client_ids=ALB_CLIENT,
        pem_url=jwks_server.base + "/{kid}",
    )
    guard = _guard(plain, alb_issuer)
    claims = {"iss": "https://auth.example.test", "sub": "alice", "exp": _now() + 60}
    header = {"alg": "ES256", "kid": key.kid}
    assert _get(guard, {"Authorization": f"Bearer {_sign(key, header, claims)}"})[0] == 200
    padded = _sign(key, header, claims, _padded)
    assert "=" in padded
    assert _get(guard, {"Authorization": f"Bearer {padded}"})[0] == 401
    # Nor in another proxy header than ALB's.
    assert _get(guard, {"X-Goog-IAP-JWT-Assertion": padded})[0] in (400, 401)


def _readme_snippets() -> list[str]:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme.split("## Behind an edge proxy (presets)")[1].split("\n## ")[0]
    return [block.split("```")[0] for block in section.split("```toml\n")[1:]]


@pytest.mark.parametrize("snippet", _readme_snippets(), ids=["iap", "cloudflare", "alb"])
def test_readme_snippets_build_a_guard(snippet: str, tmp_path: Path) -> None:
    path = tmp_path / "guard.toml"
    path.write_text(snippet)
    guard = from_config(echo_app, path)
    ((issuer, _, _),) = guard.verifier._issuers.values()
    assert f'preset = "{issuer.preset}"' in snippet


@pytest.mark.parametrize("source", ["cookie", "backstage-cookie", "edge-cookie"])
def test_api_keys_never_read_from_a_cookie(source: Any) -> None:
    secret = "k" * 40
    keys = APIKeys([APIKey(secret, "external:ci")])
    assert keys.identify(secret, "custom-header", "/api/catalog") is not None
    assert keys.identify(secret, source, "/api/catalog") is None
