/**
 * Conformance of QPTIFF channel planes with libtiff: for every fluorescence
 * QPTIFF fixture, every pyramid level and every channel, the plane we serve
 * (an IIIF PNG of the whole level with `?channels=c`, whose colour has a
 * full-intensity component that carries the plane unchanged) equals the page
 * libtiff decodes, pixel for pixel. Python identifies the pages on its own
 * (its own XML reading of each page's description, UTF-8 or UTF-16), so our
 * layout is checked too. libtiff through Pillow is the reference; libvips
 * (`vips`, also over libtiff but its own reader) is the second reader: a page
 * where Pillow disagrees with us is compared with libvips and the
 * disagreement printed. Needs Debian's python3-pil, python3-tifffile (page
 * structure only) and libvips-tools; a missing tool fails with a message.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES } from '../helpers/paths.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';
const VIPS = '/usr/bin/vips';
const SLIDES = ['qptiff-fluorescence-6ch.qptiff', 'qptiff-fluorescence-utf16.qptiff'];

/** Lists each page (type, channel name, size) from its own XML, and writes each grey page's pixels as libtiff decodes them. */
const PAGES_PY = `
import json, re, sys, xml.etree.ElementTree as ET
import tifffile
from PIL import Image
path, out = sys.argv[1], sys.argv[2]
tif = tifffile.TiffFile(path)
fh = open(path, 'rb')
pages = []
for i, page in enumerate(tif.pages):
    tag = page.tags.get(270)
    fh.seek(tag.valueoffset)
    raw = fh.read(tag.count)
    if raw[:2] == b'\\xff\\xfe': text = raw[2:].decode('utf-16-le')
    elif raw[:2] == b'\\xfe\\xff': text = raw[2:].decode('utf-16-be')
    elif len(raw) >= 4 and raw[1] == 0 and raw[3] == 0: text = raw[:len(raw) // 2 * 2].decode('utf-16-le')
    else: text = raw.decode('utf-8')
    text = re.sub(r'^\\s*<\\?xml[^>]*\\?>', '', text.rstrip('\\x00'))
    root = ET.fromstring(text)
    pages.append({'index': i, 'type': root.findtext('ImageType'), 'name': root.findtext('Name'), 'width': page.imagewidth, 'height': page.imagelength, 'samples': page.samplesperpixel})
im = Image.open(path)
for p in pages:
    if p['samples'] != 1: continue
    im.seek(p['index'])
    assert im.mode == 'L', im.mode
    open(f"{out}/pil-{p['index']}.raw", 'wb').write(im.tobytes())
print(json.dumps(pages))
`;

interface PyPage {
  index: number;
  type: string;
  name: string | null;
  width: number;
  height: number;
  samples: number;
}

let server: TestServer;
let work: string;
const ids = new Map<string, string>();
const missing: string[] = [];

beforeAll(async () => {
  for (const [what, check] of [
    ['python3-pil and python3-tifffile', () => run(PYTHON, ['-c', 'import PIL, tifffile'])],
    ['libvips-tools (vips)', () => run(VIPS, ['--version'])],
  ] as const) {
    try {
      await check();
    } catch {
      missing.push(what);
    }
  }
  work = await mkdtemp(join(tmpdir(), 'qptiff-conf-'));
  server = await startTestServer(FIXTURES);
  const { body } = await getJson<{ slides: Array<{ id: string; name: string }> }>(`${server.url}/api/slides`);
  for (const s of body.slides) ids.set(s.name, s.id);
});

afterAll(async () => {
  await server?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

async function vipsPlane(file: string, page: number): Promise<Buffer> {
  const out = join(work, `vips-${page}.raw`);
  await run(VIPS, ['rawsave', `${file}[page=${page}]`, out]);
  return readFile(out);
}

describe('QPTIFF channel planes against libtiff', () => {
  it('the readers are installed (apt-get install -y python3-pil python3-tifffile libvips-tools)', () => {
    expect(missing, `missing: ${missing.join(', ')}`).toEqual([]);
    expect(existsSync(FIXTURES)).toBe(true);
  });

  it.each(SLIDES)('%s: every channel of every level equals libtiff', async (name) => {
    if (missing.length > 0) throw new Error(`cannot compare: ${missing.join(', ')} missing`);
    const file = join(FIXTURES, 'slides', name);
    const dir = await mkdtemp(join(work, 'pages-'));
    const { stdout } = await run(PYTHON, ['-c', PAGES_PY, file, dir], { maxBuffer: 1 << 24 });
    const pages = JSON.parse(stdout) as PyPage[];
    const sid = ids.get(`slides/${name}`) as string;
    const { body } = await getJson<{ channels: Array<{ name: string; color: number[] }>; levelDimensions: Array<{ width: number; height: number }> }>(`${server.url}/api/slides/${sid}`);

    // Python's view: channels in FullResolution page order, levels by size
    const full = pages.filter((p) => p.type === 'FullResolution');
    expect(body.channels.map((c) => c.name)).toEqual(full.map((p) => p.name));
    const sizes = [...new Set(pages.filter((p) => p.type === 'FullResolution' || p.type === 'ReducedResolution').map((p) => `${p.width}x${p.height}`))];
    expect(body.levelDimensions.map((l) => `${l.width}x${l.height}`)).toEqual(sizes);

    const lines: string[] = [];
    let compared = 0;
    for (const level of body.levelDimensions) {
      for (const [c, channel] of body.channels.entries()) {
        const page = pages.find((p) => (p.type === 'FullResolution' || p.type === 'ReducedResolution') && p.width === level.width && p.height === level.height && p.name === channel.name);
        expect(page, `${level.width}x${level.height} ${channel.name}`).toBeDefined();
        const carrier = channel.color.indexOf(255);
        expect(carrier, `channel ${channel.name} has a full-intensity colour component`).toBeGreaterThanOrEqual(0);
        const res = await fetch(`${server.url}/iiif/${sid}/full/${level.width},${level.height}/0/default.png?channels=${c}`);
        expect(res.status).toBe(200);
        const { data, info } = await sharp(Buffer.from(await res.arrayBuffer())).removeAlpha().raw().toBuffer({ resolveWithObject: true });
        expect([info.width, info.height]).toEqual([level.width, level.height]);
        const ours = Buffer.alloc(level.width * level.height);
        for (let i = 0; i < ours.length; i++) ours[i] = data[i * 3 + carrier] as number;

        const pil = await readFile(join(dir, `pil-${(page as PyPage).index}.raw`));
        let reader = 'libtiff (Pillow)';
        if (!ours.equals(pil)) {
          const vips = await vipsPlane(file, (page as PyPage).index);
          expect(ours.equals(vips), `${name} ${level.width}x${level.height} ${channel.name}: ours differs from both Pillow and libvips`).toBe(true);
          reader = `libvips (Pillow disagreed at page ${(page as PyPage).index})`;
        }
        lines.push(`${level.width}x${level.height} ${channel.name} [page ${(page as PyPage).index}]: identical to ${reader}`);
        compared++;
      }
    }
    // libvips as an independent check of the reference on the full-resolution pages
    for (const p of full) {
      expect((await vipsPlane(file, p.index)).equals(await readFile(join(dir, `pil-${p.index}.raw`))), `Pillow and libvips agree on page ${p.index}`).toBe(true);
    }
    process.stdout.write(`[conformance] ${name}: ${compared} planes\n  ${lines.join('\n  ')}\n`);
    expect(compared).toBe(body.levelDimensions.length * body.channels.length);
  });
});
