// End-to-end browser tests of the Shared Record Viewer: Playwright
// (playwright-core) driving Debian's Chromium, axe-core on every page.
// Run by cmd/srv's TestBrowser (make test, .ci/run), which starts the
// gateway, the development identity provider and two viewers, and passes
// their URLs in the environment.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE = require.resolve('axe-core/axe.min.js');
const SRV = process.env.SRV_URL;
const IDLE_SRV = process.env.SRV_IDLE_URL;
const IDLE_SECONDS = Number(process.env.SRV_IDLE_SECONDS || '4');
const ART = process.env.ARTEFACTS || 'test-results';
for (const v of ['SRV_URL', 'SRV_IDLE_URL', 'GATEWAY_FHIR']) {
  if (!process.env[v]) throw new Error(`${v} is not set: run through go test ./cmd/srv -run TestBrowser`);
}

let browser;
let shots = 0;
const axeReport = [];

before(async () => {
  fs.mkdirSync(ART, { recursive: true });
  // launch() gives the browser a fresh, temporary user-data-dir.
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  fs.writeFileSync(path.join(ART, 'axe-report.json'), JSON.stringify(axeReport, null, 2));
  await browser?.close();
});

// A fresh browser context: its own cookies, like a new browser. CSP is
// bypassed only so that axe-core can be injected for the checks.
async function newContext() {
  return browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 900 } });
}

// check saves a screenshot and runs axe-core: no serious or critical
// violations allowed.
async function check(page, name) {
  shots++;
  await page.screenshot({ path: path.join(ART, `${String(shots).padStart(2, '0')}-${name}.png`), fullPage: true });
  await page.addScriptTag({ path: AXE });
  const res = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  axeReport.push({ page: name, url: new URL(page.url()).pathname.replace(/\/p\/[^/]+/, '/p/<ctx>'), violations: res.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length })) });
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`), [], `axe on ${name}`);
}

// signIn signs in through the development identity provider: a demo user
// by their button, or any user through the form.
async function signIn(page, base, who) {
  await page.goto(base + '/');
  await page.click('#signin');
  await idpSignIn(page, who);
  await page.waitForSelector('#nhs');
}

async function idpSignIn(page, who) {
  await page.waitForSelector('text=MIG development sign-in');
  if (who.demo) {
    await page.click(`#demo-${who.demo}`);
    return;
  }
  await page.fill('#user', who.user);
  await page.fill('#name', who.name || 'E2E Clinician');
  await page.selectOption('#role', who.role || 'R8000');
  await page.fill('#org', who.org || 'RX999');
  await page.click('form:not(.demo) button[type=submit]');
}

async function search(page, nhs, [d, m, y]) {
  await page.fill('#nhs', nhs);
  await page.fill('#dob-day', d);
  await page.fill('#dob-month', m);
  await page.fill('#dob-year', y);
  await page.click('#search');
}

async function consent(page, choice, reason) {
  await page.check(`#choice-${choice}`);
  if (reason) await page.selectOption('#reason', reason);
  await page.click('#record-consent');
}

const TABS = ['Summary', 'Problems', 'Diagnoses', 'Medication', 'Risks and warnings', 'Procedures', 'Investigations', 'Examination', 'Events', 'Demographics'];

