/**
 * Import and export through the server: QuPath GeoJSON and ASAP XML round
 * trips, ImageScope and HistomicsTK imports, all-or-nothing refusal of
 * malformed files with their location, and every real file in
 * ../shared/fixtures/annotations (skipped with a message when absent).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, HAS_SHARED, SHARED_FIXTURES } from '../helpers/paths.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';
import { call } from '../helpers/annotations.js';

let server: TestServer;
const slides: string[] = [];
let next = 0;
/** A fresh slide for each import (the fixture folder has plenty). */
const freshSlide = (): string => {
  const s = slides[next++];
  if (!s) throw new Error('out of slides');
  return s;
};

interface Report {
  imported: number;
  perClass: Record<string, number>;
  perKind: Record<string, number>;
  vertices: number;
  skipped: Array<{ where: string; reason: string }>;
  warnings: string[];
  renamedIds: number;
  selfCrossing: number;
  classesAdded: Array<{ name: string; color: string }>;
}

async function importFile(slide: string, format: string, data: string | Buffer): Promise<{ status: number; body: Report & { code?: string; message?: string; detail?: { where?: string } } }> {
  return call(server.url, 'POST', `/api/slides/${slide}/annotations/import?format=${format}`, { raw: data });
}

async function exportFile(slide: string, format: string): Promise<string> {
  const res = await fetch(`${server.url}/api/slides/${slide}/annotations/export?format=${format}`);
  expect(res.status).toBe(200);
  return res.text();
}

async function count(slide: string): Promise<number> {
  return (await call<{ total: number }>(server.url, 'GET', `/api/slides/${slide}/annotations?limit=1`)).body.total;
}

beforeAll(async () => {
  server = await startTestServer(FIXTURES);
  const { body } = await getJson<{ slides: Array<{ id: string; status: string }> }>(`${server.url}/api/slides`);
  slides.push(...body.slides.map((s) => s.id));
});

afterAll(async () => {
  await server?.stop();
});

const qupathFile = {
  type: 'FeatureCollection',
  features: [
    {
      type: 'Feature',
      id: randomUUID(),
      geometry: { type: 'Polygon', coordinates: [[[0, 0], [100.5, 0], [100.5, 80.25], [0, 80.25], [0, 0]], [[10, 10], [20, 10], [20, 20], [10, 10]]] },
      properties: { objectType: 'annotation', name: 'tumour region', classification: { name: 'Tumor', color: [200, 0, 0] }, isLocked: true, metadata: { reviewer: 'A', ANNOTATION_DESCRIPTION: 'invasive front, see block B' } },
    },
    {
      type: 'Feature',
      id: randomUUID(),
      geometry: { type: 'Polygon', coordinates: [[[200, 200], [210, 200], [210, 210], [200, 210], [200, 200]]] },
      nucleusGeometry: { type: 'Polygon', coordinates: [[[203, 203], [206, 203], [206, 206], [203, 203]]] },
      properties: { objectType: 'cell', classification: { names: ['Tumor', 'Positive'], color: [255, 0, 255] }, measurements: { 'Cell: Area': 100, 'Nucleus: Area': 4.5 } },
    },
    {
      type: 'Feature',
      id: randomUUID(),
      geometry: { type: 'MultiPolygon', coordinates: [[[[300, 300], [310, 300], [310, 310], [300, 300]]], [[[400, 400], [410, 400], [410, 410], [400, 400]]]] },
      properties: { objectType: 'annotation', color: [1, 2, 3] },
    },
    { type: 'Feature', id: randomUUID(), geometry: { type: 'Point', coordinates: [5.5, 6.5] }, properties: { objectType: 'annotation', name: 'calib' } },
    { type: 'Feature', id: randomUUID(), geometry: { type: 'MultiPoint', coordinates: [[1, 1], [2, 2]] }, properties: { objectType: 'annotation' } },
    { type: 'Feature', id: randomUUID(), geometry: { type: 'LineString', coordinates: [[0, 0], [30, 40]] }, properties: { objectType: 'annotation' } },
  ],
};

