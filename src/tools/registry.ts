/**
 * The tool and key registry: every tool and every shortcut registers here
 * once, and the panels' tool buttons, the key handling and the `?` help are
 * generated from it. A tool is one file that calls `registerTool` with its
 * id, icon, key, cursor, the magnification range it works in and its panel
 * section; src/tools/catalogue.ts holds the one line that loads each file.
 */
import type { Tool, ToolContext, ToolSection } from './tool.js';

export type { ToolSection };

/** Magnifications a tool works at; `'paint-min'` is the viewer's paint-min-magnification attribute. */
export interface MagnificationRange {
  min?: number | 'paint-min';
  max?: number;
}

export interface ToolSpec {
  readonly id: string;
  readonly label: string;
  /** A short glyph shown on the tool's button. */
  readonly icon: string;
  /** The key that picks the tool. */
  readonly key: string;
  /** CSS cursor over the slide while the tool is active. */
  readonly cursor: string;
  readonly section: ToolSection;
  readonly magnification?: MagnificationRange;
  /** Keys the tool itself handles while active, for the help. */
  readonly help?: ReadonlyArray<readonly [keys: string, what: string]>;
  create(ctx: ToolContext): Tool;
  /**
   * What the tool adds to its panel section while it is active (a Lit
   * template, or nothing). Called on every render of the panel.
   */
  panel?(tool: Tool, ctx: ToolContext): unknown;
}

/** What shortcuts act on. The viewer implements it. */
export interface KeyContext {
  /** Annotation tools and edits (null until a slide's annotations are open). */
  tools: ToolContext | null;
  /** The active tool's gesture is finished (committed) before undo/redo. */
  finishGesture(): void;
  setClass(name: string): void;
  fit(): void;
  setMagnification(mag: number): void;
  /** The presets as the open slide reads them (digital zoom marked; zoom factors without calibration); absent: the plain magnifications. */
  presets?(): ReadonlyArray<{ mag: number; label: string; digital: boolean }>;
  toggleHelp(): void;
  /** Opens or closes the annotation list (absent: there is none). */
  toggleList?(): void;
  /** Closes the help; false when it was not open. */
  closeHelp(): boolean;
}

export type KeyGroup = 'view' | 'edit' | 'paint' | 'classes';

export interface KeyBinding {
  /** How the help shows the keys ("Ctrl+Z", "[ ]"). */
  readonly keys: string;
  readonly label: string;
  readonly group: KeyGroup;
  /** Bindings with Ctrl/⌘ are tried before the active tool sees the key; the others after it. */
  readonly withCtrl?: boolean;
  /** Tried before the active tool too, without Ctrl (Esc closing the help before the tool drops its selection). */
  readonly beforeTool?: boolean;
  /** Only listed and active when the slide has a mask. */
  readonly needsMask?: boolean;
  match(e: KeyboardEvent, ctx: KeyContext): boolean;
  /** Does it; false when there was nothing to do (the key then goes on to OpenSeadragon). Absent: OpenSeadragon handles the key, the binding only documents it. */
  run?(ctx: KeyContext, e: KeyboardEvent): boolean;
  /** Help rows that depend on the slide (the class hotkeys); default: one row, keys and label. */
  rows?(ctx: KeyContext, hasMask: boolean): Array<readonly [keys: string, what: string]>;
}

const tools: ToolSpec[] = [];
const bindings: KeyBinding[] = [];

export function registerTool(spec: ToolSpec): void {
  if (tools.some((t) => t.id === spec.id)) throw new Error(`a tool "${spec.id}" is already registered`);
  const clash = tools.find((t) => t.key === spec.key);
  if (clash) throw new Error(`tool "${spec.id}" wants key "${spec.key}", which picks "${clash.id}"`);
  tools.push(spec);
}

export function registerKey(binding: KeyBinding): void {
  bindings.push(binding);
}

/** Every registered tool, in registration order. */
export function toolSpecs(): readonly ToolSpec[] {
  return tools;
}

export function toolSpec(id: string): ToolSpec | undefined {
  return tools.find((t) => t.id === id);
}

export function toolForKey(key: string): ToolSpec | undefined {
  return tools.find((t) => t.key === key);
}

export function keyBindings(): readonly KeyBinding[] {
  return bindings;
}

/** The magnification range of a tool with the viewer's setting filled in. */
export function magnificationRange(spec: ToolSpec, paintMin: number): { min: number; max: number } {
  const m = spec.magnification ?? {};
  return { min: m.min === 'paint-min' ? paintMin : (m.min ?? 0), max: m.max ?? Infinity };
}

function formatMag(mag: number): string {
  return mag < 10 ? mag.toFixed(1) : String(Math.round(mag));
}

