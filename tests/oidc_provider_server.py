"""A real OAuth 2.0 authorization server (``tests/oidc_provider/``) started by the suite.

It is panva's ``oidc-provider`` (npm), the certified OpenID Connect server,
configured here and started with ``node server.js`` on a free ``127.0.0.1``
port. Everything is in memory, so every start has fresh keys and no tokens:
see ``tests/oidc_provider/README.md``.

    with running_oidc_provider() as provider:
        provider.jwt_access_token()                 # JWT (RFC 9068), aud JWT_RESOURCE
        provider.opaque_access_token()              # opaque, aud OPAQUE_RESOURCE
        provider.introspect(token)                  # its RFC 7662 answer, as the guard's client
        provider.revoke(token)                      # RFC 7009, as the token's client
        bound = provider.dpop_token()               # DPoP-bound JWT (cnf.jkt) + the client's key
        bound.proof("GET", "http://127.0.0.1/api")  # a DPoP proof for a resource server
        bound.client_proof("GET", "http://127.0.0.1/api", nonce=...)  # the same, by npm dpop
        certificate = client_certificate()          # a self-signed client certificate
        provider.certificate_bound_token(certificate.pem)   # cnf["x5t#S256"]

Clients (all ``client_secret_basic``): :data:`APP` gets tokens by client
credentials (scopes ``read``, ``write``); :data:`RESOURCE_SERVER` is the
guard's introspection client (it may introspect any token); :data:`MTLS_APP`
gets certificate-bound tokens only (the certificate comes from the
``x-client-cert`` header, URL-encoded PEM, since the server is plain HTTP).

Its ``node_modules`` come from ``npm ci`` (``.ci/run`` runs it); without them
the fixture fails, naming the command, since CI runs every test.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.helpers import DPoPClient, b64url, self_signed_certificate
from tests.processes import ROOT, Process, free_port

PROVIDER_DIR = ROOT / "tests" / "oidc_provider"
READY_LINE = r"OIDC PROVIDER READY (http://\S+)"
# Startup takes about 0.5 s; the margin is for a loaded CI host.
START_TIMEOUT = 60.0
TIMEOUT = 10.0
#: The header the server reads a client certificate from (URL-encoded PEM).
CERT_HEADER = "x-client-cert"

#: The resource (``aud``) whose access tokens are JWTs (``typ: at+jwt``, ES256).
JWT_RESOURCE = "https://api.example.test/jwt"
#: The resource whose access tokens are opaque (only introspection tells what they grant).
OPAQUE_RESOURCE = "https://api.example.test/opaque"
SCOPES = ("read", "write")


@dataclass(frozen=True)
class ClientCredentials:
    """A registered client's ID and secret (``client_secret_basic``)."""

    client_id: str
    client_secret: str

    @property
    def auth(self) -> tuple[str, str]:
        """For ``requests``' ``auth=``: HTTP Basic with the ID and secret."""
        return (self.client_id, self.client_secret)


#: The client that asks for tokens (client credentials grant).
APP = ClientCredentials("app", "app-secret-" + "a" * 32)
#: The guard's own client: the resource server that introspects tokens.
RESOURCE_SERVER = ClientCredentials("resource-server", "rs-secret-" + "r" * 32)
#: A client whose tokens are always bound to its TLS client certificate.
MTLS_APP = ClientCredentials("mtls-app", "mtls-secret-" + "m" * 32)


def default_clients() -> list[dict[str, Any]]:
    """The clients' metadata (RFC 7591 names) as the server registers them."""
    common = {"grant_types": ["client_credentials"], "response_types": [], "redirect_uris": []}
    return [
        {**common, "client_id": APP.client_id, "client_secret": APP.client_secret,
         "scope": " ".join(SCOPES)},
        {"grant_types": [], "response_types": [], "redirect_uris": [],
         "client_id": RESOURCE_SERVER.client_id, "client_secret": RESOURCE_SERVER.client_secret},
        {**common, "client_id": MTLS_APP.client_id, "client_secret": MTLS_APP.client_secret,
         "scope": " ".join(SCOPES), "tls_client_certificate_bound_access_tokens": True},
    ]  # fmt: skip


def default_resources(ttl: int = 300) -> dict[str, dict[str, Any]]:
    """The resource servers the provider issues for: one JWT, one opaque."""
    scope = " ".join(SCOPES)
    return {
        JWT_RESOURCE: {"format": "jwt", "scope": scope, "ttl": ttl, "alg": "ES256"},
        OPAQUE_RESOURCE: {"format": "opaque", "scope": scope, "ttl": ttl},
    }


class ProviderNotInstalled(AssertionError):
    """``tests/oidc_provider/node_modules`` is missing: a failure, never a skip."""


