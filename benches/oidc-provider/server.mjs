// npm oidc-provider (a certified OpenID Provider) configured as apex-idp is for its
// OIDC benchmark, to be driven by the same load client (benches/oidc.rs, external mode;
// benches/oidc-compare.sh runs both).
//
//   NODE_ENV=production PORT=18081 node server.mjs
//
// Equivalent to apex-idp on tests/oidc/catalogue.toml: the three confidential clients
// of the bench (client_secret_basic, one per ID-token algorithm RS256 / ES256 / EdDSA,
// the same redirect URIs), PKCE S256 required, authorization_code + rotating
// refresh_token + client_credentials, introspection and revocation, RFC 9068 JWT
// access tokens signed ES256 with the client as audience, the same lifetimes (codes
// 60 s, access and ID tokens 300 s), the same endpoint paths, the same claims in ID
// tokens and userinfo (one fixed account: Chloé Durand of the demo directory), keys
// generated at start. Login and consent are finished at once by /interaction/:uid, so
// the client signs in through three requests per client, then authorizes with the
// session cookie as it does with apex-idp's SSO session.
//
// ACCESS_TOKENS=opaque issues opaque access tokens instead: oidc-provider only answers
// userinfo and introspection for those (its JWT access tokens are for resource
// servers: neither stored nor accepted at userinfo), so the comparison measures those
// two operations with this variant.
//
// Environment: PORT (0: any free port), HOST (127.0.0.1), ACCESS_TOKENS (jwt|opaque).
// Prints `listening http <host>:<port> pid <pid>` once ready.
import * as crypto from 'node:crypto';
import * as http from 'node:http';

import { Provider } from 'oidc-provider';

const HOST = process.env.HOST ?? '127.0.0.1';
const PORT = Number(process.env.PORT ?? 0);
const ACCESS_TOKENS = process.env.ACCESS_TOKENS ?? 'jwt';
if (!['jwt', 'opaque'].includes(ACCESS_TOKENS)) {
  throw new Error(`ACCESS_TOKENS=${ACCESS_TOKENS}: jwt or opaque`);
}
// The resource server the JWT access tokens are for (never requested by the client:
// every request defaults to it, as apex-idp's tokens are always JWTs).
const API = 'https://api.apex.example.test/';

const ACCESS_TOKEN_SECONDS = 300;
const CODE_SECONDS = 60;
const REFRESH_TOKEN_SECONDS = 30 * 24 * 3600;
const SESSION_SECONDS = 12 * 3600;

const CLIENTS = [
  ['demo', 'RS256', 'http://127.0.0.1:9000/callback', 'http://localhost:9000/callback'],
  ['es256', 'ES256', 'https://ouverte.example.test/callback'],
  ['eddsa', 'EdDSA', 'https://eddsa.example.test/callback'],
].map(([clientId, alg, ...redirectUris]) => ({
  client_id: clientId,
  client_secret: `${clientId}-client-secret`,
  token_endpoint_auth_method: 'client_secret_basic',
  id_token_signed_response_alg: alg,
  redirect_uris: redirectUris,
  grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
  response_types: ['code'],
}));

// Chloé Durand as apex-idp's demo directory shows her; her profiles are those of the
// requesting client's application (DEMO:UTILISATEUR for the demo client only).
const ACCOUNT_ID = '9001a5e3-1504-4c77-8626-9fc70cb6f52b';
const PERSON = {
  sub: ACCOUNT_ID,
  preferred_username: 'cdurand',
  given_name: 'Chloé',
  family_name: 'Durand',
  usual_name: 'Durand',
  email: 'chloe.durand@cabinet-martin.example',
  siret: '73282932000074',
  structure: 'Cabinet Martin & Associés',
  structure_category: 'CSP',
  service_id: '638d9310-e26c-40d9-a1d9-d165fea96ec8',
  service: 'Comptabilité',
  apex_role: 'collaborateur',
};
const profilesFor = (clientId) => (clientId === 'demo' ? ['DEMO:UTILISATEUR'] : []);
const ACCOUNT = {
  accountId: ACCOUNT_ID,
  async claims(_use, _scope, _claims, _rejected) {
    return { ...PERSON, profiles: profilesFor(this.clientId) };
  },
};

/** One signing key per algorithm, generated at start, as private JWKs. */
function signingKeys() {
  const jwk = (alg, type, options) => {
    const { privateKey } = crypto.generateKeyPairSync(type, options);
    return { ...privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid: `${alg}-${crypto.randomUUID()}` };
  };
  return [
    jwk('RS256', 'rsa', { modulusLength: 2048 }),
    jwk('ES256', 'ec', { namedCurve: 'P-256' }),
    jwk('EdDSA', 'ed25519'),
  ];
}

/**
 * In-memory storage: oidc-provider's own memory adapter is an LRU of 1,000 entries
 * (the prepared codes would evict each other) whose grant index is rebuilt at every
 * write; this one is a Map with expiry and a set per grant, purged every minute.
 */
class MemoryAdapter {
  static #entries = new Map(); // `${model}:${id}` -> { payload, expiresAt }
  static #grants = new Map(); // grantId -> Set of keys
  static #sessionUids = new Map(); // uid -> session id

  static {
    setInterval(() => {
      const now = Date.now();
      for (const [key, entry] of MemoryAdapter.#entries) {
        if (entry.expiresAt <= now) MemoryAdapter.#remove(key);
      }
    }, 60_000).unref();
  }