describe('QuPath GeoJSON', () => {
  it('imports with a report and exports the same features back', async () => {
    const slide = freshSlide();
    const r = await importFile(slide, 'qupath-geojson', JSON.stringify(qupathFile, null, 2));
    expect(r.status).toBe(201);
    expect(r.body.imported).toBe(6);
    expect(r.body.perClass).toEqual({ Tumor: 1, 'Tumor: Positive': 1, '(none)': 4 });
    expect(r.body.perKind).toEqual({ polygon: 3, point: 2, ruler: 1 });
    const exported = JSON.parse(await exportFile(slide, 'qupath-geojson')) as typeof qupathFile;
    expect(exported.type).toBe('FeatureCollection');
    const byId = new Map(exported.features.map((f) => [f.id, f]));
    for (const f of qupathFile.features) expect(byId.get(f.id), f.id).toEqual(f);
  });

  it("keeps the note: QuPath's description (metadata ANNOTATION_DESCRIPTION) in and out (issue 11)", async () => {
    const slide = freshSlide();
    const r = await importFile(slide, 'qupath-geojson', JSON.stringify(qupathFile));
    expect(r.status).toBe(201);
    const list = (await call<{ annotations: Array<{ id: string; note: string | null; properties: Record<string, unknown> }> }>(server.url, 'GET', `/api/slides/${slide}/annotations`)).body.annotations;
    const first = list.find((a) => a.note !== null);
    expect(first?.note).toBe('invasive front, see block B');
    // the rest of the metadata stays where it was, without a second copy of the note
    expect(first?.properties['metadata']).toEqual({ reviewer: 'A' });
    // a note written in the app goes out the same way
    const made = await call<{ id: string }>(server.url, 'POST', `/api/slides/${slide}/annotations`, {
      body: { id: randomUUID(), kind: 'point', geometry: { type: 'Point', coordinates: [50, 50] }, classification: null, note: 'check mitoses here' },
    });
    expect(made.status).toBe(201);
    const exported = JSON.parse(await exportFile(slide, 'qupath-geojson')) as { features: Array<{ geometry: { coordinates: unknown }; properties: Record<string, unknown> }> };
    const point = exported.features.find((f) => JSON.stringify(f.geometry.coordinates) === '[50,50]');
    expect(point?.properties['metadata']).toEqual({ ANNOTATION_DESCRIPTION: 'check mitoses here' });
    const again = freshSlide();
    expect((await importFile(again, 'qupath-geojson', JSON.stringify(exported))).status).toBe(201);
    const notes = (await call<{ annotations: Array<{ note: string | null }> }>(server.url, 'GET', `/api/slides/${again}/annotations`)).body.annotations.map((a) => a.note).filter((n) => n !== null);
    expect(notes.sort()).toEqual(['check mitoses here', 'invasive front, see block B']);
  });

  it('lists the live objects one import made (?import=its Idempotency-Key), for undoing it (issue 11)', async () => {
    const slide = freshSlide();
    const key = randomUUID();
    await call(server.url, 'POST', `/api/slides/${slide}/annotations`, { body: { id: randomUUID(), kind: 'point', geometry: { type: 'Point', coordinates: [1, 1] }, classification: null } });
    expect((await call(server.url, 'POST', `/api/slides/${slide}/annotations/import?format=qupath-geojson`, { raw: JSON.stringify(qupathFile), key })).status).toBe(201);
    const listed = async (q: string): Promise<{ status: number; ids: string[] }> => {
      const r = await call<{ annotations: Array<{ id: string }> }>(server.url, 'GET', `/api/slides/${slide}/annotations?${q}`);
      return { status: r.status, ids: (r.body.annotations ?? []).map((a) => a.id) };
    };
    const mine = await listed(`import=${key}`);
    expect(mine.ids).toHaveLength(qupathFile.features.length);
    // paged like the listing
    const page = await call<{ annotations: unknown[]; next: number | null }>(server.url, 'GET', `/api/slides/${slide}/annotations?import=${key}&limit=4`);
    expect([page.body.annotations.length, page.body.next !== null]).toEqual([4, true]);
    // another operation's key, or a key of nothing, lists nothing; a malformed one is refused
    expect((await listed(`import=${randomUUID()}`)).ids).toEqual([]);
    expect((await listed('import=%3Cscript%3E')).status).toBe(400);
    // deleted objects are no longer listed
    const one = (await call<{ version: number }>(server.url, 'GET', `/api/slides/${slide}/annotations/${mine.ids[0]}`)).body;
    expect((await call(server.url, 'POST', `/api/slides/${slide}/annotations/batch`, { body: { ops: [{ op: 'delete', id: mine.ids[0], ifMatch: one.version }] } })).status).toBe(200);
    expect((await listed(`import=${key}`)).ids).toHaveLength(qupathFile.features.length - 1);
  });

  it('counts and warns about objects partly or wholly outside the slide, and imports them as written (issue 11)', async () => {
    const slide = freshSlide();
    const { width, height } = (await getJson<{ width: number; height: number }>(`${server.url}/api/slides/${slide}`)).body;
    const feature = (coords: number[][]): unknown => ({ type: 'Feature', geometry: { type: 'Polygon', coordinates: [[...coords, coords[0]]] }, properties: { objectType: 'annotation' } });
    const file = {
      type: 'FeatureCollection',
      features: [
        feature([[10, 10], [20, 10], [20, 20]]),
        feature([[width - 10, 10], [width + 100, 10], [width - 10, 50]]),
        { type: 'Feature', geometry: { type: 'Point', coordinates: [width + 1418, height / 2] }, properties: { objectType: 'annotation' } },
      ],
    };
    const r = await importFile(slide, 'qupath-geojson', JSON.stringify(file));
    expect(r.status).toBe(201);
    expect(r.body.imported).toBe(3);
    expect((r.body as unknown as { outside: unknown }).outside).toEqual({ partly: 1, wholly: 1 });
    expect(r.body.warnings.join('\n')).toMatch(new RegExp(`1 wholly and 1 partly outside the slide \\(${width.toLocaleString('en-US')} × ${height.toLocaleString('en-US')} px`));
    // inside only: no warning
    const inside = await importFile(freshSlide(), 'qupath-geojson', JSON.stringify({ type: 'FeatureCollection', features: [feature([[10, 10], [20, 10], [20, 20]])] }));
    expect([(inside.body as unknown as { outside: unknown }).outside, inside.body.warnings]).toEqual([{ partly: 0, wholly: 0 }, []]);
  });

  it('keeps ids on a second import elsewhere by renaming, and says so', async () => {
    const r = await importFile(freshSlide(), 'qupath-geojson', JSON.stringify(qupathFile));
    expect(r.status).toBe(201);
    expect(r.body.renamedIds).toBe(6);
  });

  it('keeps a self-crossing outline as written (and counts it), and skips what it cannot hold, with reasons', async () => {
    const file = {
      type: 'FeatureCollection',
      features: [
        { type: 'Feature', geometry: { type: 'Polygon', coordinates: [[[0, 0], [10, 10], [10, 0], [0, 10], [0, 0]]] }, properties: { objectType: 'annotation' } },
        { type: 'Feature', geometry: { type: 'GeometryCollection', geometries: [] }, properties: {} },
        { type: 'Feature', geometry: null, properties: {} },
      ],
    };
    const r = await importFile(freshSlide(), 'qupath-geojson', JSON.stringify(file));
    expect(r.status).toBe(201);
    expect([r.body.imported, r.body.selfCrossing, r.body.skipped.length]).toEqual([1, 1, 2]);
    expect(r.body.skipped[0]?.where).toBe('features[1] (line 1)');
  });

  it('streams a large file (20,000 cells) in chunks', async () => {
    const slide = freshSlide();
    const parts: string[] = ['{"type":"FeatureCollection","features":['];
    for (let i = 0; i < 20_000; i++) {
      const x = (i % 200) * 20;
      const y = Math.floor(i / 200) * 20;
      parts.push(`${i ? ',' : ''}{"type":"Feature","id":"${randomUUID()}","geometry":{"type":"Polygon","coordinates":[[[${x},${y}],[${x + 10},${y}],[${x + 10},${y + 10}],[${x},${y + 10}],[${x},${y}]]]},"properties":{"objectType":"cell","classification":{"name":"Lymphocyte","color":[0,0,255]}}}`);
    }
    parts.push(']}');
    const r = await importFile(slide, 'qupath-geojson', parts.join('\n'));
    expect([r.status, r.body.imported, r.body.vertices]).toEqual([201, 20_000, 100_000]);
    expect(await count(slide)).toBe(20_000);
  });
});

