/**
 * The annotation list (issue 11) in Chromium: it opens with T or the
 * panel's button, counts per class, sorts by a column, searches names and
 * notes, filters by class and author, flies to a clicked object and selects
 * it, and acts on several picked rows — delete (confirmed with its count,
 * one undo step) and set class. Bad cases: a slide without annotations, a
 * slide without MPP (areas in px²), objects without a name, points (no area).
 * With WSI_SCREENSHOTS=1 it also writes the list's screenshots to docs/screenshots.
 */
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { call, square } from '../helpers/annotations.js';
import { signInBrowser } from '../helpers/accounts.js';
import { CHROMIUM, HAS_CHROMIUM, launchChromium } from '../helpers/browser.js';
import { FIXTURES, ROOT } from '../helpers/paths.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';
import { VIEWER, imageToPage, waitAnnotationsLoaded } from '../helpers/viewer-page.js';

let browser: Browser;
let srv: TestServer;
let slide = '';
let noMppSlide = '';
let emptySlide = '';
let mpp = 0;
const contexts: BrowserContext[] = [];
const LIST = `(${VIEWER}).shadowRoot.querySelector('wsi-annotation-list')`;

if (!HAS_CHROMIUM) process.stdout.write(`[browser] SKIP: no Chromium at ${CHROMIUM}\n`);

interface Made {
  id: string;
  name: string | null;
}

/** Five objects: named and unnamed, a note, four classes, a point (no area), sizes 50–300 px. */
function objects(): Array<Record<string, unknown>> {
  return [
    square(100, 100, 100, { name: 'alpha', note: 'a mitosis here', classification: 'Tumour' }),
    square(400, 100, 300, { name: 'beta', classification: 'Stroma' }),
    square(800, 100, 50, { classification: 'Tumour' }),
    { id: randomUUID(), kind: 'point', geometry: { type: 'Point', coordinates: [900, 600] }, classification: 'Lymphocytes', name: null, note: null, locked: false },
    square(1000, 300, 200, { name: 'Gamma', classification: 'Necrosis' }),
  ];
}

async function put(slideId: string, objs: Array<Record<string, unknown>>): Promise<Made[]> {
  const ops = objs.map((a) => ({ op: 'create', annotation: a }));
  const r = await call(srv.url, 'POST', `/api/slides/${slideId}/annotations/batch`, { body: { ops } });
  if (r.status !== 200) throw new Error(`batch: ${r.status} ${JSON.stringify(r.body)}`);
  return objs.map((a) => ({ id: a['id'] as string, name: (a['name'] as string | null) ?? null }));
}

async function clear(slideId: string): Promise<void> {
  const { body } = await getJson<{ annotations: Array<{ id: string; version: number }> }>(`${srv.url}/api/slides/${slideId}/annotations?limit=5000`);
  const ops = (body.annotations ?? []).map((a) => ({ op: 'delete', id: a.id, ifMatch: a.version }));
  if (ops.length) await call(srv.url, 'POST', `/api/slides/${slideId}/annotations/batch`, { body: { ops } });
}

beforeAll(async () => {
  if (!HAS_CHROMIUM) return;
  browser = await launchChromium();
  // the generated slides and the broken corpus, whose READ-16 file opens without MPP
  srv = await startTestServer(FIXTURES, {});
  const { body } = await getJson<{ slides: Array<{ id: string; name: string; status: string; mpp: number | null }> }>(`${srv.url}/api/slides`);
  const main = body.slides.find((s) => s.name === 'slides/aperio-jpeg-256-x2.svs');
  slide = main?.id ?? '';
  mpp = main?.mpp ?? 0;
  noMppSlide = body.slides.find((s) => s.name === 'broken/read-16-resolution-zero-denominator.tif' && s.status === 'ok' && s.mpp === null)?.id ?? '';
  emptySlide = body.slides.find((s) => s.name === 'slides/aperio-jpeg-240-x4.svs')?.id ?? '';
});