/** Why a tool cannot be used at a magnification (null: it can; an uncalibrated slide has none, and every tool works). */
export function outOfRange(spec: ToolSpec, mag: number | null, paintMin: number): string | null {
  if (mag === null) return null;
  const { min, max } = magnificationRange(spec, paintMin);
  if (mag < min - 1e-6) return `${spec.label} works from ${min}× up (now ${formatMag(mag)}×): zoom in.`;
  if (mag > max + 1e-6) return `${spec.label} works up to ${max}× (now ${formatMag(mag)}×): zoom out.`;
  return null;
}

/**
 * Handles a key press: Ctrl/⌘ bindings first, then the active tool's own
 * keys, then the tool hotkeys, then the other bindings in registration
 * order. Returns true when something took the key.
 */
export function dispatchKey(e: KeyboardEvent, ctx: KeyContext, active: { tool: Tool } | null, pick: (spec: ToolSpec) => boolean, hasMask: boolean): boolean {
  const usable = (b: KeyBinding): boolean => !!b.run && (!b.needsMask || hasMask);
  for (const b of bindings) if ((b.withCtrl || b.beforeTool) && usable(b) && b.match(e, ctx) && b.run?.(ctx, e)) return true;
  if (e.ctrlKey || e.metaKey || e.altKey) return false;
  if (active?.tool.key?.(e)) return true;
  const spec = ctx.tools ? toolForKey(e.key) : undefined;
  if (spec && pick(spec)) return true;
  for (const b of bindings) if (!b.withCtrl && !b.beforeTool && usable(b) && b.match(e, ctx) && b.run?.(ctx, e)) return true;
  return false;
}

/** What takes a plain key (no modifier) here, before OpenSeadragon could see it: a tool, or a binding (a class hotkey named by its class); null when nothing does. */
export function keyOwner(k: string, ctx: KeyContext, hasMask: boolean): { binding: KeyBinding | null; name: string } | null {
  const e = { key: k, ctrlKey: false, metaKey: false, altKey: false, shiftKey: k !== k.toLowerCase() } as KeyboardEvent;
  if (ctx.tools) {
    const t = toolForKey(k);
    if (t) return { binding: null, name: `the ${t.label} tool` };
  }
  for (const b of bindings) {
    if (!b.run || (b.needsMask && !hasMask) || (b.group !== 'view' && !ctx.tools) || !b.match(e, ctx)) continue;
    return { binding: b, name: b.group === 'classes' ? (ctx.tools?.palette().find((c) => c.hotkey === k)?.name ?? b.label) : b.label };
  }
  return null;
}

/** What a plain key does here (see keyOwner), or null. */
export function keyUse(k: string, ctx: KeyContext, hasMask: boolean): string | null {
  return keyOwner(k, ctx, hasMask)?.name ?? null;
}

export interface HelpSection {
  title: string;
  rows: Array<readonly [keys: string, what: string]>;
}

const GROUP_TITLES: Record<KeyGroup, string> = { view: 'View', edit: 'Edit', paint: 'Paint', classes: 'Classes' };

/** The `?` help: view keys always; tools, edits, painting and classes when annotating. */
export function helpSections(ctx: KeyContext, available: readonly ToolSpec[], hasMask: boolean): HelpSection[] {
  const out: HelpSection[] = [];
  const group = (g: KeyGroup): HelpSection => {
    let s = out.find((x) => x.title === GROUP_TITLES[g]);
    if (!s) out.push((s = { title: GROUP_TITLES[g], rows: [] }));
    return s;
  };
  group('view');
  if (ctx.tools) {
    const sectionTools: HelpSection = { title: 'Tools', rows: available.map((t) => [t.key, t.label] as const) };
    out.push(sectionTools);
    for (const t of available) for (const r of t.help ?? []) group(t.section === 'paint' ? 'paint' : 'edit').rows.push(r);
  }
  for (const b of bindings) {
    if (b.group !== 'view' && !ctx.tools) continue;
    if (b.needsMask && !hasMask) continue;
    const rows = b.rows ? b.rows(ctx, hasMask) : [[b.keys, b.label] as const];
    // a key listed for something it does not do here (a palette hotkey a tool takes first, `u` taken by a class) is shown as taken
    group(b.group).rows.push(
      ...rows.map(([k, what]) => {
        const owner = k.length === 1 ? keyOwner(k, ctx, hasMask) : null;
        return owner && owner.binding !== b ? (['—', `${what} (${k} is ${owner.name} here)`] as const) : ([k, what] as const);
      }),
    );
  }
  return out.filter((s) => s.rows.length > 0);
}
