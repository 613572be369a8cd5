// A real OpenID Connect provider on loopback for Unity's sign-in tests: npm `oidc-provider`
// (panva, OpenID-certified; 8.x, which runs on Debian 12's Node 18) with one confidential
// client, two password users with groups, consent skipped, and claims from the requested
// scopes put in the ID token.
//
//   node server.mjs PORT CLIENT_REDIRECT_URI POST_LOGOUT_REDIRECT_URI
//
// Prints "listening <issuer>" when ready. The login form at /interaction/<uid> has the
// fields `login` and `password` and the button #provider-login.
//
// For the tests of bad ID tokens, `POST /test/id-token?mode=MODE` makes the token endpoint
// answer with a bad one until the mode is set back to `good`: `tampered` (another subject
// under the provider's signature), `audience` (issued to another client, properly signed) or
// `expired` (expired half an hour ago, properly signed). The provider signs with a key made
// here, so this server can sign the bad tokens with the very key Unity trusts.
import crypto from 'node:crypto';
import http from 'node:http';
import Provider from 'oidc-provider';

const [port, redirectUri, postLogoutUri] = process.argv.slice(2);
const USERS = {
  alice: { password: 'alicepw', groups: ['family'] },
  bob: { password: 'bobpw', groups: ['strangers'] },
};
const issuer = `http://127.0.0.1:${port}`;
const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'unity-test', alg: 'RS256', use: 'sig' };
let idTokenMode = 'good';

const base64url = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
const decode = (part) => JSON.parse(Buffer.from(part, 'base64url').toString());

// The ID token the provider issued, made bad as `idTokenMode` says.
function badIdToken(token) {
  const [header, payload, signature] = token.split('.');
  const claims = decode(payload);
  if (idTokenMode === 'tampered') return `${header}.${base64url({ ...claims, sub: 'mallory' })}.${signature}`;
  const now = Math.floor(Date.now() / 1000);
  if (idTokenMode === 'audience') claims.aud = 'grafana';
  if (idTokenMode === 'expired') Object.assign(claims, { iat: now - 3600, exp: now - 1800 });
  const input = `${base64url(decode(header))}.${base64url(claims)}`;
  return `${input}.${crypto.sign('RSA-SHA256', Buffer.from(input), privateKey).toString('base64url')}`;
}

// Rewrites the token endpoint's JSON answer on its way out.
function rewriteIdToken(res) {
  const end = res.end.bind(res);
  res.end = (chunk, ...rest) => {
    let answer;
    try {
      answer = JSON.parse(Buffer.from(chunk).toString());
    } catch {
      return end(chunk, ...rest);
    }
    if (answer.id_token) answer.id_token = badIdToken(answer.id_token);
    const text = JSON.stringify(answer);
    res.setHeader('content-length', Buffer.byteLength(text));
    return end(text, ...rest);
  };
}

const provider = new Provider(issuer, {
  jwks: { keys: [signingKey] },
  clients: [{
    client_id: 'unity', client_secret: 'unity-secret',
    redirect_uris: [redirectUri], post_logout_redirect_uris: [postLogoutUri],
    grant_types: ['authorization_code'], response_types: ['code'],
  }],
  cookies: { keys: ['test-cookie-key'] },
  claims: { openid: ['sub'], profile: ['preferred_username'], groups: ['groups'], email: ['email'] },
  scopes: ['openid', 'profile', 'email', 'groups'],
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, sub) {
    const user = USERS[sub];
    return user && {
      accountId: sub,
      claims: async () => ({ sub, preferred_username: sub, groups: user.groups, email: `${sub}@home.test` }),
    };
  },
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid profile email groups');
    await grant.save();
    return grant;
  },
});
const callback = provider.callback();
http.createServer(async (req, res) => {
  const match = req.url.match(/^\/interaction\/([^/?]+)/);
  try {
    if (req.method === 'POST' && req.url.startsWith('/test/id-token?')) {
      idTokenMode = new URL(req.url, issuer).searchParams.get('mode') || 'good';
      res.statusCode = 204;
      return res.end();
    }
    if (req.method === 'POST' && req.url.startsWith('/token') && idTokenMode !== 'good') {
      rewriteIdToken(res);
    }
    if (match && req.method === 'GET') {
      await provider.interactionDetails(req, res);
      res.setHeader('content-type', 'text/html');
      return res.end(`<form method="post" action="/interaction/${match[1]}"><input name="login" id="provider-user"><input name="password" id="provider-password" type="password"><button id="provider-login">Login</button></form>`);
    }
    if (match && req.method === 'POST') {
      let body = '';
      for await (const chunk of req) body += chunk;
      const form = new URLSearchParams(body);
      const user = USERS[form.get('login')];
      const result = (user && user.password === form.get('password'))
        ? { login: { accountId: form.get('login') } }
        : { error: 'access_denied', error_description: 'invalid credentials' };
      return await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
    }
    return callback(req, res);
  } catch (error) {
    res.statusCode = 500;
    res.end(String(error));
  }
}).listen(Number(port), '127.0.0.1', () => console.log(`listening ${issuer}`));