afterEach(async () => {
  for (const c of contexts.splice(0)) await c.close();
  if (srv) for (const s of [slide, noMppSlide]) if (s) await clear(s);
});

afterAll(async () => {
  await browser?.close();
  await srv?.stop();
});

async function open(slideId: string, viewport = { width: 1400, height: 900 }): Promise<Page> {
  const ctx = await browser.newContext({ viewport });
  contexts.push(ctx);
  await signInBrowser(ctx, srv);
  const page = await ctx.newPage();
  page.on('pageerror', (e) => process.stdout.write(`[browser] page error: ${e.message}\n`));
  await page.goto(`${srv.url}/?drawer=canvas#slide=${slideId}`);
  await waitAnnotationsLoaded(page);
  await page.locator('wsi-viewer').focus();
  return page;
}

/** Opens the list with its key and waits for it. */
async function openList(page: Page): Promise<void> {
  await page.locator('wsi-viewer').press('T');
  await page.waitForFunction(`!!${LIST}?.table`);
}

/** The ids of the rows drawn, top to bottom. */
async function rowIds(page: Page): Promise<string[]> {
  await page.evaluate(`${LIST}.updateComplete`);
  return page.evaluate(`[...${LIST}.shadowRoot.querySelectorAll('.row')].filter((r) => r.style.display !== 'none').map((r) => r.dataset.id)`);
}

function row(page: Page, id: string) {
  return page.locator(`wsi-annotation-list .row[data-id="${id}"]`);
}

