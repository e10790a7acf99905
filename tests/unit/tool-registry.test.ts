/**
 * The tool and key registry (src/tools/registry.ts) with the app's
 * catalogue loaded: the tools and their keys, magnification ranges, the
 * order keys are tried in, and the generated help.
 */
import { describe, expect, it } from 'vitest';
import type { AnnotationClass } from '../../src/core/annotation.js';
import { AnnotationStore } from '../../src/state/annotation-store.js';
import { Selection } from '../../src/state/selection.js';
import { UndoManager } from '../../src/state/undo.js';
import '../../src/tools/catalogue.js';
import '../../src/viewer/view-keys.js';
import { dispatchKey, helpSections, keyBindings, outOfRange, registerTool, toolSpec, toolSpecs, type KeyContext } from '../../src/tools/registry.js';
import type { Tool, ToolContext } from '../../src/tools/tool.js';

function key(k: string, mods: Partial<Pick<KeyboardEvent, 'ctrlKey' | 'shiftKey' | 'altKey' | 'metaKey'>> = {}): KeyboardEvent {
  return { key: k, ctrlKey: false, shiftKey: false, altKey: false, metaKey: false, ...mods } as KeyboardEvent;
}

function setup(palette: AnnotationClass[]) {
  const store = new AnnotationStore();
  const selection = new Selection(store);
  const undo = new UndoManager(store);
  const log: string[] = [];
  let current: string | null = palette[0]?.name ?? null;
  const tools = { store, selection, undo, palette: () => palette, currentClass: () => current, notify: (m: string | null) => log.push(`notify ${m}`) } as unknown as ToolContext;
  const ctx: KeyContext = {
    tools,
    finishGesture: () => log.push('finish'),
    setClass: (n) => {
      current = n;
      log.push(`class ${n}`);
    },
    fit: () => log.push('fit'),
    setMagnification: (m) => log.push(`mag ${m}`),
    toggleHelp: () => log.push('help'),
    closeHelp: () => false,
  };
  return { ctx, log, undo, store, selection };
}

const PALETTE: AnnotationClass[] = [
  { name: 'Tumour', color: '#c8102e', hotkey: 't' },
  { name: 'Urothelium', color: '#123456', hotkey: 'u' },
  { name: 'Vessel', color: '#654321', hotkey: 'v' },
];

describe('the tool registry', () => {
  it("holds the app's tools in button order, each with its own key", () => {
    expect(toolSpecs().map((t) => `${t.id}:${t.key}:${t.section}`)).toEqual([
      'select:v:annotate',
      'polygon:p:annotate',
      'freehand:f:annotate',
      'rectangle:r:annotate',
      'ellipse:e:annotate',
      'point:k:annotate',
      'ruler:m:annotate',
      'brush:b:paint',
      'eraser:B:paint',
      'flood:q:paint',
    ].concat(toolSpecs().slice(10).map((t) => `${t.id}:${t.key}:${t.section}`)));
    expect(new Set(toolSpecs().map((t) => t.key)).size).toBe(toolSpecs().length);
  });

  it('refuses a second tool with the same id or key', () => {
    const create = (): Tool => ({});
    expect(() => registerTool({ id: 'select', label: 'x', icon: 'x', key: 'Z', cursor: 'default', section: 'annotate', create })).toThrow(/already registered/);
    expect(() => registerTool({ id: 'other', label: 'x', icon: 'x', key: 'p', cursor: 'default', section: 'annotate', create })).toThrow(/picks "polygon"/);
  });

  it.each([
    ['brush', 4, 10, /Brush works from 10× up \(now 4\.0×\): zoom in\./],
    ['brush', 9.9999999, 10, null],
    ['brush', 12, 20, /from 20×/],
    ['brush', null, 10, null],
    ['polygon', 0.5, 10, null],
  ] as const)('%s at %s× (painting from %i×): %s', (id, mag, min, want) => {
    const r = outOfRange(toolSpec(id)!, mag, min);
    if (want === null) expect(r).toBeNull();
    else expect(r).toMatch(want);
  });
});

