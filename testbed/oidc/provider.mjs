// A real OpenID Provider for authgate's tests: npm `oidc-provider` 9.x (OpenID Certified),
// configured from a JSON file. Test infrastructure only -- never deploy this.
//
//   node testbed/oidc/provider.mjs CONFIG.json        (or OIDC_TESTBED_CONFIG=CONFIG.json)
//
// It binds the HTTP server first (port 0 = any free port), builds the issuer
// `http://HOST:PORT` from the real port, and when ready prints ONE JSON line on stdout:
//   {"issuer": "http://127.0.0.2:40123", "port": 40123}
// Everything else (request log, warnings, errors) goes to stderr.
//
// Config (every key optional):
//   host            "127.0.0.2"   bind address and issuer host
//   port            0             0 = pick a free port
//   clients         [...]         oidc-provider client metadata (snake_case): client_id,
//                                 client_secret, redirect_uris, post_logout_redirect_uris,
//                                 backchannel_logout_uri, backchannel_logout_session_required,
//                                 grant_types, application_type, token_endpoint_auth_method...
//   users           {"alice": {"password": "...", "claims": {...}, "acr": "pwd",
//                              "amr": ["pwd"], "otp": "123456"}}
//                   The account id (`sub`) is the key unless claims.sub is given.
//   acrValues       ["pwd", "mfa"]   acr_values_supported
//   conformIdTokenClaims  false      true = scope claims only in userinfo (like some real IdPs)
//   cookieKeys      fixed keys for the provider's signed cookies
//   jwks            {"keys": [private JWKs]}     signing keys, or
//   jwksPath        file to load the private JWKS from; created (RSA + EC P-256) if missing
//   rotateKeys      true = generate a new key pair and put it IN FRONT of the loaded keys
//                   (new keys sign, old keys stay published) and save it to jwksPath
//   registrationInitialAccessToken  "..."  enables dynamic client registration (POST /reg
//                   with `Authorization: Bearer <token>`) so tests can add clients at runtime
//   ttl             {"AccessToken": 3600, "IdToken": 3600, "RefreshToken": 86400,
//                    "Session": 86400, "Grant": 86400, "Interaction": 3600, ...} (seconds)
//   resourceServers {"https://api.example": {"scope": "api:read", "accessTokenFormat": "opaque",
//                    "audience": "https://api.example", "accessTokenTTL": 600}}: RFC 8707
//                   resource indicators the provider issues access tokens for (opaque by
//                   default: introspect them at /token/introspection). With
//                   `features.clientCredentials` on (options), a client_credentials grant
//                   with `resource=` gets one; unknown indicators are invalid_target, unless a
//                   "*" entry stands for every other indicator (its audience: the indicator).
//   options         plain JSON deep-merged into the oidc-provider configuration last
//                   (e.g. {"features": {"introspection": {"enabled": false}}})
//   adminToken      "..."  enables the test bed's own admin route (not oidc-provider's):
//                   PUT /testbed/users/<name>/claims with `Authorization: Bearer <token>`
//                   and a JSON object body replaces that user's claims from now on (the
//                   next token, refresh or userinfo answer carries them), e.g. to remove
//                   a user from a group at run time. 204; 404 for an unknown user.
//   exitOnStdinClose  true = exit when stdin reaches EOF (the test fixture sets this, so a
//                   killed test run never leaves an orphaned provider behind)
//   logRequests     true = one stderr line per request
//   brand           {"product": "Northwind ID", "tagline": "...", "accent": "#2563eb",
//                    "hint": "..."}: the pages look like a small product's (used by
//                    `make demo`): a styled login form with only `login` and `password`
//                    (same ids, same POST), no test options, no client/scope line. Unset:
//                    the plain test pages below.
//
// Login (own interaction pages instead of devInteractions, which accept any password and
// never set acr/amr): GET /interaction/<uid> renders a form (ids: login, password, otp, acr,
// amr, ts, submit) that posts `prompt=login&login=&password=` (+ optional fields) to
// /interaction/<uid>. On a good password the login result carries:
//   acr/amr  the form's `acr` / `amr` fields when given (amr: space or comma separated);
//            else, when the user has an `otp` and the form's `otp` matches: acr "mfa",
//            amr ["pwd", "otp"] (a wrong otp is a failed login);
//            else the user's `acr` / `amr` (default "pwd" / ["pwd"]).
//   ts       the form's `ts` (epoch seconds) when given, to fake an older auth_time.
// A wrong password re-renders the form with "Invalid login or password." (status 200).
// Consent is granted automatically (loadExistingGrant); `prompt=consent` shows a page with
// one "Continue" button (id: submit) that posts `prompt=consent`.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';

