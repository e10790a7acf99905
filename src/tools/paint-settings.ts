/**
 * The painting choices the paint tools share with the panel: the brush size
 * (in screen pixels, so it stays the same on screen as you zoom) and "paint
 * inside ROIs only"; plus each stroke's commit-to-visible time, for the
 * benchmark and diagnostics. Plain fields to read; changes go through the
 * setters, which tell the observers (the panel).
 */
import { Observers } from '../core/observers.js';

export const BRUSH_MIN_PX = 2;
export const BRUSH_MAX_PX = 400;

/** Next brush size for `[` / `]` and the wheel: about 15 % per step. */
export function stepBrush(px: number, up: boolean): number {
  const next = up ? Math.max(px + 1, Math.round(px * 1.15)) : Math.min(px - 1, Math.round(px / 1.15));
  return Math.max(BRUSH_MIN_PX, Math.min(BRUSH_MAX_PX, next));
}

export class PaintSettings {
  /** Brush diameter in screen (CSS) pixels. */
  brushPx = 24;
  insideRoisOnly = false;
  /** Milliseconds from each stroke's commit (pointer-up) to its tiles on screen, most recent last. */
  readonly strokeLatencies: number[] = [];
  private readonly changes = new Observers<void>();

  onChange(fn: () => void): () => void {
    return this.changes.add(fn);
  }

  setBrushScreenPx(px: number): void {
    this.brushPx = Math.max(BRUSH_MIN_PX, Math.min(BRUSH_MAX_PX, px));
    this.changes.emit();
  }

  stepBrush(up: boolean): void {
    this.setBrushScreenPx(stepBrush(this.brushPx, up));
  }

  setInsideRoisOnly(on: boolean): void {
    this.insideRoisOnly = on;
    this.changes.emit();
  }

  recordLatency(ms: number): void {
    this.strokeLatencies.push(ms);
    if (this.strokeLatencies.length > 1000) this.strokeLatencies.splice(0, 500);
  }
}
