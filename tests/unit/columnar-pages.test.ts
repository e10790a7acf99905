/**
 * The binary columnar frame of annotation pages (issue 13,
 * src/core/columnar-pages.ts): a frame decodes into exactly the packed page
 * the JSON listing packs into (every geometry type, every field, model
 * provenance, text with any Unicode; the catalogue's property "geometry
 * round-trip is identity", here for the transport), and bad frames — cut
 * short anywhere, another version or magic, hostile lengths and indices,
 * bytes after the end, invalid UTF-8 — are refused with
 * WsiError('COLUMNAR_INVALID'), never read past their end nor allocated
 * from their counts.
 */
import { describe, expect, it } from 'vitest';
import type { Annotation, Geometry } from '../../src/core/annotation.js';
import { packPage } from '../../src/core/annotation-pages.js';
import { COLUMNAR_VERSION, columnarFrameLength, columnarLayout, decodeColumnarPage, encodeColumnarPage } from '../../src/core/columnar-pages.js';
import { codeOf as code } from '../helpers/errors.js';
import { listedAnnotation } from '../helpers/listed-annotation.js';

const ann = listedAnnotation;

const square = (x: number, y: number, s: number): Geometry => ({ type: 'Polygon', coordinates: [[[x, y], [x + s, y], [x + s, y + s], [x, y + s], [x, y]]] });

function sample(): Annotation[] {
  return [
    ann(square(10.25, 20.5, 8)),
    ann({ type: 'Point', coordinates: [1e5 + 0.125, 3.3] }, { kind: 'point', classification: null }),
    ann({ type: 'MultiPoint', coordinates: [[1, 2], [3, 4], [5, 6]] }, { kind: 'point' }),
    ann({ type: 'LineString', coordinates: [[0, 0], [10, 10], [20, 5]] }, { kind: 'polyline', name: 'ruler ✓', note: 'a note\nwith 🧪 emoji' }),
    ann(
      { type: 'Polygon', coordinates: [[[0, 0], [100, 0], [100, 100], [0, 100], [0, 0]], [[10, 10], [20, 10], [20, 20], [10, 10]]] },
      { kind: 'freehand', locked: true, version: 7, createdBy: 'u-2', updatedAt: '2026-12-07T11:00:00.000Z' },
    ),
    ann({ type: 'MultiPolygon', coordinates: [[[[0, 0], [1, 0], [1, 1], [0, 0]]], [[[5, 5], [6, 5], [6, 6], [5, 5]], [[5.2, 5.1], [5.5, 5.1], [5.5, 5.4], [5.2, 5.1]]]] }, { kind: 'polygon', objectType: 'annotation' }),
    // a prediction (read-only, scored), one without a score, and a corrected object
    ann(square(300, 300, 12), { source: 'run-0001', parent: null, score: 0.125, readOnly: true }),
    ann(square(320, 300, 12), { source: 'run-0001', parent: null, score: null, readOnly: true }),
    ann(square(340, 300, 12), { source: 'run-0001', parent: 'obj-000007', classification: 'Stroma' }),
    // a lone surrogate in a name: written (and read) as U+FFFD, and every later string still lines up
    ann(square(1, 1, 1), { name: 'bad \ud800 half', note: 'after' }),
  ];
}

/** What the store is handed: the JSON path's packed page, with the lone surrogate as the decoder must show it. */
function expected(list: Annotation[], next: number | null, total: number) {
  const fixed = list.map((a) => ({ ...a, name: a.name?.replace(/\ud800/, '\ufffd') ?? null }));
  return packPage({ annotations: fixed, next, total });
}

function plain<T extends { records: unknown[] }>(p: T) {
  const o = p as unknown as Record<string, unknown>;
  return { ...o, types: Array.from(o['types'] as Uint8Array), coords: Array.from(o['coords'] as Float64Array), coordAt: Array.from(o['coordAt'] as Uint32Array), parts: Array.from(o['parts'] as Uint32Array), partAt: Array.from(o['partAt'] as Uint32Array) };
}