import Provider, { errors, interactionPolicy } from 'oidc-provider';

const configPath = process.argv[2] || process.env.OIDC_TESTBED_CONFIG;
const cfg = configPath ? JSON.parse(fs.readFileSync(configPath, 'utf8')) : {};

const host = cfg.host ?? '127.0.0.2';
const users = cfg.users ?? {};
const log = (...args) => console.error('[oidc-testbed]', ...args);
// stdout carries only the ready line: send the library's notices (console.info) to stderr.
console.log = console.error;
console.info = console.error;

if (cfg.exitOnStdinClose) {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => process.exit(0));
}

// ---------------------------------------------------------------- keys

function newKeys() {
  const kid = (prefix) => `${prefix}-${crypto.randomBytes(6).toString('hex')}`;
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  return [
    { ...rsa.export({ format: 'jwk' }), kid: kid('rsa'), use: 'sig', alg: 'RS256' },
    { ...ec.export({ format: 'jwk' }), kid: kid('ec'), use: 'sig', alg: 'ES256' },
  ];
}

function loadKeys() {
  let keys = cfg.jwks?.keys;
  if (!keys && cfg.jwksPath && fs.existsSync(cfg.jwksPath)) {
    keys = JSON.parse(fs.readFileSync(cfg.jwksPath, 'utf8')).keys;
  }
  const fresh = !keys;
  if (!keys) {
    keys = newKeys();
  } else if (cfg.rotateKeys) {
    keys = [...newKeys(), ...keys];
  }
  if (cfg.jwksPath && (fresh || cfg.rotateKeys)) {
    fs.writeFileSync(cfg.jwksPath, JSON.stringify({ keys }, null, 2), { mode: 0o600 });
  }
  return { keys };
}

// ---------------------------------------------------------------- pages (no external assets)

const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
}[c]));

const brand = cfg.brand;

