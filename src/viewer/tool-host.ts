/**
 * Where pointer input enters: OpenSeadragon's pointer events become level-0
 * points (through view-transform.ts) for the active tool. The host makes the
 * registered tools for an open slide (the paint tools only when the slide
 * has a mask), gives them their ToolContext, refuses a tool outside its
 * magnification range or while it says it cannot work (with the reason, in
 * its panel section), and keeps each section's message for the panels.
 */
import OpenSeadragon from 'openseadragon';
import { type AnnotationClass, type AnnotationKind, type Geometry } from '../core/annotation.js';
import { Observers } from '../core/observers.js';
import { imageZoomForMagnification, magnification } from '../core/scale.js';
import { ModelRunApi } from '../services/model-run-api.js';
import type { ModelContext } from '../tools/model-context.js';
import type { ClassLayers } from '../state/class-layers.js';
import type { AnnotationRecord } from '../state/annotation-store.js';
import type { AnnotationSession } from '../session/annotation-session.js';
import { PaintSettings } from '../tools/paint-settings.js';
import { outOfRange, toolSpecs, type ToolSection, type ToolSpec } from '../tools/registry.js';
import type { ImagePoint, MaskEditing, Modifiers, ReviewHost, Tool, ToolContext } from '../tools/tool.js';
import type { AnnotationLayer } from './annotation-layer.js';
import type { MaskLayer } from './mask-layer.js';
import { goToView, imagePxPerScreenPx, readView, readViewTransform, screenToImage, visibleImageBox, type ViewTransform } from './view-transform.js';

export interface ToolHostOptions {
  mpp: number | null;
  /** Name of the class given to new objects and painted, to start with (the viewer keeps it across slides). */
  currentClass: string | null;
  /** The slide's objective power, stated or estimated from MPP (null: uncalibrated; every tool works at any zoom). */
  objectivePower: number | null;
  /** The viewer's paint-min-magnification, to start with (setPaintMinMagnification follows the attribute). */
  paintMinMagnification: number;
  /** The annotation overlay: the tools' previews are drawn on it, objects they edit are hidden from it. */
  layer: AnnotationLayer;
  /** The mask's display (null without a mask): edits wait for their tiles to be drawn. */
  maskLayer: MaskLayer | null;
  /** What the review mode needs (null: no review mode on this slide). */
  review?: ReviewHost | null;
}

export interface ActiveTool {
  spec: ToolSpec;
  tool: Tool;
}

type PointerEvent_ = OpenSeadragon.CanvasPressEvent & { preventDefaultAction?: boolean; quick?: boolean };

export class ToolHost {
  readonly context: ToolContext;
  readonly paint = new PaintSettings();
  private readonly tools = new Map<string, ActiveTool>();
  private current: ActiveTool;
  private capturing = false;
  /** Name of the class given to new objects and painted. */
  private className: string | null;
  private paintMin: number;
  private readonly messages = new Map<ToolSection, string | null>();
  private readonly changes = new Observers<void>();
  private readonly handlers: Array<[string, OpenSeadragon.EventHandler<never>]> = [];
  private readonly unsub: Array<() => void> = [];

  constructor(
    private readonly viewer: OpenSeadragon.Viewer,
    private readonly session: AnnotationSession,
    private readonly opts: ToolHostOptions,
  ) {
    this.className = opts.currentClass;
    this.paintMin = opts.paintMinMagnification;
    this.context = this.makeContext(session.mask);
    for (const spec of toolSpecs()) {
      if (spec.section === 'paint' && !session.mask) continue;
      this.tools.set(spec.id, { spec, tool: spec.create(this.context) });
    }
    this.current = this.tools.get('select') ?? ([...this.tools.values()][0] as ActiveTool);
    this.listen();
    this.unsub.push(this.paint.onChange(() => this.changes.emit()));
    // an edit refused by the store (a class locked in the Layers table) is said in the status line, never a silent no-op
    this.unsub.push(session.store.onRefused((reason) => this.setMessage('annotate', reason)));
    opts.layer.overlay = (ctx, toScreen) => this.drawOverlays(ctx, toScreen);
  }