describe('ASAP XML', () => {
  const asap = `<?xml version="1.0"?>
<ASAP_Annotations>
\t<Annotations>
\t\t<Annotation Name="Annotation 0" Type="Polygon" PartOfGroup="tumor" Color="#F4FA58">
\t\t\t<Coordinates>
\t\t\t\t<Coordinate Order="1" X="200,5" Y="100" />
\t\t\t\t<Coordinate Order="0" X="100,25" Y="100,75" />
\t\t\t\t<Coordinate Order="2" X="150" Y="200.5" />
\t\t\t</Coordinates>
\t\t</Annotation>
\t\t<Annotation Name="dot" Type="Dot" PartOfGroup="None" Color="#000000">
\t\t\t<Coordinates><Coordinate Order="0" X="5" Y="6" /></Coordinates>
\t\t</Annotation>
\t\t<Annotation Name="ruler" Type="Measurement" PartOfGroup="None" Color="#000000">
\t\t\t<Coordinates><Coordinate Order="0" X="0" Y="0" /><Coordinate Order="1" X="3" Y="4" /></Coordinates>
\t\t</Annotation>
\t\t<Annotation Name="box" Type="Rectangle" PartOfGroup="stroma" Color="#00ff00">
\t\t\t<Coordinates><Coordinate Order="0" X="0" Y="0" /><Coordinate Order="1" X="10" Y="0" /><Coordinate Order="2" X="10" Y="10" /><Coordinate Order="3" X="0" Y="10" /></Coordinates>
\t\t</Annotation>
\t</Annotations>
\t<AnnotationGroups>
\t\t<Group Name="tumor" PartOfGroup="None" Color="#ff0000"><Attributes /></Group>
\t\t<Group Name="stroma" PartOfGroup="None" Color="#00ff00"><Attributes /></Group>
\t</AnnotationGroups>
</ASAP_Annotations>`;

  it('reads decimal commas, Order, groups and types, and survives export → import', async () => {
    const slide = freshSlide();
    const r = await importFile(slide, 'asap-xml', asap);
    expect(r.status).toBe(201);
    expect(r.body.perClass).toEqual({ tumor: 1, stroma: 1, '(none)': 2 });
    expect(r.body.perKind).toEqual({ polygon: 1, point: 1, ruler: 1, rectangle: 1 });
    const list = await call<{ annotations: Array<{ name: string; geometry: { coordinates: unknown } }> }>(server.url, 'GET', `/api/slides/${slide}/annotations`);
    const poly = list.body.annotations.find((a) => a.name === 'Annotation 0');
    expect(poly?.geometry.coordinates).toEqual([[[100.25, 100.75], [200.5, 100], [150, 200.5], [100.25, 100.75]]]);
    const xml = await exportFile(slide, 'asap-xml');
    const again = freshSlide();
    const r2 = await importFile(again, 'asap-xml', xml);
    expect(r2.status).toBe(201);
    const a1 = list.body.annotations.map(({ name, geometry }) => ({ name, geometry })).sort((p, q) => p.name.localeCompare(q.name));
    const list2 = await call<{ annotations: Array<{ name: string; geometry: unknown; classification: string | null; properties: { color?: string } }> }>(server.url, 'GET', `/api/slides/${again}/annotations`);
    const a2 = list2.body.annotations.map(({ name, geometry }) => ({ name, geometry })).sort((p, q) => p.name.localeCompare(q.name));
    expect(a2).toEqual(a1);
    expect(list2.body.annotations.find((a) => a.name === 'box')?.properties.color).toBe('#00ff00');
    expect(xml).toContain('<Group Name="tumor" PartOfGroup="None" Color="#ff0000">');
  });
});