// The demo's look: a centred card with the product's name (no external assets).
function brandedPage(title, body) {
  const accent = /^#[0-9a-fA-F]{3,8}$/.test(brand.accent ?? '') ? brand.accent : '#2563eb';
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)} · ${esc(brand.product)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
:root{--accent:${accent}}
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;
  font-family:system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2933;
  background:linear-gradient(160deg,#eef2f7 0%,#dde5f0 100%)}
main{width:100%;max-width:24rem;padding:1rem}
.card{background:#fff;border-radius:14px;padding:2rem 2rem 1.5rem;
  box-shadow:0 10px 30px rgba(15,23,42,.12)}
.brand{display:flex;align-items:center;gap:.6rem;margin-bottom:1.5rem}
.logo{width:2.2rem;height:2.2rem;border-radius:9px;background:var(--accent);color:#fff;
  display:flex;align-items:center;justify-content:center;font-weight:700}
.product{font-weight:650;font-size:1.1rem}
.tagline{color:#66788a;font-size:.85rem}
h1{font-size:1.35rem;margin:0 0 1rem}
label{display:block;font-size:.85rem;font-weight:600;margin:.9rem 0 .3rem}
input{width:100%;padding:.65rem .75rem;border:1px solid #cbd5e1;border-radius:8px;font-size:1rem}
input:focus{outline:2px solid var(--accent);outline-offset:1px;border-color:transparent}
button{width:100%;margin-top:1.3rem;padding:.7rem;border:0;border-radius:8px;font-size:1rem;
  font-weight:600;color:#fff;background:var(--accent);cursor:pointer}
button.secondary{background:#e2e8f0;color:#1f2933;margin-top:.6rem}
.error{background:#fdecec;color:#a11;border-radius:8px;padding:.6rem .75rem;font-size:.9rem}
.hint{margin-top:1.2rem;color:#66788a;font-size:.8rem;text-align:center}
.hint code{background:#f1f5f9;padding:.05rem .3rem;border-radius:4px}
a{color:var(--accent)}
</style></head>
<body><main><div class="card">
<div class="brand"><div class="logo">${esc((brand.product ?? '?').slice(0, 1))}</div>
<div><div class="product">${esc(brand.product)}</div>
<div class="tagline">${esc(brand.tagline ?? '')}</div></div></div>
<h1>${esc(title)}</h1>${body}</div></main></body></html>`;
}

function page(title, body) {
  if (brand) return brandedPage(title, body);
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:sans-serif;max-width:22em;margin:2em auto}
input,button{display:block;width:100%;margin:.4em 0;padding:.4em;box-sizing:border-box}
.error{color:#b00}.hint{color:#666;font-size:.8em}</style></head>
<body><h1>${esc(title)}</h1>${body}</body></html>`;
}

// The same form as the test page (ids login, password, submit; posts prompt=login), less
// the test options, with labels a person expects.
function brandedLoginPage(uid, params, error, login) {
  return page('Sign in', `
${error ? `<p class="error" id="error">${esc(error)}</p>` : ''}
<form id="login-form" method="post" action="/interaction/${esc(uid)}" autocomplete="off">
  <input type="hidden" name="prompt" value="login">
  <label for="login">Username</label>
  <input id="login" name="login" type="text" required autofocus
    value="${esc(login ?? params.login_hint ?? '')}">
  <label for="password">Password</label>
  <input id="password" name="password" type="password" required>
  <button id="submit" type="submit">Sign in</button>
</form>
${brand.hint ? `<p class="hint" id="hint">${brand.hint.split('`').map((part, i) => (i % 2 ? `<code>${esc(part)}</code>` : esc(part))).join('')}</p>` : ''}
<p class="hint"><a id="abort" href="/interaction/${esc(uid)}/abort">Cancel</a></p>`);
}

function loginPage(uid, params, error, login) {
  if (brand) return brandedLoginPage(uid, params, error, login);
  return page('Sign-in', `
${error ? `<p class="error" id="error">${esc(error)}</p>` : ''}
<form id="login-form" method="post" action="/interaction/${esc(uid)}" autocomplete="off">
  <input type="hidden" name="prompt" value="login">
  <input id="login" name="login" type="text" placeholder="user" required autofocus
    value="${esc(login ?? params.login_hint ?? '')}">
  <input id="password" name="password" type="password" placeholder="password" required>
  <input id="otp" name="otp" type="text" placeholder="one-time code (optional)">
  <details><summary class="hint">test options</summary>
    <input id="acr" name="acr" type="text" placeholder="acr (optional)">
    <input id="amr" name="amr" type="text" placeholder="amr, e.g. pwd otp (optional)">
    <input id="ts" name="ts" type="text" placeholder="auth_time, epoch seconds (optional)">
  </details>
  <button id="submit" type="submit">Sign in</button>
</form>
<p class="hint">client: ${esc(params.client_id)}; scope: ${esc(params.scope)};
acr_values: ${esc(params.acr_values ?? '')}; max_age: ${esc(params.max_age ?? '')}</p>
<a id="abort" href="/interaction/${esc(uid)}/abort">Cancel</a>`);
}

function consentPage(uid, params) {
  return page('Authorize', `
<p>Allow <strong>${esc(params.client_id)}</strong> access to: ${esc(params.scope)}</p>
<form id="consent-form" method="post" action="/interaction/${esc(uid)}">
  <input type="hidden" name="prompt" value="consent">
  <button id="submit" type="submit">Continue</button>
</form>
<a id="abort" href="/interaction/${esc(uid)}/abort">Cancel</a>`);
}

// ---------------------------------------------------------------- accounts and grants

function userFor(accountId) {
  if (Object.hasOwn(users, accountId)) return [accountId, users[accountId]];
  for (const [name, user] of Object.entries(users)) {
    if (user.claims?.sub === accountId) return [name, user];
  }
  return [undefined, undefined];
}

function subOf(name) {
  return users[name]?.claims?.sub ?? name;
}

async function findAccount(ctx, sub) {
  const [, user] = userFor(sub);
  if (!user) return undefined;
  return {
    accountId: sub,
    async claims() {
      return { ...(user.claims ?? {}), sub };
    },
  };
}

// Auto-consent: the grant always covers the requested OIDC scopes and claims.
async function loadExistingGrant(ctx) {
  const { oidc } = ctx;
  const clientId = oidc.client.clientId;
  const accountId = oidc.account?.accountId ?? oidc.session.accountId;
  const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(clientId);
  let grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
  if (grant && (grant.accountId !== accountId || grant.clientId !== clientId)) {
    grant = undefined;
  }
  if (!grant) {
    grant = new oidc.provider.Grant({ accountId, clientId });
  }
  const scopes = [...oidc.requestParamOIDCScopes];
  if (scopes.length) grant.addOIDCScope(scopes.join(' '));
  const claims = [...oidc.requestParamClaims];
  if (claims.length) grant.addOIDCClaims(claims);
  await grant.save();
  return grant;
}

// ---------------------------------------------------------------- configuration

// The default policy, minus the check that makes every `application_type: native` client
// show the consent page: test clients are native only so that their loopback redirect URIs
// match any port (RFC 8252 7.3), and consent is automatic here.
function testPolicy() {
  const policy = interactionPolicy.base();
  policy.get('consent').checks.remove('native_client_prompt');
  return policy;
}

function isPlainObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function deepMerge(target, source) {
  for (const [k, v] of Object.entries(source ?? {})) {
    if (isPlainObject(v) && isPlainObject(target[k])) {
      deepMerge(target[k], v);
    } else {
      target[k] = v;
    }
  }
  return target;
}

// RFC 8707 resource servers from the config (see the header); none: the library's
// default, which refuses every resource indicator.
function resourceIndicators() {
  const servers = cfg.resourceServers;
  if (!servers) return { enabled: true };
  return {
    enabled: true,
    defaultResource: async (ctx, client, oneOf) => oneOf,
    getResourceServerInfo: async (ctx, indicator) => {
      const server = servers[indicator] ?? servers['*'];
      if (!server) throw new errors.InvalidTarget();
      return { accessTokenFormat: 'opaque', audience: indicator, ...server };
    },
  };
}

function buildConfiguration() {
  const ttl = {
    AccessToken: 3600,
    AuthorizationCode: 60,
    ClientCredentials: 600,
    DeviceCode: 600,
    BackchannelAuthenticationRequest: 600,
    PreAuthorizedCode: 600,
    Grant: 14 * 24 * 3600,
    IdToken: 3600,
    Interaction: 3600,
    RefreshToken: 14 * 24 * 3600,
    Session: 14 * 24 * 3600,
    ...(cfg.ttl ?? {}),
  };

  const configuration = {
    clients: cfg.clients ?? [],
    findAccount,
    jwks: loadKeys(),
    cookies: {
      keys: cfg.cookieKeys ?? ['authgate-testbed-cookie-key-1', 'authgate-testbed-cookie-key-0'],
    },
    pkce: { required: () => true },
    acrValues: cfg.acrValues ?? ['pwd', 'mfa'],
    scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
    claims: {
      acr: null,
      auth_time: null,
      sid: null,
      iss: null,
      openid: ['sub', 'acr', 'amr', 'auth_time', 'sid'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name', 'preferred_username', 'locale', 'zoneinfo'],
      groups: ['groups'],
    },
    conformIdTokenClaims: cfg.conformIdTokenClaims ?? false,
    loadExistingGrant,
    // Refresh tokens for every client allowed the refresh_token grant, with or without
    // offline_access (the provider drops offline_access unless prompt=consent).
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    // The library's own fetch refuses special-use addresses (127.0.0.1): use the plain
    // global fetch, without its SSRF-protecting dispatcher, so back-channel logout reaches
    // a gateway on loopback.
    fetch: (url, { dispatcher, ...options }) => globalThis.fetch(url, options),
    interactions: {
      url: (ctx, interaction) => `/interaction/${interaction.uid}`,
      policy: testPolicy(),
    },
    features: {
      devInteractions: { enabled: false },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          ctx.body = page('Sign out', `<p>Do you want to sign out from ${esc(ctx.host)}?</p>
${form}
<button id="logout-yes" type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button id="logout-no" class="secondary" type="submit" form="op.logoutForm">No, stay signed in</button>`);
        },
        postLogoutSuccessSource: async (ctx) => {
          ctx.body = page('Signed out', '<p id="signed-out">You are signed out.</p>');
        },
      },
      claimsParameter: { enabled: true },
      resourceIndicators: resourceIndicators(),
      introspection: { enabled: true, allowedPolicy: async () => true },
      revocation: { enabled: true, allowedPolicy: async (ctx, client, token) => token.clientId === client.clientId },
      registration: cfg.registrationInitialAccessToken
        ? { enabled: true, initialAccessToken: cfg.registrationInitialAccessToken }
        : { enabled: false },
    },
    clientBasedCORS: () => false,
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = page('Error', Object.entries(out)
        .map(([k, v]) => `<p><strong>${esc(k)}</strong>: <span id="${esc(k)}">${esc(v)}</span></p>`)
        .join(''));
    },
    ttl,
  };
  return deepMerge(configuration, cfg.options);
}

// ---------------------------------------------------------------- interaction routes

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) throw Object.assign(new Error('body too large'), { status: 413 });
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function sendHtml(res, status, html) {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
  });
  res.end(html);
}

function loginResult(name, user, form) {
  const login = { accountId: subOf(name) };
  const acr = form.get('acr')?.trim();
  const amr = form.get('amr')?.trim();
  const otp = form.get('otp')?.trim();
  if (otp && !(user.otp && otp === String(user.otp))) {
    return undefined;
  }
  if (otp) {
    login.acr = 'mfa';
    login.amr = ['pwd', 'otp'];
  } else {
    login.acr = user.acr ?? 'pwd';
    login.amr = user.amr ?? ['pwd'];
  }
  if (acr) login.acr = acr;
  if (amr) login.amr = amr.split(/[\s,]+/).filter(Boolean);
  const ts = Number.parseInt(form.get('ts')?.trim() ?? '', 10);
  if (Number.isFinite(ts)) login.ts = ts;
  return login;
}

async function interaction(provider, req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) {
    sendHtml(res, 400, page('Error', '<p>interaction mismatch</p>'));
    return;
  }
  const { prompt, params, session } = details;

  if (action === 'abort') {
    await provider.interactionFinished(req, res, {
      error: 'access_denied',
      error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
    return;
  }

  if (req.method === 'GET') {
    if (prompt.name === 'login') sendHtml(res, 200, loginPage(uid, params));
    else if (prompt.name === 'consent') sendHtml(res, 200, consentPage(uid, params));
    else sendHtml(res, 501, page('Error', `<p>prompt ${esc(prompt.name)} not implemented</p>`));
    return;
  }

  const form = await readForm(req);
  if (form.get('prompt') === 'login' && prompt.name === 'login') {
    const name = form.get('login') ?? '';
    const user = Object.hasOwn(users, name) ? users[name] : undefined;
    const ok = user && String(user.password ?? '') === (form.get('password') ?? '');
    const login = ok ? loginResult(name, user, form) : undefined;
    if (!login) {
      log(`failed login for ${JSON.stringify(name)}`);
      sendHtml(res, 200, loginPage(uid, params, 'Invalid login or password.', name));
      return;
    }
    await provider.interactionFinished(req, res, { login }, { mergeWithLastSubmission: false });
    return;
  }
  if (form.get('prompt') === 'consent' && prompt.name === 'consent') {
    let grant = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
    if (!grant) {
      grant = new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    }
    const d = prompt.details;
    if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
    if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
    if (d.missingResourceScopes) {
      for (const [indicator, scope] of Object.entries(d.missingResourceScopes)) {
        grant.addResourceScope(indicator, scope.join(' '));
      }
    }
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }
  sendHtml(res, 400, page('Error', `<p>unexpected submission for prompt ${esc(prompt.name)}</p>`));
}

// ---------------------------------------------------------------- test bed admin

const adminRoute = /^\/testbed\/users\/([^/?#]+)\/claims$/;

async function setClaims(req, res, name) {
  const expected = `Bearer ${cfg.adminToken}`;
  const given = req.headers.authorization ?? '';
  const ok = given.length === expected.length
    && crypto.timingSafeEqual(Buffer.from(given), Buffer.from(expected));
  if (req.method !== 'PUT' || !ok) {
    res.writeHead(ok ? 405 : 401).end();
    return;
  }
  if (!Object.hasOwn(users, name)) {
    res.writeHead(404).end();
    return;
  }
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const claims = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  if (!isPlainObject(claims)) {
    res.writeHead(400).end();
    return;
  }
  users[name].claims = claims;
  log(`claims of ${JSON.stringify(name)} replaced`);
  res.writeHead(204).end();
}

// ---------------------------------------------------------------- server

let handler = (req, res) => {
  res.writeHead(503, { 'content-type': 'text/plain' });
  res.end('starting\n');
};

const server = http.createServer((req, res) => {
  if (cfg.logRequests ?? true) {
    const started = Date.now();
    res.on('finish', () => log(`${req.method} ${req.url} ${res.statusCode} ${Date.now() - started}ms`));
  }
  handler(req, res);
});
server.keepAliveTimeout = 5000;

server.on('error', (err) => {
  log(`cannot listen on ${host}:${cfg.port ?? 0}: ${err.message}`);
  process.exit(2);
});

server.listen(cfg.port ?? 0, host, () => {
  const { port } = server.address();
  const issuer = `http://${host}:${port}`;
  const provider = new Provider(issuer, buildConfiguration());

  provider.on('backchannel.error', (ctx, err, client, accountId, sid) => {
    log(`backchannel logout to ${client.backchannelLogoutUri} failed: ${err.message} ${err.cause?.message ?? ''}`);
  });
  provider.on('backchannel.success', (ctx, client, accountId, sid) => {
    log(`backchannel logout to ${client.backchannelLogoutUri} sent (sub=${accountId} sid=${sid})`);
  });
  provider.on('server_error', (ctx, err) => log('server_error', err));

  const callback = provider.callback();
  const route = /^\/interaction\/([^/?#]+)(\/abort)?(?:\?.*)?$/;
  handler = (req, res) => {
    const admin = adminRoute.exec(req.url);
    if (admin && cfg.adminToken) {
      setClaims(req, res, decodeURIComponent(admin[1])).catch((err) => {
        log(`admin error: ${err.stack ?? err}`);
        if (!res.headersSent) res.writeHead(400).end();
      });
      return;
    }
    const m = route.exec(req.url);
    if (!m) {
      callback(req, res);
      return;
    }
    interaction(provider, req, res, m[1], m[2] ? 'abort' : undefined).catch((err) => {
      log(`interaction error: ${err.stack ?? err}`);
      if (!res.headersSent) {
        sendHtml(res, err.status ?? err.statusCode ?? 400, page('Error',
          `<p><strong>${esc(err.error ?? err.name)}</strong>: <span id="error_description">${esc(err.error_description ?? err.message)}</span></p>`));
      } else {
        res.end();
      }
    });
  };

  process.stdout.write(`${JSON.stringify({ issuer, port })}\n`);
});
