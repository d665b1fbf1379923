// Interop: npm openid-client 6 (OpenID Certified relying-party library, through
// oauth4webapi) against a real apex-idp demo server started here.
//
// usage: node interop.mjs <path to the apex-idp binary>
//
// Steps, each checked: discovery; authorization code + PKCE S256 with the demo
// confidential client (the sign-in form is driven with fetch, keeping cookies and the
// CSRF field); ID token validation (signature against the JWKS, iss, aud, nonce, exp,
// RFC 9207 iss); userinfo; introspection; refresh (rotation); revocation; client
// credentials; RP-initiated logout; prompt=none after logout. Any failure exits 1.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as client from 'openid-client';

const CLIENT_ID = 'demo';
const CLIENT_SECRET = 'demo-client-secret';
const REDIRECT_URI = 'http://127.0.0.1:9000/callback';
const POST_LOGOUT_URI = 'http://127.0.0.1:9000/';
const LOGIN = 'cdurand';
const PASSWORD = 'Demo-Apex-2026!';
const PROFILE = 'DEMO:UTILISATEUR';

// The server reads config/apex.toml and config/catalogue.toml from the repository root.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const bin = resolve(process.argv[2] ?? join(root, 'target/debug/apex-idp'));
let passed = 0;

function check(condition, what, detail) {
  if (!condition) {
    throw new Error(`${what}${detail === undefined ? '' : `: ${JSON.stringify(detail)}`}`);
  }
}

async function step(name, body) {
  const started = performance.now();
  await body();
  passed += 1;
  console.log(`ok ${passed} - ${name} (${Math.round(performance.now() - started)} ms)`);
}

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.unref();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

/** Starts `apex-idp demo` on a free port; resolves once it printed its sign-ins. */
async function startServer(dataDir) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(bin, ['demo', '--data-dir', dataDir], {
    cwd: root,
    env: {
      ...process.env,
      APEX_HTTP__LISTEN: `127.0.0.1:${port}`,
      APEX_SERVER__PUBLIC_URL: base,
      APEX_LDAP__LISTEN: '',
      APEX_ARGON2__M_KIB: '64',
      APEX_ARGON2__T: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`server not ready after 60 s:\n${out}\n${err}`)), 60_000);
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('sign-ins')) {
        clearTimeout(timer);
        ok();
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`server exited (${code}):\n${out}\n${err}`));
    });
  });
  check(out.includes(`listening http 127.0.0.1:${port}`), 'server listens where asked', out);
  return { base, child, stderr: () => err };
}

/** A browser: manual redirects, a cookie jar. */
class Browser {
  constructor() {
    this.jar = new Map();
  }

  async fetch(url, init = {}) {
    const headers = new Headers(init.headers ?? {});
    if (this.jar.size > 0) {
      headers.set('cookie', [...this.jar].map(([k, v]) => `${k}=${v}`).join('; '));
    }
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const c of response.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === '' || /max-age=0(;|$)/i.test(c)) {
        this.jar.delete(name);
      } else {
        this.jar.set(name, value);
      }
    }
    return response;
  }
}

function hidden(html, name) {
  const m = html.match(new RegExp(`name="${name}"[^>]*value="([^"]*)"`));
  check(m, `hidden field ${name} in the page`, html.slice(0, 400));
  return m[1];
}

/** Drives the sign-in page of an authorization URL; returns the redirect to the client. */
async function signIn(browser, authorizationUrl) {
  const page = await browser.fetch(authorizationUrl);
  check(page.status === 200, 'the sign-in page answers 200', page.status);
  const html = await page.text();
  const action = html.match(/<form[^>]*action="([^"]*sign-in[^"]*)"/);
  check(action, 'a sign-in form', html.slice(0, 400));
  const form = new URLSearchParams({
    interaction: hidden(html, 'interaction'),
    csrf: hidden(html, 'csrf'),
    login: LOGIN,
    password: PASSWORD,
  });
  const answer = await browser.fetch(new URL(action[1].replaceAll('&amp;', '&'), authorizationUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form,
  });
  check(answer.status === 303, 'sign-in answers 303', { status: answer.status, body: (await answer.text()).slice(0, 400) });
  const location = answer.headers.get('location');
  check(location?.startsWith(REDIRECT_URI), 'redirected to the registered redirect_uri', location);
  return new URL(location);
}

async function expectOAuthError(promise, code, what) {
  try {
    await promise;
  } catch (e) {
    check(e.error === code, `${what}: ${code}`, { error: e.error, message: e.message });
    return;
  }
  throw new Error(`${what}: expected ${code}, got a success`);
}

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), 'apex-oidc-interop-'));
  const server = await startServer(dataDir);
  try {
    await run(server.base);
  } catch (e) {
    console.error(`not ok - ${e.message}`);
    console.error(server.stderr().split('\n').slice(-20).join('\n'));
    process.exitCode = 1;
  } finally {
    server.child.kill('SIGTERM');
    await new Promise((ok) => server.child.once('exit', ok));
    rmSync(dataDir, { recursive: true, force: true });
  }
  if (process.exitCode !== 1) {
    console.log(`openid-client interop: ${passed} steps passed against ${server.base}`);
  }
}