  private makeContext(mask: MaskEditing | null): ToolContext {
    const s = this.session;
    const section = (): ToolSection => this.current?.spec.section ?? 'annotate';
    return {
      store: s.store,
      index: s.index,
      selection: s.selection,
      undo: s.undo,
      imagePxPerScreenPx: () => {
        const t = this.transform();
        return t ? imagePxPerScreenPx(t) : 1;
      },
      visibleBox: () => {
        const t = this.transform();
        const c = this.viewer.canvas;
        return t ? visibleImageBox(t, c.clientWidth * t.dpr, c.clientHeight * t.dpr) : { x0: 0, y0: 0, x1: 0, y1: 0 };
      },
      mpp: () => this.opts.mpp,
      currentClass: () => this.className,
      currentPaletteClass: (): AnnotationClass | undefined => s.palette.find((c) => c.name === this.className),
      palette: () => s.palette,
      commit: (edit, label) => s.store.apply(edit, 'local', label),
      redraw: () => this.opts.layer.redraw(),
      hide: (hs) => this.opts.layer.setHidden(hs),
      newRecord: (kind: AnnotationKind, geometry: Geometry): AnnotationRecord => ({
        id: crypto.randomUUID(),
        kind,
        geometry,
        classification: kind === 'ruler' ? null : this.className,
        name: null,
        note: null,
        locked: false,
        objectType: 'annotation',
        properties: {},
        version: 0,
      }),
      panelChanged: () => this.changes.emit(),
      notify: (message, where) => this.setMessage(where ?? section(), message),
      mask,
      paint: this.paint,
      maskShown: (keys) => (this.opts.maskLayer ? this.opts.maskLayer.whenVisible(keys) : Promise.resolve(performance.now())),
      review: this.opts.review ?? null,
      models: this.modelContext(),
      get layers(): ClassLayers {
        return s.layers;
      },
    };
  }

  /** Model runs for the triage tool (issue 13): the session's provenance and outbox, the view. */
  private modelContext(): ModelContext {
    const s = this.session;
    const power = this.opts.objectivePower ?? 40;
    const api = new ModelRunApi(s.api.server, s.api.slide);
    return {
      api,
      provenance: s.provenance,
      predictions: (runId) => s.predictionsOf(runId, api),
      accept: (ids, label) => {
        if (s.store.readOnly !== null) return 0;
        const router = s.sync.router;
        const ops = router ? router.accept(ids) : [];
        s.sync.sendOps(ops, label);
        return ops.length;
      },
      flyTo: (x, y, mag) => {
        const now = readView(this.viewer);
        if (!now) return;
        goToView(this.viewer, { x, y, zoom: mag === null ? now.zoom : imageZoomForMagnification(power, mag) }, false);
      },
      magnification: () => {
        const now = readView(this.viewer);
        return now && this.opts.objectivePower !== null ? magnification(this.opts.objectivePower, now.zoom) : null;
      },
      saving: () => {
        const st = s.sync.snapshot;
        return { status: st.status, queued: st.queued, message: st.message };
      },
      reportPage: (runId) => `${s.api.server}/report.html?slide=${encodeURIComponent(s.api.slide)}&run=${encodeURIComponent(runId)}`,
    };
  }

  setPaintMinMagnification(mag: number): void {
    if (mag === this.paintMin) return;
    this.paintMin = mag;
    this.changes.emit();
  }

  setCurrentClass(name: string | null): void {
    if (name === this.className) return;
    this.className = name;
    this.changes.emit();
  }

  /** Tells `fn` when the active tool, the class, a message or a painting choice changed. */
  onChange(fn: () => void): () => void {
    return this.changes.add(fn);
  }

  get active(): ActiveTool {
    return this.current;
  }

  /** The tools this slide has, in registry order. */
  available(): ToolSpec[] {
    return [...this.tools.values()].map((t) => t.spec);
  }

  has(id: string): boolean {
    return this.tools.has(id);
  }

  setTool(id: string): boolean {
    const next = this.tools.get(id);
    if (!next) return false;
    if (this.readOnly !== null && this.edits(id)) {
      // a key for a drawing tool: stay on Select and say why
      this.setMessage(next.spec.section, this.readOnly);
      return false;
    }
    if (next === this.current) return true;
    this.current.tool.finish?.();
    this.current = next;
    this.viewer.canvas.style.cursor = next.spec.cursor;
    this.changes.emit();
    this.opts.layer.redraw();
    return true;
  }

  /** Commits whatever the active tool has in progress. */
  finishGesture(): void {
    this.current.tool.finish?.();
  }

  /** The magnification now (null when the slide has no calibration). */
  magnification(): number | null {
    const t = this.transform();
    return t && this.opts.objectivePower ? magnification(this.opts.objectivePower, t.zoom) : null;
  }

  /** Why nothing can be changed on this slide (a read-only project, a viewer), or null. */
  get readOnly(): string | null {
    return this.session.readOnly;
  }

