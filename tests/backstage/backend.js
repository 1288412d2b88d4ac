// A real Backstage backend (new backend system) for the guard's tests.
//
// Plugins: `auth` (with the guest provider: anyone gets a user token for
// user:development/guest), and two tiny plugins of ours:
//
//   probe   asks Backstage's own auth service for tokens and hands them out:
//           GET /api/probe/plugin-token?target=ID   plugin-to-plugin token (probe -> ID),
//                                                   no caller credentials needed
//           GET /api/probe/obo-token?target=ID      with a user token: a plugin token
//                                                   on behalf of that user
//           GET /api/probe/limited-token            with a user token: auth.getLimitedUserToken
//   target  a plugin to call: GET /api/target/whoami (any credentials Backstage
//           accepts by default) and GET /api/target/cookie-whoami (also the
//           limited-user cookie, `allow: 'user-cookie'`) answer with the
//           principal Backstage saw.
//
// Every plugin also serves Backstage's own /.backstage/auth/v1/jwks.json and
// /.backstage/auth/v1/cookie. Prints "BACKSTAGE TEST BACKEND READY <baseUrl>"
// once it listens.
'use strict';

const { createBackend } = require('@backstage/backend-defaults');
const { coreServices, createBackendPlugin } = require('@backstage/backend-plugin-api');
const express = require('express');

function principalOf(credentials) {
  const { principal } = credentials;
  return {
    type: principal.type,
    userEntityRef: principal.userEntityRef,
    subject: principal.subject,
    actor: principal.actor ? principal.actor.subject : undefined,
  };
}

const probePlugin = createBackendPlugin({
  pluginId: 'probe',
  register(env) {
    env.registerInit({
      deps: {
        auth: coreServices.auth,
        httpAuth: coreServices.httpAuth,
        httpRouter: coreServices.httpRouter,
      },
      async init({ auth, httpAuth, httpRouter }) {
        const router = express.Router();
        router.get('/plugin-token', async (req, res) => {
          const { token } = await auth.getPluginRequestToken({
            onBehalfOf: await auth.getOwnServiceCredentials(),
            targetPluginId: String(req.query.target),
          });
          res.json({ token });
        });
        router.get('/obo-token', async (req, res) => {
          const credentials = await httpAuth.credentials(req, { allow: ['user'] });
          const { token } = await auth.getPluginRequestToken({
            onBehalfOf: credentials,
            targetPluginId: String(req.query.target),
          });
          res.json({ token });
        });
        router.get('/limited-token', async (req, res) => {
          const credentials = await httpAuth.credentials(req, { allow: ['user'] });
          const { token, expiresAt } = await auth.getLimitedUserToken(credentials);
          res.json({ token, expiresAt: expiresAt.toISOString() });
        });
        httpRouter.use(router);
        // Tests fetch plugin tokens without credentials of their own.
        httpRouter.addAuthPolicy({ path: '/plugin-token', allow: 'unauthenticated' });
      },
    });
  },
});

const targetPlugin = createBackendPlugin({
  pluginId: 'target',
  register(env) {
    env.registerInit({
      deps: {
        httpAuth: coreServices.httpAuth,
        httpRouter: coreServices.httpRouter,
      },
      async init({ httpAuth, httpRouter }) {
        const router = express.Router();
        router.get('/whoami', async (req, res) => {
          res.json(principalOf(await httpAuth.credentials(req)));
        });
        router.get('/cookie-whoami', async (req, res) => {
          const credentials = await httpAuth.credentials(req, { allowLimitedAccess: true });
          res.json(principalOf(credentials));
        });
        httpRouter.use(router);
        httpRouter.addAuthPolicy({ path: '/cookie-whoami', allow: 'user-cookie' });
      },
    });
  },
});

async function main() {
  const backend = createBackend();
  backend.add(require('@backstage/plugin-auth-backend').default);
  backend.add(require('@backstage/plugin-auth-backend-module-guest-provider').default);
  backend.add(probePlugin);
  backend.add(targetPlugin);
  await backend.start();
  console.log(`BACKSTAGE TEST BACKEND READY http://127.0.0.1:${process.env.PORT}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