@dataclass(frozen=True)
class ClientCertificate:
    """A self-signed TLS client certificate and its key, for certificate-bound tokens."""

    pem: str
    key_pem: str
    #: RFC 8705's thumbprint: base64url SHA-256 of the DER certificate (``cnf["x5t#S256"]``).
    thumbprint: str


def client_certificate(name: str = "mtls-app") -> ClientCertificate:
    """A new P-256 key and a self-signed certificate for it, valid from yesterday."""
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = self_signed_certificate(key, name=name)
    der = certificate.public_bytes(serialization.Encoding.DER)
    return ClientCertificate(
        pem=certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii"),
        thumbprint=b64url(hashlib.sha256(der).digest()),
    )


@dataclass(frozen=True)
class DPoPBoundToken:
    """A DPoP-bound access token and the client key it is bound to."""

    #: The token endpoint's answer (``token_type`` is ``DPoP``).
    response: Mapping[str, Any]
    #: The client's key pair as JWKs (``alg`` included); the private one signs proofs.
    private_jwk: Mapping[str, Any]
    public_jwk: Mapping[str, Any]

    @property
    def access_token(self) -> str:
        return str(self.response["access_token"])

    @property
    def jkt(self) -> str:
        """The thumbprint of the client's key, as the token's ``cnf.jkt`` must hold."""
        return self.client.jkt

    @property
    def client(self) -> DPoPClient:
        """The client of this token's key (PyJWT), which signs proofs in Python."""
        return DPoPClient.from_private_jwk(self.private_jwk)

    def proof(
        self, method: str, url: str, *, access_token: str | None = None, **claims: Any
    ) -> str:
        """A DPoP proof (RFC 9449 §4.2) for a request to a resource server.

        ``ath`` is the hash of :attr:`access_token` unless ``access_token`` names
        another (``""`` for none); ``claims`` add or replace claims (``iat=...``).
        """
        token = self.access_token if access_token is None else access_token
        return self.client.proof(method, url, token or None, **claims)

    def client_proof(
        self,
        method: str,
        url: str,
        *,
        nonce: str | None = None,
        iat: int | None = None,
        access_token: str | None = None,
    ) -> str:
        """A DPoP proof made by the client library, npm ``dpop`` (``dpop_token.js
        proof``), with :attr:`access_token`'s ``ath`` (or ``access_token``'s);
        ``iat`` sets the client's clock, since the library takes no ``iat``."""
        request = {
            "private_jwk": dict(self.private_jwk), "public_jwk": dict(self.public_jwk),
            "htm": method, "htu": url, "nonce": nonce, "iat": iat,
            "access_token": self.access_token if access_token is None else access_token,
        }  # fmt: skip
        command = ["node", "dpop_token.js", "proof", json.dumps(request)]
        done = subprocess.run(
            command, cwd=PROVIDER_DIR, capture_output=True, text=True, timeout=60, check=False
        )
        if done.returncode != 0:
            raise AssertionError(f"dpop_token.js proof failed: {done.stderr}{done.stdout}")
        return done.stdout.strip()


