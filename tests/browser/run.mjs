// The browser suite of the web space: Debian's chromium driven by playwright-core
// through the main journeys (one of them by keyboard only), axe-core on every page in
// each state (errors included), a screenshot of each page, and no CSP violation.
//
//   npm install && APEX_BIN=target/debug/apex-idp node run.mjs
//
// It starts `apex-idp demo` on a free port (cheap argon2, no LDAP) and, on
// 127.0.0.1:9000, the relying party of the demo OIDC client.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const require = createRequire(import.meta.url);
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const BIN =
  process.env.APEX_BIN ??
  path.join(process.env.CARGO_TARGET_DIR ?? path.join(root, 'target'), 'debug', 'apex-idp');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = path.join(here, 'screenshots');
const PASSWORD = 'Demo-Apex-2026!';
const NEW_PASSWORD = 'Girafe-Velours-Tuba-93';
const RP = 'http://127.0.0.1:9000';
const RP_SECRET = 'demo-client-secret';
const VERIFIER = 'verificateur-pkce-de-la-suite-navigateur-0123456789';
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21aa'];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const audited = [];
const violations = [];
const cspErrors = [];

function assert(cond, message) {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startApex() {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'apex-browser-'));
  const base = `http://127.0.0.1:${port}`;
  // The demo application on a free port: the portal's link follows it.
  const child = spawn(BIN, ['demo', '--app-listen', '127.0.0.1:0', '--data-dir', dir], {
    cwd: root,
    env: {
      ...process.env,
      APEX_HTTP__LISTEN: `127.0.0.1:${port}`,
      APEX_SERVER__PUBLIC_URL: base,
      APEX_LDAP__LISTEN: '',
      APEX_ARGON2__M_KIB: '64',
      APEX_ARGON2__T: '1',
      APEX_LOG: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  for (let i = 0; i < 600 && !out.includes('sign-ins'); i++) await sleep(100);
  if (!out.includes('sign-ins')) {
    child.kill('SIGTERM');
    throw new Error(`apex-idp demo did not start (${BIN}):\n${out}\n${err}`);
  }
  const app = /^listening demo-app (\S+)$/m.exec(out);
  const apex = {
    base,
    dir,
    outbox: path.join(dir, 'outbox'),
    child,
    seen: new Set(),
    demoApp: app ? `http://${app[1]}` : null,
  };
  // The demo's own mails (its invitations and identifiers) are not ours to read.
  let count = -1;
  for (let i = 0; i < 50; i++) {
    const now = emls(apex).length;
    if (now === count && now > 0) break;
    count = now;
    await sleep(200);
  }
  for (const f of emls(apex)) apex.seen.add(f);
  return apex;
}

function emls(apex) {
  try {
    return fs
      .readdirSync(apex.outbox)
      .filter((f) => f.endsWith('.eml'))
      .map((f) => path.join(apex.outbox, f))
      .sort((a, b) => fs.statSync(a).mtimeMs - fs.statSync(b).mtimeMs);
  } catch {
    return [];
  }
}

function decodeQP(raw) {
  const unfolded = raw.replace(/=\r?\n/g, '');
  const bytes = [];
  for (let i = 0; i < unfolded.length; i++) {
    const hex = unfolded.slice(i + 1, i + 3);
    if (unfolded[i] === '=' && /^[0-9A-F]{2}$/i.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(unfolded[i], 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** The next unseen mail to `email`; with a marker, the 43-character token after it. */
async function mail(apex, email, marker) {
  for (let i = 0; i < 500; i++) {
    for (const f of emls(apex)) {
      if (apex.seen.has(f)) continue;
      const text = decodeQP(fs.readFileSync(f, 'utf8'));
      const to = text.split(/\r?\n/).find((l) => l.startsWith('To:')) ?? '';
      if (!to.includes(email)) continue;
      apex.seen.add(f);
      if (!marker) return text;
      const at = text.indexOf(marker);
      assert(at >= 0, `no ${marker} in the mail to ${email}`);
      return text.slice(at + marker.length, at + marker.length + 43);
    }
    await sleep(20);
  }
  throw new Error(`no mail to ${email}`);
}

/** The relying party of the demo client: exchanges the code, greets the person. */
function startRp(apex) {
  const received = [];
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, RP);
    if (url.pathname !== '/callback') {
      res.writeHead(404).end();
      return;
    }
    let title;
    const code = url.searchParams.get('code');
    if (code) {
      const r = await fetch(`${apex.base}/oidc/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`demo:${RP_SECRET}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code,
          redirect_uri: `${RP}/callback`,
          code_verifier: VERIFIER,
        }),
      });
      const tokens = await r.json();
      const claims = JSON.parse(Buffer.from(tokens.id_token.split('.')[1], 'base64url').toString());
      received.push(claims);
      title = `Bienvenue ${claims.given_name ?? claims.sub}`;
    } else {
      title = `Refus : ${url.searchParams.get('error')}`;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html lang="fr"><head><title>${title}</title></head><body><main><h1>${title}</h1></main></body></html>`);
  });
  return new Promise((resolve) => server.listen(9000, '127.0.0.1', () => resolve({ server, received })));
}

function authorizeUrl(apex) {
  const challenge = createHash('sha256').update(VERIFIER).digest('base64url');
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: 'demo',
    redirect_uri: `${RP}/callback`,
    scope: 'openid profile apex',
    state: 'etat-de-la-suite',
    nonce: 'nonce-de-la-suite',
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  return `${apex.base}/oidc/authorize?${q}`;
}

/** axe-core on the page as it is (injected through the DevTools protocol, so that the
 *  page's CSP stays on), then a screenshot. */
async function check(page, name) {
  await page.evaluate(AXE);
  const result = await page.evaluate(
    (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags } }),
    TAGS,
  );
  for (const v of result.violations) {
    violations.push({
      page: name,
      url: page.url(),
      rule: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
    });
  }
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  audited.push(name);
}

async function newPage(browser) {
  const context = await browser.newContext({ locale: 'fr-FR' });
  const page = await context.newPage();
  page.on('console', (msg) => {
    if (/Content.Security.Policy|Refused to/i.test(msg.text())) cspErrors.push(`${page.url()}: ${msg.text()}`);
  });
  return page;
}

async function signIn(page, apex, login, password = PASSWORD) {
  await page.goto(`${apex.base}/`);
  await page.getByLabel('Identifiant').fill(login);
  await page.getByLabel('Mot de passe').fill(password);
  await page.getByRole('button', { name: 'Se connecter' }).click();
  await page.waitForURL(/\/applications$/);
}

async function expectText(page, text) {
  await page.getByText(text, { exact: false }).first().waitFor({ timeout: 5000 });
}

/** The newcomer's path: the portal's link opens the demo application, which signs in
 *  through single sign-on (no second password) and shows the verified claims. */
async function demoApplicationJourney(browser, apex) {
  if (!apex.demoApp) throw new Error('the demo printed no `listening demo-app` line');
  const alice = await newPage(browser);
  await signIn(alice, apex, 'amartin');
  await alice.getByRole('link', { name: 'Ouvrir Application de démonstration' }).click();
  await alice.waitForURL((url) => url.href.startsWith(`${apex.demoApp}/`));
  await alice.getByRole('link', { name: 'Se connecter avec Mon espace APEX Partenaires' }).click();
  await alice.waitForURL(`${apex.demoApp}/`);
  await expectText(alice, 'Vous êtes connecté');
  await expectText(alice, 'DEMO:UTILISATEUR');
  await expectText(alice, '73282932000074');
  await check(alice, 'application-de-demonstration');
  await alice.close();
}

/** Invitation → own password → validation → habilitation by a responsable with a
 *  delegated profile → sign-in to the demo application through OIDC. */
async function preCreationJourney(browser, apex, rp) {
  const bruno = await newPage(browser);
  await bruno.goto(`${apex.base}/`);
  await check(bruno, 'connexion');
  await bruno.getByLabel('Identifiant').fill('bpetit');
  await bruno.getByLabel('Mot de passe').fill('pas-le-bon-mot-de-passe');
  await bruno.getByRole('button', { name: 'Se connecter' }).click();
  await expectText(bruno, 'Identifiant ou mot de passe incorrect');
  await check(bruno, 'connexion-erreur');
  await bruno.getByLabel('Mot de passe').fill(PASSWORD);
  await bruno.getByRole('button', { name: 'Se connecter' }).click();
  await bruno.waitForURL(/\/applications$/);
  await check(bruno, 'mes-applications');
  await bruno.getByRole('link', { name: 'Ma structure', exact: true }).click();
  await check(bruno, 'ma-structure');
  await bruno.getByRole('link', { name: 'Pré-créer un compte', exact: true }).click();
  await check(bruno, 'pre-creation');
  await bruno.getByRole('button', { name: 'Pré-créer le compte' }).click();
  await expectText(bruno, 'Le formulaire contient');
  await check(bruno, 'pre-creation-erreurs');
  await bruno.getByLabel('Prénom').fill('Inès');
  await bruno.getByLabel('Nom', { exact: true }).fill('Nouvelle');
  await bruno.getByLabel('Adresse électronique professionnelle').fill('ines.nouvelle@cabinet-martin.example');
  await bruno.getByRole('button', { name: 'Pré-créer le compte' }).click();
  await expectText(bruno, 'Le compte est pré-créé');
  await check(bruno, 'fiche-compte-invite');

  const ines = await newPage(browser);
  const token = await mail(apex, 'ines.nouvelle@cabinet-martin.example', '/invitations/');
  await ines.goto(`${apex.base}/invitations/${token}`);
  await expectText(ines, 'Bruno Petit');
  await check(ines, 'invitation');
  await ines.getByLabel('Nouveau mot de passe', { exact: true }).fill(NEW_PASSWORD);
  await ines.getByLabel('Confirmation du nouveau mot de passe').fill('autre-chose');
  await ines.getByRole('button', { name: 'Créer mon compte' }).click();
  await expectText(ines, 'La confirmation ne correspond pas');
  await check(ines, 'invitation-erreurs');
  await ines.getByLabel('Nouveau mot de passe', { exact: true }).fill(NEW_PASSWORD);
  await ines.getByLabel('Confirmation du nouveau mot de passe').fill(NEW_PASSWORD);
  await ines.getByRole('button', { name: 'Créer mon compte' }).click();
  await expectText(ines, 'en attente de validation');
  await check(ines, 'invitation-terminee');
  await ines.goto(`${apex.base}/invitations/${token}`);
  await check(ines, 'invitation-lien-invalide');

  const alice = await newPage(browser);
  await signIn(alice, apex, 'amartin');
  await alice.getByRole('link', { name: 'Ma structure', exact: true }).click();
  await alice.getByRole('link', { name: 'Créations à valider', exact: true }).click();
  await check(alice, 'creations-a-valider');
  await alice.getByRole('button', { name: 'Valider la création de Inès Nouvelle' }).click();
  await expectText(alice, 'La création est validée');
  const identifier = await mail(apex, 'ines.nouvelle@cabinet-martin.example');
  const login = /identifiant[^\n]*?:\s*([a-z0-9]+)/i.exec(identifier)?.[1] ?? 'inouvelle';

  await bruno.getByRole('link', { name: 'Ma structure', exact: true }).click();
  await bruno.getByLabel('Nom, adresse ou identifiant').fill('Nouvelle');
  await bruno.getByRole('button', { name: 'Rechercher' }).click();
  await check(bruno, 'ma-structure-recherche');
  await bruno.getByRole('link', { name: 'Nouvelle Inès', exact: true }).click();
  await bruno.getByLabel('Profil à accorder').selectOption('DEMO:UTILISATEUR');
  await bruno.getByRole('button', { name: 'Habiliter' }).click();
  await expectText(bruno, "L'habilitation est accordée");
  await check(bruno, 'fiche-compte-habilite');

  await ines.goto(authorizeUrl(apex));
  await check(ines, 'oidc-connexion');
  await ines.getByLabel('Identifiant').fill(login);
  await ines.getByLabel('Mot de passe').fill(NEW_PASSWORD);
  await ines.getByRole('button', { name: 'Se connecter' }).click();
  await ines.waitForURL(/127\.0\.0\.1:9000\/callback/);
  await expectText(ines, 'Bienvenue Inès');
  assert(rp.received.some((c) => c.given_name === 'Inès'), 'the demo application received Inès');

  // The administrateur's own pages, with their error states.
  await alice.getByRole('link', { name: 'Ma structure', exact: true }).click();
  await alice.getByRole('link', { name: 'Gérer les services', exact: true }).click();
  await check(alice, 'services');
  await alice.getByRole('button', { name: 'Créer le service' }).click();
  await check(alice, 'services-erreur');
  await alice.getByRole('link', { name: 'Comptabilité', exact: true }).click();
  await check(alice, 'service');
  await alice.getByRole('link', { name: 'Ma structure', exact: true }).click();
  await alice.getByRole('link', { name: 'Habilitations par profil', exact: true }).click();
  await check(alice, 'habilitations-par-profil');
  await alice.getByRole('link', { name: "Journal d'audit", exact: true }).click();
  await check(alice, 'journal-audit');
  await alice.getByRole('link', { name: 'Ma structure', exact: true }).click();
  await alice.getByRole('link', { name: 'Durand Chloé', exact: true }).click();
  await check(alice, 'fiche-compte-administrateur');
  await alice.getByRole('link', { name: 'Demander la suppression du compte', exact: true }).click();
  await check(alice, 'demande-de-suppression');
  await alice.getByRole('link', { name: 'Mes données personnelles', exact: true }).click();
  await check(alice, 'mes-donnees');
  await alice.getByLabel('Nom', { exact: true }).fill('');
  await alice.getByRole('button', { name: 'Enregistrer' }).click();
  await check(alice, 'mes-donnees-erreur');
  await alice.getByLabel('Nom', { exact: true }).fill('Martin');
  await alice.getByLabel('Adresse électronique').fill('alice.martin@nouvelle-adresse.example');
  await alice.getByLabel('Mot de passe actuel').fill(PASSWORD);
  await alice.getByRole('button', { name: 'Enregistrer' }).click();
  await expectText(alice, 'Un lien de confirmation a été envoyé');
  const confirm = await mail(apex, 'alice.martin@nouvelle-adresse.example', '/email-confirmations/');
  await alice.goto(`${apex.base}/email-confirmations/${confirm}`);
  await check(alice, 'confirmation-adresse');
  await alice.getByRole('button', { name: 'Confirmer cette adresse' }).click();
  await check(alice, 'adresse-confirmee');
  await alice.goto(`${apex.base}/me/password`);
  await check(alice, 'changer-mot-de-passe');
  await alice.getByRole('button', { name: 'Changer le mot de passe' }).click();
  await check(alice, 'changer-mot-de-passe-erreurs');
}

/** Forgotten password, from the sign-in page to the new password. */
async function forgottenPasswordJourney(browser, apex) {
  const hugo = await newPage(browser);
  await hugo.goto(`${apex.base}/`);
  await hugo.getByRole('link', { name: 'Mot de passe oublié ?', exact: true }).click();
  await check(hugo, 'mot-de-passe-oublie');
  await hugo.getByRole('button', { name: 'Recevoir un lien' }).click();
  await check(hugo, 'mot-de-passe-oublie-erreur');
  await hugo.getByLabel('Identifiant').fill('hlambert');
  await hugo.getByRole('button', { name: 'Recevoir un lien' }).click();
  await expectText(hugo, 'Si cet identifiant correspond à un compte actif');
  await check(hugo, 'demande-enregistree');
  const token = await mail(apex, 'hugo.lambert@csp-nord.example', '/password-resets/');
  await hugo.goto(`${apex.base}/password-resets/${token}`);
  await check(hugo, 'nouveau-mot-de-passe');
  await hugo.getByLabel('Nouveau mot de passe', { exact: true }).fill(NEW_PASSWORD);
  await hugo.getByLabel('Confirmation du nouveau mot de passe').fill('differente');
  await hugo.getByRole('button', { name: 'Enregistrer le mot de passe' }).click();
  await check(hugo, 'nouveau-mot-de-passe-erreur');
  await hugo.getByLabel('Nouveau mot de passe', { exact: true }).fill(NEW_PASSWORD);
  await hugo.getByLabel('Confirmation du nouveau mot de passe').fill(NEW_PASSWORD);
  await hugo.getByRole('button', { name: 'Enregistrer le mot de passe' }).click();
  await expectText(hugo, 'Votre nouveau mot de passe est enregistré');
  await check(hugo, 'mot-de-passe-enregistre');
  await hugo.goto(`${apex.base}/password-resets/${token}`);
  await check(hugo, 'lien-de-reinitialisation-invalide');
  await signIn(hugo, apex, 'hlambert', NEW_PASSWORD);
}

/** Presses Tab until the focused element matches, then returns. */
async function tabTo(page, describe, matches) {
  for (let i = 0; i < 60; i++) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const e = document.activeElement;
      const style = e ? getComputedStyle(e) : null;
      return {
        id: e?.id ?? '',
        text: (e?.innerText ?? e?.value ?? '').trim(),
        tag: e?.tagName ?? '',
        outline: style ? `${style.outlineStyle} ${style.outlineWidth}` : '',
      };
    });
    if (matches(focused)) {
      assert(!focused.outline.startsWith('none'), `visible focus on ${describe}: ${focused.outline}`);
      return;
    }
  }
  throw new Error(`Tab never reached ${describe} on ${page.url()}`);
}

/** A collaborateur consults his structure, by keyboard only. */
async function keyboardJourney(browser, apex) {
  const chloe = await newPage(browser);
  await chloe.goto(`${apex.base}/`);
  await chloe.keyboard.press('Tab');
  const first = await chloe.evaluate(() => document.activeElement?.textContent?.trim());
  assert(first === 'Aller au contenu', `the skip link comes first, got ${first}`);
  await tabTo(chloe, 'the identifier', (f) => f.id === 'login');
  await chloe.keyboard.type('cdurand');
  await chloe.keyboard.press('Tab');
  await chloe.keyboard.type(PASSWORD);
  await chloe.keyboard.press('Enter');
  await chloe.waitForURL(/\/applications$/);
  await tabTo(chloe, 'Ma structure', (f) => f.tag === 'A' && f.text === 'Ma structure');
  await chloe.keyboard.press('Enter');
  await chloe.waitForURL(/\/structure$/);
  await check(chloe, 'ma-structure-collaborateur');
  await tabTo(chloe, 'the search field', (f) => f.id === 'q');
  await chloe.keyboard.type('petit');
  await chloe.keyboard.press('Enter');
  await expectText(chloe, 'Petit Bruno');
  await tabTo(chloe, 'Petit Bruno', (f) => f.tag === 'A' && f.text === 'Petit Bruno');
  await chloe.keyboard.press('Enter');
  await chloe.waitForURL(/\/structure\/accounts\//);
  await check(chloe, 'fiche-compte-collaborateur');
  await chloe.goto(`${apex.base}/structure/services`);
  await check(chloe, 'acces-refuse');
  await chloe.goto(`${apex.base}/page-qui-n-existe-pas`);
  await check(chloe, 'page-introuvable');
  await chloe.goto(`${apex.base}/accessibilite`);
  await check(chloe, 'accessibilite');
  await chloe.goto(`${apex.base}/plan-du-site`);
  await check(chloe, 'plan-du-site');
  await chloe.goto(`${apex.base}/applications`);
  await tabTo(chloe, 'Se déconnecter', (f) => f.tag === 'BUTTON' && f.text === 'Se déconnecter');
  await chloe.keyboard.press('Enter');
  await expectText(chloe, 'Vous êtes déconnecté');
  await check(chloe, 'deconnexion');
}

async function main() {
  fs.mkdirSync(SHOTS, { recursive: true });
  const apex = await startApex();
  const rp = await startRp(apex);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  let failed = null;
  try {
    for (const [name, journey] of [
      ['portal to the demo application', () => demoApplicationJourney(browser, apex)],
      ['pre-creation to OIDC sign-in', () => preCreationJourney(browser, apex, rp)],
      ['forgotten password', () => forgottenPasswordJourney(browser, apex)],
      ['keyboard only', () => keyboardJourney(browser, apex)],
    ]) {
      const start = Date.now();
      await journey();
      console.log(`journey ok: ${name} (${Date.now() - start} ms)`);
    }
  } catch (e) {
    failed = e;
  } finally {
    await browser.close();
    rp.server.close();
    apex.child.kill('SIGTERM');
  }
  console.log(`axe-core (${TAGS.join(', ')}) on ${audited.length} pages; screenshots in ${SHOTS}`);
  for (const v of violations) {
    console.log(`  violation on ${v.page}: ${v.rule} (${v.impact}) ${v.help} -> ${v.nodes.join(' | ')}`);
  }
  for (const c of cspErrors) console.log(`  CSP: ${c}`);
  if (failed) {
    console.error(failed);
    process.exit(1);
  }
  if (violations.length > 0 || cspErrors.length > 0) process.exit(1);
  console.log('browser suite OK');
}

await main();
