/**
 * IIIF Image API 3.0 request parameters: region, size, rotation, quality and
 * format, parsed strictly. Anything malformed is a 400 with the reason.
 */
import { WsiError } from '../../src/core/errors.js';
import type { Rect } from '../../src/core/tile-grid.js';
import type { OutputFormat, OutputQuality } from '../render/region.js';

export interface SizeLimits {
  maxWidth: number;
  maxHeight: number;
  maxArea: number;
}

const bad = (msg: string): never => {
  throw new WsiError('BAD_REQUEST', msg);
};

function int(s: string, what: string): number {
  if (!/^\d{1,9}$/.test(s)) bad(`${what} must be a non-negative integer, got "${s.slice(0, 32)}"`);
  return Number(s);
}

function decimal(s: string, what: string): number {
  if (!/^\d{1,9}(\.\d{1,9})?$/.test(s)) bad(`${what} must be a decimal number, got "${s.slice(0, 32)}"`);
  return Number(s);
}

/** Parses a region and clips it to the image; the result is never empty. */
export function parseRegion(s: string, width: number, height: number): Rect {
  let r: Rect;
  if (s === 'full') return { x: 0, y: 0, width, height };
  if (s === 'square') {
    const side = Math.min(width, height);
    return { x: Math.floor((width - side) / 2), y: Math.floor((height - side) / 2), width: side, height: side };
  }
  const pct = s.startsWith('pct:');
  const parts = (pct ? s.slice(4) : s).split(',');
  if (parts.length !== 4) bad(`region must be full, square, x,y,w,h or pct:x,y,w,h`);
  if (pct) {
    const [x, y, w, h] = parts.map((p, i) => decimal(p, ['x', 'y', 'w', 'h'][i] as string)) as [number, number, number, number];
    r = { x: Math.round((x * width) / 100), y: Math.round((y * height) / 100), width: Math.round((w * width) / 100), height: Math.round((h * height) / 100) };
  } else {
    const [x, y, w, h] = parts.map((p, i) => int(p, ['x', 'y', 'w', 'h'][i] as string)) as [number, number, number, number];
    r = { x, y, width: w, height: h };
  }
  if (r.width <= 0 || r.height <= 0) bad('region width and height must be positive');
  if (r.x >= width || r.y >= height) bad(`region starts outside the ${width}x${height} image`);
  return { x: r.x, y: r.y, width: Math.min(r.width, width - r.x), height: Math.min(r.height, height - r.y) };
}

/** Parses a size for a region of `rw`×`rh` pixels. */
export function parseSize(s: string, rw: number, rh: number, lim: SizeLimits): { width: number; height: number } {
  const up = s.startsWith('^');
  const body = up ? s.slice(1) : s;
  let w: number;
  let h: number;
  // max: the region at full size, or as large as the limits allow; ^max scales up to them
  const fitLimits = (cw: number, ch: number): [number, number] => {
    let scale = Math.min(lim.maxWidth / cw, lim.maxHeight / ch, Math.sqrt(lim.maxArea / (cw * ch)));
    if (!up) scale = Math.min(scale, 1);
    let w = Math.max(1, Math.floor(cw * scale + 1e-9));
    let h = Math.max(1, Math.floor(ch * scale + 1e-9));
    // rounding may leave one pixel past a limit
    w = Math.min(w, lim.maxWidth);
    h = Math.min(h, lim.maxHeight);
    while (w * h > lim.maxArea) {
      if (w >= h) w--;
      else h--;
    }
    return [w, h];
  };
  if (body === 'max') {
    [w, h] = fitLimits(rw, rh);
    return { width: w, height: h };
  }
  if (body.startsWith('pct:')) {
    const n = decimal(body.slice(4), 'pct');
    if (n <= 0) bad('pct size must be positive');
    if (n > 100 && !up) bad('pct size over 100 needs the ^ prefix');
    w = Math.round((rw * n) / 100);
    h = Math.round((rh * n) / 100);
  } else {
    const confined = body.startsWith('!');
    const parts = (confined ? body.slice(1) : body).split(',');
    if (parts.length !== 2) bad('size must be max, w,, ,h, pct:n, w,h or !w,h');
    const [ws, hs] = parts as [string, string];
    if (confined) {
      const cw = int(ws, 'width');
      const ch = int(hs, 'height');
      if (cw === 0 || ch === 0) bad('size must be positive');
      let scale = Math.min(cw / rw, ch / rh);
      if (!up) scale = Math.min(scale, 1);
      w = Math.max(1, Math.floor(rw * scale + 1e-9));
      h = Math.max(1, Math.floor(rh * scale + 1e-9));
    } else if (ws === '' && hs !== '') {
      h = int(hs, 'height');
      w = Math.round((rw * h) / rh);
    } else if (hs === '' && ws !== '') {
      w = int(ws, 'width');
      h = Math.round((rh * w) / rw);
    } else {
      w = int(ws, 'width');
      h = int(hs, 'height');
    }
  }
  if (w < 1 || h < 1) bad('requested size is smaller than one pixel');
  if (!up && (w > rw || h > rh)) bad('size is larger than the region; use the ^ prefix to upscale');
  if (w > lim.maxWidth || h > lim.maxHeight || w * h > lim.maxArea) bad(`size ${w}x${h} exceeds the server limits (${lim.maxWidth}x${lim.maxHeight}, ${lim.maxArea} px)`);
  return { width: w, height: h };
}

export function parseRotation(s: string): number {
  if (s !== '0') bad('only rotation 0 is supported');
  return 0;
}

export function parseQualityFormat(s: string): { quality: OutputQuality; format: OutputFormat } {
  const m = /^(default|color|gray|bitonal)\.(jpg|png|webp)$/.exec(s);
  if (!m) bad('quality.format must be one of default|color|gray|bitonal . jpg|png|webp');
  const [, q, f] = m as unknown as [string, OutputQuality, string];
  return { quality: q, format: f === 'jpg' ? 'jpeg' : (f as OutputFormat) };
}
