/**
 * A slide's whole way through the system, in Chromium (issue 15): a
 * generated SVS named after a patient and full of sentinel PHI is dropped
 * into INBOX_DIR; the manager's inbox page (inbox.html) looks at the inbox,
 * shows the job de-identified and verified, and approves it; an annotator
 * draws a rectangle on the new slide and submits it (S); a reviewer accepts
 * it in review mode (W, Enter); and the project's regulatory report lists
 * the slide under its study code with its de-identification and its review
 * counts, with the same hash on two fetches, and the printable page shows
 * it. No page, URL or report ever holds the original name (DEID-10), and the
 * annotator cannot reach the inbox (DEID-14). Screenshots of the inbox page
 * and the printable report are kept in tests/.generated for a look.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asSession, createUser, signIn, signInBrowser, type Session } from '../helpers/accounts.js';
import { CHROMIUM, HAS_CHROMIUM, launchChromium } from '../helpers/browser.js';
import { SENTINELS, writePhiSvs } from '../helpers/deid-fixtures.js';
import { GENERATED } from '../helpers/paths.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { VIEWER, imageToPage, waitAnnotationsLoaded, waitSaved } from '../helpers/viewer-page.js';

type Json = Record<string, unknown>;
const ORIGINAL = 'Doe_Jane_MRN123456.svs';
const NAMES = ['Doe_Jane', 'MRN123456'];

let browser: Browser;
let srv: TestServer;
let root = '';
let inbox = '';
let project = '';
let slide = '';
const people: Record<string, Session> = {};
const ids: Record<string, string> = {};
const urls: string[] = [];

if (!HAS_CHROMIUM) process.stdout.write(`[browser] SKIP: no Chromium at ${CHROMIUM}\n`);

function as(who: Session, method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> {
  return asSession(srv.url, who, method, path, body, method === 'GET' ? {} : { 'Idempotency-Key': randomUUID() });
}

async function pageAs(who: string): Promise<{ page: Page; context: BrowserContext }> {
  const context = await browser.newContext({ viewport: { width: 1366, height: 800 } });
  await signInBrowser(context, { url: srv.url, session: people[who] as Session });
  const page = await context.newPage();
  page.on('request', (r) => urls.push(r.url()));
  page.on('pageerror', (e) => process.stdout.write(`[browser] page error: ${e.message}\n`));
  return { page, context };
}

async function openSlide(who: string): Promise<{ page: Page; context: BrowserContext }> {
  const opened = await pageAs(who);
  await opened.page.goto(`${srv.url}/?drawer=canvas#slide=${slide}`);
  await waitAnnotationsLoaded(opened.page);
  await opened.page.locator('wsi-viewer').focus();
  return opened;
}

async function reportOf(): Promise<{ status: number; body: Json; header: string | null }> {
  const res = await fetch(`${srv.url}/api/projects/${project}/report`, { headers: { Cookie: (people['mona'] as Session).cookie } });
  return { status: res.status, body: (await res.json()) as Json, header: res.headers.get('x-report-sha256') };
}

beforeAll(async () => {
  if (!HAS_CHROMIUM) return;
  browser = await launchChromium();
  root = await mkdtemp(join(tmpdir(), 'wsi-pipeline-'));
  inbox = join(root, 'inbox');
  await mkdir(inbox, { recursive: true });
  await mkdir(join(root, 'slides'), { recursive: true });
  srv = await startTestServer(join(root, 'slides'), { INBOX_DIR: inbox, INBOX_PROJECT: 'Pipeline study', INBOX_SCAN_S: '0' });
  const admin = srv.session as Session;
  project = ((await as(admin, 'POST', '/api/projects', { name: 'Pipeline study' })).body['project'] as { id: string }).id;
  for (const [name, role] of [['mona', 'manager'], ['annie', 'annotator'], ['rita', 'reviewer']] as const) {
    ids[name] = (await createUser(srv.url, admin, name)).id;
    expect((await as(admin, 'PUT', `/api/projects/${project}/members/${ids[name]}`, { role })).status).toBe(200);
    people[name] = await signIn(srv.url, name);
  }
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await srv?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

describe.skipIf(!HAS_CHROMIUM)('from the inbox to the report', () => {
  it('de-identifies a dropped slide, approves it in the inbox page, annotates, reviews, and lists it in the report', async () => {
    // 1. a slide named after a patient arrives in quarantine
    await writePhiSvs(join(inbox, ORIGINAL));

    // 2. the manager's inbox page: look now, wait for the verified copy, approve it
    const { page: inboxPage, context: monaCtx } = await pageAs('mona');
    await inboxPage.goto(`${srv.url}/inbox.html?project=${project}`);
    await expect.poll(() => inboxPage.locator('[data-testid=inbox-empty]').count(), { timeout: 30_000 }).toBe(1);
    await inboxPage.locator('[data-testid=inbox-scan]').click();
    const row = inboxPage.locator('[data-testid=inbox-job]');
    await expect.poll(() => row.getAttribute('data-state'), { timeout: 120_000 }).toBe('review');
    expect(await row.locator('[data-testid=job-verification]').textContent()).toBe('pass');
    expect(await row.textContent()).toContain('DEID-0001');
    // the replacement label is shown, and the job's report is linked
    await expect.poll(() => row.locator('img').evaluate((i) => (i as HTMLImageElement).naturalWidth), { timeout: 30_000 }).toBeGreaterThan(0);
    expect(await row.locator('[data-testid=job-report]').count()).toBe(1);
    const inboxText = await inboxPage.locator('wsi-inbox').evaluate((e) => e.shadowRoot?.textContent ?? '');
    for (const n of NAMES) expect(inboxText).not.toContain(n);
    mkdirSync(GENERATED, { recursive: true });
    await inboxPage.screenshot({ path: join(GENERATED, 'inbox-page-1366x800.png') });
    await row.locator('[data-testid=approve]').click();
    await expect.poll(() => row.getAttribute('data-state'), { timeout: 60_000 }).toBe('approved');
    await expect.poll(() => inboxPage.locator('[data-testid=inbox-said]').textContent()).toContain('DEID-0001 approved');
    // the annotator has no inbox
    expect((await as(people['annie'] as Session, 'GET', `/api/projects/${project}/inbox`)).status).toBe(403);

    // the copy is a slide of the project now, under its study code
    const listed = (await as(people['annie'] as Session, 'GET', '/api/slides')).body['slides'] as Json[];
    expect(listed.map((s) => s['studyCode'])).toEqual(['DEID-0001']);
    slide = listed[0]?.['id'] as string;

    // 3. the annotator draws a rectangle and submits it for review
    const { page: annPage, context: annCtx } = await openSlide('annie');
    await annPage.locator('wsi-viewer').press('r');
    const a = await imageToPage(annPage, 250, 200);
    const b = await imageToPage(annPage, 550, 450);
    await annPage.mouse.move(a.x, a.y);
    await annPage.mouse.down();
    await annPage.mouse.move(b.x, b.y, { steps: 6 });
    await annPage.mouse.up();
    await waitSaved(annPage);
    await annPage.locator('wsi-viewer').press('v');
    const mid = await imageToPage(annPage, 400, 325);
    await annPage.mouse.click(mid.x, mid.y);
    await expect.poll(() => annPage.evaluate(`(${VIEWER}).annotationSession.selection.list().length`)).toBe(1);
    await annPage.locator('wsi-viewer').press('S');
    await expect.poll(() => annPage.locator('wsi-annotation-panel [data-testid=annotate-message]').textContent(), { timeout: 30_000 }).toMatch(/Submitted 1 object for review\./);
    await annCtx.close();

    // 4. the reviewer accepts it in review mode
    const { page: revPage, context: revCtx } = await openSlide('rita');
    await revPage.locator('wsi-viewer').press('W');
    const position = revPage.locator('wsi-annotation-panel [data-testid=review-position]');
    await expect.poll(() => position.textContent(), { timeout: 30_000 }).toBe('1 of 1');
    await revPage.locator('wsi-viewer').press('Enter');
    await expect.poll(() => revPage.locator('wsi-annotation-panel [data-testid=review-said]').textContent(), { timeout: 30_000 }).toContain('Accepted');
    await revCtx.close();

    // 5. the report lists the slide by study code, with its de-identification and review counts; two fetches, one hash
    const first = await reportOf();
    expect(first.status).toBe(200);
    const second = await reportOf();
    const hash = (first.body['hash'] as Json)['value'] as string;
    expect((second.body['hash'] as Json)['value']).toBe(hash);
    expect(first.header).toBe(hash);
    const body = first.body['body'] as Json;
    expect(((body['dataset'] as Json)['slides'] as Json[]).map((s) => [s['studyCode'], s['status'], s['width'], s['height']])).toEqual([['DEID-0001', 'ok', 1000, 760]]);
    const job = ((body['deidentification'] as Json)['jobs'] as Json[])[0] as Json;
    expect(job).toMatchObject({ studyCode: 'DEID-0001', state: 'approved', inProjectAs: 'DEID-0001', result: 'de-identified', label: 'replaced', verification: { result: 'pass', hits: 0 } });
    const review = body['reviewOutcomes'] as Json;
    expect((review['perSlide'] as Json)['rows']).toEqual([{ studyCode: 'DEID-0001', counts: { accepted: 1 } }]);
    expect(((body['annotationVolume'] as Json)['rows'] as Json[]).map((r) => [r['annotator'], r['origin'], r['objects']])).toEqual([[ids['annie'], 'manual', 1]]);
    const text = JSON.stringify(first.body);
    for (const n of [...NAMES, SENTINELS.customKey]) expect(text).not.toContain(n);

    // the printable page, from the inbox page's link
    const [reportPage] = await Promise.all([monaCtx.waitForEvent('page'), inboxPage.locator('[data-testid=project-report]').click()]);
    await reportPage.waitForLoadState();
    const html = await reportPage.content();
    await reportPage.screenshot({ path: join(GENERATED, 'project-report-page.png'), fullPage: true });
    expect(html).toContain('DEID-0001');
    expect(html).toContain(hash);
    for (const n of NAMES) expect(html).not.toContain(n);
    await monaCtx.close();

    // no URL any page asked for named the original
    for (const n of NAMES) expect(urls.filter((u) => u.includes(n))).toEqual([]);
  }, 400_000);
});