describe('columnar annotation frames (issue 13)', () => {
  it('decode to the same packed page as the JSON listing (every geometry, field and provenance; geometry round trip is identity)', () => {
    const list = sample();
    const frame = encodeColumnarPage(list, 4242, 99);
    expect(columnarFrameLength(frame)).toBe(frame.length);
    const page = decodeColumnarPage(frame);
    expect(plain(page)).toEqual(plain(expected(list, 4242, 99)));
    expect(page.next).toBe(4242);
    expect(page.records[6]).toMatchObject({ source: 'run-0001', parent: null, score: 0.125, readOnly: true });
    expect(page.records[7]).toMatchObject({ score: null, readOnly: true });
    expect(page.records[8]).toMatchObject({ source: 'run-0001', parent: 'obj-000007', readOnly: false });
    expect(page.records[0]?.source).toBeUndefined();
  });

  it('the last page has no cursor, an empty page is a frame too, and a frame at an odd offset decodes', () => {
    expect(decodeColumnarPage(encodeColumnarPage([], null, 0))).toMatchObject({ records: [], next: null, total: 0 });
    const frame = encodeColumnarPage(sample(), null, 10);
    const shifted = new Uint8Array(frame.length + 3);
    shifted.set(frame, 3);
    expect(plain(decodeColumnarPage(shifted.subarray(3)))).toEqual(plain(decodeColumnarPage(frame)));
  });

  it('refuses a frame cut short anywhere (truncated stream) with COLUMNAR_INVALID', () => {
    const frame = encodeColumnarPage(sample(), null, 10);
    for (let len = 0; len < frame.length; len += Math.max(1, Math.floor(frame.length / 97))) {
      expect(code(() => decodeColumnarPage(frame.subarray(0, len)))).toBe('COLUMNAR_INVALID');
    }
    expect(code(() => decodeColumnarPage(frame.subarray(0, frame.length - 1)))).toBe('COLUMNAR_INVALID');
    // the header alone says how long the frame is; fewer than 16 bytes: not yet known
    expect(columnarFrameLength(frame.subarray(0, 15))).toBeNull();
    expect(columnarFrameLength(frame.subarray(0, 16))).toBe(frame.length);
  });

  it('refuses another version, another magic, and bytes after the end', () => {
    const frame = encodeColumnarPage(sample(), null, 10);
    const v2 = frame.slice();
    new DataView(v2.buffer).setUint16(4, COLUMNAR_VERSION + 1, true);
    expect(code(() => decodeColumnarPage(v2))).toBe('COLUMNAR_INVALID');
    expect(() => decodeColumnarPage(v2)).toThrow(/version 2 is not supported/);
    const magic = frame.slice();
    magic[0] = 0x7b; // '{': a JSON body where a frame was expected
    expect(code(() => decodeColumnarPage(magic))).toBe('COLUMNAR_INVALID');
    const longer = new Uint8Array(frame.length + 8);
    longer.set(frame);
    expect(code(() => decodeColumnarPage(longer))).toBe('COLUMNAR_INVALID');
  });

  it('refuses hostile lengths and indices without allocating from them', () => {
    const frame = encodeColumnarPage(sample(), null, 10);
    const mutate = (fn: (dv: DataView, bytes: Uint8Array) => void): Uint8Array => {
      const b = frame.slice();
      fn(new DataView(b.buffer), b);
      return b;
    };
    const cases: Array<[string, Uint8Array]> = [
      ['frame length 4 GiB', mutate((dv) => dv.setUint32(12, 0xffffffff, true))],
      ['frame length below the header', mutate((dv) => dv.setUint32(12, 8, true))],
      ['object count 2^32-1', mutate((dv) => dv.setUint32(8, 0xffffffff, true))],
      ['object count + 1', mutate((dv) => dv.setUint32(8, 11, true))],
      ['coordinate count 2^31', mutate((dv) => dv.setUint32(32, 0x80000000, true))],
      ['coordinate count + 2', mutate((dv) => dv.setUint32(32, dv.getUint32(32, true) + 2, true))],
      ['string count 2^30', mutate((dv) => dv.setUint32(40, 1 << 30, true))],
      ['text length off by one', mutate((dv) => dv.setUint32(44, dv.getUint32(44, true) + 1, true))],
      ['next is not whole', mutate((dv) => dv.setFloat64(16, 1.5, true))],
    ];
    for (const [what, b] of cases) expect(code(() => decodeColumnarPage(b)), what).toBe('COLUMNAR_INVALID');
  });

  it('refuses offsets that go backwards or past their column, bad indices, types and kinds, and invalid UTF-8', () => {
    const list = sample().slice(0, 2);
    const frame = encodeColumnarPage(list, null, 2);
    const dv0 = new DataView(frame.buffer);
    const coordCount = dv0.getUint32(32, true);
    const partCount = dv0.getUint32(36, true);
    const stringCount = dv0.getUint32(40, true);
    const L = columnarLayout(2, coordCount, partCount, stringCount, 0);
    const [coordAtAt, partAtAt, idAt, typeAt, kindAt, textAt] = [L['coordAt'], L['partAt'], L['id'], L['type'], L['kind'], L['text']] as number[];
    const mutate = (fn: (dv: DataView, bytes: Uint8Array) => void): Uint8Array => {
      const b = frame.slice();
      fn(new DataView(b.buffer), b);
      return b;
    };
    // the computed layout is right: an unchanged copy decodes
    expect(decodeColumnarPage(frame.slice()).records.map((r) => r.id)).toEqual(list.map((a) => a.id));
    const cases: Array<[string, Uint8Array]> = [
      ['coordAt backwards', mutate((dv) => dv.setUint32(coordAtAt + 4, coordCount + 2, true))],
      ['coordAt not from 0', mutate((dv) => dv.setUint32(coordAtAt, 2, true))],
      ['partAt past its column', mutate((dv) => dv.setUint32(partAtAt + 8, partCount + 1, true))],
      ['id index out of the table', mutate((dv) => dv.setInt32(idAt, stringCount, true))],
      ['id missing (-1)', mutate((dv) => dv.setInt32(idAt, -1, true))],
      ['geometry type 0', mutate((_dv, b) => (b[typeAt] = 0))],
      ['geometry type 9', mutate((_dv, b) => (b[typeAt + 1] = 9))],
      ['kind 200', mutate((_dv, b) => (b[kindAt] = 200))],
      ['invalid UTF-8', mutate((_dv, b) => (b[textAt] = 0xff))],
    ];
    for (const [what, b] of cases) expect(code(() => decodeColumnarPage(b)), what).toBe('COLUMNAR_INVALID');
  });
});

