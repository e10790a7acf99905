/**
 * The annotation list's Review column (issue 11): each object's review state
 * from the slide's review items, sorted in the workflow's order (never
 * submitted last, both ways), filtered by state ("never submitted" too),
 * counted per state; states arriving after the rows re-sort them; an object
 * with several items shows its open one (src/services/review-api.ts).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { rect } from '../helpers/records.js';
import { AnnotationStore } from '../../src/state/annotation-store.js';
import { AnnotationTable } from '../../src/state/annotation-table.js';
import { objectReviewStates } from '../../src/services/review-api.js';
import { LIST_COLUMNS, reviewText } from '../../src/viewer/annotation-list-columns.js';

function table(): { t: AnnotationTable; idOf: (i: number) => string } {
  const store = new AnnotationStore();
  const recs = Array.from({ length: 6 }, (_, i) => rect(i * 10, 0, 5, 5));
  store.apply({ create: recs }, 'remote');
  const t = new AnnotationTable(store);
  t.refresh();
  return { t, idOf: (i) => recs[i]?.id as string };
}

const shown = (t: AnnotationTable): string[] => Array.from(t.rows, (h) => reviewText(t.reviewOf(h)));

describe('the Review column', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('sorts by review state in the workflow order, never submitted last either way', () => {
    const { t, idOf } = table();
    t.setSort('review');
    t.refresh();
    t.setReviewStates(new Map([[idOf(0), 'accepted'], [idOf(2), 'submitted'], [idOf(3), 'changes_requested'], [idOf(5), 'draft']]));
    t.refresh();
    expect(shown(t)).toEqual(['draft', 'submitted', 'changes requested', 'accepted', '', '']);
    t.setSort('review', true);
    t.refresh();
    expect(shown(t)).toEqual(['accepted', 'changes requested', 'submitted', 'draft', '', '']);
    const col = LIST_COLUMNS.find((c) => c.id === 'review');
    expect(col?.text({ store: t.store, table: t, mpp: null, now: Date.now() }, t.rows[0] as number)).toBe('accepted');
  });

  it('filters by a state or by "never submitted", and counts each state', () => {
    const { t, idOf } = table();
    t.setReviewStates(new Map([[idOf(0), 'accepted'], [idOf(1), 'accepted'], [idOf(4), 'rejected']]));
    t.refresh();
    expect(Object.fromEntries(t.reviewCounts())).toEqual({ accepted: 2, rejected: 1, '': 3 });
    t.setFilter({ reviews: new Set(['accepted']) });
    t.refresh();
    expect(Array.from(t.rows, (h) => t.store.idOf(h))).toEqual([idOf(0), idOf(1)]);
    t.setFilter({ reviews: new Set(['']) });
    t.refresh();
    expect(t.rows.length).toBe(3);
    // the states change (a reviewer decided): the filter follows
    t.setReviewStates(new Map([[idOf(0), 'accepted']]));
    t.refresh();
    expect(t.rows.length).toBe(5);
    t.setFilter({ reviews: null });
    t.refresh();
    expect(t.rows.length).toBe(6);
  });

  it("reads the slide's items: regions are left out, and an object's open item wins over a closed one", async () => {
    const items = [
      { id: 'i1', kind: 'object', targetId: 'a', state: 'submitted' },
      { id: 'i2', kind: 'object', targetId: 'a', state: 'closed' },
      { id: 'i3', kind: 'object', targetId: 'b', state: 'closed' },
      { id: 'i4', kind: 'region', targetId: 'c', state: 'accepted' },
    ];
    const fetched: string[] = [];
    vi.stubGlobal('fetch', async (url: string) => {
      fetched.push(url);
      return new Response(JSON.stringify({ items }), { status: 200, headers: { 'Content-Type': 'application/json' } });
    });
    const states = await objectReviewStates('http://srv', 'slide1');
    expect(fetched).toEqual(['http://srv/api/slides/slide1/reviews']);
    expect(Object.fromEntries(states)).toEqual({ a: 'submitted', b: 'closed' });
  });

  it('a refusal from the server is an error with its message, not an empty column', async () => {
    vi.stubGlobal('fetch', async () => new Response(JSON.stringify({ code: 'FORBIDDEN', message: 'no' }), { status: 403 }));
    await expect(objectReviewStates('http://srv', 'slide1')).rejects.toThrow('no');
  });
});