test('sign in, find a patient, record consent, every tab', async () => {
  const ctx = await newContext();
  const page = await ctx.newPage();
  await page.goto(SRV + '/');
  await check(page, 'start');
  await page.click('#signin');
  await page.waitForSelector('text=MIG development sign-in');
  await page.screenshot({ path: path.join(ART, `00-identity-provider.png`) });
  await idpSignIn(page, { demo: 'rx-doctor' });
  await page.waitForSelector('#nhs');
  assert.match(await page.textContent('.srv-user'), /Dr Amira Khan[\s\S]*R8000[\s\S]*RX999/);
  await check(page, 'find-a-patient');

  // Validation: both fields, modulus 11.
  await search(page, '999 000 1007', ['', '', '']);
  await page.waitForSelector('.nhsuk-error-summary');
  assert.match(await page.textContent('.nhsuk-error-summary'), /not a valid NHS number[\s\S]*date of birth/);
  await check(page, 'find-a-patient-errors');

  await search(page, '999 000 1006', ['14', '3', '1950']);
  await page.waitForSelector('#record-consent');
  assert.equal((await page.textContent('#consent-nhs')).trim(), '999 000 1006');
  assert.equal((await page.textContent('#consent-dob')).trim(), '14 Mar 1950');
  await check(page, 'consent');
  await consent(page, 'given');
  await page.waitForSelector('#patient-name');
  assert.match(await page.textContent('.srv-banner'), /Ann[\s\S]*999 000 1006[\s\S]*14 Mar 1950[\s\S]*years[\s\S]*Female[\s\S]*A99901/);
  for (const tab of TABS) {
    await page.click(`.srv-tabs__link:text-is("${tab}")`);
    await page.waitForSelector(`#view-heading:text-is("${tab}")`);
    assert.match(await page.textContent('.srv-user'), /R8000[\s\S]*RX999/, `role and organisation on ${tab}`);
    await check(page, 'tab-' + tab.toLowerCase().replace(/[^a-z]+/g, '-'));
  }
  // What the tabs show, checked against the synthetic patient's story by
  // code (the gateway's term policy decides whether terms are shown).
  await page.click('.srv-tabs__link:text-is("Medication")');
  const med = await page.textContent('main');
  assert.match(med, /f41y[\s\S]*one tablet twice daily[\s\S]*56 tablet/);
  assert.match(med, /323509004[\s\S]*one capsule three times a day/);
  await page.click('.srv-tabs__link:text-is("Examination")');
  assert.equal(await page.locator('svg.srv-chart').count(), 1);
  assert.match(await page.textContent('main'), /142[\s\S]*88/);
  await page.click('.srv-tabs__link:text-is("Summary")');
  assert.match(await page.textContent('#allergies'), /14L2/);
  // Equivalence story items 14 and 15: an allergen coded only locally, a
  // result in a unit on no list.
  assert.match(await page.textContent('#allergies'), /Allergen not coded: check with the GP practice/);
  assert.match(await page.textContent('#recent-tests'), /unit withheld/);
  assert.match(await page.textContent('#active-problems'), /C10F[\s\S]*44054006/);
  // Printed, the page says who printed it and when the record was read;
  // the navigation and forms are left out.
  await page.emulateMedia({ media: 'print' });
  assert.ok(await page.isVisible('.srv-print-only'));
  assert.match(await page.textContent('.srv-print-only'), /Printed from the Shared Record Viewer by Dr Amira Khan \(rx-doctor\), Clinical Practitioner Access Role, Demo Emergency Department \(RX999\)\. Page read from the GP record at \d{1,2} \w{3} \d{4} \d{2}:\d{2}/);
  assert.ok(!(await page.isVisible('.srv-tabs')) && !(await page.isVisible('.srv-signout')));
  await page.screenshot({ path: path.join(ART, 'print-summary.png'), fullPage: true });
  await page.emulateMedia({ media: 'screen' });
  // Sorting by date, without JavaScript: a link.
  await page.click('#active-problems th a');
  await page.waitForURL(/sort=asc/);
  await ctx.close();
});

test('a date of birth that does not match the NHS number gets no consent', async () => {
  const ctx = await newContext();
  const page = await ctx.newPage();
  await signIn(page, SRV, { user: 'e2e-dob', name: 'Dr Dob' });
  await search(page, '9990002002', ['1', '1', '1990']);
  await page.waitForSelector('#record-consent');
  await consent(page, 'given');
  await page.waitForSelector('#message');
  assert.match(await page.textContent('main'), /Nothing was recorded[\s\S]*no consent was recorded/);
  await check(page, 'dob-mismatch');
  // With the right date of birth, the consent screen is still asked for:
  // nothing was recorded.
  await page.goto(SRV + '/');
  await search(page, '9990002002', ['14', '3', '1950']);
  await page.waitForSelector('#record-consent');
  await ctx.close();
});

