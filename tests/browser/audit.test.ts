/**
 * The audit browser (issue 12, access review): an auditor filters the
 * records by user and action, downloads the same selection as CSV, checks
 * the chain, and reads the access review (projects, last sign-in, dormant
 * and disabled accounts). An annotator is told the log is not for them,
 * and a session that ended says so with a way to sign in again.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserCookies } from '../../scripts/credentials.js';
import { asSession, createUser, signIn, TEST_PASSWORD, type Session } from '../helpers/accounts.js';
import { CHROMIUM, HAS_CHROMIUM, launchChromium } from '../helpers/browser.js';
import { VIEWER_SLIDES } from '../helpers/paths.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let browser: Browser;
let srv: TestServer;
let auditor: Session;
let annotator: Session;
let annotatorId = '';
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  if (!HAS_CHROMIUM) {
    process.stdout.write(`[browser] SKIP: no Chromium at ${CHROMIUM}\n`);
    return;
  }
  srv = await startTestServer(VIEWER_SLIDES);
  const admin = srv.session as Session;
  await createUser(srv.url, admin, 'audrey', 'auditor');
  annotatorId = (await createUser(srv.url, admin, 'anna')).id;
  const sleeper = await createUser(srv.url, admin, 'sleeper');
  expect((await asSession(srv.url, admin, 'PATCH', `/api/admin/users/${sleeper.id}`, { disabled: true })).status).toBe(200);
  // two failed sign-ins and a good one for anna: records to find
  for (const password of ['not the password 1', 'not the password 2']) {
    await fetch(`${srv.url}/api/auth/session`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: 'anna', password }) });
  }
  annotator = await signIn(srv.url, 'anna', TEST_PASSWORD);
  auditor = await signIn(srv.url, 'audrey');
  browser = await launchChromium();
});

afterAll(async () => {
  for (const c of contexts) await c.close();
  await browser?.close();
  await srv?.stop();
});

async function pageAs(s: Session): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, acceptDownloads: true });
  contexts.push(context);
  await context.addCookies(browserCookies(srv.url, s));
  return context.newPage();
}

describe.skipIf(!HAS_CHROMIUM)('the audit browser', () => {
  it('filters by user and action, downloads the same selection as CSV, and verifies the chain', async () => {
    const page = await pageAs(auditor);
    await page.goto(`${srv.url}/audit.html`);
    const rows = page.locator('[data-testid=audit-records] tbody tr');
    await expect.poll(() => rows.count(), { timeout: 20_000 }).toBeGreaterThan(5);
    await page.selectOption('[data-testid=audit-filter] select[name=user]', { label: 'anna' });
    await page.fill('[data-testid=audit-filter] input[name=action]', 'auth.login');
    await page.click('[data-testid=audit-filter] button[type=submit]');
    await expect.poll(async () => (await rows.allInnerTexts()).map((t) => t.split('\t').slice(2, 5).join(' ')), { timeout: 10_000 }).toEqual(['anna auth.login ok']);
    // the failed attempts on her account: nobody acted, her account is their object
    await page.selectOption('[data-testid=audit-filter] select[name=user]', { label: 'anyone' });
    await page.fill('[data-testid=audit-filter] input[name=object]', annotatorId);
    await page.click('[data-testid=audit-filter] button[type=submit]');
    await expect.poll(async () => (await rows.allInnerTexts()).map((t) => t.split('\t').slice(2, 5).join(' ')), { timeout: 10_000 }).toEqual(['— auth.login failed', '— auth.login failed']);
    const href = (await page.locator('[data-testid=audit-csv]').getAttribute('href')) ?? '';
    expect(href).toContain(`object=${annotatorId}`);
    expect(href).toContain('action=auth.login');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=audit-csv]')]);
    const csv = (await (await import('node:fs/promises')).readFile((await download.path()) as string, 'utf8')).trim().split('\r\n');
    expect(csv[0]).toBe('seq,at,user,action,outcome,project,object,detail,ip,hash');
    expect(csv.slice(1).map((l) => l.split(',')[4])).toEqual(['failed', 'failed']);
    await page.click('[data-testid=verify]');
    await expect.poll(() => page.locator('[data-testid=verify-result]').textContent(), { timeout: 10_000 }).toMatch(/The chain is intact: \d+ records/);
    await page.screenshot({ path: '/tmp/audit-records.png' });
  });

  it('shows the access review: roles, projects, last sign-in, disabled accounts', async () => {
    const page = await pageAs(auditor);
    await page.goto(`${srv.url}/audit.html`);
    await page.click('[data-testid=tab-access]');
    const table = page.locator('[data-testid=access-review] tbody tr');
    await expect.poll(() => table.count(), { timeout: 20_000 }).toBeGreaterThanOrEqual(4);
    const byName = Object.fromEntries((await table.allInnerTexts()).map((t) => t.split('\t')).map((c) => [c[0], c]));
    expect(byName['admin']?.[2]).toMatch(/every project/);
    expect(byName['sleeper']?.[4]).toBe('disabled');
    expect(byName['sleeper']?.[3]).toBe('never');
    expect(byName['anna']?.[4]).toBe('active');
    await page.screenshot({ path: '/tmp/audit-access.png' });
  });

  it('tells an annotator the log is not for them, and a signed-out browser to sign in again', async () => {
    const page = await pageAs(annotator);
    await page.goto(`${srv.url}/audit.html`);
    await expect.poll(() => page.locator('[data-testid=audit-problem]').textContent(), { timeout: 20_000 }).toMatch(/auditors and administrators/);
    const gone = await browser.newContext();
    contexts.push(gone);
    const anon = await gone.newPage();
    await anon.goto(`${srv.url}/audit.html`);
    await expect.poll(() => anon.locator('[data-testid=audit-problem]').textContent(), { timeout: 20_000 }).toMatch(/session has ended/);
    expect(await anon.locator('[data-testid=audit-problem] a').getAttribute('href')).toBe('/signin.html?next=/audit.html');
  });
});
