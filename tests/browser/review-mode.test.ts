/**
 * The viewer's review mode (src/tools/review-tool.ts, issue 14): an
 * annotator submits three objects through the API; a reviewer opens the
 * slide, picks Review (W), and with keys accepts one (Enter), requests
 * changes on the next with a comment typed in the panel (E), and rejects
 * the last with the project's reason (X). Each decision must be in the
 * server's item history and in the audit log as review.<action> by the
 * reviewer; the comment is on the object's thread. A screenshot at
 * 1366×768 is kept in tests/.generated for a look. The annotator's side:
 * selecting an object and pressing S submits it (and a second S is refused
 * with the server's reason). Blind readings: in a blind project a reader's
 * viewer holds none of the other reader's objects until the reader submits
 * the reading, and holds them after (AGR-06 in the browser).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asSession, createUser, signIn, signInBrowser, type Session } from '../helpers/accounts.js';
import { square } from '../helpers/annotations.js';
import { CHROMIUM, HAS_CHROMIUM, launchChromium } from '../helpers/browser.js';
import { VIEWER_SLIDES, GENERATED } from '../helpers/paths.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';
import { VIEWER, imageToPage, storeRecords, viewAt, waitAnnotationsLoaded } from '../helpers/viewer-page.js';

let browser: Browser;
let srv: TestServer;
let slide = '';
let project = '';
let ann: Session;
let annId = '';
const objects: string[] = [];
const items: string[] = [];

if (!HAS_CHROMIUM) process.stdout.write(`[browser] SKIP: no Chromium at ${CHROMIUM}\n`);

beforeAll(async () => {
  if (!HAS_CHROMIUM) return;
  browser = await launchChromium();
  srv = await startTestServer(VIEWER_SLIDES);
  const admin = srv.session as Session;
  const { body } = await getJson<{ slides: Array<{ id: string; name: string; project: string }> }>(`${srv.url}/api/slides`);
  const s = body.slides.find((x) => x.name === 'aperio-jpeg-256-x2.svs');
  slide = s?.id ?? '';
  project = s?.project ?? '';
  annId = (await createUser(srv.url, admin, 'ann')).id;
  expect((await asSession(srv.url, admin, 'PUT', `/api/projects/${project}/members/${annId}`, { role: 'annotator' })).status).toBe(200);
  ann = await signIn(srv.url, 'ann');
  expect((await asSession(srv.url, admin, 'POST', `/api/projects/${project}/reviews/reasons`, { code: 'out-of-focus', label: 'Out of focus' })).status).toBe(201);
  for (const x of [600, 900, 1200]) {
    const a = square(x, 600, 120, { classification: 'Tumour' });
    expect((await asSession(srv.url, ann, 'POST', `/api/slides/${slide}/annotations`, a, { 'Idempotency-Key': crypto.randomUUID() })).status).toBe(201);
    const r = await asSession(srv.url, ann, 'POST', `/api/slides/${slide}/reviews`, { object: a['id'], version: 0 });
    expect(r.status).toBe(201);
    objects.push(a['id'] as string);
    items.push(r.body['id'] as string);
  }
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await srv?.stop();
});

describe.skipIf(!HAS_CHROMIUM)('review mode in the viewer', () => {
  it('steps through submitted objects and decides them with keys; every decision is in the audit log', async () => {
    const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    await signInBrowser(page, srv);
    await page.goto(`${srv.url}/?drawer=canvas#slide=${slide}`);
    await waitAnnotationsLoaded(page);
    await page.locator('wsi-viewer').focus();
    await page.locator('wsi-viewer').press('W');
    expect(await page.evaluate(`(${VIEWER}).tools.active.spec.id`)).toBe('review');
    const position = page.locator('wsi-annotation-panel [data-testid=review-position]');
    await expect.poll(() => position.textContent(), { timeout: 20_000 }).toBe('1 of 3');
    // the first object is selected and framed
    const first = (await page.locator('wsi-annotation-panel [data-testid=review-current]').textContent()) ?? '';
    expect(first).toContain('Tumour');
    expect(first).toContain(annId.slice(0, 8));
    // accept (Enter)
    await page.locator('wsi-viewer').press('Enter');
    await expect.poll(() => position.textContent()).toBe('1 of 2');
    await expect.poll(() => page.locator('wsi-annotation-panel [data-testid=review-said]').textContent()).toContain('Accepted');
    // request changes (E) needs a comment: without one the panel says so and nothing is sent
    await page.locator('wsi-viewer').press('E');
    await expect.poll(() => page.locator('wsi-annotation-panel [data-testid=review-said]').textContent()).toContain('comment box');
    expect(await position.textContent()).toBe('1 of 2');
    await page.locator('wsi-annotation-panel [data-testid=review-comment-text]').fill('Follow the gland border');
    await page.locator('wsi-viewer').focus();
    await page.locator('wsi-viewer').press('E');
    await expect.poll(() => position.textContent()).toBe('1 of 1');
    // a comment placed on the last object, then reject it (X) with the project's reason
    await page.locator('wsi-annotation-panel [data-testid=review-comment-text]').fill('Blurred: rescan?');
    await page.locator('wsi-annotation-panel [data-testid=review-post]').click();
    await expect.poll(() => page.locator('wsi-annotation-panel [data-testid=review-comment]').count()).toBe(1);
    // the box is empty again for the next comment
    await expect.poll(() => page.locator('wsi-annotation-panel [data-testid=review-comment-text]').inputValue()).toBe('');
    mkdirSync(GENERATED, { recursive: true });
    await page.screenshot({ path: join(GENERATED, 'review-mode-1366x768.png') });
    await page.locator('wsi-viewer').focus();
    await page.locator('wsi-viewer').press('X');
    await expect.poll(async () => `${await position.textContent()} ${await page.locator('wsi-annotation-panel [data-testid=review-said]').textContent()}`).toMatch(/^0 waiting Rejected/);

    // the server has each decision, by the reviewer, in the order they were made
    const admin = srv.session as Session;
    const state = async (item: string): Promise<Record<string, unknown>> => (await asSession(srv.url, admin, 'GET', `/api/slides/${slide}/reviews/${item}`)).body;
    const decided = await Promise.all(items.map(state));
    const adminId = srv.admin?.id ?? '';
    // the queue is in item-id order: match each item by what was done to it
    const byAction = new Map(decided.map((d) => [((d['events'] as Array<{ action: string }>).at(-1) as { action: string }).action, d]));
    expect([...byAction.keys()].sort()).toEqual(['accept', 'reject', 'request-changes']);
    expect(byAction.get('accept')?.['state']).toBe('accepted');
    expect(byAction.get('request-changes')?.['state']).toBe('changes_requested');
    expect(byAction.get('reject')?.['state']).toBe('rejected');
    const rejectEvent = (byAction.get('reject')?.['events'] as Array<{ reason: string; actor: string }>).at(-1);
    expect(rejectEvent).toMatchObject({ reason: 'out-of-focus', actor: adminId });
    const asked = (byAction.get('request-changes')?.['events'] as Array<{ comment: string }>).at(-1);
    expect(asked?.comment).toBe('Follow the gland border');
    // in the audit log
    const audit = (await asSession(srv.url, admin, 'GET', `/api/audit?user=${adminId}&limit=1000`)).body['records'] as Array<{ action: string; detail: Record<string, unknown> }>;
    for (const action of ['accept', 'request-changes', 'reject']) {
      const item = byAction.get(action)?.['id'];
      expect(audit.filter((r) => r.action === `review.${action}` && r.detail['item'] === item).length, action).toBe(1);
    }
    // the comment is on the object's thread, placed on the slide
    const rejectedObject = byAction.get('reject')?.['targetId'] as string;
    const thread = (await asSession(srv.url, admin, 'GET', `/api/slides/${slide}/annotations/${rejectedObject}/comments`)).body['comments'] as Array<{ text: string; point: number[] | null }>;
    expect(thread.map((c) => c.text)).toContain('Blurred: rescan?');
    expect(thread.find((c) => c.text === 'Blurred: rescan?')?.point).not.toBeNull();
    expect(objects).toContain(rejectedObject);
    await page.close();
  });

  it('lets the author submit the selection with S, and says why a second submit is refused', async () => {
    const a = square(1800, 600, 150, { classification: 'Stroma' });
    expect((await asSession(srv.url, ann, 'POST', `/api/slides/${slide}/annotations`, a, { 'Idempotency-Key': crypto.randomUUID() })).status).toBe(201);
    const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    const page = await context.newPage();
    await signInBrowser(page, { url: srv.url, session: ann });
    await page.goto(`${srv.url}/?drawer=canvas#slide=${slide}`);
    await waitAnnotationsLoaded(page);
    await viewAt(page, 1875, 675, 1);
    await page.locator('wsi-viewer').focus();
    await page.locator('wsi-viewer').press('v');
    const p = await imageToPage(page, 1875, 675);
    await page.mouse.click(p.x, p.y);
    await expect.poll(() => page.evaluate(`(${VIEWER}).annotationSession.selection.list()`)).toEqual([a['id']]);
    const message = page.locator('wsi-annotation-panel [data-testid=annotate-message]');
    await page.locator('wsi-viewer').press('S');
    await expect.poll(() => message.textContent()).toMatch(/Submitted 1 object for review\./);
    const items = (await asSession(srv.url, ann, 'GET', `/api/slides/${slide}/reviews?object=${String(a['id'])}`)).body['items'] as Array<{ state: string; version: number }>;
    expect(items.map((i) => [i.state, i.version])).toEqual([['submitted', 1]]);
    await page.locator('wsi-viewer').press('S');
    await expect.poll(() => message.textContent()).toMatch(/Submitted 0 objects for review\. 1 not: cannot submit an item that is submitted/);
    await context.close();
  });

  it("shows a blind reader none of the other reader's objects until they submit the reading, and them after (AGR-06)", async () => {
    const admin = srv.session as Session;
    const call = (who: Session, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> =>
      asSession(srv.url, who, method, path, body, method === 'GET' ? {} : { 'Idempotency-Key': crypto.randomUUID() });
    const blind = ((await call(admin, 'POST', '/api/projects', { name: 'Blind reading', blind: true })).body['project'] as { id: string }).id;
    const folder = ((await call(admin, 'GET', '/api/admin/slides')).body['slides'] as Array<{ id: string; name: string }>).find((x) => x.name === 'aperio-jpeg-256-x2.svs')?.id;
    const ps = (await call(admin, 'POST', `/api/projects/${blind}/slides`, { slideId: folder, studyCode: 'BR-001' })).body['id'] as string;
    const bobId = (await createUser(srv.url, admin, 'bob')).id;
    for (const who of [annId, bobId]) expect((await call(admin, 'PUT', `/api/projects/${blind}/members/${who}`, { role: 'annotator' })).status).toBe(200);
    const bob = await signIn(srv.url, 'bob');
    const hers = square(500, 500, 200, { classification: 'Tumour' });
    const his = square(900, 500, 200, { classification: 'Stroma' });
    expect((await call(ann, 'POST', `/api/slides/${ps}/annotations`, hers)).status).toBe(201);
    expect((await call(bob, 'POST', `/api/slides/${ps}/annotations`, his)).status).toBe(201);
    const reading = (await call(admin, 'POST', `/api/projects/${blind}/readings`, { name: 'BR reading', slides: [ps], readers: [annId, bobId] })).body['id'] as string;
    const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    const page = await context.newPage();
    await signInBrowser(page, { url: srv.url, session: bob });
    await page.goto(`${srv.url}/?drawer=canvas#slide=${ps}`);
    await waitAnnotationsLoaded(page);
    expect((await storeRecords(page)).map((r) => r.id)).toEqual([his['id']]);
    expect((await call(bob, 'POST', `/api/projects/${blind}/readings/${reading}/submit`)).status).toBe(200);
    await page.reload();
    await waitAnnotationsLoaded(page);
    expect((await storeRecords(page)).map((r) => r.id).sort()).toEqual([hers['id'], his['id']].sort());
    await context.close();
  });
});
