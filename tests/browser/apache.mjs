// chromium signs in through Apache's mod_auth_openidc in front of apex-idp
// (tests/interop/apache/run.sh starts both and passes Apache's URL in APACHE):
// the protected page opens after the issuer's sign-in form, and a location that
// requires a profile the person lacks answers 401.
import { chromium } from 'playwright-core';

const APACHE = process.env.APACHE;
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const PASSWORD = 'Demo-Apex-2026!';

if (!APACHE) {
  console.error('APACHE (the URL of the Apache under test) is not set');
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
});
let failed = false;
const expect = (what, ok, detail = '') => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}${ok ? '' : `: ${detail}`}`);
  if (!ok) failed = true;
};
try {
  const page = await browser.newPage();
  await page.goto(`${APACHE}/app/`);
  // The issuer's sign-in form, reached through Apache's authorization request.
  await page.getByLabel('Identifiant').fill('amartin');
  await page.getByLabel('Mot de passe').fill(PASSWORD);
  await page.getByRole('button', { name: 'Se connecter' }).click();
  await page.waitForURL(`${APACHE}/app/`, { timeout: 15000 });
  const body = await page.textContent('body');
  expect('the protected page opens after the sign-in', body.includes('protected app'), body);
  // Same browser session at Apache: no new sign-in; the profile is missing there.
  const admin = await page.goto(`${APACHE}/admin/`);
  expect(
    'a location that requires DEMO:ADMINISTRATEUR answers 401',
    admin.status() === 401,
    `status ${admin.status()}`,
  );
} catch (e) {
  expect('the sign-in through Apache', false, e.message);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