test('emergency access: reason required, banner on every page', async () => {
  const ctx = await newContext();
  const page = await ctx.newPage();
  await signIn(page, SRV, { user: 'e2e-emergency', name: 'Dr Emergency' });
  await search(page, '9990003009', ['14', '3', '1950']);
  await page.waitForSelector('#record-consent');
  await consent(page, 'emergency');
  await page.waitForSelector('.nhsuk-error-summary');
  assert.match(await page.textContent('.nhsuk-error-summary'), /reason for emergency access/);
  await check(page, 'emergency-needs-reason');
  await consent(page, 'emergency', 'unconscious');
  await page.waitForSelector('#patient-name');
  for (const tab of TABS) {
    await page.click(`.srv-tabs__link:text-is("${tab}")`);
    await page.waitForSelector(`#view-heading:text-is("${tab}")`);
    assert.match(await page.textContent('.srv-emergency'), /Emergency access/, `emergency banner on ${tab}`);
  }
  assert.match(await page.textContent('#demographics'), /Mrs Ann Tpp[\s\S]*999 000 3009[\s\S]*14 Mar 1950[\s\S]*Female/);
  await check(page, 'emergency-banner');
  await ctx.close();
  // An out-of-hours service's agreement does not permit emergency access.
  const ctx2 = await newContext();
  const p2 = await ctx2.newPage();
  await signIn(p2, SRV, { demo: 'nx-doctor' });
  await search(p2, '9990003017', ['30', '8', '1975']);
  await p2.waitForSelector('#record-consent');
  await consent(p2, 'emergency', 'unconscious');
  await p2.waitForSelector('#message');
  assert.match(await p2.textContent('#message'), /does not permit emergency access/);
  await check(p2, 'emergency-not-permitted');
  await ctx2.close();
});