describe.skipIf(!HAS_CHROMIUM)('the annotation list (issue 11)', () => {
  it('counts per class, sorts by area both ways, searches names and notes, filters by class and author', async () => {
    const made = await put(slide, objects());
    const [alpha, beta, small, point, gamma] = made as [Made, Made, Made, Made, Made];
    const page = await open(slide);
    await openList(page);
    expect(await rowIds(page)).toEqual(made.map((m) => m.id)); // creation order until sorted
    await expect.poll(() => page.locator('wsi-annotation-list [data-testid="list-count-Tumour"]').textContent()).toContain('2');
    expect(await page.locator('wsi-annotation-list [data-testid="list-count-Stroma"]').textContent()).toContain('1');

    // area: numbers sort largest first, a second click the other way; the point (no area) reads "—"
    await page.locator('wsi-annotation-list [data-testid="list-sort-area"]').click();
    expect(await rowIds(page)).toEqual([beta.id, gamma.id, alpha.id, small.id, point.id]);
    await page.locator('wsi-annotation-list [data-testid="list-sort-area"]').click();
    expect(await rowIds(page)).toEqual([point.id, small.id, alpha.id, gamma.id, beta.id]);
    expect(await row(page, point.id).locator('span[role=cell]').nth(3).textContent()).toBe('—');
    // 100 × 100 px at the slide's 0.25 µm/px (the fixture corpus) = 625 µm²; its perimeter 400 px = 100 µm
    expect(mpp).toBe(0.25);
    expect(await row(page, alpha.id).locator('span[role=cell]').nth(3).textContent()).toBe('625 µm²');
    expect(await row(page, alpha.id).locator('span[role=cell]').nth(4).textContent()).toBe('100 µm');
    // names: unnamed last, case folded
    await page.locator('wsi-annotation-list [data-testid="list-sort-name"]').click();
    expect((await rowIds(page)).slice(0, 3)).toEqual([alpha.id, beta.id, gamma.id]);

    // search finds names and notes, any case
    await page.locator('wsi-annotation-list [data-testid="list-search"]').fill('MITOSIS');
    await expect.poll(() => rowIds(page)).toEqual([alpha.id]);
    await page.locator('wsi-annotation-list [data-testid="list-search"]').fill('gam');
    await expect.poll(() => rowIds(page)).toEqual([gamma.id]);
    await page.locator('wsi-annotation-list [data-testid="list-search"]').fill('no such text');
    await expect.poll(() => page.locator('wsi-annotation-list [data-testid="list-empty"]').textContent()).toContain('Nothing matches');
    await page.locator('wsi-annotation-list [data-testid="list-search"]').fill('');

    // class filter from the counts
    await page.locator('wsi-annotation-list [data-testid="list-count-Tumour"]').click();
    await expect.poll(async () => (await rowIds(page)).sort()).toEqual([alpha.id, small.id].sort());
    await page.locator('wsi-annotation-list [data-testid="list-count-Tumour"]').click();
    await expect.poll(async () => (await rowIds(page)).length).toBe(5);

    // author: all five are the admin's (the server's createdBy), shown by name to the admin (another id reads as the id: the server names no one else to an annotator)
    const me = await page.evaluate<{ user: string; displayName: string }>(`(${VIEWER}).annotationSession.me`);
    expect(me.user).toBe(srv.admin?.id);
    expect(await row(page, alpha.id).locator('span[role=cell]').nth(5).textContent()).toBe(me.displayName);
    await page.locator('wsi-annotation-list [data-testid="list-author"]').selectOption({ label: `${me.displayName} (5)` });
    await expect.poll(async () => (await rowIds(page)).length).toBe(5);
    await page.evaluate(`${LIST}.filterAuthors(['someone-else'])`);
    await expect.poll(async () => (await rowIds(page)).length).toBe(0);
  });

  it('a click flies to the object and selects it; Shift-picked rows are deleted as one undo step after a confirmation naming the count; set class undoes', async () => {
    const made = await put(slide, objects());
    const gamma = made[4] as Made;
    const page = await open(slide, { width: 1366, height: 768 });
    await page.evaluate(`(${VIEWER}).fit()`);
    await openList(page);
    await row(page, gamma.id).click();
    // the view flies to Gamma (1000..1200, 300..500), centred in the part of the slide the list leaves free, and the viewer selects it
    const free = await page.evaluate<{ left: number; right: number; mid: number }>(`(() => {
      const v = ${VIEWER};
      const osd = v.shadowRoot.querySelector('.osd').getBoundingClientRect();
      const list = ${LIST}.getBoundingClientRect();
      return { left: osd.left, right: list.left, mid: (osd.top + osd.bottom) / 2 };
    })()`);
    await expect
      .poll(async () => {
        const p = await imageToPage(page, 1100, 400);
        return Math.abs(p.x - (free.left + free.right) / 2) < 2 && Math.abs(p.y - free.mid) < 2;
      }, { timeout: 10_000 })
      .toBe(true);
    expect(await page.evaluate(`(${VIEWER}).annotationSession.selection.list()`)).toEqual([gamma.id]);

    // Shift-click picks rows 1..3
    const ids = await rowIds(page);
    await row(page, ids[0] as string).click();
    await row(page, ids[2] as string).click({ modifiers: ['Shift'] });
    expect(await page.locator('wsi-annotation-list .row.picked').count()).toBe(3);
    await page.locator('wsi-annotation-list [data-testid="list-delete"]').click();
    expect(await page.locator('wsi-annotation-list [data-testid="list-delete-confirm"]').textContent()).toMatch(/Delete\s+3\s+objects/);
    // cancel deletes nothing
    await page.locator('wsi-annotation-list [data-testid="list-delete-cancel"]').click();
    expect(await page.evaluate(`(${VIEWER}).annotationSession.store.size`)).toBe(5);
    await page.locator('wsi-annotation-list [data-testid="list-delete"]').click();
    await page.locator('wsi-annotation-list [data-testid="list-delete-go"]').click();
    expect(await page.evaluate(`(${VIEWER}).annotationSession.store.size`)).toBe(2);
    await expect.poll(async () => (await rowIds(page)).length).toBe(2);
    expect(await page.evaluate(`(${VIEWER}).annotationSession.undo.undoLabel`)).toBe('Delete 3 objects');
    // one undo brings all three back
    await page.locator('wsi-annotation-panel [data-testid="undo"]').click();
    expect(await page.evaluate(`(${VIEWER}).annotationSession.store.size`)).toBe(5);
    await expect.poll(async () => (await rowIds(page)).sort()).toEqual(ids.slice().sort());

    // Ctrl-click picks two; "Select in viewer" selects them there; "Set class" gives the current class, one undo step
    await row(page, ids[1] as string).click();
    await row(page, ids[3] as string).click({ modifiers: ['Control'] });
    await page.locator('wsi-annotation-list [data-testid="list-select"]').click();
    expect((await page.evaluate<string[]>(`(${VIEWER}).annotationSession.selection.list()`)).sort()).toEqual([ids[1], ids[3]].sort());
    await page.locator('wsi-annotation-panel [data-testid="class-Normal"]').click();
    await page.locator('wsi-annotation-list [data-testid="list-set-class"]').click();
    const cls = `((id) => { const s = (${VIEWER}).annotationSession.store; return s.classOf(s.handleOf(id)); })`;
    expect(await page.evaluate(`[${cls}('${ids[1]}'), ${cls}('${ids[3]}')]`)).toEqual(['Normal', 'Normal']);
    await page.locator('wsi-annotation-panel [data-testid="undo"]').click();
    expect(await page.evaluate(`${cls}('${ids[1]}')`)).not.toBe('Normal');
    await expect.poll(() => page.locator('wsi-annotation-list [data-testid="list-count-Normal"]').count()).toBe(0);

    // an object drawn while the list is open appears in it (the rows follow the store)
    await page.evaluate(`(${VIEWER}).annotationSession.store.apply({ create: [${JSON.stringify({ ...square(50, 900, 40, { name: 'fresh' }), version: 0 })}] }, 'local', 'Draw')`);
    await expect.poll(async () => (await rowIds(page)).length).toBe(6);
  });

  it('scrolling re-uses the rows: after small steps up and down and jumps, the rows drawn are the table\'s rows in view, in screen order and in DOM order, and only the rows exposed are rewritten', async () => {
    const objs: Array<Record<string, unknown>> = [];
    for (let i = 0; i < 300; i++) objs.push(square(20 + (i % 30) * 70, 20 + Math.floor(i / 30) * 70, 10 + (i % 50), { name: `n${i}`, classification: 'Tumour' }));
    await put(slide, objs);
    const page = await open(slide);
    await openList(page);
    await page.locator('wsi-annotation-list [data-testid="list-sort-area"]').click();
    const check = async (): Promise<void> => {
      const r = (await page.evaluate(`(async () => {
        const list = ${LIST};
        await list.updateComplete;
        await new Promise((res) => requestAnimationFrame(() => requestAnimationFrame(res)));
        const vp = list.shadowRoot.querySelector('.viewport');
        const view = vp.getBoundingClientRect();
        const rows = [...list.shadowRoot.querySelectorAll('.row')].filter((r) => r.style.display !== 'none');
        const tops = rows.map((r) => r.getBoundingClientRect().top);
        // the rows that show something in the viewport, in DOM order, against the model's
        const shown = rows.filter((r, i) => tops[i] + 22 > view.top && tops[i] < view.bottom);
        const want = list.visibleHandles().map((h) => list.session.store.idOf(h));
        return { dom: rows.map((r) => r.dataset.id), tops, shown: shown.map((r) => r.dataset.id), want, index: rows.map((r) => Number(r.dataset.row)) };
      })()`)) as { dom: string[]; tops: number[]; shown: string[]; want: string[]; index: number[] };
      expect(r.dom).toEqual(r.want);
      for (let i = 1; i < r.tops.length; i++) expect((r.tops[i] as number) - (r.tops[i - 1] as number)).toBeCloseTo(22, 0);
      for (let i = 1; i < r.index.length; i++) expect(r.index[i]).toBe((r.index[i - 1] as number) + 1);
      expect(r.want.slice(0, r.shown.length)).toEqual(r.shown);
    };
    await check();
    // three rows down, several times: only the exposed rows get new text (counted by a MutationObserver)
    const rewritten = (await page.evaluate(`(async () => {
      const list = ${LIST};
      const vp = list.shadowRoot.querySelector('.viewport');
      const rows = new Set();
      const mo = new MutationObserver((ms) => { for (const m of ms) { const row = (m.target.parentElement ?? m.target).closest?.('.row'); if (row) rows.add(row.dataset.row); } });
      mo.observe(list.shadowRoot.querySelector('.rows'), { characterData: true, subtree: true });
      vp.scrollTop += 66;
      await new Promise((res) => requestAnimationFrame(() => requestAnimationFrame(res)));
      mo.disconnect();
      return rows.size;
    })()`)) as number;
    expect(rewritten).toBeGreaterThan(0);
    expect(rewritten).toBeLessThanOrEqual(3);
    for (const step of [66, 22, 7, 150, -44, -22, 3000, -1000, 100000, -66]) {
      await page.evaluate(`(${LIST}).shadowRoot.querySelector('.viewport').scrollTop += ${step}`);
      await check();
    }
    // sorting the other way rewrites every row
    await page.locator('wsi-annotation-list [data-testid="list-sort-area"]').click();
    await check();
  });

  it('bad cases: a slide without annotations says so; without MPP areas read in px²', async () => {
    const empty = await open(emptySlide);
    await openList(empty);
    expect(await empty.locator('wsi-annotation-list [data-testid="list-empty"]').textContent()).toContain('No annotations');
    expect(await empty.locator('wsi-annotation-list [data-testid="list-shown"]').textContent()).toContain('0 objects');
    await empty.locator('wsi-annotation-list [data-testid="list-close"]').click();
    expect(await empty.locator('wsi-annotation-list').count()).toBe(0);

    expect(noMppSlide, 'a generated slide without MPP').not.toBe('');
    const made = await put(noMppSlide, [square(10, 10, 100, { name: null })]);
    const page = await open(noMppSlide);
    await openList(page);
    expect(await row(page, (made[0] as Made).id).locator('span[role=cell]').nth(3).textContent()).toBe('10,000 px²');
    expect(await row(page, (made[0] as Made).id).locator('span[role=cell]').nth(4).textContent()).toBe('400 px');
    expect(await row(page, (made[0] as Made).id).locator('span[role=cell]').nth(1).textContent()).toBe('');
  });

  it.skipIf(!process.env['WSI_SCREENSHOTS'])('screenshots of the list at 1366×768 and 1920×1080 (WSI_SCREENSHOTS=1)', async () => {
    const names = ['Gland 1', 'Gland 2', 'Margin', 'Hotspot', 'Vessel', 'Necrotic core', 'Invasive front'];
    const classes = ['Tumour', 'Stroma', 'Necrosis', 'Lymphocytes', 'Normal', 'Other'];
    const objs: Array<Record<string, unknown>> = [];
    let seed = 7;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let i = 0; i < 400; i++) {
      const s = 10 + Math.floor(rnd() * 220);
      objs.push(square(Math.floor(rnd() * 2200), Math.floor(rnd() * 1500), s, { classification: classes[i % 6], name: i < 60 ? `${names[i % names.length]} ${Math.floor(i / 7) + 1}` : null }));
    }
    await put(slide, objs);
    await mkdir(join(ROOT, 'docs', 'screenshots'), { recursive: true });
    for (const vp of [{ width: 1366, height: 768 }, { width: 1920, height: 1080 }]) {
      const page = await open(slide, vp);
      await openList(page);
      await page.locator('wsi-annotation-list [data-testid="list-sort-area"]').click();
      const ids = await rowIds(page);
      await row(page, ids[2] as string).click({ modifiers: ['Control'] });
      await row(page, ids[4] as string).click({ modifiers: ['Shift'] });
      await page.waitForTimeout(1500);
      await page.waitForFunction(`(${VIEWER}).isFullyLoaded()`);
      await page.screenshot({ path: join(ROOT, 'docs', 'screenshots', `annotation-list-${vp.width}x${vp.height}.png`) });
    }
  });
});