describe('ImageScope XML and HistomicsTK JSON', () => {
  it('imports ImageScope region types 0–3 by layer', async () => {
    const xml = `<Annotations MicronsPerPixel="0.5">
<Annotation Id="1" Name="Tumor" LineColor="255"><Regions>
<Region Id="1" Type="0" Text="a"><Vertices><Vertex X="0" Y="0"/><Vertex X="10" Y="0"/><Vertex X="10" Y="10"/></Vertices></Region>
<Region Id="2" Type="1"><Vertices><Vertex X="0" Y="0"/><Vertex X="10" Y="0"/><Vertex X="10" Y="10"/><Vertex X="0" Y="10"/></Vertices></Region>
</Regions></Annotation>
<Annotation Id="2" LineColor="65280"><Regions>
<Region Id="1" Type="2"><Vertices><Vertex X="0" Y="0"/><Vertex X="20" Y="10"/></Vertices></Region>
<Region Id="2" Type="3"><Vertices><Vertex X="0" Y="0"/><Vertex X="20" Y="10"/></Vertices></Region>
<Region Id="3" Type="0"><Vertices><Vertex X="0" Y="0"/></Vertices></Region>
</Regions></Annotation></Annotations>`;
    const r = await importFile(freshSlide(), 'imagescope-xml', xml);
    expect(r.status).toBe(201);
    expect(r.body.perClass).toEqual({ Tumor: 2, 'Layer 2': 2 });
    expect(r.body.perKind).toEqual({ polygon: 1, rectangle: 1, ellipse: 1, polyline: 1 });
    expect(r.body.skipped).toHaveLength(1);
    expect(r.body.classesAdded).toContainEqual({ name: 'Layer 2', color: '#00ff00', hotkey: null });
  });

  it('takes the box of a rectangle region with 200,000 vertices (no stack overflow: a 500 before)', async () => {
    const vertices = Array.from({ length: 200_000 }, (_, i) => `<Vertex X="${i % 1000}" Y="${Math.floor(i / 1000)}"/>`).join('');
    const r = await importFile(freshSlide(), 'imagescope-xml', `<Annotations><Annotation Id="1"><Regions><Region Id="1" Type="1"><Vertices>${vertices}</Vertices></Region></Regions></Annotation></Annotations>`);
    expect([r.status, r.body.perKind]).toEqual([201, { rectangle: 1 }]);
  });

  it('imports HistomicsTK documents, bare annotations and element types', async () => {
    const doc = [
      {
        annotation: {
          name: 'doc',
          elements: [
            { type: 'polyline', closed: true, group: 'roi', lineColor: 'rgb(0,0,255)', points: [[0, 0, 0], [10, 0, 0], [10, 10, 0]] },
            { type: 'rectangle', center: [50, 50, 0], width: 20, height: 10, rotation: 0, label: { value: 'box' } },
            { type: 'ellipse', center: [100, 100, 0], width: 20, height: 10 },
            { type: 'point', center: [5, 5, 0] },
            { type: 'heatmap', points: [] },
          ],
        },
      },
    ];
    const r = await importFile(freshSlide(), 'histomicstk-json', JSON.stringify(doc));
    expect(r.status).toBe(201);
    expect(r.body.imported).toBe(4);
    expect(r.body.perClass).toEqual({ roi: 1, box: 1, '(none)': 2 });
    expect(r.body.skipped[0]?.reason).toMatch(/heatmap/);
    const bare = await importFile(freshSlide(), 'histomicstk-json', JSON.stringify({ name: 'x', elements: [{ type: 'polyline', closed: false, points: [[0, 0], [5, 5]] }] }));
    expect([bare.status, bare.body.perKind]).toEqual([201, { polyline: 1 }]);
  });
});

