/**
 * A synthetic cell-detection file as QuPath writes it (GeoJSON
 * FeatureCollection of "detection" objects with a classification and a
 * measurement): `count` cell outlines of 16–32 vertices on a jittered grid
 * over the slide, streamed to disk. Deterministic for a given seed.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { rng } from './workloads.js';

const CLASSES: Array<[name: string, colour: [number, number, number], weight: number]> = [
  ['Tumour', [200, 0, 0], 0.4],
  ['Stroma', [150, 200, 150], 0.25],
  ['Lymphocytes', [160, 90, 160], 0.2],
  ['Normal', [0, 150, 0], 0.1],
  ['Necrosis', [50, 50, 50], 0.05],
];

function hex(r: () => number, n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += Math.floor(r() * 16).toString(16);
  return out;
}

export interface CellFileInfo {
  count: number;
  vertices: number;
  bytes: number;
  perClass: Record<string, number>;
}

/** `scores`: each cell also gets a model's `probability` (0–1, three decimals) in its measurements, as a prediction file has. */
export async function writeCellsGeojson(file: string, width: number, height: number, count: number, seed = 42, scores = false): Promise<CellFileInfo> {
  const r = rng(seed);
  const out = createWriteStream(file, { highWaterMark: 4 << 20 });
  const side = Math.ceil(Math.sqrt(count * (width / height)));
  const rows = Math.ceil(count / side);
  const pitchX = width / side;
  const pitchY = height / rows;
  const perClass: Record<string, number> = {};
  let vertices = 0;
  let bytes = 0;
  let buf = '{"type":"FeatureCollection","features":[';
  for (let i = 0; i < count; i++) {
    const cx = ((i % side) + 0.2 + r() * 0.6) * pitchX;
    const cy = (Math.floor(i / side) + 0.2 + r() * 0.6) * pitchY;
    const radius = 6 + r() * 8;
    const n = 16 + Math.floor(r() * 17);
    const ring: string[] = [];
    let first = '';
    for (let k = 0; k < n; k++) {
      const a = (k / n) * Math.PI * 2;
      const rr = radius * (0.8 + r() * 0.4);
      const p = `[${(cx + Math.cos(a) * rr).toFixed(1)},${(cy + Math.sin(a) * rr).toFixed(1)}]`;
      if (k === 0) first = p;
      ring.push(p);
    }
    ring.push(first);
    vertices += n;
    let pick = r();
    let cls = CLASSES[0] as (typeof CLASSES)[number];
    for (const c of CLASSES) {
      cls = c;
      if ((pick -= c[2]) < 0) break;
    }
    perClass[cls[0]] = (perClass[cls[0]] ?? 0) + 1;
    const area = Math.PI * radius * radius * 0.0625;
    const id = `${hex(r, 8)}-${hex(r, 4)}-4${hex(r, 3)}-a${hex(r, 3)}-${hex(r, 12)}`;
    buf += `${i ? ',' : ''}{"type":"Feature","id":"${id}","geometry":{"type":"Polygon","coordinates":[[${ring.join(',')}]]},"properties":{"objectType":"detection","classification":{"name":"${cls[0]}","color":[${cls[1].join(',')}]},"isLocked":false,"measurements":{"Area µm^2":${area.toFixed(2)}${scores ? `,"probability":${r().toFixed(3)}` : ''}}}}`;
    if (buf.length > 1 << 20) {
      bytes += Buffer.byteLength(buf);
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  buf += ']}\n';
  bytes += Buffer.byteLength(buf);
  out.end(buf);
  await once(out, 'finish');
  return { count, vertices, bytes, perClass };
}