  static #remove(key) {
    const entry = MemoryAdapter.#entries.get(key);
    if (!entry) return;
    MemoryAdapter.#entries.delete(key);
    const { grantId, uid } = entry.payload;
    if (grantId) MemoryAdapter.#grants.get(grantId)?.delete(key);
    if (uid) MemoryAdapter.#sessionUids.delete(uid);
  }

  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    const expiresAt = expiresIn ? Date.now() + expiresIn * 1000 : Infinity;
    MemoryAdapter.#entries.set(key, { payload, expiresAt });
    if (payload.grantId) {
      let members = MemoryAdapter.#grants.get(payload.grantId);
      if (!members) MemoryAdapter.#grants.set(payload.grantId, (members = new Set()));
      members.add(key);
    }
    if (this.model === 'Session') MemoryAdapter.#sessionUids.set(payload.uid, id);
  }

  async find(id) {
    const entry = MemoryAdapter.#entries.get(this.key(id));
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      MemoryAdapter.#remove(this.key(id));
      return undefined;
    }
    return entry.payload;
  }

  async findByUid(uid) {
    const id = MemoryAdapter.#sessionUids.get(uid);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(_userCode) {
    return undefined; // no device flow
  }

  async consume(id) {
    const entry = MemoryAdapter.#entries.get(this.key(id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    MemoryAdapter.#remove(this.key(id));
  }

  async revokeByGrantId(grantId) {
    for (const key of MemoryAdapter.#grants.get(grantId) ?? []) MemoryAdapter.#remove(key);
    MemoryAdapter.#grants.delete(grantId);
  }
}

const jwtAccessTokens = ACCESS_TOKENS === 'jwt';

const configuration = {
  adapter: MemoryAdapter,
  clients: CLIENTS,
  jwks: { keys: signingKeys() },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  findAccount: async (ctx, id) => (id === ACCOUNT_ID
    ? { ...ACCOUNT, clientId: ctx.oidc.client?.clientId }
    : undefined),
  claims: {
    openid: ['sub', 'auth_time', 'acr', 'amr'],
    profile: ['preferred_username', 'given_name', 'family_name', 'usual_name'],
    email: ['email'],
    apex: [
      'preferred_username', 'given_name', 'family_name', 'usual_name', 'email', 'siret',
      'structure', 'structure_category', 'service_id', 'service', 'apex_role', 'profiles',
    ],
  },
  scopes: ['openid', 'profile', 'email', 'apex'],
  acrValues: ['eidas1'],
  // apex-idp puts the granted claims in the ID token as well as at userinfo.
  conformIdTokenClaims: false,
  responseTypes: ['code'],
  pkce: { required: () => true },
  clientDefaults: {
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  },
  routes: {
    authorization: '/oidc/authorize',
    token: '/oidc/token',
    userinfo: '/oidc/userinfo',
    introspection: '/oidc/introspect',
    revocation: '/oidc/revoke',
    jwks: '/oidc/jwks',
    end_session: '/oidc/logout',
  },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true, allowedPolicy: async (ctx, client, token) => token.clientId === client.clientId },
    revocation: { enabled: true, allowedPolicy: async (ctx, client, token) => token.clientId === client.clientId },
    userinfo: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (_ctx, _client, oneOf) => oneOf ?? (jwtAccessTokens ? API : undefined),
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, resource, client) => {
        if (resource !== API) throw new Error(`unknown resource ${resource}`);
        return {
          scope: 'openid profile email apex',
          audience: client.clientId,
          accessTokenTTL: ACCESS_TOKEN_SECONDS,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        };
      },
    },
  },
  // apex-idp issues a refresh token at every code exchange and rotates it at each use.
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: () => true,
  extraTokenClaims: async (ctx, token) => (token.accountId
    ? { profiles: profilesFor(token.clientId), acr: 'eidas1', amr: ['pwd'] }
    : undefined),
  ttl: {
    AccessToken: ACCESS_TOKEN_SECONDS,
    AuthorizationCode: CODE_SECONDS,
    ClientCredentials: ACCESS_TOKEN_SECONDS,
    IdToken: ACCESS_TOKEN_SECONDS,
    RefreshToken: REFRESH_TOKEN_SECONDS,
    Grant: REFRESH_TOKEN_SECONDS,
    Session: SESSION_SECONDS,
    Interaction: 600,
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  clientBasedCORS: () => false,
  renderError: async (ctx, out) => {
    ctx.type = 'application/json';
    ctx.body = out;
  },
};

const server = http.createServer();
await new Promise((resolve) => server.listen(PORT, HOST, resolve));
const { port } = server.address();
const provider = new Provider(`http://${HOST}:${port}`, configuration);
provider.proxy = false;
const callback = provider.callback();

/** Signs Chloé Durand in and grants what the client asked, with no page. */
async function finishInteraction(req, res) {
  try {
    const { params, grantId } = await provider.interactionDetails(req, res);
    const grant = grantId
      ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: ACCOUNT_ID, clientId: params.client_id });
    grant.addOIDCScope(params.scope);
    if (params.resource) grant.addResourceScope(params.resource, params.scope);
    const result = {
      login: { accountId: ACCOUNT_ID, acr: 'eidas1', amr: ['pwd'], remember: true },
      consent: { grantId: await grant.save() },
    };
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  } catch (e) {
    res.statusCode = 400;
    res.end(String(e));
  }
}

server.on('request', (req, res) => {
  if (req.url.startsWith('/interaction/')) finishInteraction(req, res);
  else callback(req, res);
});
// Keep the load client's connections between measures (node closes idle ones at 5 s).
server.keepAliveTimeout = 120_000;
console.log(`listening http ${HOST}:${port} pid ${process.pid} (oidc-provider, ${ACCESS_TOKENS} access tokens)`);
