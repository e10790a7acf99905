/**
 * Projects in the app, as their members see them: a user in two projects
 * picks one (the choice is remembered), sees only its slides, and a link to
 * a slide of the other switches the list; someone in no project is told to
 * ask a manager; the viewer loads the palette of the project the slide is
 * opened in; and in a read-only project, or as a viewer, the drawing,
 * painting, import and class tools are disabled with the reason in view,
 * and nothing reaches the server (SEC-05, the UI half). A slide's details
 * show its site and stain (issue 15): its project's manager sets them there,
 * an annotator only reads them.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { browserCookies } from '../../scripts/credentials.js';
import { asSession, createUser, signIn, type Session } from '../helpers/accounts.js';
import { square } from '../helpers/annotations.js';
import { CHROMIUM, HAS_CHROMIUM, launchChromium } from '../helpers/browser.js';
import { VIEWER_SLIDES } from '../helpers/paths.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { VIEWER, imageToPage, waitAnnotationsLoaded } from '../helpers/viewer-page.js';

let browser: Browser;
let srv: TestServer;
let admin: Session;
const sessions: Record<string, Session> = {};
let lung = '';
let colon = '';
let psLung = '';
let psLung2 = '';
let psColon = '';
const contexts: BrowserContext[] = [];

const PANEL = `${VIEWER}?.shadowRoot?.querySelector('wsi-annotation-panel')?.shadowRoot`;
const MASK_PANEL = `${VIEWER}?.shadowRoot?.querySelector('wsi-mask-panel')?.shadowRoot`;

if (!HAS_CHROMIUM) process.stdout.write(`[browser] SKIP: no Chromium at ${CHROMIUM}\n`);

beforeAll(async () => {
  if (!HAS_CHROMIUM) return;
  srv = await startTestServer(VIEWER_SLIDES);
  admin = srv.session as Session;
  const as = (method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> => asSession(srv.url, admin, method, path, body);
  const users: Record<string, string> = {};
  for (const name of ['pam', 'vic', 'nobody']) {
    users[name] = (await createUser(srv.url, admin, name)).id;
    sessions[name] = await signIn(srv.url, name);
  }
  const folder = (await as('GET', '/api/admin/slides')).body['slides'] as Array<{ id: string; name: string }>;
  const idOf = (name: string): string => folder.find((s) => s.name === name)?.id ?? '';
  lung = ((await as('POST', '/api/projects', { name: 'Lung study' })).body['project'] as { id: string }).id;
  colon = ((await as('POST', '/api/projects', { name: 'Colon study', editingMode: 'read-only' })).body['project'] as { id: string }).id;
  psLung = (await as('POST', `/api/projects/${lung}/slides`, { slideId: idOf('aperio-jpeg-256-x2.svs') })).body['id'] as string;
  psLung2 = (await as('POST', `/api/projects/${lung}/slides`, { slideId: idOf('generic-deflate-256.tif') })).body['id'] as string;
  psColon = (await as('POST', `/api/projects/${colon}/slides`, { slideId: idOf('aperio-jpeg-256-x2.svs') })).body['id'] as string;
  for (const [project, user, role] of [
    [lung, users['pam'], 'manager'],
    [colon, users['pam'], 'annotator'],
    [lung, users['vic'], 'viewer'],
  ] as const) {
    expect((await as('PUT', `/api/projects/${project}/members/${user}`, { role })).status).toBe(200);
  }
  // the lung study's own palette, set by its manager
  const r = await asSession(srv.url, sessions['pam'] as Session, 'PUT', `/api/projects/${lung}/classes`, {
    classes: [
      { name: 'Mitosis', color: '#ff00ff', hotkey: 'y' },
      { name: 'Tumour', color: '#00aa00', hotkey: 't' },
    ],
  });
  expect(r.status).toBe(200);
  browser = await launchChromium();
}, 120_000);

afterEach(async () => {
  for (const c of contexts.splice(0)) await c.close();
});

afterAll(async () => {
  await browser?.close();
  await srv?.stop();
});

async function contextOf(who: string): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
  contexts.push(context);
  await context.addCookies(browserCookies(srv.url, sessions[who] as Session));
  return context;
}

async function listed(page: Page): Promise<string[]> {
  return page.locator('[data-testid=slide-item]').evaluateAll((els) => els.map((e) => e.getAttribute('data-slide') ?? ''));
}

async function openSlide(page: Page, ps: string): Promise<void> {
  await page.goto(`${srv.url}/?drawer=canvas#slide=${ps}`);
  await waitAnnotationsLoaded(page);
  await page.waitForFunction(`(${VIEWER}).annotationSession.mask?.loaded === true`);
}

/** A mouse drag between two image points. */
async function drag(page: Page, from: [number, number], to: [number, number]): Promise<void> {
  const a = await imageToPage(page, from[0], from[1]);
  const b = await imageToPage(page, to[0], to[1]);
  await page.mouse.move(a.x, a.y);
  await page.mouse.down();
  await page.mouse.move(b.x, b.y, { steps: 6 });
  await page.mouse.up();
}