describe('the triage queue from columnar frames (issue 13)', () => {
  it('ModelRunApi.predictions reads every page of the model layer as frames: the run only, outlines and bounds as from GeoJSON', async () => {
    const { ModelRunApi } = await import('../../src/services/model-run-api.js');
    const { toItem } = await import('../../src/tools/triage-queue.js');
    const preds = Array.from({ length: 7 }, (_, i) =>
      ann(i === 3 ? { type: 'MultiPolygon', coordinates: [[[[0, 0], [4, 0], [4, 4], [0, 0]]], [[[9, 9], [12, 9], [12, 12], [9, 9]]]] } : square(100 * i + 0.5, 50, 10 + i), {
        source: i === 5 ? 'run-other' : 'run-0001',
        parent: null,
        score: i / 10,
        readOnly: true,
        classification: i % 2 ? 'Stroma' : 'Tumour',
      }),
    );
    const urls: string[] = [];
    const realFetch = globalThis.fetch;
    globalThis.fetch = (async (input: string | URL | Request) => {
      const url = String(input);
      urls.push(url);
      const after = Number(new URL(url).searchParams.get('after') ?? 0);
      const page = preds.slice(after, after + 3);
      const next = after + 3 < preds.length ? after + 3 : null;
      return new Response(encodeColumnarPage(page, next, preds.length) as Uint8Array<ArrayBuffer>, { status: 200 });
    }) as typeof fetch;
    try {
      const got = await new ModelRunApi('http://srv', 'slide1').predictions('run-0001');
      expect(urls.map((u) => new URL(u).pathname)).toEqual(Array(3).fill('/api/slides/slide1/annotations-columnar'));
      expect(new URL(urls[0] as string).searchParams.get('layer')).toBe('model');
      const want = preds.filter((p) => p.source === 'run-0001');
      expect(got.map((p) => p.id)).toEqual(want.map((p) => p.id));
      got.forEach((p, i) => {
        const w = want[i] as Annotation;
        expect([p.classification, p.score, p.kind, p.version]).toEqual([w.classification, w.score, w.kind, w.version]);
        const fromFrame = toItem(p);
        const fromJson = toItem({ id: w.id, classification: w.classification, score: w.score ?? null, kind: w.kind, geometry: w.geometry, version: w.version });
        expect([fromFrame.bbox, fromFrame.cx, fromFrame.cy]).toEqual([fromJson.bbox, fromJson.cx, fromJson.cy]);
        expect(fromFrame.geometry).toEqual(w.geometry);
      });
    } finally {
      globalThis.fetch = realFetch;
    }
  });

  it('falls back to the JSON listing when the server has no columnar listing (404)', async () => {
    const { ModelRunApi } = await import('../../src/services/model-run-api.js');
    const p = ann(square(1, 2, 3), { source: 'run-0001', parent: null, score: 0.5, readOnly: true });
    const realFetch = globalThis.fetch;
    globalThis.fetch = (async (input: string | URL | Request) =>
      String(input).includes('annotations-columnar') ? new Response('{"code":"NOT_FOUND"}', { status: 404 }) : new Response(JSON.stringify({ annotations: [p], next: null, total: 1 }), { status: 200 })) as typeof fetch;
    try {
      const got = await new ModelRunApi('http://srv', 'slide1').predictions('run-0001');
      expect(got.map((x) => [x.id, x.score, x.geometry])).toEqual([[p.id, 0.5, p.geometry]]);
    } finally {
      globalThis.fetch = realFetch;
    }
  });
});
