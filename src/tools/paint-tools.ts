/**
 * Painting class ids into the mask: the brush (and eraser) and the flood
 * fill. The brush is sized in screen pixels, so it stays the same on screen
 * as you zoom, and its size is shown in µm at the current zoom; `[` and `]`
 * or Shift+wheel change it. A stroke previews at once in the overlay and is
 * committed as one edit (one undo step) on pointer-up; the preview stays
 * until the painted tiles are on screen.
 */
import type { ImagePoint, Modifiers, Tool, ToolId } from './tool.js';

export interface PaintContext {
  /** null when painting is allowed here; otherwise why not (shown to the user). */
  disabledReason(): string | null;
  brushScreenPx(): number;
  setBrushScreenPx(px: number): void;
  imagePxPerScreenPx(): number;
  /** Colour of the class being painted (CSS). */
  paintColour(): string;
  /** Commits a stroke; resolves once it is on screen (or was refused, with the reason). */
  stroke(path: Float64Array, radiusImgPx: number, erase: boolean): Promise<string | null>;
  /** Flood-fills the closed region at p; resolves with the reason when refused. */
  flood(p: ImagePoint): Promise<string | null>;
  notify(message: string | null): void;
  redraw(): void;
}

export const BRUSH_MIN_PX = 2;
export const BRUSH_MAX_PX = 400;

/** Next brush size for `[` / `]` and the wheel: about 15 % per step. */
export function stepBrush(px: number, up: boolean): number {
  const next = up ? Math.max(px + 1, Math.round(px * 1.15)) : Math.min(px - 1, Math.round(px / 1.15));
  return Math.max(BRUSH_MIN_PX, Math.min(BRUSH_MAX_PX, next));
}

interface Preview {
  path: number[];
  widthImg: number;
  erase: boolean;
  colour: string;
}

export class BrushTool implements Tool {
  readonly label: string;
  readonly cursor = 'none';
  private current: Preview | null = null;
  /** Committed strokes not yet on screen. */
  private readonly waiting = new Set<Preview>();
  private pointer: ImagePoint | null = null;

  constructor(
    readonly id: Extract<ToolId, 'brush' | 'eraser'>,
    private readonly ctx: PaintContext,
  ) {
    this.label = id === 'brush' ? 'Brush' : 'Eraser';
  }

  private erasing(m: Modifiers): boolean {
    return this.id === 'eraser' || m.alt;
  }

  press(p: ImagePoint, m: Modifiers): boolean {
    const reason = this.ctx.disabledReason();
    if (reason) {
      this.ctx.notify(reason);
      return false;
    }
    this.ctx.notify(null);
    const widthImg = this.ctx.brushScreenPx() * this.ctx.imagePxPerScreenPx();
    this.current = { path: [p.x, p.y], widthImg, erase: this.erasing(m), colour: this.ctx.paintColour() };
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
      this.ctx.setBrushScreenPx(stepBrush(this.ctx.brushScreenPx(), e.key === ']'));
      this.ctx.redraw();
      return true;
    }
    return false;
  }

  scroll(deltaY: number, m: Modifiers): boolean {
    if (!m.shift) return false;
    this.ctx.setBrushScreenPx(stepBrush(this.ctx.brushScreenPx(), deltaY < 0));
    this.ctx.redraw();
    return true;
  }

  finish(): void {
    const c = this.current;
    this.current = null;
    if (!c) return;
    this.waiting.add(c);
    void this.ctx.stroke(new Float64Array(c.path), c.widthImg / 2, c.erase).then((refused) => {
      this.waiting.delete(c);
      if (refused) this.ctx.notify(refused);
      this.ctx.redraw();
    });
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
      const r = (this.ctx.brushScreenPx() / 2) * devicePixelRatio;
      const off = this.ctx.disabledReason() !== null;
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

export class FloodTool implements Tool {
  readonly id = 'flood' as const;
  readonly label = 'Fill region';
  readonly cursor = 'crosshair';

  constructor(private readonly ctx: PaintContext) {}

  click(p: ImagePoint): void {
    const reason = this.ctx.disabledReason();
    if (reason) {
      this.ctx.notify(reason);
      return;
    }
    this.ctx.notify(null);
    void this.ctx.flood(p).then((refused) => this.ctx.notify(refused));
  }
}
