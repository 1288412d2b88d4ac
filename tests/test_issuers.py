"""Issuers and where their keys come from: ``wsgi_jwt_guard.issuers``.

An ``Issuer`` only stores and validates its fields; :func:`key_source` (called
by the verifier when the guard is built) reads key files and sets up fetching.
How verified tokens then behave is in ``test_verification.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from tests.helpers import AUDIENCE, ISSUER, SigningKey, echo_app
from wsgi_jwt_guard import ConfigError, Issuer, JWTGuard, from_config
from wsgi_jwt_guard.issuers import key_source
from wsgi_jwt_guard.jwks import JWKSClient
from wsgi_jwt_guard.keys import KeySet
from wsgi_jwt_guard.refresh import RefreshPolicy
from wsgi_jwt_guard.verification import Verifier

JWKS = "https://auth.example.test/jwks"


# --- what an Issuer validates when built ---------------------------------------------


# A valid public key, for the cases where the keys are not the point.
JWK = SigningKey.ec().public_jwk()


@pytest.mark.parametrize(
    ("options", "key"),
    [
        pytest.param({"keys": [JWK], "algorithms": ["none"]}, "algorithms", id="alg-none"),
        pytest.param({"keys": [JWK], "algorithms": ["ES256", "HS256"]}, "algorithms", id="alg-hs256"),
        pytest.param({"keys": [JWK], "algorithms": ["PS1024"]}, "algorithms", id="alg-unknown"),
        pytest.param({"keys": [JWK], "algorithms": ["Ed25519"]}, "algorithms", id="alg-curve-name"),
        pytest.param({"keys": [JWK], "algorithms": ["es256"]}, "algorithms", id="alg-lowercase"),
        pytest.param({"keys": [JWK], "algorithms": []}, "algorithms", id="alg-empty"),
        pytest.param({"keys": [JWK], "algorithms": "ES256"}, "algorithms", id="alg-string"),
        pytest.param({}, "issuer", id="no-key-source"),
        pytest.param({"jwks_uri": JWKS, "keys": [JWK]}, "jwks_uri", id="jwks-uri-and-keys"),
        pytest.param({"jwks_uri": JWKS, "pem": "-----BEGIN"}, "jwks_uri", id="jwks-uri-and-pem"),
        pytest.param({"jwks_uri": JWKS, "keys_file": "k.json"}, "jwks_uri", id="jwks-uri-and-file"),
        pytest.param({"jwks_uri": "http://auth.example.test/jwks"}, "jwks_uri", id="http-jwks-uri"),
        pytest.param({"jwks_uri": "http://localhost.example.test/jwks"}, "jwks_uri", id="http-lookalike-host"),
        pytest.param({"jwks_uri": "ftp://auth.example.test/jwks"}, "jwks_uri", id="ftp-jwks-uri"),
        pytest.param({"jwks_uri": "/jwks.json"}, "jwks_uri", id="relative-jwks-uri"),
        pytest.param({"jwks_uri": 42}, "jwks_uri", id="jwks-uri-not-a-string"),
        pytest.param({"keys": [JWK], "leeway": 301}, "leeway", id="leeway-too-large"),
        pytest.param({"keys": [JWK], "leeway": -1}, "leeway", id="leeway-negative"),
        pytest.param({"keys": [JWK], "leeway": "30"}, "leeway", id="leeway-string"),
        pytest.param({"keys": [JWK], "leeway": True}, "leeway", id="leeway-bool"),
        pytest.param({"keys": [JWK], "audience": ""}, "audience", id="audience-empty-string"),
        pytest.param({"keys": [JWK], "token_types": ""}, "token_types", id="token-types-empty"),
        pytest.param({"keys": [JWK], "required_claims": "ent"}, "required_claims", id="required-claims-string"),
        pytest.param({"jwks_uri": "http://auth.example.test/jwks", "insecure_http": "false"}, "insecure_http", id="insecure-http-string-is-not-true"),
        pytest.param({"discovery": "true"}, "discovery", id="discovery-string"),
        pytest.param({"keys": JWK}, "keys", id="keys-one-object"),
        pytest.param({"keys": ["not a jwk"]}, "keys", id="keys-strings"),
        pytest.param({"keys_file": 3}, "keys_file", id="keys-file-not-a-string"),
        pytest.param({"keys_file": ""}, "keys_file", id="keys-file-empty"),
        pytest.param({"pem": b"-----BEGIN PUBLIC KEY-----"}, "pem", id="pem-bytes"),
        pytest.param({"pem_file": ["a.pem"]}, "pem_file", id="pem-file-list"),
        pytest.param({"jwks_uri": JWKS, "ca_bundle": 1}, "ca_bundle", id="ca-bundle-not-a-string"),
        pytest.param({"jwks_uri": JWKS, "jwks_refresh": 30}, "jwks_refresh", id="refresh-not-a-table"),
        pytest.param({"jwks_uri": JWKS, "jwks_refresh": {"cooldwn": 5}}, "jwks_refresh.cooldwn", id="refresh-unknown"),
        pytest.param({"keys": [JWK], "required_claims": ["a..b"]}, "required_claims[0]", id="required-claim-path-bad"),
        pytest.param({"keys": [JWK], "required_claims": {"typ": None}}, "required_claims.'typ'", id="required-value-null"),
        pytest.param({"keys": [JWK], "required_claims": {"a..b": "x"}}, "required_claims.'a..b'", id="required-value-path-bad"),
        pytest.param({"keys": [JWK], "scope_claims": ["scp", ""]}, "scope_claims", id="scope-claims-empty"),
        pytest.param({"keys": [JWK], "scope_claims": ['"x']}, "scope_claims[0]", id="scope-claim-path-bad"),
        pytest.param({"keys": [JWK], "tenants": ["t1"]}, "issuer", id="tenants-without-template"),
        pytest.param({"keys": [JWK], "tenant_claim": "tid"}, "tenant_claim", id="tenant-claim-without-tenants"),
    ],
)
def test_mistakes_name_the_field(options: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Issuer(ISSUER, **options)
    assert caught.value.key == key
    assert str(caught.value).startswith(f"{key}: ")


@pytest.mark.parametrize(
    "issuer",
    [pytest.param("", id="empty"), pytest.param(None, id="none"), pytest.param(1, id="number")],
)
def test_the_issuer_url_is_required(issuer: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        Issuer(issuer, jwks_uri=JWKS)
    assert caught.value.key == "issuer"


def test_hs256_points_to_service_tokens() -> None:
    with pytest.raises(ConfigError, match=r"\[service_tokens\]"):
        Issuer(ISSUER, keys=[JWK], algorithms=["HS256"])


@pytest.mark.parametrize(
    ("options", "attribute", "stored"),
    [
        pytest.param({"audience": "backstage"}, "audience", ("backstage",), id="one-audience"),
        pytest.param({"audience": ["a", "b"]}, "audience", ("a", "b"), id="audiences"),
        pytest.param({"algorithms": ["ES256"]}, "algorithms", ("ES256",), id="algorithms"),
        pytest.param({"token_types": "application/AT+JWT"}, "token_types", ("at+jwt",), id="media-type"),
        pytest.param({"jwks_allowed_hosts": "keys.example.test"}, "jwks_allowed_hosts", ("keys.example.test",), id="one-host"),
        pytest.param({"leeway": 300}, "leeway", 300, id="leeway-limit"),
        pytest.param({}, "jwks_refresh", RefreshPolicy(), id="default-refresh"),
        pytest.param({"jwks_refresh": {"cooldown": 5}}, "jwks_refresh", RefreshPolicy(cooldown=5), id="refresh-table"),
    ],
)
def test_values_are_stored_normalized(options: dict[str, Any], attribute: str, stored: Any) -> None:
    assert getattr(Issuer(ISSUER, jwks_uri=JWKS, **options), attribute) == stored


@pytest.mark.parametrize(
    "uri",
    [
        pytest.param("https://auth.example.test/jwks", id="https"),
        pytest.param("http://127.0.0.1:8080/jwks", id="http-loopback-ip"),
        pytest.param("http://localhost:8080/jwks", id="http-localhost"),
        pytest.param("http://[::1]:8080/jwks", id="http-loopback-ipv6"),
    ],
)
def test_jwks_uri_accepted(uri: str) -> None:
    assert Issuer(ISSUER, jwks_uri=uri).jwks_uri == uri


def test_insecure_http_allows_http_jwks_uri() -> None:
    uri = "http://auth.example.test/jwks"
    assert Issuer(ISSUER, jwks_uri=uri, insecure_http=True).jwks_uri == uri


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"keys_file": "/nonexistent/keys.json"}, id="keys-file"),
        pytest.param({"pem_file": "/nonexistent/key.pem"}, id="pem-file"),
        pytest.param({"jwks_uri": JWKS, "ca_bundle": "/nonexistent/ca.pem"}, id="ca-bundle"),
        pytest.param({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}, id="keys-parsed-later"),
    ],
)
def test_building_an_issuer_reads_no_file(options: dict[str, Any]) -> None:
    """A configuration object stores and validates; the loader reads."""
    issuer = Issuer(ISSUER, **options)
    with pytest.raises(ConfigError):
        key_source(issuer)


# --- the loader: key_source ----------------------------------------------------------


def _private_pem(key: SigningKey) -> str:
    return key.private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _loader_cases(tmp: Path, ec_key: SigningKey, rsa_key: SigningKey) -> dict[str, Any]:
    not_json = tmp / "not.json"
    not_json.write_text("{keys: [")
    other_pem = tmp / "other.pem"
    other_pem.write_text(SigningKey.ec("ES256", kid=None).public_pem())
    jwk = ec_key.public_jwk()
    return {
        "keys-file-missing": ({"keys_file": str(tmp / "missing.json")}, "keys_file", "cannot read"),
        "keys-file-a-directory": ({"keys_file": str(tmp)}, "keys_file", "cannot read"),
        "keys-file-not-json": ({"keys_file": str(not_json)}, "keys_file", "is not JSON"),
        "pem-file-missing": ({"pem_file": str(tmp / "missing.pem")}, "pem_file", "cannot read"),
        "pem-private-key": ({"pem": _private_pem(ec_key)}, "pem", "private key"),
        "pem-garbage": ({"pem": "not a pem"}, "pem", "cannot be loaded"),
        "keys-bad-key": ({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}, "keys", ""),
        "keys-private-key": ({"keys": [ec_key.public_jwk(d="AAAA")]}, "keys", ""),
        "keys-duplicate-kid": ({"keys": [jwk, jwk]}, "keys", ""),
        "keys-not-allowed-alg": ({"keys": [rsa_key.public_jwk()], "algorithms": ["ES256"]}, "keys", ""),
        "two-pems-one-alg": (
            {"pem": ec_key.public_pem(), "pem_file": str(other_pem), "algorithms": ["ES256"]},
            "keys",
            "no kid, for ES256",
        ),
        "ca-bundle-missing": ({"jwks_uri": JWKS, "ca_bundle": str(tmp / "no")}, "ca_bundle", "no such file"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "keys-file-missing",
        "keys-file-a-directory",
        "keys-file-not-json",
        "pem-file-missing",
        "pem-private-key",
        "pem-garbage",
        "keys-bad-key",
        "keys-private-key",
        "keys-duplicate-kid",
        "keys-not-allowed-alg",
        "two-pems-one-alg",
        "ca-bundle-missing",
    ],
)
def test_loading_mistakes_name_the_field(
    tmp_path: Path, ec_key: SigningKey, rsa_key: SigningKey, case: str
) -> None:
    options, key, message = _loader_cases(tmp_path, ec_key, rsa_key)[case]
    issuer = Issuer(ISSUER, **options)
    with pytest.raises(ConfigError) as caught:
        key_source(issuer)
    assert caught.value.key == key
    assert message in caught.value.message


def test_the_guard_names_the_issuer_whose_keys_fail(ec_key: SigningKey, tmp_path: Path) -> None:
    good = Issuer("https://good.example.test", keys=[ec_key.public_jwk()])
    bad = Issuer(ISSUER, keys_file=str(tmp_path / "keys.json"))
    with pytest.raises(ConfigError) as caught:
        JWTGuard(echo_app, issuers=[good, bad])
    assert caught.value.key == "issuers[1].keys_file"
    assert str(caught.value) == (
        f"issuers[1].keys_file: cannot read {str(tmp_path / 'keys.json')!r}: "
        "No such file or directory"
    )


@pytest.mark.parametrize("field", ["keys_file", "pem_file", "ca_bundle"])
def test_a_relative_path_is_named_by_the_absolute_path_tried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, field: str
) -> None:
    monkeypatch.chdir(tmp_path)
    options = {field: "missing"} if field != "ca_bundle" else {"jwks_uri": JWKS, field: "missing"}
    with pytest.raises(ConfigError) as caught:
        key_source(Issuer(ISSUER, **options))
    assert caught.value.key == field
    assert repr(str(tmp_path / "missing")) in caught.value.message


@pytest.mark.parametrize("document", ["jwks", "single-jwk"])
def test_keys_file_holds_a_jwks_or_one_jwk(
    tmp_path: Path, ec_key: SigningKey, document: str
) -> None:
    jwk = ec_key.public_jwk()
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keys": [jwk]} if document == "jwks" else jwk))
    source = key_source(Issuer(ISSUER, keys_file=str(path)))
    assert isinstance(source, KeySet)
    assert source.find("ec-1", "ES256").kid == "ec-1"


def test_static_keys_of_every_kind_combine(
    tmp_path: Path, ec_key: SigningKey, rsa_key: SigningKey
) -> None:
    pem_key = SigningKey.ec("ES384", kid=None)
    pem_path = tmp_path / "key.pem"
    pem_path.write_text(pem_key.public_pem())
    keys_path = tmp_path / "keys.json"
    keys_path.write_text(json.dumps({"keys": [rsa_key.public_jwk()]}))
    issuer = Issuer(
        ISSUER,
        keys=[ec_key.public_jwk()],
        keys_file=str(keys_path),
        pem_file=str(pem_path),
        algorithms=["ES256", "RS256", "ES384"],
    )
    source = key_source(issuer)
    assert source.find("ec-1", "ES256").algorithm == "ES256"
    assert source.find("rsa-1", "RS256").algorithm == "RS256"
    assert source.find(None, "ES384").algorithm == "ES384"


def test_the_key_files_are_read_when_loaded_not_when_configured(
    tmp_path: Path, ec_key: SigningKey
) -> None:
    path = tmp_path / "keys.json"
    issuer = Issuer(ISSUER, keys_file=str(path))  # the file does not exist yet
    path.write_text(json.dumps({"keys": [ec_key.public_jwk()]}))
    assert isinstance(key_source(issuer), KeySet)


def test_the_verifiers_clock_reaches_the_jwks_client() -> None:
    def clock() -> float:
        return 1_700_000_000.0

    verifier = Verifier([Issuer(ISSUER, jwks_uri=JWKS)], clock=clock)
    source = verifier.key_sources[ISSUER]
    assert isinstance(source, JWKSClient)
    assert source.clock is clock


def test_the_issuer_method_is_the_loader(ec_key: SigningKey) -> None:
    issuer = Issuer(ISSUER, keys=[ec_key.public_jwk()], audience=AUDIENCE)
    assert isinstance(issuer.key_source(), KeySet)


# --- the refresh policy an issuer embeds (issue 11) ------------------------------------


def test_the_default_policy_is_shared_not_repeated() -> None:
    issuer = Issuer(ISSUER, jwks_uri=JWKS)
    assert issuer.jwks_refresh == RefreshPolicy()


@pytest.mark.parametrize(
    "refresh",
    [
        pytest.param(RefreshPolicy(cooldown=5, prefetch=False), id="object"),
        pytest.param({"cooldown": 5}, id="mapping"),
    ],
)
def test_the_client_gets_the_issuers_policy(refresh: Any) -> None:
    issuer = Issuer(ISSUER, jwks_uri=JWKS, jwks_refresh=refresh)
    assert issuer.jwks_refresh == RefreshPolicy(cooldown=5)
    source = key_source(issuer)
    assert isinstance(source, JWKSClient)
    assert source.policy is issuer.jwks_refresh


def test_static_keys_need_no_policy(ec_key: SigningKey) -> None:
    issuer = Issuer(ISSUER, keys=[ec_key.public_jwk()], jwks_refresh={"prefetch": True})
    assert not isinstance(key_source(issuer), JWKSClient)


@pytest.mark.parametrize(
    ("refresh", "key"),
    [
        pytest.param({"cooldwn": 5}, "issuers[0].jwks_refresh.cooldwn", id="unknown-setting"),
        pytest.param({"cooldown": -5}, "issuers[0].jwks_refresh.cooldown", id="bad-value"),
        pytest.param(
            {"min_ttl": 10, "max_ttl": 5}, "issuers[0].jwks_refresh.min_ttl", id="inconsistent"
        ),
        pytest.param(30, "issuers[0].jwks_refresh", id="not-a-table"),
    ],
)
def test_configuration_mistakes_name_the_key(refresh: Any, key: str) -> None:
    config = {"issuers": [{"issuer": ISSUER, "jwks_uri": JWKS, "jwks_refresh": refresh}]}
    with pytest.raises(ConfigError) as caught:
        from_config(echo_app, config)
    assert caught.value.key == key


def test_configuration_builds_the_policy() -> None:
    refresh = {"ttl": 300, "cooldown": 10, "retry_max": 5, "prefetch": False}
    config = {"issuers": [{"issuer": ISSUER, "jwks_uri": JWKS, "jwks_refresh": refresh}]}
    guard = from_config(echo_app, config)
    source = guard.verifier.key_sources[ISSUER]
    assert isinstance(source, JWKSClient)
    assert source.policy == RefreshPolicy(ttl=300, cooldown=10, retry_max=5)


# --- issuer templates: one issuer, many tenants --------------------------------------

ENTRA = "https://login.microsoftonline.com/{tenant}/v2.0"
ENTRA_KEYS = "https://login.microsoftonline.com/common/discovery/v2.0/keys"
TENANT_A = "9188040d-6c67-4c5b-b112-36a304b66dad"
TENANT_B = "72f988bf-86f1-41af-91ab-2d7cd011db47"


def test_a_template_accepts_each_listed_tenant() -> None:
    issuer = Issuer(ENTRA, tenants=[TENANT_A, TENANT_B], jwks_uri=ENTRA_KEYS, tenant_claim="tid")
    assert issuer.concrete_issuers == (
        (f"https://login.microsoftonline.com/{TENANT_A}/v2.0", TENANT_A),
        (f"https://login.microsoftonline.com/{TENANT_B}/v2.0", TENANT_B),
    )
    assert Issuer(ISSUER, keys=[JWK]).concrete_issuers == ((ISSUER, None),)


@pytest.mark.parametrize(
    ("issuer", "options", "key"),
    [
        pytest.param(ENTRA, {}, "tenants", id="template-without-tenants"),
        pytest.param(ENTRA, {"tenants": []}, "tenants", id="empty-tenants"),
        pytest.param(ENTRA, {"tenants": TENANT_A}, "tenants", id="tenants-string"),
        pytest.param(ENTRA, {"tenants": [TENANT_A, TENANT_A]}, "tenants", id="tenant-twice"),
        pytest.param(ENTRA, {"tenants": ["common"]}, "tenants[0]", id="common-alias"),
        pytest.param(ENTRA, {"tenants": [TENANT_A, "Organizations"]}, "tenants[1]", id="alias"),
        pytest.param(ENTRA, {"tenants": ["a/b"]}, "tenants[0]", id="tenant-slash"),
        pytest.param(ENTRA, {"tenants": ["a b"]}, "tenants[0]", id="tenant-space"),
        pytest.param(ENTRA, {"tenants": ["*"]}, None, id="star-is-a-literal-tenant"),
        pytest.param(
            "https://x.example/{tenant}/{tenant}", {"tenants": ["a"]}, "issuer", id="two-placeholders"
        ),
        pytest.param("https://x.example/{tid}", {"tenants": ["a"]}, "issuer", id="other-placeholder"),
        pytest.param("https://x.example/{tid}", {}, "tenants", id="braces-without-tenants"),
        pytest.param(
            ENTRA, {"tenants": [TENANT_A], "tenant_claim": ""}, "tenant_claim", id="tenant-claim-empty"
        ),
    ],
)
def test_template_mistakes_name_the_field(issuer: str, options: dict[str, Any], key: str | None) -> None:
    if key is None:
        Issuer(issuer, jwks_uri=ENTRA_KEYS, **options)
        return
    with pytest.raises(ConfigError) as caught:
        Issuer(issuer, jwks_uri=ENTRA_KEYS, **options)
    assert caught.value.key == key


def test_a_template_shares_one_key_source() -> None:
    verifier = Verifier([Issuer(ENTRA, tenants=[TENANT_A, TENANT_B], jwks_uri=ENTRA_KEYS)])
    assert list(verifier.key_sources) == [ENTRA]


def test_a_template_with_discovery_discovers_per_tenant() -> None:
    verifier = Verifier([Issuer(ENTRA, tenants=[TENANT_A, TENANT_B], discovery=True)])
    assert list(verifier.key_sources) == [
        f"https://login.microsoftonline.com/{TENANT_A}/v2.0",
        f"https://login.microsoftonline.com/{TENANT_B}/v2.0",
    ]


def test_a_tenant_issuer_configured_twice_is_refused() -> None:
    concrete = Issuer(f"https://login.microsoftonline.com/{TENANT_B}/v2.0", jwks_uri=ENTRA_KEYS)
    with pytest.raises(ConfigError) as caught:
        Verifier([Issuer(ENTRA, tenants=[TENANT_A, TENANT_B], jwks_uri=ENTRA_KEYS), concrete])
    assert caught.value.key == "issuers[1].issuer"


def test_templates_come_from_toml(tmp_path: Path) -> None:
    (tmp_path / "guard.toml").write_text(
        f"""
[[issuers]]
issuer = "{ENTRA}"
tenants = ["{TENANT_A}"]
tenant_claim = "tid"
jwks_uri = "{ENTRA_KEYS}"
scope_claims = ["scp"]
required_claims = ["roles", "xms.nested"]
"""
    )
    guard = from_config(echo_app, tmp_path / "guard.toml")
    assert guard is not None


def test_an_issuer_is_frozen() -> None:
    issuer = Issuer(ISSUER, jwks_uri=JWKS)
    with pytest.raises(AttributeError):
        issuer.jwks_uri = "https://evil.example.test/jwks"  # type: ignore[misc]