async function run(issuer) {
  let config;
  await step('discovery', async () => {
    config = await client.discovery(
      new URL(issuer),
      CLIENT_ID,
      { client_secret: CLIENT_SECRET, id_token_signed_response_alg: 'RS256' },
      client.ClientSecretBasic(CLIENT_SECRET),
      { execute: [client.allowInsecureRequests] },
    );
    const meta = config.serverMetadata();
    check(meta.issuer === issuer, 'issuer', meta.issuer);
    check(meta.code_challenge_methods_supported?.includes('S256'), 'S256 supported', meta);
    check(meta.end_session_endpoint === `${issuer}/oidc/logout`, 'end_session_endpoint', meta);
    check(meta.backchannel_logout_supported === true, 'backchannel_logout_supported', meta);
    // ID token signatures are checked against the JWKS, not only trusted from TLS.
    client.enableNonRepudiationChecks(config);
  });

  const browser = new Browser();
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  let callback;
  await step('authorization code + PKCE S256 (sign-in form driven with cookies and CSRF)', async () => {
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid profile email apex',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    callback = await signIn(browser, url);
    check(callback.searchParams.get('code'), 'a code', callback.href);
    check(callback.searchParams.get('iss') === issuer, 'RFC 9207 iss', callback.href);
  });

  let tokens;
  let claims;
  await step('code exchange and ID token validation', async () => {
    tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
    claims = tokens.claims();
    const aud = [claims.aud].flat();
    check(claims.iss === issuer && aud.length === 1 && aud[0] === CLIENT_ID, 'iss and aud', claims);
    check(claims.nonce === nonce, 'nonce', claims);
    check(claims.preferred_username === LOGIN, 'preferred_username', claims);
    check(claims.profiles?.includes(PROFILE), `profiles has ${PROFILE}`, claims);
    check(typeof claims.sid === 'string' && claims.sid.length > 0, 'sid', claims);
    check(claims.amr?.includes('pwd') && typeof claims.auth_time === 'number', 'amr and auth_time', claims);
    check(tokens.refresh_token && tokens.token_type.toLowerCase() === 'bearer', 'refresh token, bearer', tokens);
  });

  await step('userinfo', async () => {
    const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    check(info.sub === claims.sub, 'sub', info);
    check(info.apex_role === 'collaborateur', 'apex_role', info);
    check(info.profiles?.includes(PROFILE), 'profiles', info);
    check(/^\d{14}$/.test(info.siret ?? ''), 'siret', info);
    check(info.email?.includes('@'), 'email', info);
  });

  await step('introspection', async () => {
    const at = await client.tokenIntrospection(config, tokens.access_token);
    check(at.active === true && at.sub === claims.sub && at.client_id === CLIENT_ID, 'access token active', at);
    const rt = await client.tokenIntrospection(config, tokens.refresh_token);
    check(rt.active === true && rt.token_type === 'refresh_token', 'refresh token active', rt);
  });

  let refreshed;
  await step('refresh (rotated refresh token, new ID token of the same person)', async () => {
    refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
    check(refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token, 'rotated', refreshed);
    const again = refreshed.claims();
    check(again?.sub === claims.sub && again.sid === claims.sid, 'same sub and sid', again);
    const info = await client.fetchUserInfo(config, refreshed.access_token, claims.sub);
    check(info.sub === claims.sub, 'userinfo with the new access token', info);
  });

  await step('revocation (access token, then the refresh token and its family)', async () => {
    await client.tokenRevocation(config, refreshed.access_token);
    const at = await client.tokenIntrospection(config, refreshed.access_token);
    check(at.active === false, 'revoked access token inactive', at);
    await client.tokenRevocation(config, refreshed.refresh_token);
    const rt = await client.tokenIntrospection(config, refreshed.refresh_token);
    check(rt.active === false, 'revoked refresh token inactive', rt);
    await expectOAuthError(
      client.refreshTokenGrant(config, refreshed.refresh_token),
      'invalid_grant',
      'refresh with a revoked token',
    );
  });

  await step('client credentials (no user claims)', async () => {
    const cc = await client.clientCredentialsGrant(config);
    const at = await client.tokenIntrospection(config, cc.access_token);
    check(at.active === true && at.sub === CLIENT_ID && at.username === undefined, 'client token', at);
  });

  await step('SSO: a second authorization without a prompt; its code replayed is refused and revokes its tokens', async () => {
    const v = client.randomPKCECodeVerifier();
    const st = client.randomState();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid',
      code_challenge: await client.calculatePKCECodeChallenge(v),
      code_challenge_method: 'S256',
      state: st,
    });
    const answer = await browser.fetch(url);
    check(answer.status === 303, 'answered at once from the SSO session', answer.status);
    const back = new URL(answer.headers.get('location'));
    const second = await client.authorizationCodeGrant(config, back, { pkceCodeVerifier: v, expectedState: st });
    check(second.claims()?.sub === claims.sub, 'same person', second.claims());
    await expectOAuthError(
      client.authorizationCodeGrant(config, back, { pkceCodeVerifier: v, expectedState: st }),
      'invalid_grant',
      'a replayed code',
    );
    const at = await client.tokenIntrospection(config, second.access_token);
    check(at.active === false, 'what the replayed code issued is revoked', at);
  });

  await step('RP-initiated logout (id_token_hint, post_logout_redirect_uri, state)', async () => {
    const logoutState = client.randomState();
    const url = client.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token,
      post_logout_redirect_uri: POST_LOGOUT_URI,
      state: logoutState,
    });
    const answer = await browser.fetch(url);
    check(answer.status === 303, 'logout answers 303', answer.status);
    const back = new URL(answer.headers.get('location'));
    check(back.origin + back.pathname === POST_LOGOUT_URI, 'back to the registered URI', back.href);
    check(back.searchParams.get('state') === logoutState, 'state echoed', back.href);
    check(!browser.jar.has('apex_sso'), 'SSO cookie cleared', [...browser.jar.keys()]);
  });

  await step('prompt=none after logout gives login_required', async () => {
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
      state: 'silent',
      prompt: 'none',
    });
    const answer = await browser.fetch(url);
    const location = new URL(answer.headers.get('location'));
    check(location.searchParams.get('error') === 'login_required', 'login_required', location.href);
    check(location.searchParams.get('state') === 'silent', 'state', location.href);
  });
}

await main();
