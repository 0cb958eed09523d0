// The benchmark's peer: what teams use today. Auth0's Express SDK
// (express-openid-connect) with its sessions in Redis through connect-redis
// (an express-session store), serving GET /me with the logged-in user.
//
// Environment: PORT, REDIS_URL, ISSUER_BASE_URL, CLIENT_ID, CLIENT_SECRET.
// Binds 127.0.0.1 only. Sessions come from the SDK's own login flow:
// GET /login -> the tenant's /authorize and login form -> GET /callback.
'use strict';

const crypto = require('node:crypto');
const express = require('express');
const { auth } = require('express-openid-connect');
const { RedisStore } = require('connect-redis');
const { createClient } = require('redis');

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is required`);
    process.exit(2);
  }
  return value;
}

async function main() {
  const port = Number(required('PORT'));
  const baseURL = `http://127.0.0.1:${port}`;
  const redis = createClient({ url: required('REDIS_URL') });
  redis.on('error', (err) => console.error('redis:', err.message));
  await redis.connect();

  const app = express();
  app.set('etag', false);
  app.use(
    auth({
      issuerBaseURL: required('ISSUER_BASE_URL'),
      baseURL,
      clientID: required('CLIENT_ID'),
      clientSecret: required('CLIENT_SECRET'),
      secret: crypto.randomBytes(32).toString('hex'),
      authRequired: false,
      idpLogout: false,
      authorizationParams: { response_type: 'code', scope: 'openid profile email' },
      session: { store: new RedisStore({ client: redis, prefix: 'bench-peer:' }) },
    }),
  );
  app.get('/me', (req, res) => {
    if (!req.oidc.isAuthenticated()) {
      res.status(401).json({ statusCode: 401, error: 'Unauthorized', message: 'no session' });
      return;
    }
    res.json(req.oidc.user);
  });

  app.listen(port, '127.0.0.1', () => console.log(`bench-peer listening on ${baseURL}`));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
