// A client that gets a DPoP-bound access token (RFC 9449) by client credentials.
//
//   node dpop_token.js <token endpoint> <client_id> <client_secret> [resource] [scope] [alg]
//
// Makes a fresh key pair (ES256 by default), sends a DPoP proof with the token
// request (retrying once with the server's nonce if it asks for one), and prints
// one JSON line: {"token": <the token response>, "private_jwk": ..., "public_jwk": ...}.
// The Python side uses the private key to make the proofs for the resource server.
//
//   node dpop_token.js proof '<JSON>'
//
// Prints one DPoP proof made by npm `dpop` for a resource server request. The JSON:
// {"private_jwk", "public_jwk" (as printed above), "htm", "htu", "access_token"?,
// "nonce"?, "iat"?}; "iat" sets the client's clock (the library takes none).
import * as DPoP from 'dpop';
import * as jose from 'jose';

if (process.argv[2] === 'proof') {
  const { private_jwk, public_jwk, htm, htu, access_token, nonce, iat } = JSON.parse(process.argv[3]);
  const { alg } = private_jwk;
  const keyPair = {
    privateKey: await jose.importJWK(private_jwk, alg, { extractable: false }),
    publicKey: await jose.importJWK(public_jwk, alg, { extractable: true }),
  };
  if (iat !== undefined && iat !== null) Date.now = () => iat * 1000;
  console.log(await DPoP.generateProof(keyPair, htu, htm, nonce ?? undefined, access_token ?? undefined));
  process.exit(0);
}

const [endpoint, clientId, clientSecret, resource, scope, alg = 'ES256'] = process.argv.slice(2);

const keyPair = await DPoP.generateKeyPair(alg, { extractable: true });
const body = new URLSearchParams({ grant_type: 'client_credentials' });
if (resource) body.set('resource', resource);
if (scope) body.set('scope', scope);
const basic = Buffer.from(
  `${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`,
).toString('base64');

async function request(nonce) {
  const proof = await DPoP.generateProof(keyPair, endpoint, 'POST', nonce);
  return fetch(endpoint, {
    method: 'POST',
    headers: {
      authorization: `Basic ${basic}`,
      'content-type': 'application/x-www-form-urlencoded',
      dpop: proof,
    },
    body,
  });
}

let response = await request();
if (response.status === 400 && response.headers.get('dpop-nonce')) {
  response = await request(response.headers.get('dpop-nonce'));
}
const token = await response.json();
if (response.status !== 200) {
  console.error(JSON.stringify({ status: response.status, token }));
  process.exit(1);
}
const privateJwk = await jose.exportJWK(keyPair.privateKey);
const publicJwk = await jose.exportJWK(keyPair.publicKey);
console.log(JSON.stringify({ token, private_jwk: { ...privateJwk, alg }, public_jwk: { ...publicJwk, alg } }));
