/**
 * Two users in two projects, in the browser: Alice sees nothing of Bob's
 * project's slides, neither in the app's list, nor by opening its id, nor
 * in the API (SEC-17). In a restricted project her deletion of Bob's
 * object is refused with 403, changes nothing on the server, is kept and
 * reported in her browser, and is audited as denied (SEC-04).
 */
import { randomUUID } from 'node:crypto';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserCookies } from '../../scripts/credentials.js';
import { asSession, createUser, signIn, type Session, type TestUser } from '../helpers/accounts.js';
import { CHROMIUM, HAS_CHROMIUM, launchChromium } from '../helpers/browser.js';
import { VIEWER_SLIDES } from '../helpers/paths.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { VIEWER, imageToPage, storeRecords, waitAnnotationsLoaded } from '../helpers/viewer-page.js';

let browser: Browser;
let srv: TestServer;
let admin: Session;
let alice: TestUser;
let aliceSession: Session;
let bobSession: Session;
let psA = '';
let psB = '';
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  if (!HAS_CHROMIUM) {
    process.stdout.write(`[browser] SKIP: no Chromium at ${CHROMIUM}\n`);
    return;
  }
  srv = await startTestServer(VIEWER_SLIDES);
  admin = srv.session as Session;
  alice = await createUser(srv.url, admin, 'alice');
  const bob = await createUser(srv.url, admin, 'bob');
  aliceSession = await signIn(srv.url, 'alice');
  bobSession = await signIn(srv.url, 'bob');
  const folder = (await asSession(srv.url, admin, 'GET', '/api/admin/slides')).body['slides'] as Array<{ id: string; name: string }>;
  const idOf = (name: string): string => folder.find((s) => s.name === name)?.id ?? '';
  const pa = ((await asSession(srv.url, admin, 'POST', '/api/projects', { name: 'Alice and Bob', editingMode: 'restricted' })).body['project'] as { id: string }).id;
  const pb = ((await asSession(srv.url, admin, 'POST', '/api/projects', { name: 'Bob only' })).body['project'] as { id: string }).id;
  psA = (await asSession(srv.url, admin, 'POST', `/api/projects/${pa}/slides`, { slideId: idOf('aperio-jpeg-256-x2.svs') })).body['id'] as string;
  psB = (await asSession(srv.url, admin, 'POST', `/api/projects/${pb}/slides`, { slideId: idOf('generic-deflate-256.tif') })).body['id'] as string;
  for (const [project, user, role] of [[pa, alice.id, 'annotator'], [pa, bob.id, 'annotator'], [pb, bob.id, 'manager']] as const) {
    expect((await asSession(srv.url, admin, 'PUT', `/api/projects/${project}/members/${user}`, { role })).status).toBe(200);
  }
  browser = await launchChromium();
});

afterAll(async () => {
  for (const c of contexts) await c.close();
  await browser?.close();
  await srv?.stop();
});

async function aliceContext(): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  contexts.push(context);
  await context.addCookies(browserCookies(srv.url, aliceSession));
  return context;
}

describe.skipIf(!HAS_CHROMIUM)('two users in two projects', () => {
  it("Alice sees nothing of Bob's project: not in the list, not by its id, not in the API", async () => {
    const page = await (await aliceContext()).newPage();
    await page.goto(`${srv.url}/?drawer=canvas`);
    const items = page.locator('[data-testid=slide-item]');
    await items.first().waitFor();
    expect(await items.evaluateAll((els) => els.map((e) => e.getAttribute('data-slide')))).toEqual([psA]);
    await expect.poll(() => page.locator('[data-testid=project]').allTextContents()).toEqual(['Alice and Bob · annotator']);
    await page.goto(`${srv.url}/?drawer=canvas#slide=${psB}`);
    await expect.poll(() => page.evaluate(`(${VIEWER})?.error ?? ''`), { timeout: 20_000 }).toMatch(/no slide/);
    for (const path of [`/api/slides/${psB}`, `/dzi/${psB}.dzi`, `/api/slides/${psB}/annotations`]) {
      expect((await asSession(srv.url, aliceSession, 'GET', path)).status, path).toBe(404);
    }
  });

  it("in a restricted project her delete of Bob's object is refused (403), changes nothing, is kept, and is audited", async () => {
    const id = randomUUID();
    const created = await asSession(srv.url, bobSession, 'POST', `/api/slides/${psA}/annotations`, { id, kind: 'point', geometry: { type: 'Point', coordinates: [1000, 1000] }, classification: 'Other' }, { 'Idempotency-Key': randomUUID() });
    expect(created.status).toBe(201);
    const page = await (await aliceContext()).newPage();
    await page.goto(`${srv.url}/?drawer=canvas#slide=${psA}`);
    await waitAnnotationsLoaded(page);
    expect((await storeRecords(page)).map((r) => r.id)).toEqual([id]);
    await page.locator('wsi-viewer').focus();
    await page.locator('wsi-viewer').press('v');
    const p = await imageToPage(page, 1000, 1000);
    await page.mouse.click(p.x, p.y);
    await page.locator('wsi-viewer').press('Delete');
    await expect.poll(() => page.evaluate(`(${VIEWER}).annotationSession.sync.snapshot.status`), { timeout: 15_000 }).toBe('error');
    expect(await page.evaluate(`(${VIEWER}).annotationSession.sync.snapshot.message`)).toMatch(/refused.*made by someone else/);
    const after = await asSession(srv.url, bobSession, 'GET', `/api/slides/${psA}/annotations/${id}`);
    expect([after.status, after.body['deleted'], after.body['version']]).toEqual([200, false, 1]);
    const denied = (await asSession(srv.url, admin, 'GET', `/api/audit?user=${alice.id}&action=access.denied&object=${psA}`)).body['records'] as Array<{ outcome: string; detail: { route: string; code: string } }>;
    expect(denied.map((r) => [r.outcome, r.detail.route, r.detail.code])).toContainEqual(['denied', 'POST /api/slides/*/annotations/batch', 'FORBIDDEN']);
  });
});