describe('malformed files are refused whole, with where', () => {
  it.each([
    ['qupath-geojson', '{"type":"FeatureCollection","features":[\n{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{}},\n{"type":"Feature",', /line 3|ends before/],
    ['qupath-geojson', '{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[1,"a"],[1,1],[0,0]]]},"properties":{}}]}', /features\[0\].*coordinates/],
    ['qupath-geojson', '{"type":"Topology","features":[]}', /Topology|no objects/],
    ['asap-xml', '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><ASAP_Annotations/>', /DOCTYPE/],
    ['asap-xml', '<ASAP_Annotations><Annotations><Annotation Type="Polygon"><Coordinates><Coordinate X="1" Y="oops"/></Coordinates></Annotation></Annotations></ASAP_Annotations>', /Coordinate 1 Y/],
    ['asap-xml', '<ASAP_Annotations><Annotations>', /line 1.*malformed XML/],
    ['imagescope-xml', `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><Annotations>&lol2;</Annotations>`, /DOCTYPE/],
    ['imagescope-xml', '<NotAnnotations/>', /root element/],
    ['histomicstk-json', '["This is not an annotation"]', /\[0\].*object/],
    ['histomicstk-json', '{"elements": [ {"type": "polyline", "points": [[0, 0], [1, NaN]] } ]}', /invalid JSON/],
  ])('%s: %s', async (format, text, where) => {
    const slide = freshSlide();
    const before = await count(slide);
    const r = await importFile(slide, format, text);
    expect(r.status).toBe(422);
    expect(r.body.code).toBe('IMPORT_INVALID');
    expect(`${r.body.message}`).toMatch(where);
    expect(await count(slide)).toBe(before);
  });

  it('nothing is kept when the last of many features is broken', async () => {
    const slide = freshSlide();
    const good = qupathFile.features.map((f) => ({ ...f, id: randomUUID() }));
    const text = JSON.stringify({ type: 'FeatureCollection', features: [...good, { type: 'Feature', geometry: { type: 'Point', coordinates: [Number.NaN] }, properties: {} }] }).replace('null]', '"x"]');
    const r = await importFile(slide, 'qupath-geojson', text);
    expect(r.status).toBe(422);
    expect(await count(slide)).toBe(0);
  });

  it('refuses an unknown format and needs an operation id', async () => {
    expect((await importFile(freshSlide(), 'shapefile', 'x')).status).toBe(400);
    const r = await call(server.url, 'POST', `/api/slides/${slides[0] as string}/annotations/import?format=asap-xml`, { raw: '<a/>', key: null });
    expect(r.status).toBe(400);
  });
});

