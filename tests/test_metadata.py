"""RFC 9728 protected resource metadata (:mod:`wsgi_jwt_guard.metadata`), through the guard.

The oracle is what a client sees: the document at the well-known path (its
fields, headers and methods), the ``resource_metadata`` parameter of every
challenge, and a client that starts from a 401 alone and ends with a token the
API accepts.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client

from tests.helpers import ISSUER, SigningKey, bearer, build_guard, echo_app, issuer_of
from tests.processes import ROOT
from wsgi_jwt_guard import (
    ConfigError,
    CORSSettings,
    DPoPSettings,
    Issuer,
    ResourceMetadata,
    Rule,
    from_config,
)
from wsgi_jwt_guard.config import load_config

RESOURCE = "https://api.example.com/v1"
WELL_KNOWN = "/.well-known/oauth-protected-resource"
DOCUMENT_URL = f"https://api.example.com{WELL_KNOWN}/v1"
ROUTES: dict[str, Any] = {
    "/v1/public": "public",
    "/v1/orders": Rule("protected", scopes=["orders.read"]),
    "/v1/orders/refunds": Rule("protected", scopes=["orders.read", "orders.refund"]),
}


def client_for(key: SigningKey, *, mount: str = "", **options: Any) -> Client:
    """A client of a guard configured with ``options``; mounted in a
    ``DispatcherMiddleware`` at ``mount`` when one is given."""
    options.setdefault("routes", ROUTES)
    guard = build_guard(issuers=[issuer_of([key])], mount=mount, **options)
    app: Any = DispatcherMiddleware(echo_app, {mount: guard}) if mount else guard
    return Client(app, use_cookies=False)


def metadata(**settings: Any) -> ResourceMetadata:
    settings.setdefault("resource", RESOURCE)
    return ResourceMetadata(**settings)


# --------------------------------------------------------------------------------------
# The document
# --------------------------------------------------------------------------------------


def test_the_document_describes_the_resource(ec_key: SigningKey) -> None:
    client = client_for(
        ec_key,
        resource_metadata=metadata(
            resource_name="Orders API",
            resource_documentation="https://docs.example.com/orders",
            extra={"resource_policy_uri": "https://example.com/policy"},
        ),
    )
    response = client.get(f"{WELL_KNOWN}/v1")
    assert response.status_code == 200
    assert json.loads(response.data) == {
        "resource": RESOURCE,  # RFC 9728 §3.3: exactly as configured
        "authorization_servers": [ISSUER],
        "scopes_supported": ["orders.read", "orders.refund"],  # the routes', sorted
        "bearer_methods_supported": ["header"],  # the cookie is no RFC 6750 method
        "dpop_signing_alg_values_supported": DPOP_ALGS,  # DPoP is accepted by default
        "resource_name": "Orders API",
        "resource_documentation": "https://docs.example.com/orders",
        "resource_policy_uri": "https://example.com/policy",
    }
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Content-Length"] == str(len(response.data))
    assert response.headers["Cache-Control"] == "public, max-age=3600"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Set-Cookie" not in response.headers


DPOP_ALGS = ["ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "RS256", "EdDSA"]


@pytest.mark.parametrize(
    ("dpop", "expected"),
    [
        pytest.param(DPoPSettings(mode="off"), {}, id="dpop-off"),
        pytest.param(
            DPoPSettings(algorithms=["ES256"]),
            {"dpop_signing_alg_values_supported": ["ES256"]},
            id="dpop-allowed",
        ),
        pytest.param(
            DPoPSettings(mode="required", algorithms=["ES256", "EdDSA"]),
            {
                "dpop_signing_alg_values_supported": ["ES256", "EdDSA"],
                "dpop_bound_access_tokens_required": True,
            },
            id="dpop-required",
        ),
    ],
)
def test_the_document_says_what_dpop_the_guard_takes(
    ec_key: SigningKey, dpop: DPoPSettings, expected: dict[str, Any]
) -> None:
    """RFC 9728 §2: the proof algorithms accepted, and whether only DPoP-bound tokens work."""
    client = client_for(ec_key, resource_metadata=metadata(), dpop=dpop)
    document = json.loads(client.get(f"{WELL_KNOWN}/v1").data)
    dpop_fields = {name: value for name, value in document.items() if name.startswith("dpop_")}
    assert dpop_fields == expected


def test_the_document_is_public_and_the_app_never_sees_it(ec_key: SigningKey) -> None:
    client = client_for(ec_key, resource_metadata=metadata(), default="protected")
    for headers in ({}, bearer("not.a.token"), bearer(ec_key.token(exp=1))):
        response = client.get(f"{WELL_KNOWN}/v1", headers=headers)
        assert response.status_code == 200
        assert json.loads(response.data)["resource"] == RESOURCE  # the guard's, not echo_app's


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        pytest.param({}, {"authorization_servers": [ISSUER]}, id="derived-from-issuers"),
        pytest.param(
            {"authorization_servers": ["https://as.example.com"]},
            {"authorization_servers": ["https://as.example.com"]},
            id="configured",
        ),
        # RFC 9728 §3.2: a parameter with zero values is omitted.
        pytest.param({"authorization_servers": []}, {}, id="none-omitted"),
    ],
)
def test_authorization_servers(ec_key: SigningKey, settings: dict[str, Any], expected: dict[str, Any]) -> None:
    document = json.loads(client_for(ec_key, resource_metadata=metadata(**settings)).get(f"{WELL_KNOWN}/v1").data)
    assert {k: v for k, v in document.items() if k == "authorization_servers"} == expected


def test_issuers_no_client_can_ask_for_a_token_are_left_out(ec_key: SigningKey) -> None:
    """A template is no issuer identifier, and an edge proxy is no authorization server."""
    guard = build_guard(
        issuers=[
            issuer_of([ec_key]),
            issuer_of([ec_key], issuer="https://login.example.com/{tenant}/v2.0", tenants=["t1"]),
            Issuer(preset="gcp-iap", audience="/projects/123456789012/global/backendServices/987654321"),
            issuer_of([ec_key], issuer="https://keycloak.example.com/realms/a"),
        ],
        resource_metadata=metadata(),
    )
    document = json.loads(Client(guard).get(f"{WELL_KNOWN}/v1").data)
    assert document["authorization_servers"] == [ISSUER, "https://keycloak.example.com/realms/a"]


@pytest.mark.parametrize(
    ("routes", "settings", "expected"),
    [
        pytest.param(
            {
                "/v1": Rule(scopes=["b", "a"]),
                "/v1/x": Rule("optional", scopes=["a"]),
                "/v1/docs": Rule("public", scopes=["never-asked"]),
            },
            {},
            ["a", "admin", "b"],
            id="derived-from-routes",
        ),
        pytest.param(
            {"/v1": "protected"},
            {},
            ["admin"],
            id="the-default-rule-too",
        ),
        pytest.param(
            {"/v1": Rule(scopes=["b"])},
            {"scopes_supported": ["read", "write"]},
            ["read", "write"],
            id="configured",
        ),
        pytest.param({"/v1": "protected"}, {"scopes_supported": []}, None, id="none-omitted"),
    ],
)
def test_scopes_supported(
    ec_key: SigningKey, routes: dict[str, Any], settings: dict[str, Any], expected: list[str] | None
) -> None:
    client = client_for(
        ec_key, routes=routes, default=Rule(scopes=["admin"]), resource_metadata=metadata(**settings)
    )
    document = json.loads(client.get(f"{WELL_KNOWN}/v1").data)
    assert document.get("scopes_supported") == expected


def test_without_scopes_anywhere_there_is_no_scopes_supported(ec_key: SigningKey) -> None:
    client = client_for(ec_key, routes={"/v1": "protected"}, resource_metadata=metadata())
    assert "scopes_supported" not in json.loads(client.get(f"{WELL_KNOWN}/v1").data)


def test_max_age_is_configurable(ec_key: SigningKey) -> None:
    client = client_for(ec_key, resource_metadata=metadata(max_age=60))
    assert client.get(f"{WELL_KNOWN}/v1").headers["Cache-Control"] == "public, max-age=60"


# --------------------------------------------------------------------------------------
# Where it is served: RFC 9728 §3.1, below the mount
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "mount", "served", "url"),
    [
        pytest.param(
            "https://api.example.com", "", [WELL_KNOWN],
            f"https://api.example.com{WELL_KNOWN}", id="host-only",
        ),
        pytest.param(
            "https://api.example.com/", "", [WELL_KNOWN],
            f"https://api.example.com{WELL_KNOWN}", id="host-and-slash",
        ),
        pytest.param(
            "https://api.example.com/v1", "", [f"{WELL_KNOWN}/v1"],
            f"https://api.example.com{WELL_KNOWN}/v1", id="path",
        ),
        pytest.param(
            "https://api.example.com/v1/orders", "", [f"{WELL_KNOWN}/v1/orders"],
            f"https://api.example.com{WELL_KNOWN}/v1/orders", id="deeper-path",
        ),
        # The terminating slash is removed (RFC 8414 §3.1's rule, which RFC 9728 §3.1
        # restates); clients that keep it find the document there too.
        pytest.param(
            "https://api.example.com/v1/", "", [f"{WELL_KNOWN}/v1", f"{WELL_KNOWN}/v1/"],
            f"https://api.example.com{WELL_KNOWN}/v1", id="path-and-slash",
        ),
        pytest.param(
            "https://api.example.com:8443/v1", "", [f"{WELL_KNOWN}/v1"],
            f"https://api.example.com:8443{WELL_KNOWN}/v1", id="port",
        ),
        pytest.param(
            "http://127.0.0.1:8000/mcp", "", [f"{WELL_KNOWN}/mcp"],
            f"http://127.0.0.1:8000{WELL_KNOWN}/mcp", id="loopback-http",
        ),
        # The guard sees only requests below its mount: the document is there.
        pytest.param(
            "https://api.example.com/api", "/api", [f"/api{WELL_KNOWN}/api"],
            f"https://api.example.com/api{WELL_KNOWN}/api", id="mounted",
        ),
        pytest.param(
            "https://api.example.com", "/api", [f"/api{WELL_KNOWN}"],
            f"https://api.example.com/api{WELL_KNOWN}", id="mounted-host-only",
        ),
    ],
)
def test_where_the_document_is_served(
    ec_key: SigningKey, resource: str, mount: str, served: list[str], url: str
) -> None:
    client = client_for(ec_key, mount=mount, resource_metadata=metadata(resource=resource))
    for path in served:
        response = client.get(path)
        assert response.status_code == 200, path
        assert json.loads(response.data)["resource"] == resource
    # The challenges name the first, absolute (built from `resource`, never from Host).
    challenge = client.get(f"{mount}/v1/orders", headers={"Host": "evil.example"})
    assert challenge.status_code == 401
    assert WWWAuthenticate.from_header(challenge.headers["WWW-Authenticate"]).get("resource_metadata") == url


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(WELL_KNOWN, id="root-form-for-a-path-resource"),
        pytest.param(f"/v1{WELL_KNOWN}", id="appended-not-inserted"),
        pytest.param(f"{WELL_KNOWN}/v1/x", id="below"),
        pytest.param(f"{WELL_KNOWN}/v2", id="other-path"),
        pytest.param(f"{WELL_KNOWN}/v1/", id="slash-not-configured"),
    ],
)
def test_other_paths_are_not_the_document(ec_key: SigningKey, path: str) -> None:
    client = client_for(ec_key, resource_metadata=metadata(), default="public")
    response = client.get(path)
    assert response.status_code == 200
    assert json.loads(response.data)["path"] == path  # the app answered


def test_without_settings_the_path_is_the_apps(ec_key: SigningKey) -> None:
    client = client_for(ec_key, default="public")
    assert json.loads(client.get(f"{WELL_KNOWN}/v1").data)["path"] == f"{WELL_KNOWN}/v1"


# --------------------------------------------------------------------------------------
# Methods
# --------------------------------------------------------------------------------------


def test_head_has_the_headers_and_no_body(ec_key: SigningKey) -> None:
    client = client_for(ec_key, resource_metadata=metadata())
    got = client.get(f"{WELL_KNOWN}/v1")
    head = client.head(f"{WELL_KNOWN}/v1")
    assert head.status_code == 200
    assert head.data == b""
    assert head.headers["Content-Length"] == got.headers["Content-Length"]
    assert head.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_other_methods_are_405_with_allow(ec_key: SigningKey, method: str) -> None:
    client = client_for(ec_key, resource_metadata=metadata())
    response = client.open(f"{WELL_KNOWN}/v1", method=method, headers=bearer(ec_key.token()))
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"
    assert "WWW-Authenticate" not in response.headers  # nothing about the token
    assert json.loads(response.data)["error"]["name"] == "MethodNotAllowedError"


def test_with_cors_a_preflight_to_it_is_answered_like_any_other(ec_key: SigningKey) -> None:
    client = client_for(
        ec_key, resource_metadata=metadata(), cors=CORSSettings(allowed_origins=["https://app.example.com"])
    )
    preflight = {"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"}
    assert client.options(f"{WELL_KNOWN}/v1", headers=preflight).status_code == 204
    response = client.get(f"{WELL_KNOWN}/v1", headers={"Origin": "https://elsewhere.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"  # any page may read it


# --------------------------------------------------------------------------------------
# Challenges: RFC 9728 §5.1
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "headers", "expected"),
    [
        pytest.param(
            "/v1/orders", {},
            f'Bearer realm="wsgi-jwt-guard", resource_metadata="{DOCUMENT_URL}"',
            id="no-token",
        ),
        pytest.param(
            "/v1/orders", bearer("a.b.c"),
            f'Bearer realm="wsgi-jwt-guard", resource_metadata="{DOCUMENT_URL}", error="invalid_token", ',
            id="bad-token",
        ),
        pytest.param(
            "/v1/orders", {"Authorization": "Basic dXNlcjpwYXNz"},
            f'Bearer realm="wsgi-jwt-guard", resource_metadata="{DOCUMENT_URL}", error="invalid_request", ',
            id="not-bearer",
        ),
    ],
)
def test_every_401_names_the_document(
    ec_key: SigningKey, path: str, headers: dict[str, str], expected: str
) -> None:
    response = client_for(ec_key, resource_metadata=metadata()).get(path, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith(expected)


def test_a_403_for_a_scope_names_the_scopes_and_the_document(ec_key: SigningKey) -> None:
    client = client_for(ec_key, resource_metadata=metadata())
    response = client.get("/v1/orders/refunds", headers=bearer(ec_key.token(scope="orders.read")))
    assert response.status_code == 403
    challenge = WWWAuthenticate.from_header(response.headers["WWW-Authenticate"])
    assert challenge.type == "bearer"
    assert challenge.parameters == {
        "realm": "wsgi-jwt-guard",
        "resource_metadata": DOCUMENT_URL,
        "error": "insufficient_scope",
        "error_description": "token lacks a required scope",
        "scope": "orders.read orders.refund",  # all the route needs, not only what is missing
    }


def test_without_settings_challenges_name_no_document(ec_key: SigningKey) -> None:
    response = client_for(ec_key).get("/v1/orders")
    value = response.headers["WWW-Authenticate"]
    assert value.startswith('Bearer realm="wsgi-jwt-guard"')  # then DPoP's challenge
    assert "resource_metadata" not in value


# --------------------------------------------------------------------------------------
# A client that knows nothing but the API's URL (the MCP authorization flow)
# --------------------------------------------------------------------------------------


def test_a_client_finds_its_way_from_a_401_to_an_accepted_token(ec_key: SigningKey) -> None:
    """What an MCP client does: call, read the challenge, fetch the document it names,
    check it (RFC 9728 §3.3), get a token from a listed server for the scopes it
    lists, call again; on a 403, step up to the scopes the challenge names."""
    guard = build_guard(
        issuers=[issuer_of([ec_key])],
        routes={"/v1": Rule(scopes=["orders.read"]), "/v1/orders/refunds": Rule(scopes=["orders.refund"])},
        mount="/v1",
        resource_metadata=metadata(),
    )
    client = Client(DispatcherMiddleware(echo_app, {"/v1": guard}), use_cookies=False)

    first = client.get(f"{RESOURCE}/orders")
    assert first.status_code == 401
    challenge = WWWAuthenticate.from_header(first.headers["WWW-Authenticate"])
    assert challenge.type == "bearer"
    url = challenge["resource_metadata"]

    fetched = client.get(url)
    assert fetched.status_code == 200
    assert fetched.mimetype == "application/json"
    document = json.loads(fetched.data)
    assert document["resource"] == RESOURCE  # §3.3: the URL the client was given
    assert "header" in document["bearer_methods_supported"]
    issuer = document["authorization_servers"][0]
    token = ec_key.token(iss=issuer, scope=" ".join(document["scopes_supported"][:1]))

    assert client.get(f"{RESOURCE}/orders", headers=bearer(token)).status_code == 200
    refused = client.get(f"{RESOURCE}/orders/refunds", headers=bearer(token))
    assert refused.status_code == 403
    step_up = WWWAuthenticate.from_header(refused.headers["WWW-Authenticate"])
    assert step_up["error"] == "insufficient_scope"
    assert step_up["resource_metadata"] == url
    better = ec_key.token(iss=issuer, scope=step_up["scope"])
    assert client.get(f"{RESOURCE}/orders/refunds", headers=bearer(better)).status_code == 200


# --------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------


def test_from_config_reads_the_table(ec_key: SigningKey, tmp_path: Path) -> None:
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [ec_key.public_jwk()]}))
    (tmp_path / "guard.toml").write_text(
        f"""
        [[issuers]]
        issuer = "{ISSUER}"
        keys_file = "jwks.json"

        [routes]
        "/v1" = {{ scopes = ["orders.read"] }}

        [resource_metadata]
        resource = "{RESOURCE}"
        resource_name = "Orders API"
        max_age = 600

        [resource_metadata.extra]
        resource_tos_uri = "https://example.com/tos"
        """.replace("\n        ", "\n")
    )
    client = Client(from_config(echo_app, tmp_path / "guard.toml"))
    response = client.get(f"{WELL_KNOWN}/v1")
    assert json.loads(response.data) == {
        "resource": RESOURCE,
        "authorization_servers": [ISSUER],
        "scopes_supported": ["orders.read"],
        "bearer_methods_supported": ["header"],
        "dpop_signing_alg_values_supported": DPOP_ALGS,
        "resource_name": "Orders API",
        "resource_tos_uri": "https://example.com/tos",
    }
    assert response.headers["Cache-Control"] == "public, max-age=600"


@pytest.mark.parametrize(
    ("table", "key"),
    [
        pytest.param({}, "resource_metadata.resource", id="resource-required"),
        pytest.param({"resource": 42}, "resource_metadata.resource", id="resource-not-str"),
        pytest.param({"resource": "api.example.com/v1"}, "resource_metadata.resource", id="not-absolute"),
        pytest.param({"resource": "http://api.example.com/v1"}, "resource_metadata.resource", id="http"),
        pytest.param({"resource": "ftp://api.example.com/v1"}, "resource_metadata.resource", id="scheme"),
        pytest.param({"resource": "https://api.example.com/v1?x=1"}, "resource_metadata.resource", id="query"),
        pytest.param({"resource": "https://api.example.com/v1?"}, "resource_metadata.resource", id="empty-query"),
        pytest.param({"resource": "https://api.example.com/v1#x"}, "resource_metadata.resource", id="fragment"),
        pytest.param({"resource": "https://u:p@api.example.com/v1"}, "resource_metadata.resource", id="userinfo"),
        pytest.param({"resource": "https://API.example.com/v1"}, "resource_metadata.resource", id="host-case"),
        pytest.param({"resource": "https://api.example.com:443/v1"}, "resource_metadata.resource", id="default-port"),
        pytest.param({"resource": "https://api.example.com:99999/v1"}, "resource_metadata.resource", id="bad-port"),
        pytest.param({"resource": "https://api.example.com/a/../v1"}, "resource_metadata.resource", id="dot-segment"),
        pytest.param({"resource": "https://api.example.com//v1"}, "resource_metadata.resource", id="double-slash"),
        pytest.param({"resource": "https://api.example.com/v%31"}, "resource_metadata.resource", id="percent"),
        pytest.param({"resource": 'https://api.example.com/v"1'}, "resource_metadata.resource", id="quote"),
        pytest.param({"resource": "https://api.example.com/v\\1"}, "resource_metadata.resource", id="backslash"),
        pytest.param({"resource": "https://api.example.com/vé"}, "resource_metadata.resource", id="non-ascii"),
        pytest.param({"resource": "https://api.example.com/v 1"}, "resource_metadata.resource", id="space"),
        pytest.param(
            {"authorization_servers": "https://as.example.com"},
            "resource_metadata.authorization_servers",
            id="servers-string",
        ),
        pytest.param(
            {"authorization_servers": ["http://as.example.com"]},
            "resource_metadata.authorization_servers[0]",
            id="servers-http",
        ),
        pytest.param(
            {"authorization_servers": ["https://as.example.com", 'https://as"']},
            "resource_metadata.authorization_servers[1]",
            id="servers-quote",
        ),
        pytest.param({"scopes_supported": "a b"}, "resource_metadata.scopes_supported", id="scopes-string"),
        pytest.param({"scopes_supported": ["a b"]}, "resource_metadata.scopes_supported", id="scopes-two-in-one"),
        pytest.param({"scopes_supported": ['a"b']}, "resource_metadata.scopes_supported", id="scopes-quote"),
        pytest.param({"resource_name": ""}, "resource_metadata.resource_name", id="name-empty"),
        pytest.param({"resource_name": ["x"]}, "resource_metadata.resource_name", id="name-list"),
        pytest.param(
            {"resource_documentation": "docs.example.com"},
            "resource_metadata.resource_documentation",
            id="documentation-not-url",
        ),
        pytest.param({"extra": ["x"]}, "resource_metadata.extra", id="extra-not-table"),
        pytest.param(
            {"extra": {"resource": "https://other.example.com"}},
            "resource_metadata.extra.resource",
            id="extra-overrides-resource",
        ),
        pytest.param(
            {"extra": {"bearer_methods_supported": ["query"]}},
            "resource_metadata.extra.bearer_methods_supported",
            id="extra-overrides-derived",
        ),
        pytest.param({"extra": {"x": float("nan")}}, "resource_metadata.extra.x", id="extra-not-json"),
        pytest.param({"max_age": -1}, "resource_metadata.max_age", id="max-age-negative"),
        pytest.param({"max_age": "3600"}, "resource_metadata.max_age", id="max-age-string"),
        pytest.param({"resourse": RESOURCE}, "resource_metadata.resourse", id="unknown-key"),
    ],
)
def test_config_errors_name_the_key(ec_key: SigningKey, table: dict[str, Any], key: str) -> None:
    if "resource" not in table and key != "resource_metadata.resource":
        table = {"resource": RESOURCE, **table}
    config = {"issuers": [{"issuer": ISSUER, "keys": [ec_key.public_jwk()]}], "resource_metadata": table}
    with pytest.raises(ConfigError) as caught:
        from_config(echo_app, config)
    assert caught.value.key == key


def test_the_readme_example_is_what_a_client_sees(ec_key: SigningKey, tmp_path: Path) -> None:
    """The README's worked example, read out of README.md: its TOML, run, answers
    exactly the challenges and the document the README shows."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Discovery by clients (RFC 9728)") :]
    section = section[: section.index("\n## ", 1)]
    (toml,) = re.findall(r"```toml\n(.*?)```", section, re.DOTALL)
    challenges = re.findall(r"^WWW-Authenticate: (.*)$", section, re.MULTILINE)
    shown = json.loads(re.search(r"^(\{.*?\})$", section, re.MULTILINE | re.DOTALL).group(1))  # type: ignore[union-attr]
    (tmp_path / "guard.toml").write_text(toml)
    config = load_config(tmp_path / "guard.toml")
    (issuer,) = config["issuers"]
    del issuer["discovery"]  # the README names the real server: the test's key instead
    issuer["keys"] = [ec_key.public_jwk()]
    client = Client(from_config(echo_app, config), use_cookies=False)

    assert client.get("https://api.example.com/v1/orders").headers["WWW-Authenticate"] == challenges[0]
    document = client.get("https://api.example.com/.well-known/oauth-protected-resource/v1")
    assert json.loads(document.data) == shown
    token = ec_key.token(iss=shown["authorization_servers"][0], aud=shown["resource"], scope="orders.read")
    refused = client.get("https://api.example.com/v1/orders/refunds", headers=bearer(token))
    assert refused.headers["WWW-Authenticate"] == challenges[1]


def test_the_guard_wants_a_settings_object(ec_key: SigningKey) -> None:
    with pytest.raises(ConfigError) as caught:
        build_guard(issuers=[issuer_of([ec_key])], resource_metadata={"resource": RESOURCE})
    assert caught.value.key == "resource_metadata"