describe('keys', () => {
  it('Ctrl+Z finishes the gesture and undoes before the active tool sees the key', () => {
    const { ctx, log, undo } = setup(PALETTE);
    let undone = 0;
    undo.undo = () => (undone++, true);
    const tool: Tool = { key: () => (log.push('tool'), true) };
    expect(dispatchKey(key('z', { ctrlKey: true }), ctx, { tool }, () => false, false)).toBe(true);
    expect(log).toEqual(['finish']);
    expect(undone).toBe(1);
  });

  it('the active tool, then the tool keys, then the other bindings in registration order', () => {
    const { ctx, log } = setup(PALETTE);
    const picked: string[] = [];
    const pick = (s: { id: string }): boolean => (picked.push(s.id), true);
    // the tool takes the key first
    expect(dispatchKey(key('t'), ctx, { tool: { key: () => (log.push('tool'), true) } }, pick, false)).toBe(true);
    expect(log).toEqual(['tool']);
    // a tool key wins over a class hotkey
    expect(dispatchKey(key('v'), ctx, { tool: {} }, pick, false)).toBe(true);
    expect(picked).toEqual(['select']);
    expect(log).not.toContain('class Vessel');
    // a class hotkey wins over union (registered later)
    expect(dispatchKey(key('u'), ctx, { tool: {} }, pick, false)).toBe(true);
    expect(log).toContain('class Urothelium');
    // view keys still work, and nothing takes a key nobody registered
    expect(dispatchKey(key('3'), ctx, null, pick, false)).toBe(true);
    expect(log).toContain('mag 5');
    expect(dispatchKey(key('§'), ctx, null, pick, false)).toBe(false);
  });

  it('a class hotkey picks the class of new objects and paint only; C sets it on the selection, one undo step (issue 11)', () => {
    const { ctx, log, undo, store, selection } = setup(PALETTE);
    const id = '00000000-0000-4000-8000-000000000001';
    store.apply({ create: [{ id, kind: 'rectangle', geometry: { type: 'Polygon', coordinates: [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]] }, classification: 'Tumour', name: null, note: null, locked: false, objectType: 'annotation', properties: {}, version: 0 }] }, 'local', 'Rectangle');
    selection.set([id]);
    const cls = (): string | null => store.record(store.handleOf(id) as number).classification;
    expect(dispatchKey(key('u'), ctx, { tool: {} }, () => false, false)).toBe(true);
    expect(log).toContain('class Urothelium');
    expect(cls()).toBe('Tumour');
    expect(dispatchKey(key('C', { shiftKey: true }), ctx, { tool: {} }, () => false, false)).toBe(true);
    expect(cls()).toBe('Urothelium');
    expect(log.at(-1)).toMatch(/^notify Set 1 object to Urothelium\. Ctrl\+Z undoes\.$/);
    undo.undo();
    expect(cls()).toBe('Tumour');
    // nothing selected: C says why, and changes nothing
    selection.set([]);
    expect(dispatchKey(key('C', { shiftKey: true }), ctx, { tool: {} }, () => false, false)).toBe(true);
    expect(log.at(-1)).toMatch(/Nothing is selected/);
  });

  it('paint keys need a mask; without annotations only the view keys work', () => {
    const { ctx, log } = setup(PALETTE);
    expect(dispatchKey(key('i'), ctx, { tool: {} }, () => false, false)).toBe(false);
    const bare: KeyContext = { ...ctx, tools: null };
    expect(dispatchKey(key('t'), bare, null, () => true, false)).toBe(false);
    expect(dispatchKey(key('h'), bare, null, () => true, false)).toBe(true);
    expect(log).toEqual(['fit']);
  });

  it('the help lists every binding, the tools of the slide and the palette', () => {
    const { ctx } = setup(PALETTE);
    const withMask = helpSections(ctx, toolSpecs(), true);
    expect(withMask.map((s) => s.title)).toEqual(['View', 'Tools', 'Edit', 'Paint', 'Classes']);
    const rows = (title: string): string[] => (withMask.find((s) => s.title === title)?.rows ?? []).map(([k, w]) => `${k} ${w}`);
    expect(rows('View')).toContain('1 1.25×');
    expect(rows('View')).toContain('? this help');
    expect(rows('Tools')).toContain('b Brush');
    expect(rows('Edit')).toContain('Ctrl+Z undo');
    expect(rows('Paint')).toContain('i paint inside ROIs only (on/off)');
    expect(rows('Classes')).toEqual(['t Tumour', 'u Urothelium', '— Vessel (v is the Select tool here)']);
    const noMask = helpSections(ctx, toolSpecs().filter((t) => t.section !== 'paint'), false);
    expect(noMask.map((s) => s.title)).not.toContain('Paint');
    expect(helpSections({ ...ctx, tools: null }, [], false).map((s) => s.title)).toEqual(['View']);
    // every binding is in the help of a slide with a mask
    const all = withMask.flatMap((s) => s.rows.map(([k]) => k));
    for (const b of keyBindings()) if (!b.rows) expect(all).toContain(b.keys);
  });

  it('the help lists only the pan letters nothing else takes, and Esc closes the help before the tool drops its selection (issue 11)', () => {
    const palette: AnnotationClass[] = [...PALETTE, { name: 'Stroma', color: '#f28e2b', hotkey: 's' }];
    const { ctx, log } = setup(palette);
    const pan = helpSections(ctx, toolSpecs(), true)
      .find((s) => s.title === 'View')
      ?.rows.find(([, what]) => what.startsWith('pan'));
    expect(pan).toEqual(['←↑→↓ / w a d', 'pan (s is Stroma)']);
    // without annotations every letter pans
    const bare = helpSections({ ...ctx, tools: null }, [], false).find((s) => s.title === 'View')?.rows.find(([, what]) => what.startsWith('pan'));
    expect(bare).toEqual(['←↑→↓ / w a s d', 'pan']);
    // no key in the help is listed for two things
    const keys = helpSections(ctx, toolSpecs(), true).flatMap((s) => s.rows.flatMap(([k]) => k.split(/ \/ | /).filter((x) => x.length === 1 && x !== '—')));
    expect(keys.length).toBeGreaterThan(20);
    expect(keys.filter((k, i) => keys.indexOf(k) !== i)).toEqual([]);
    // a palette hotkey a tool takes first, and a binding a class takes first, say so instead
    const rows = helpSections(ctx, toolSpecs(), true).flatMap((s) => s.rows.map(([k, w]) => `${k} ${w}`));
    expect(rows).toContain('— Vessel (v is the Select tool here)');
    expect(rows).toContain('— union of the selected regions (u is Urothelium here)');
    // Esc: the open help closes first; the tool does not see the key
    let open = true;
    const withHelp: KeyContext = { ...ctx, closeHelp: () => (open ? ((open = false), true) : false) };
    const tool: Tool = { key: (e) => (log.push(`tool ${e.key}`), true) };
    expect(dispatchKey(key('Escape'), withHelp, { tool }, () => false, false)).toBe(true);
    expect(open).toBe(false);
    expect(log).not.toContain('tool Escape');
    // with the help closed, Esc is the tool's
    expect(dispatchKey(key('Escape'), withHelp, { tool }, () => false, false)).toBe(true);
    expect(log).toContain('tool Escape');
  });
});
