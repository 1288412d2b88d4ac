// panva's oidc-provider as a real OAuth 2.0 authorization server for the guard's tests.
//
// Everything is configured from the Python side (tests/oidc_provider.py) through one
// environment variable, OIDC_PROVIDER_CONFIG, a JSON object:
//
//   {
//     "port": 41234,                        // listens on 127.0.0.1:<port>
//     "issuer": "http://127.0.0.1:41234",   // optional; this by default
//     "clients": [ <client metadata>, ... ],// RFC 7591 names (client_id, client_secret, ...)
//     "introspectors": ["guard"],           // clients that may introspect any token
//     "resources": {                        // resource indicators (RFC 8707) it issues for
//       "https://api.example.test/jwt":    {"format": "jwt", "scope": "read write", "ttl": 300},
//       "https://api.example.test/opaque": {"format": "opaque", "scope": "read write", "ttl": 300}
//     },
//     "scopes": ["read", "write"],
//     "client_credentials_ttl": 300         // tokens asked for without a resource
//   }
//
// Features: client credentials, resource indicators (JWT or opaque access tokens per
// resource), introspection (RFC 7662), revocation (RFC 7009), DPoP (RFC 9449: a
// token requested with a DPoP proof is bound to its key, cnf.jkt) and mTLS
// certificate-bound tokens (RFC 8705: cnf["x5t#S256"]). The server speaks plain
// HTTP on loopback, so the client certificate comes from a request header,
// x-client-cert, holding the URL-encoded PEM (nginx's $ssl_client_escaped_cert).
// Signing keys (ES256 and RS256) are made at start: every start has fresh keys.
//
// Prints "OIDC PROVIDER READY <issuer>" once it listens.
import * as http from 'node:http';

import * as jose from 'jose';
import Provider, { errors } from 'oidc-provider';

const config = JSON.parse(process.env.OIDC_PROVIDER_CONFIG || '{}');
const port = Number(config.port || 0);
const resources = config.resources || {};
const introspectors = new Set(config.introspectors || []);
const CERT_HEADER = 'x-client-cert';

async function signingKeys() {
  const keys = [];
  for (const [alg, kid] of [['ES256', 'es256-1'], ['RS256', 'rs256-1']]) {
    const { privateKey } = await jose.generateKeyPair(alg, { extractable: true });
    keys.push({ ...(await jose.exportJWK(privateKey)), kid, alg, use: 'sig' });
  }
  return keys;
}

function configuration(keys) {
  return {
    clients: config.clients || [],
    jwks: { keys },
    scopes: ['openid', ...(config.scopes || [])],
    cookies: { keys: [jose.base64url.encode(crypto.getRandomValues(new Uint8Array(32)))] },
    ttl: {
      ClientCredentials: Number(config.client_credentials_ttl || 300),
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // Only the resource servers listed may read what a token grants.
        allowedPolicy: async (ctx, client) => introspectors.has(client.clientId),
      },
      revocation: {
        enabled: true,
        allowedPolicy: async (ctx, client, token) => token.clientId === client.clientId,
      },
      dPoP: { enabled: true },
      mTLS: {
        enabled: true,
        certificateBoundAccessTokens: true,
        getCertificate(ctx) {
          const value = ctx.get(CERT_HEADER);
          return value ? decodeURIComponent(value) : undefined;
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (ctx, client, oneOf) => oneOf,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (ctx, indicator) => {
          const resource = resources[indicator];
          if (!resource) {
            throw new errors.InvalidTarget(`unknown resource ${indicator}`);
          }
          const info = {
            scope: resource.scope || '',
            audience: indicator,
            accessTokenTTL: Number(resource.ttl || 300),
            accessTokenFormat: resource.format === 'jwt' ? 'jwt' : 'opaque',
          };
          if (info.accessTokenFormat === 'jwt') {
            info.jwt = { sign: { alg: resource.alg || 'ES256' } };
          }
          return info;
        },
      },
    },
  };
}

const issuer = config.issuer || `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, configuration(await signingKeys()));
// Node's http server, not provider.listen(): it must bind loopback only.
const server = http.createServer(provider.callback());
server.listen(port, '127.0.0.1', () => {
  console.log(`OIDC PROVIDER READY ${issuer}`);
});
provider.on('server_error', (ctx, error) => console.error('server_error', error));
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