/** A document nested `n` levels deep inside a valid file of each format. */
const deep = {
  json: (n: number): string => `${'['.repeat(n)}0${']'.repeat(n)}`,
  xml: (n: number, tag = 'X'): string => `${`<${tag}>`.repeat(n)}${`</${tag}>`.repeat(n)}`,
};

describe('nesting past the limit (issue 10 finding 4)', () => {
  it.each([
    ['qupath-geojson', `{"type":"FeatureCollection","features":[\n{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"deep":${deep.json(100_000)}}}]}`, /^line 2$/],
    ['qupath-geojson', `[\n\n{"type":"Feature","geometry":{"type":"Point","coordinates":${deep.json(150)}}}]`, /^line 3$/],
    ['histomicstk-json', `{"name": "x",\n "elements": [{"type": "point", "center": [1, 2, 0], "user": ${deep.json(100_000)}}]}`, /^line 2, column \d+$/],
    ['asap-xml', `<?xml version="1.0"?>\n<ASAP_Annotations><Annotations>${deep.xml(100_000, 'Annotation')}</Annotations></ASAP_Annotations>`, /^line 2, column \d+$/],
    ['imagescope-xml', `<Annotations>\n<Annotation Id="1"><Regions>${deep.xml(150, 'Region')}</Regions></Annotation></Annotations>`, /^line 2, column \d+$/],
  ])('%s: refused with 422 IMPORT_INVALID and where, not 500, and no stack trace on stderr', async (format, text, where) => {
    const slide = freshSlide();
    const logged = server.output().length;
    const r = await importFile(slide, format, text);
    expect([r.status, r.body.code]).toEqual([422, 'IMPORT_INVALID']);
    expect(r.body.message).toMatch(/nested more than 100 levels/);
    expect(r.body.detail?.where).toMatch(where);
    expect(await count(slide)).toBe(0);
    const stderr = server.output().slice(logged);
    expect(stderr).not.toMatch(/failed|Maximum|\n\s+at /);
  });
});

