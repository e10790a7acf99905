/**
 * The overlay canvases over OpenSeadragon's (the mask under the
 * annotations): how one is made, and how each frame starts — sized to its
 * box in device pixels, cleared, with the view's transform.
 */
import type OpenSeadragon from 'openseadragon';
import { readViewTransform, type ViewTransform } from './view-transform.js';

export function createOverlayCanvas(viewer: OpenSeadragon.Viewer, testId: string): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  Object.assign(canvas.style, { position: 'absolute', left: '0', top: '0', width: '100%', height: '100%', pointerEvents: 'none' });
  canvas.setAttribute('data-testid', testId);
  viewer.canvas.appendChild(canvas);
  return canvas;
}

export interface OverlayFrame {
  ctx: CanvasRenderingContext2D;
  /** Canvas size in device pixels. */
  width: number;
  height: number;
  view: ViewTransform;
}

/** Starts a frame: the canvas cleared at its current size; null when there is nothing to draw on (no slide, no size). */
export function beginOverlayFrame(canvas: HTMLCanvasElement, viewer: OpenSeadragon.Viewer): OverlayFrame | null {
  const w = Math.round(canvas.clientWidth * devicePixelRatio);
  const h = Math.round(canvas.clientHeight * devicePixelRatio);
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
  ctx.clearRect(0, 0, w, h);
  const view = readViewTransform(viewer);
  return view && w > 0 ? { ctx, width: w, height: h, view } : null;
}