test('refused paths are explained in plain, true words', async () => {
  const ctx = await newContext();
  const page = await ctx.newPage();
  await signIn(page, SRV, { user: 'e2e-refused', name: 'Dr Refused' });
  await search(page, '9990001014', ['2', '7', '1962']);
  await page.waitForSelector('#record-consent');
  await consent(page, 'refused');
  await page.waitForSelector('#message');
  assert.match(await page.textContent('main'), /refused consent to view[\s\S]*Nothing from their GP record is shown/);
  await check(page, 'patient-refused');
  // A patient who dissented at the practice.
  await page.goto(SRV + '/');
  await search(page, '9990001049', ['17', '5', '1980']);
  await page.waitForSelector('#message');
  assert.match(await page.textContent('#message'), /The patient's GP record does not allow sharing: no consent to share is recorded, or the patient has opted out\./);
  await check(page, 'no-patient-consent');
  await ctx.close();
  // A receptionist's role may not see records.
  const ctx2 = await newContext();
  const p2 = await ctx2.newPage();
  await signIn(p2, SRV, { demo: 'rx-reception' });
  await search(p2, '9990001006', ['14', '3', '1950']);
  await p2.waitForSelector('#message');
  assert.match(await p2.textContent('#message'), /not allowed to see this/);
  await ctx2.close();
});

test('an agreement covering some views: the others say so, the covered ones show', async () => {
  const ctx = await newContext();
  const page = await ctx.newPage();
  await signIn(page, SRV, { user: 'e2e-partial', name: 'Dr Partial', org: 'QX999' });
  await search(page, '9990001006', ['14', '3', '1950']);
  await page.waitForSelector('#record-consent');
  await consent(page, 'given');
  await page.waitForSelector('#view-heading:text-is("Summary")');
  assert.match(await page.textContent('#message'), /The Summary view is not covered by your organisation's \(QX999\) Information Sharing Agreement/);
  assert.match(await page.textContent('#allergies'), /Allergies are not covered by your organisation's agreement/);
  await check(page, 'summary-not-covered');
  await page.click('.srv-tabs__link:text-is("Problems")');
  await page.waitForSelector('#patient-name');
  assert.match(await page.textContent('#active-problems'), /C10F/);
  await page.click('.srv-tabs__link:text-is("Risks and warnings")');
  assert.match(await page.textContent('#message'), /Risks and warnings view is not covered/);
  await ctx.close();
  // An organisation in no agreement at all.
  const ctx2 = await newContext();
  const p2 = await ctx2.newPage();
  await signIn(p2, SRV, { user: 'e2e-outsider', name: 'Dr Outsider', org: 'ZZ999' });
  await search(p2, '9990001006', ['14', '3', '1950']);
  await p2.waitForSelector('#message');
  assert.match(await p2.textContent('#message'), /Your organisation \(ZZ999\) is not in any active Information Sharing Agreement/);
  await check(p2, 'organisation-in-no-agreement');
  await ctx2.close();
});

// launchFromSimulator submits the EHR simulator's form and returns the new
// tab, and the /launch URL it was opened at.
async function launchFromSimulator(sim, nhs, user) {
  await sim.selectOption('#patient', nhs);
  await sim.selectOption('#user', user);
  let launchURL = '';
  const seen = (r) => { if (r.url().startsWith(SRV + '/launch?')) launchURL = r.url(); };
  sim.context().on('request', seen);
  const [tab] = await Promise.all([sim.context().waitForEvent('page'), sim.click('#launch')]);
  await tab.waitForLoadState();
  await tab.waitForURL((u) => !u.pathname.startsWith('/ehr'));
  sim.context().off('request', seen);
  return { tab, launchURL: () => launchURL };
}

test('launch from the EHR simulator: straight to its patient; a second launch in another tab; a replayed launch', async () => {
  const ctx = await newContext();
  const sim = await ctx.newPage();
  await sim.goto(SRV + '/ehr');
  await check(sim, 'ehr-simulator');

  const first = await launchFromSimulator(sim, '9990002002', 'rx-nurse');
  await idpSignIn(first.tab, { demo: 'rx-nurse' });
  await first.tab.waitForSelector('#record-consent');
  assert.equal((await first.tab.textContent('#consent-nhs')).trim(), '999 000 2002');
  await check(first.tab, 'launch-consent');
  await consent(first.tab, 'given');
  await first.tab.waitForSelector('#patient-name');
  assert.match(await first.tab.textContent('.srv-banner'), /999 000 2002/);
  await check(first.tab, 'launch-summary');
  const replay = first.launchURL();
  assert.ok(replay.includes('launch='), 'the launch URL was seen');

  // A second launch, another patient, in another tab: signed in at the
  // identity provider already, so straight through.
  const second = await launchFromSimulator(sim, '9990003009', 'rx-nurse');
  await second.tab.waitForSelector('#record-consent');
  await consent(second.tab, 'given');
  await second.tab.waitForSelector('#patient-name');
  assert.match(await second.tab.textContent('.srv-banner'), /999 000 3009/);
  // The first tab still shows, and reads, its own patient.
  await first.tab.bringToFront();
  await first.tab.click('.srv-tabs__link:text-is("Medication")');
  await first.tab.waitForSelector('#view-heading:text-is("Medication")');
  assert.match(await first.tab.textContent('.srv-banner'), /999 000 2002/);
  await first.tab.reload();
  assert.match(await first.tab.textContent('.srv-banner'), /999 000 2002/);
  await check(first.tab, 'first-tab-keeps-its-patient');

  // The first launch id again: refused.
  const again = await ctx.newPage();
  await again.goto(replay);
  await again.waitForSelector('#message');
  assert.match(await again.textContent('#message'), /already used/);
  await check(again, 'launch-replayed');

  // A launch made for another user is refused.
  const other = await launchFromSimulator(sim, '9990001006', 'nx-doctor');
  await other.tab.waitForSelector('#message');
  assert.match(await other.tab.textContent('#message'), /another user/);
  await ctx.close();
});

test('idle timeout signs out, here and at the identity provider', async () => {
  const ctx = await newContext();
  const page = await ctx.newPage();
  await signIn(page, IDLE_SRV, { demo: 'rx-doctor' });
  // The page itself goes to /idle once the idle time has passed (a meta
  // refresh: no script), and is signed out.
  await page.waitForURL(/signed-out\?reason=idle/, { timeout: (IDLE_SECONDS + 10) * 1000 });
  assert.match(await page.textContent('#message'), /signed out because the viewer was not used/);
  await check(page, 'idle-signed-out');
  // Signed out at the identity provider too: signing in asks again.
  await page.goto(IDLE_SRV + '/');
  await page.click('#signin');
  await page.waitForSelector('text=MIG development sign-in');
  await ctx.close();
});

test('sign out ends the session here and at the identity provider', async () => {
  const ctx = await newContext();
  const page = await ctx.newPage();
  await signIn(page, SRV, { demo: 'rx-doctor' });
  await page.click('.srv-signout__button');
  await page.waitForURL(/signed-out/);
  assert.match(await page.textContent('h1'), /You are signed out/);
  await check(page, 'signed-out');
  await page.goto(SRV + '/');
  assert.equal(await page.locator('#signin').count(), 1);
  await page.click('#signin');
  await page.waitForSelector('text=MIG development sign-in');
  await ctx.close();
});