describe.skipIf(!HAS_CHROMIUM)('projects in the app', () => {
  it('finds a slide by name, sorts by annotation count and shows what was done on each (issue 11: slide list)', async () => {
    const pam = sessions['pam'] as Session;
    const made = await asSession(srv.url, pam, 'POST', `/api/slides/${psLung2}/annotations`, square(10, 10, 50), { 'Idempotency-Key': crypto.randomUUID() });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    const page = await (await contextOf('pam')).newPage();
    await page.goto(`${srv.url}/?drawer=canvas`);
    await page.locator('[data-testid=project-picker]').selectOption({ label: 'Lung study' });
    await expect.poll(() => listed(page)).toEqual([psLung, psLung2]);
    const badge = page.locator(`[data-testid=slide-item][data-slide="${psLung2}"] [data-testid=slide-badge]`);
    expect(await badge.textContent()).toMatch(/^\s*1 annotation\s*$/);
    expect(await page.locator(`[data-testid=slide-item][data-slide="${psLung}"] [data-testid=slide-badge]`).count()).toBe(0);
    await page.locator('[data-testid=slide-sort]').selectOption('objects');
    await expect.poll(() => listed(page)).toEqual([psLung2, psLung]);
    await page.locator('[data-testid=slide-search]').fill('DEFLATE');
    await expect.poll(() => listed(page)).toEqual([psLung2]);
    await page.locator('[data-testid=slide-search]').fill('no such slide');
    await expect.poll(() => listed(page)).toEqual([]);
    expect(await page.locator('[data-testid=no-match]').textContent()).toContain('no such slide');
    await page.locator('[data-testid=slide-search]').fill('');
    // the order is remembered in this browser
    await page.reload();
    await expect.poll(() => listed(page)).toEqual([psLung2, psLung]);
    expect(await page.locator('[data-testid=slide-sort]').inputValue()).toBe('objects');
    await page.locator('[data-testid=slide-sort]').selectOption('name');
    // the open slide's details: scanner, objective, pixel size, levels, compression (issue 11: slide metadata)
    await page.locator(`[data-testid=slide-item][data-slide="${psLung}"]`).click();
    await page.locator('[data-testid=slide-details] summary').click();
    const info = page.locator('wsi-slide-info [data-testid=slide-info]');
    await info.waitFor();
    const field = (k: string): Promise<string | null> => info.locator(`dd[data-field="${k}"]`).textContent();
    expect(await field('Scanner')).toBe('aperio');
    expect(await field('Pixel size')).toMatch(/^0\.\d{4} µm\/px$/);
    expect(await field('Compression')).toBe('jpeg');
    expect(await page.locator('wsi-slide-info [data-testid=slide-levels] tr').count()).toBeGreaterThan(2);
    // pam manages the lung study: the label and macro are listed to her (counted, never shown in the list)
    expect(await info.locator('dt').allTextContents()).toContain('Associated');
    // issue 15: as the lung study's manager she sets the slide's site and stain there (the report groups slides by them)
    const form = page.locator('wsi-slide-info [data-testid=slide-descriptors-form]');
    await form.waitFor({ timeout: 30_000 });
    await form.locator('[data-testid=descriptor-site]').fill('Site A');
    await form.locator('[data-testid=descriptor-stain]').fill('H&E');
    await form.locator('[data-testid=descriptors-save]').click();
    await page.locator('wsi-slide-info [data-testid=descriptors-saved]').waitFor({ timeout: 30_000 });
    const set = await asSession(srv.url, pam, 'GET', `/api/slides/${psLung}/descriptors`);
    expect(set.body).toMatchObject({ version: 1, site: 'Site A', stain: 'H&E' });
  });

  it('a user in two projects picks one, sees only its slides, and the choice is remembered', async () => {
    const page = await (await contextOf('pam')).newPage();
    await page.goto(`${srv.url}/?drawer=canvas`);
    const picker = page.locator('[data-testid=project-picker]');
    await picker.waitFor();
    expect(await picker.locator('option').allTextContents()).toEqual(['Colon study', 'Lung study']);
    // the first project to begin with
    await expect.poll(() => listed(page)).toEqual([psColon]);
    expect(await page.locator('[data-testid=project]').textContent()).toBe('Colon study · annotator');
    expect(await page.locator('[data-testid=project-mode]').textContent()).toMatch(/Read-only/);
    await picker.selectOption({ label: 'Lung study' });
    await expect.poll(() => listed(page)).toEqual([psLung, psLung2]);
    expect(await page.locator('[data-testid=project]').textContent()).toBe('Lung study · manager');
    expect(await page.locator('[data-testid=project-mode]').count()).toBe(0);
    // remembered in this browser
    await page.reload();
    await expect.poll(() => listed(page)).toEqual([psLung, psLung2]);
    expect(await picker.inputValue()).toBe(lung);
    // a link to a slide of the other project shows that project's list
    await page.goto(`${srv.url}/?drawer=canvas#slide=${psColon}`);
    await expect.poll(() => listed(page)).toEqual([psColon]);
    expect(await picker.inputValue()).toBe(colon);
    // an annotator there: the slide's site and stain are shown, with no form to change them (issue 15)
    await page.locator('[data-testid=slide-details] summary').click();
    const shown = page.locator('wsi-slide-info [data-testid=slide-descriptors]');
    await shown.waitFor({ timeout: 30_000 });
    expect(await shown.locator('dd[data-field="Site"]').textContent()).toBe('not set');
    expect(await page.locator('wsi-slide-info [data-testid=slide-descriptors-form]').count()).toBe(0);
  });

  it('someone in no project is told to ask a manager', async () => {
    const page = await (await contextOf('nobody')).newPage();
    await page.goto(`${srv.url}/?drawer=canvas`);
    await expect.poll(() => page.locator('[data-testid=no-project]').textContent(), { timeout: 20_000 }).toMatch(/not in any project.*Ask a manager to add you/s);
    expect(await page.locator('[data-testid=slide-item]').count()).toBe(0);
    expect(await page.locator('[data-testid=project-picker]').count()).toBe(0);
  });

  it('the viewer shows the palette of the project the slide is opened in, and draws with it', async () => {
    const page = await (await contextOf('pam')).newPage();
    await openSlide(page, psLung);
    const classes = (): Promise<string[]> => page.evaluate(`[...(${PANEL}).querySelectorAll('[data-testid^=class-]')].map((b) => b.textContent.trim())`);
    await expect.poll(classes).toEqual(['Mitosisy', 'Tumourt']);
    expect(await page.evaluate(`(${VIEWER}).annotationSession.palette.map((c) => c.color)`)).toEqual(['#ff00ff', '#00aa00']);
    // a rectangle of the project's own class reaches the server with it
    await page.locator('wsi-viewer').press('r');
    await page.locator('wsi-viewer').press('y');
    await page.evaluate(`(${VIEWER}).goTo({ x: 1500, y: 1000, zoom: 0.5 }, true)`);
    await drag(page, [1300, 900], [1700, 1100]);
    await expect
      .poll(async () => ((await asSession(srv.url, sessions['pam'] as Session, 'GET', `/api/slides/${psLung}/annotations`)).body['annotations'] as Array<{ classification: string }>).map((x) => x.classification))
      .toEqual(['Mitosis']);
    // the same slide in the Default project (the admin's) shows the Default palette
    const adminContext = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    contexts.push(adminContext);
    await adminContext.addCookies(browserCookies(srv.url, admin));
    const other = await adminContext.newPage();
    const folder = (await asSession(srv.url, admin, 'GET', '/api/admin/slides')).body['slides'] as Array<{ id: string; name: string }>;
    await openSlide(other, folder.find((s) => s.name === 'aperio-jpeg-256-x2.svs')?.id ?? '');
    expect(await other.evaluate(`(${VIEWER}).annotationSession.palette.map((c) => c.name).slice(0, 6)`)).toEqual(['Tumour', 'Stroma', 'Necrosis', 'Lymphocytes', 'Normal', 'Other']);
  });

  it('in a read-only project the drawing, painting, import and class tools are disabled, with the reason, and nothing is sent', async () => {
    const page = await (await contextOf('pam')).newPage();
    await openSlide(page, psColon);
    const note = page.locator('wsi-viewer [data-testid=annotate-read-only]');
    await expect.poll(() => note.textContent()).toMatch(/“Colon study” is read-only/);
    const disabled = (sel: string, root = PANEL): Promise<boolean> => page.evaluate(`(${root}).querySelector('${sel}').disabled`);
    for (const t of ['tool-rectangle', 'tool-polygon', 'tool-point', 'delete', 'import-file']) expect(await disabled(`[data-testid=${t}]`), t).toBe(true);
    expect(await disabled('[data-testid=tool-select]')).toBe(false);
    expect(await page.evaluate(`[...(${PANEL}).querySelectorAll('[data-testid^=class-]')].every((b) => b.disabled)`)).toBe(true);
    for (const t of ['tool-brush', 'fill-rois', 'paint-all-rois']) expect(await disabled(`[data-testid=${t}]`, MASK_PANEL), t).toBe(true);
    expect(await page.evaluate(`(${PANEL}).querySelector('[data-testid=tool-rectangle]').title`)).toMatch(/read-only/);
    // the keys do not get round it: the tool stays Select, and a drag draws nothing
    await page.locator('wsi-viewer').press('r');
    expect(await page.evaluate(`(${VIEWER}).tools.active.spec.id`)).toBe('select');
    await page.locator('wsi-viewer').press('b');
    expect(await page.evaluate(`(${VIEWER}).tools.active.spec.id`)).toBe('select');
    await page.evaluate(`(${VIEWER}).goTo({ x: 1000, y: 800, zoom: 1 }, true)`);
    await drag(page, [900, 700], [1100, 900]);
    // the paint API refuses too, with the same reason
    expect(await page.evaluate(`(${VIEWER}).annotationSession.mask.stroke(new Float64Array([900, 700, 1100, 900]), 20, 1, null).then((o) => o.refused)`)).toMatch(/read-only/);
    expect(await page.evaluate(`(${VIEWER}).annotationSession.store.size`)).toBe(0);
    expect(await page.evaluate(`(${VIEWER}).annotationSession.mask.store.size`)).toBe(0);
    expect(await page.evaluate(`(${VIEWER}).annotationSession.sync.pending.length`)).toBe(0);
    expect((await asSession(srv.url, admin, 'GET', `/api/slides/${psColon}/annotations`)).body['total']).toBe(0);
  });

  it('a viewer sees the tools disabled with a reason that names their role', async () => {
    const page = await (await contextOf('vic')).newPage();
    await openSlide(page, psLung);
    await expect.poll(() => page.locator('wsi-viewer [data-testid=annotate-read-only]').textContent()).toMatch(/You are a viewer in “Lung study”/);
    expect(await page.evaluate(`(${PANEL}).querySelector('[data-testid=tool-freehand]').disabled`)).toBe(true);
    expect(await page.evaluate(`(${MASK_PANEL}).querySelector('[data-testid=tool-brush]').disabled`)).toBe(true);
    // a manager of the same project has them
    const manager = await (await contextOf('pam')).newPage();
    await openSlide(manager, psLung);
    expect(await manager.evaluate(`(${PANEL}).querySelector('[data-testid=tool-freehand]').disabled`)).toBe(false);
    expect(await manager.locator('wsi-viewer [data-testid=annotate-read-only]').count()).toBe(0);
  });

  it("a manager edits the project's classes in the app: the open slide takes them; a bad palette is refused with the server's reason", async () => {
    const page = await (await contextOf('pam')).newPage();
    await openSlide(page, psLung);
    const classes = (): Promise<string[]> => page.evaluate(`[...(${PANEL}).querySelectorAll('[data-testid^=class-]')].map((b) => b.textContent.trim())`);
    await expect.poll(classes).toEqual(['Mitosisy', 'Tumourt']);
    await page.locator('[data-testid=edit-classes]').click();
    const editor = page.locator('[data-testid=palette-editor]');
    await editor.waitFor();
    expect(await editor.locator('[data-testid=palette-name]').evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value))).toEqual(['Mitosis', 'Tumour']);
    // a second "tumour" is refused with the server's reason, and nothing changes
    await editor.locator('[data-testid=palette-add]').click();
    await editor.locator('[data-testid=palette-name]').nth(2).fill('tumour');
    await editor.locator('[data-testid=palette-name]').nth(2).dispatchEvent('change');
    await editor.locator('[data-testid=palette-save]').click();
    await expect.poll(() => editor.locator('[data-testid=palette-problem]').textContent()).toMatch(/appears twice/);
    expect((await asSession(srv.url, sessions['pam'] as Session, 'GET', `/api/projects/${lung}/classes`)).body['classes']).toHaveLength(2);
    // named Gland, with the rectangle tool's key: refused before sending
    await editor.locator('[data-testid=palette-name]').nth(2).fill('Gland');
    await editor.locator('[data-testid=palette-name]').nth(2).dispatchEvent('change');
    await editor.locator('[data-testid=palette-hotkey]').nth(2).fill('r');
    await editor.locator('[data-testid=palette-hotkey]').nth(2).dispatchEvent('change');
    await editor.locator('[data-testid=palette-save]').click();
    await expect.poll(() => editor.locator('[data-testid=palette-problem]').textContent()).toMatch(/"r" of Gland is the Rectangle tool's key/);
    // with j instead (g is the triage tool's): saved, and the open slide shows it
    await editor.locator('[data-testid=palette-hotkey]').nth(2).fill('j');
    await editor.locator('[data-testid=palette-hotkey]').nth(2).dispatchEvent('change');
    await editor.locator('[data-testid=palette-save]').click();
    await editor.waitFor({ state: 'hidden' });
    await expect.poll(classes).toEqual(['Mitosisy', 'Tumourt', 'Glandj']);
    const saved = (await asSession(srv.url, sessions['pam'] as Session, 'GET', `/api/projects/${lung}/classes`)).body['classes'] as Array<{ name: string; id: number }>;
    expect(saved.map((c) => c.name)).toEqual(['Mitosis', 'Tumour', 'Gland']);
    expect(await page.evaluate(`(${VIEWER}).annotationSession.palette.map((c) => c.id)`)).toEqual(saved.map((c) => c.id));
    // removing a class in use asks first, naming its uses (issue 11: class management)
    const made = await asSession(srv.url, sessions['pam'] as Session, 'POST', `/api/slides/${psLung}/annotations`, square(300, 300, 40), { 'Idempotency-Key': crypto.randomUUID() });
    expect(made.status).toBe(201);
    await page.locator('[data-testid=edit-classes]').click();
    await editor.waitFor();
    const tumourRow = editor.locator('.row', { has: page.locator('[data-testid=palette-name]') }).nth(1);
    await expect.poll(() => tumourRow.locator('[data-testid=palette-usage]').textContent()).toMatch(/^Used by \d+ objects? · [12] slides?$/);
    await tumourRow.locator('[data-testid=palette-remove]').click();
    await editor.locator('[data-testid=palette-save]').click();
    const confirmBox = editor.locator('[data-testid=palette-confirm]');
    await confirmBox.waitFor();
    expect(await confirmBox.textContent()).toMatch(/Tumour: \d+ objects? · [12] slides?/);
    await confirmBox.locator('[data-testid=palette-keep]').click();
    expect(await confirmBox.count()).toBe(0);
    expect((await asSession(srv.url, sessions['pam'] as Session, 'GET', `/api/projects/${lung}/classes`)).body['classes']).toHaveLength(3);
    await editor.locator('[data-testid=palette-save]').click();
    await confirmBox.locator('[data-testid=palette-remove-anyway]').click();
    await editor.waitFor({ state: 'hidden' });
    const after = (await asSession(srv.url, sessions['pam'] as Session, 'GET', `/api/projects/${lung}/classes`)).body['classes'] as Array<{ name: string }>;
    expect(after.map((c) => c.name)).toEqual(['Mitosis', 'Gland']);
    await page.locator('[data-testid=edit-classes]').click();
    await expect.poll(() => editor.locator('[data-testid=palette-outside]').textContent()).toMatch(/In use but not in this palette: Tumour \(\d+ objects?/);
    // not for a viewer of the project
    const viewer = await (await contextOf('vic')).newPage();
    await viewer.goto(`${srv.url}/?drawer=canvas`);
    await viewer.locator('[data-testid=project]').waitFor();
    expect(await viewer.locator('[data-testid=edit-classes]').count()).toBe(0);
  });
});