describe.skipIf(!HAS_SHARED)(`real annotation files in ${SHARED_FIXTURES}/annotations`, () => {
  const dir = join(SHARED_FIXTURES, 'annotations');
  const ringVertices = (g: { type: string; coordinates: unknown }): number => {
    switch (g.type) {
      case 'Polygon':
        return (g.coordinates as unknown[][]).reduce((s, r) => s + r.length, 0);
      case 'MultiPolygon':
        return (g.coordinates as unknown[][][]).reduce((s, p) => s + p.reduce((t, r) => t + r.length, 0), 0);
      case 'Point':
        return 1;
      default:
        return (g.coordinates as unknown[]).length;
    }
  };

  it('QuPath: every file imports with its objects, classes and vertices, and exports back unchanged', async () => {
    const files = readdirSync(join(dir, 'qupath'), { recursive: true }).map(String).filter((f) => f.endsWith('.geojson'));
    expect(files.length).toBeGreaterThanOrEqual(4);
    for (const f of files) {
      const text = readFileSync(join(dir, 'qupath', f), 'utf8');
      const src = JSON.parse(text) as { features: Array<{ id: string; geometry: { type: string; coordinates: unknown }; properties: { classification?: { name?: string } } }> };
      const slide = freshSlide();
      const r = await importFile(slide, 'qupath-geojson', text);
      expect(r.status, `${f}: ${JSON.stringify(r.body).slice(0, 300)}`).toBe(201);
      expect(r.body.imported, f).toBe(src.features.length);
      const classes: Record<string, number> = {};
      for (const feat of src.features) {
        const c = feat.properties.classification?.name ?? '(none)';
        classes[c] = (classes[c] ?? 0) + 1;
      }
      expect(r.body.perClass, f).toEqual(classes);
      expect(r.body.vertices, f).toBe(src.features.reduce((s, x) => s + ringVertices(x.geometry), 0));
      const out = JSON.parse(await exportFile(slide, 'qupath-geojson')) as typeof src;
      const byId = new Map(out.features.map((x) => [x.id, x]));
      for (const feat of src.features) expect(byId.get(feat.id), `${f} ${feat.id}`).toEqual(feat);
    }
  });

  it('ASAP: imports with decimal commas and survives export → import', async () => {
    const text = readFileSync(join(dir, 'asap', 'wsi-packer', 'example.xml'), 'utf8');
    const slide = freshSlide();
    const r = await importFile(slide, 'asap-xml', text);
    expect([r.status, r.body.imported, r.body.vertices]).toEqual([201, 1, 43]);
    expect(r.body.perClass).toEqual({ '(none)': 1 });
    const again = freshSlide();
    expect((await importFile(again, 'asap-xml', await exportFile(slide, 'asap-xml'))).status).toBe(201);
    const a = await call<{ annotations: Array<{ geometry: unknown; name: string }> }>(server.url, 'GET', `/api/slides/${slide}/annotations`);
    const b = await call<{ annotations: Array<{ geometry: unknown; name: string }> }>(server.url, 'GET', `/api/slides/${again}/annotations`);
    expect(b.body.annotations.map((x) => [x.name, x.geometry])).toEqual(a.body.annotations.map((x) => [x.name, x.geometry]));
  });

  it('ImageScope: MoNuSeg nuclei and the region-type test file', async () => {
    for (const [file, regions, fileVertices] of [
      ['monuseg/TCGA-HT-8564-01Z-00-DX1.xml', 249, 20810],
      ['monuseg/TCGA-B0-5710-01Z-00-DX1.xml', 359, 30069],
    ] as const) {
      const xml = readFileSync(join(dir, 'aperio', file), 'utf8');
      // our rings are closed: a region gains one vertex unless the file already repeats its first
      let expected = 0;
      let counted = 0;
      for (const region of xml.split('<Region ').slice(1)) {
        const v = [...region.matchAll(/<Vertex X="([^"]*)" Y="([^"]*)"/g)].map((m) => [Number(m[1]), Number(m[2])] as const);
        counted += v.length;
        const [a, b] = [v[0], v[v.length - 1]];
        expected += v.length + (a && b && a[0] === b[0] && a[1] === b[1] ? 0 : 1);
      }
      expect(counted, file).toBe(fileVertices);
      const r = await importFile(freshSlide(), 'imagescope-xml', xml);
      expect([r.status, r.body.imported, r.body.perKind], file).toEqual([201, regions, { polygon: regions }]);
      expect(r.body.vertices, file).toBe(expected);
      expect(Object.keys(r.body.perClass)).toEqual(['Layer 1']);
    }
    const t = await importFile(freshSlide(), 'imagescope-xml', readFileSync(join(dir, 'aperio', 'imagescope_xml_utils', 'test.xml'), 'utf8'));
    expect(t.status).toBe(201);
    expect(t.body.imported).toBe(7);
    expect(t.body.perKind).toEqual({ polygon: 1, rectangle: 2, polyline: 3, ellipse: 1 });
    expect(Object.keys(t.body.perClass)).toHaveLength(5);
  });

  it('HistomicsTK: Girder documents and a bare .anot', async () => {
    const r = await importFile(freshSlide(), 'histomicstk-json', readFileSync(join(dir, 'histomicstk', 'TCGA-A2-A0YE-01Z-00-DX1_GET_MergePolygons.svs_annotations.json'), 'utf8'));
    expect(r.status).toBe(201);
    expect(r.body.imported).toBe(98);
    expect(r.body.perClass).toEqual({ mostly_tumor: 38, roi: 20, mostly_lymphocytic_infiltrate: 5, mostly_stroma: 35 });
    const s = await importFile(freshSlide(), 'histomicstk-json', readFileSync(join(dir, 'histomicstk', 'simple.tiff.anot'), 'utf8'));
    expect([s.status, s.body.imported]).toEqual([201, 2]);
  });

  it('the broken HistomicsTK upload is refused and nothing is imported', async () => {
    const slide = freshSlide();
    const r = await importFile(slide, 'histomicstk-json', readFileSync(join(SHARED_FIXTURES, 'broken', 'histomicstk', 'annotation_bad2.json'), 'utf8'));
    expect([r.status, r.body.code]).toEqual([422, 'IMPORT_INVALID']);
    expect(r.body.message).toMatch(/\[0\]/);
    expect(await count(slide)).toBe(0);
  });
});
