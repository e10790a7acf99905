/**
 * The brush (`b`) and the eraser (`B`, or Alt with the brush): paint the
 * current class into the mask, or clear it. The brush is sized in screen
 * pixels, so it stays the same on screen as you zoom (`[` `]` or
 * Shift+wheel change it). A stroke previews at once in the overlay and is
 * committed as one edit (one undo step) on pointer-up, clipped to the
 * regions of interest under it when "inside ROIs only" is on; the preview
 * stays until the painted tiles are on screen.
 */
import { maskClassId } from '../core/annotation.js';
import { flatBounds } from '../core/flat-geometry.js';
import { roisIn } from '../state/rois.js';
import { registerTool } from './registry.js';
import type { ImagePoint, Modifiers, Tool, ToolContext } from './tool.js';

interface Preview {
  path: number[];
  widthImg: number;
  erase: boolean;
  colour: string;
}

/** Why painting is off before any magnification check: the mask is not there yet, or the class has no mask id. */
export function paintUnavailable(ctx: ToolContext): string | null {
  const mask = ctx.mask;
  if (!mask) return 'This server keeps no masks.';
  if (!mask.loaded) return mask.loadError ? `The mask could not be loaded: ${mask.loadError}` : 'The mask is still loading.';
  if (maskClassId(ctx.currentPaletteClass()) === null) return 'Choose a class to paint.';
  return null;
}

export class BrushTool implements Tool {
  private current: Preview | null = null;
  /** Committed strokes not yet on screen. */
  private readonly waiting = new Set<Preview>();
  private pointer: ImagePoint | null = null;

  constructor(
    private readonly ctx: ToolContext,
    private readonly eraser: boolean,
  ) {}

  private erasing(m: Modifiers): boolean {
    return this.eraser || m.alt;
  }

  unavailable(): string | null {
    return paintUnavailable(this.ctx);
  }

  press(p: ImagePoint, m: Modifiers): boolean {
    this.ctx.notify(null);
    const widthImg = this.ctx.paint.brushPx * this.ctx.imagePxPerScreenPx();
    this.current = { path: [p.x, p.y], widthImg, erase: this.erasing(m), colour: this.ctx.currentPaletteClass()?.color ?? '#888' };
    this.pointer = p;
    this.ctx.redraw();
    return true;
  }

  drag(p: ImagePoint): void {
    const c = this.current;
    if (!c) return;
    const n = c.path.length;
    const dx = p.x - (c.path[n - 2] as number);
    const dy = p.y - (c.path[n - 1] as number);
    // skip points closer than a tenth of the brush: they add nothing
    if (dx * dx + dy * dy >= (c.widthImg / 10) ** 2) c.path.push(p.x, p.y);
    this.pointer = p;
    this.ctx.redraw();
  }

  release(p: ImagePoint): void {
    this.drag(p);
    this.finish();
  }

  move(p: ImagePoint): void {
    this.pointer = p;
    this.ctx.redraw();
  }

  key(e: KeyboardEvent): boolean {
    if (e.key === '[' || e.key === ']') {
      this.ctx.paint.stepBrush(e.key === ']');
      this.ctx.redraw();
      return true;
    }
    return false;
  }

  scroll(deltaY: number, m: Modifiers): boolean {
    if (!m.shift) return false;
    this.ctx.paint.stepBrush(deltaY < 0);
    this.ctx.redraw();
    return true;
  }

  finish(): void {
    const c = this.current;
    this.current = null;
    if (!c) return;
    this.waiting.add(c);
    void this.commit(new Float64Array(c.path), c.widthImg / 2, c.erase).then((refused) => {
      this.waiting.delete(c);
      if (refused) this.ctx.notify(refused);
      this.ctx.redraw();
    });
  }

  /** Paints (or erases) the stroke; resolves once it is on screen, or with why it was refused. */
  private async commit(path: Float64Array, radius: number, erase: boolean): Promise<string | null> {
    const mask = this.ctx.mask;
    const value = erase ? 0 : maskClassId(this.ctx.currentPaletteClass());
    if (!mask || value === null) return this.unavailable() ?? 'Choose a class to paint.';
    let clip: Float64Array[][] | null = null;
    if (this.ctx.paint.insideRoisOnly && !erase) {
      const [x0, y0, x1, y1] = flatBounds(path);
      clip = roisIn(this.ctx.store, this.ctx.index, x0 - radius, y0 - radius, x1 + radius, y1 + radius);
      if (clip.length === 0) return 'No region of interest under this stroke: outline one first, or turn off "inside ROIs only".';
    }
    const t0 = performance.now();
    const out = await mask.stroke(path, radius, value, clip);
    if (out.refused) return out.refused;
    this.ctx.paint.recordLatency((await this.ctx.maskShown(out.keys)) - t0);
    return null;
  }

  drawOverlay(ctx: CanvasRenderingContext2D, toScreen: (x: number, y: number) => [number, number]): void {
    const scale = toScreen(1, 0)[0] - toScreen(0, 0)[0];
    for (const p of [...this.waiting, ...(this.current ? [this.current] : [])]) {
      ctx.save();
      ctx.lineCap = 'round';
      ctx.lineJoin = 'round';
      ctx.lineWidth = Math.max(1, p.widthImg * scale);
      ctx.strokeStyle = p.erase ? 'rgba(255,255,255,0.6)' : p.colour;
      ctx.globalAlpha = p.erase ? 1 : 0.6;
      ctx.beginPath();
      const [x0, y0] = toScreen(p.path[0] as number, p.path[1] as number);
      ctx.moveTo(x0, y0);
      // a single dab still shows as a dot
      if (p.path.length === 2) ctx.lineTo(x0 + 0.01, y0);
      for (let i = 2; i < p.path.length; i += 2) {
        const [x, y] = toScreen(p.path[i] as number, p.path[i + 1] as number);
        ctx.lineTo(x, y);
      }
      ctx.stroke();
      ctx.restore();
    }
    if (this.pointer) {
      const [x, y] = toScreen(this.pointer.x, this.pointer.y);
      const r = (this.ctx.paint.brushPx / 2) * devicePixelRatio;
      const off = this.unavailable() !== null;
      ctx.save();
      ctx.lineWidth = 1.5 * devicePixelRatio;
      ctx.strokeStyle = off ? 'rgba(160,160,160,0.9)' : '#000';
      ctx.setLineDash(off ? [4, 4] : []);
      ctx.beginPath();
      ctx.arc(x, y, r, 0, Math.PI * 2);
      ctx.stroke();
      ctx.strokeStyle = off ? 'rgba(255,255,255,0.6)' : '#fff';
      ctx.beginPath();
      ctx.arc(x, y, r + 1.5 * devicePixelRatio, 0, Math.PI * 2);
      ctx.stroke();
      ctx.restore();
    }
  }
}

const brushHelp = [
  ['[ ]', 'brush size (also Shift+wheel)'],
  ['Alt', 'with the brush: erase'],
] as const;

registerTool({ id: 'brush', label: 'Brush', icon: '🖌', key: 'b', cursor: 'none', section: 'paint', magnification: { min: 'paint-min' }, help: brushHelp, create: (ctx) => new BrushTool(ctx, false) });
registerTool({ id: 'eraser', label: 'Eraser', icon: '⌫', key: 'B', cursor: 'none', section: 'paint', magnification: { min: 'paint-min' }, create: (ctx) => new BrushTool(ctx, true) });