@dataclass(frozen=True)
class AuthorizationServer:
    """A running oidc-provider: its endpoints (from its discovery document) and tokens."""

    issuer: str
    process: Process
    metadata: Mapping[str, Any] = field(repr=False)

    @property
    def jwks_uri(self) -> str:
        return str(self.metadata["jwks_uri"])

    @property
    def token_endpoint(self) -> str:
        return str(self.metadata["token_endpoint"])

    @property
    def introspection_endpoint(self) -> str:
        return str(self.metadata["introspection_endpoint"])

    @property
    def revocation_endpoint(self) -> str:
        return str(self.metadata["revocation_endpoint"])

    def _post(
        self, url: str, client: ClientCredentials, data: Mapping[str, str], **headers: str
    ) -> requests.Response:
        response = requests.post(url, data=data, auth=client.auth, headers=headers, timeout=TIMEOUT)
        if response.status_code != 200:
            raise AssertionError(
                f"POST {url} answered {response.status_code}: {response.text}\n"
                f"provider output:\n{self.process.output[-4000:]}"
            )
        return response

    def token_response(
        self,
        resource: str | None = JWT_RESOURCE,
        scope: str | None = "read",
        *,
        client: ClientCredentials = APP,
        certificate_pem: str | None = None,
    ) -> dict[str, Any]:
        """The token endpoint's answer to a client credentials request (``resource``
        ``None``: no resource indicator, an opaque token with no ``aud``)."""
        data = {"grant_type": "client_credentials"}
        if resource is not None:
            data["resource"] = resource
        if scope is not None:
            data["scope"] = scope
        headers = {}
        if certificate_pem is not None:
            headers[CERT_HEADER] = quote(certificate_pem, safe="")
        answer: dict[str, Any] = self._post(self.token_endpoint, client, data, **headers).json()
        return answer

    def jwt_access_token(self, scope: str = "read") -> str:
        """A JWT access token (header ``typ: at+jwt``, ES256) for :data:`JWT_RESOURCE`;
        ``sub`` and ``client_id`` are ``app``."""
        return str(self.token_response(JWT_RESOURCE, scope)["access_token"])

    def opaque_access_token(self, scope: str = "read", resource: str = OPAQUE_RESOURCE) -> str:
        """An opaque access token for ``resource``: 43 base64url characters."""
        return str(self.token_response(resource, scope)["access_token"])

    def dpop_token(
        self, resource: str | None = JWT_RESOURCE, scope: str = "read", alg: str = "ES256"
    ) -> DPoPBoundToken:
        """A DPoP-bound access token (``token_type: DPoP``, ``cnf.jkt``) that a Node
        client (``dpop_token.js``, npm ``dpop``) got with a new key pair."""
        command = ["node", "dpop_token.js", self.token_endpoint, APP.client_id,
                   APP.client_secret, resource or "", scope, alg]  # fmt: skip
        done = subprocess.run(
            command, cwd=PROVIDER_DIR, capture_output=True, text=True, timeout=60, check=False
        )
        if done.returncode != 0:
            raise AssertionError(f"dpop_token.js failed: {done.stderr}{done.stdout}")
        answer = json.loads(done.stdout)
        return DPoPBoundToken(answer["token"], answer["private_jwk"], answer["public_jwk"])

    def certificate_bound_token(
        self, certificate_pem: str, resource: str | None = JWT_RESOURCE, scope: str = "read"
    ) -> str:
        """An access token of :data:`MTLS_APP` bound to ``certificate_pem``
        (``cnf["x5t#S256"]``), as if the client had presented it over TLS."""
        response = self.token_response(
            resource, scope, client=MTLS_APP, certificate_pem=certificate_pem
        )
        return str(response["access_token"])

    def introspect(self, token: str, client: ClientCredentials = RESOURCE_SERVER) -> dict[str, Any]:
        """The introspection endpoint's answer for ``token`` (RFC 7662)."""
        data = {"token": token, "token_type_hint": "access_token"}
        answer: dict[str, Any] = self._post(self.introspection_endpoint, client, data).json()
        return answer

    def revoke(self, token: str, client: ClientCredentials = APP) -> None:
        """Revoke ``token`` at the revocation endpoint (RFC 7009), as its client."""
        data = {"token": token, "token_type_hint": "access_token"}
        self._post(self.revocation_endpoint, client, data)


def check_installed() -> None:
    """Fail (never skip) with the command to run when the server is not installed."""
    if shutil.which("node") is None:
        raise ProviderNotInstalled(
            "node is not installed: the oidc-provider tests need Node.js 20+"
        )
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        raise ProviderNotInstalled(
            "the test authorization server is not installed: run "
            "`npm ci --prefix tests/oidc_provider` (.ci/run does it)"
        )


@contextlib.contextmanager
def running_oidc_provider(
    *,
    clients: Sequence[Mapping[str, Any]] | None = None,
    resources: Mapping[str, Mapping[str, Any]] | None = None,
    introspectors: Sequence[str] = (RESOURCE_SERVER.client_id,),
    scopes: Sequence[str] = SCOPES,
    issuer: str | None = None,
    client_credentials_ttl: int = 300,
) -> Iterator[AuthorizationServer]:
    """Start oidc-provider on a free 127.0.0.1 port, wait until it serves, always stop it.

    Every argument has the suite's default: :func:`default_clients`,
    :func:`default_resources`, the clients that may introspect, the scopes it
    knows, the issuer URL (``http://127.0.0.1:<port>``), the lifetime of
    tokens asked for without a resource.
    """
    check_installed()
    port = free_port()
    config = {
        "port": port,
        "issuer": issuer or f"http://127.0.0.1:{port}",
        "clients": list(clients) if clients is not None else default_clients(),
        "resources": dict(resources) if resources is not None else default_resources(),
        "introspectors": list(introspectors),
        "scopes": list(scopes),
        "client_credentials_ttl": client_credentials_ttl,
    }
    process = Process(
        ["node", "server.js"],
        env={"OIDC_PROVIDER_CONFIG": json.dumps(config), "NODE_ENV": "test", "NODE_OPTIONS": ""},
        cwd=PROVIDER_DIR,
    )
    try:
        issuer_url = process.wait_for_line(READY_LINE, timeout=START_TIMEOUT).group(1)
        discovery = f"http://127.0.0.1:{port}/.well-known/openid-configuration"
        metadata = requests.get(discovery, timeout=TIMEOUT).json()
        yield AuthorizationServer(issuer=issuer_url, process=process, metadata=metadata)
    finally:
        process.stop()