  /** Whether a tool changes annotations or the mask (every tool but Select): none of those works read-only. */
  edits(id: string): boolean {
    return id !== 'select';
  }

  /** Why a tool cannot be used now (read-only, its magnification range, then its own reason), or null. */
  unavailable(id = this.current.spec.id): string | null {
    const t = this.tools.get(id);
    if (!t) return null;
    if (this.readOnly !== null && this.edits(id)) return this.readOnly;
    return outOfRange(t.spec, this.magnification(), this.paintMin) ?? t.tool.unavailable?.() ?? null;
  }

  message(section: ToolSection): string | null {
    return this.messages.get(section) ?? null;
  }

  setMessage(section: ToolSection, message: string | null): void {
    if ((this.messages.get(section) ?? null) === message) return;
    this.messages.set(section, message);
    this.changes.emit();
  }

  /** The overlays of the active tool and of the selection (always shown). */
  drawOverlays(ctx: CanvasRenderingContext2D, toScreen: (x: number, y: number) => [number, number]): void {
    const select = this.tools.get('select');
    for (const t of new Set([this.current, ...(select ? [select] : [])])) t.tool.drawOverlay?.(ctx, toScreen);
  }

  // ---- pointer input

  private transform(): ViewTransform | null {
    return readViewTransform(this.viewer);
  }

  private toImage(p: OpenSeadragon.Point): ImagePoint {
    const t = this.transform();
    return t ? screenToImage(t, p.x, p.y) : { x: 0, y: 0 };
  }

  private mods(e: { originalEvent?: Event }): Modifiers {
    const ev = e.originalEvent as MouseEvent | undefined;
    return { shift: !!ev?.shiftKey, alt: !!ev?.altKey, ctrl: !!(ev?.ctrlKey || ev?.metaKey) };
  }

  /** True when the active tool may start a gesture; otherwise its section says why. */
  private allowed(): boolean {
    const reason = this.unavailable();
    this.setMessage(this.current.spec.section, reason ?? this.message(this.current.spec.section));
    return reason === null;
  }

  private on(name: string, fn: (e: PointerEvent_) => void): void {
    const h = fn as unknown as OpenSeadragon.EventHandler<never>;
    this.viewer.addHandler(name as never, h);
    this.handlers.push([name, h]);
  }

  private listen(): void {
    this.on('canvas-press', (e) => {
      const tool = this.current.tool;
      this.capturing = !!tool.press && this.allowed() && tool.press(this.toImage(e.position), this.mods(e));
    });
    this.on('canvas-drag', (e) => {
      if (!this.capturing) return;
      e.preventDefaultAction = true;
      this.current.tool.drag?.(this.toImage(e.position), this.mods(e));
    });
    this.on('canvas-drag-end', (e) => {
      if (this.capturing) e.preventDefaultAction = true;
    });
    this.on('canvas-release', (e) => {
      if (!this.capturing) return;
      this.capturing = false;
      this.current.tool.release?.(this.toImage(e.position), this.mods(e));
    });
    this.on('canvas-click', (e) => {
      if (!e.quick) return;
      e.preventDefaultAction = true;
      const tool = this.current.tool;
      if (tool.click && this.allowed()) tool.click(this.toImage(e.position), this.mods(e));
    });
    this.on('canvas-double-click', (e) => {
      if (this.current.spec.id !== 'select' || this.session.selection.size > 0) e.preventDefaultAction = true;
      this.current.tool.dblclick?.(this.toImage(e.position), this.mods(e));
    });
    this.on('canvas-scroll', (e) => {
      const ev = e.originalEvent as WheelEvent | undefined;
      if (ev && this.current.tool.scroll?.(ev.deltaY, this.mods(e))) e.preventDefaultAction = true;
    });
    const move = (ev: PointerEvent): void => {
      if (!this.current.tool.move) return;
      const r = this.viewer.canvas.getBoundingClientRect();
      this.current.tool.move(this.toImage(new OpenSeadragon.Point(ev.clientX - r.left, ev.clientY - r.top)));
    };
    this.viewer.canvas.addEventListener('pointermove', move);
    this.unsub.push(() => this.viewer.canvas.removeEventListener('pointermove', move));
  }

  destroy(): void {
    this.finishGesture();
    this.opts.layer.overlay = null;
    for (const [name, h] of this.handlers) this.viewer.removeHandler(name as never, h);
    for (const u of this.unsub) u();
  }
}
