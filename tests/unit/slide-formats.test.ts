/**
 * The slide-format registry as the scanner uses it: each file goes to the
 * first format that takes it, formats group their files into slides, links
 * out of the folder are not followed, and a new format plugs in without
 * touching the scanner.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WsiError } from '../../src/core/errors.js';
import type { SlideFormat } from '../../tiles-server/slides/format.js';
import { SLIDE_FORMATS } from '../../tiles-server/slides/formats.js';
import { extensionOf, scanSlideFolder } from '../../tiles-server/slides/scan.js';
import { SlideFiles, withDeadline } from '../../tiles-server/slides/slide-files.js';

let root: string;
let outside: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'wsi-scan-'));
  outside = await mkdtemp(join(tmpdir(), 'wsi-outside-'));
  await mkdir(join(root, 'case-1', 'series'), { recursive: true });
  await writeFile(join(root, 'a.svs'), 'II*\0');
  await writeFile(join(root, 'case-1', 'b.ome.tiff'), 'II*\0');
  await writeFile(join(root, 'case-1', 'c.ndpi'), 'x');
  await writeFile(join(root, 'case-1', 'series', '1.dcm'), 'x');
  await writeFile(join(root, 'case-1', 'series', '2.dcm'), 'xy');
  await writeFile(join(root, 'notes.txt'), 'not a slide');
  await writeFile(join(root, '.hidden.tif'), 'II*\0');
  await writeFile(join(root, 'magic.bin'), 'MYFMT rest');
  await writeFile(join(outside, 'secret.tif'), 'II*\0');
  await symlink(join(outside, 'secret.tif'), join(root, 'link-out.tif'));
  await symlink(join(root, 'a.svs'), join(root, 'link-in.tif'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

describe('slide formats', () => {
  it('reads extensions as formats see them', () => {
    expect(extensionOf('dir.x/a.OME.TIF')).toBe('.tif');
    expect(extensionOf('dir.x/slide')).toBe('');
    expect(extensionOf('case/1.dcm')).toBe('.dcm');
  });

  it('lists each slide once under the format that took it', async () => {
    const found = await scanSlideFolder(root, (n) => `id:${n}`);
    const byName = new Map([...found.values()].map((e) => [e.name, e]));
    // the two .dcm files do not parse, so each is listed alone (to say why); real series are grouped in tests/integration/dicom.test.ts
    expect([...byName.keys()].sort()).toEqual(['a.svs', 'case-1/b.ome.tiff', 'case-1/c.ndpi', 'case-1/series/1.dcm', 'case-1/series/2.dcm', 'link-in.tif']);
    expect(byName.get('a.svs')?.format).toBe('TIFF');
    expect(byName.get('case-1/c.ndpi')?.format).toBe('Hamamatsu NDPI');
    const broken = byName.get('case-1/series/2.dcm');
    expect(broken?.format).toBe('DICOM WSI');
    expect(broken?.files).toHaveLength(1);
    expect(broken?.size).toBe(2);
    expect(found.get('id:a.svs')?.id).toBe('id:a.svs');
  });

  it('a format added to the list takes its files, sniffing their first bytes, and opens them', async () => {
    const opened: string[] = [];
    const custom: SlideFormat = {
      name: 'Magic',
      supports: async (f) => (await f.head()).subarray(0, 5).toString() === 'MYFMT',
      open: (entry) => {
        opened.push(entry.name);
        return Promise.reject(new WsiError('UNSUPPORTED_FORMAT', 'test format'));
      },
    };
    const found = await scanSlideFolder(root, (n) => n, [custom, ...SLIDE_FORMATS]);
    const magic = found.get('magic.bin');
    expect(magic?.format).toBe('Magic');
    await expect(custom.open(magic as NonNullable<typeof magic>, {} as never)).rejects.toMatchObject({ code: 'UNSUPPORTED_FORMAT' });
    expect(opened).toEqual(['magic.bin']);
  });

  it('an unreadable or missing folder is an empty list, not an error', async () => {
    expect((await scanSlideFolder(join(root, 'nope'), (n) => n)).size).toBe(0);
  });

  it('opens files only through real paths inside the folder, and names the file it opened', async () => {
    const files = new SlideFiles(root, { deadlineMs: 2000, probeEveryMs: 0 });
    const { src, identity } = await files.open(join(root, 'link-in.tif'));
    expect(identity.ino).toBeGreaterThan(0);
    await src.close();
    await expect(files.open(join(root, 'link-out.tif'))).rejects.toMatchObject({ code: 'SLIDE_OUTSIDE_FOLDER' });
    await expect(files.open(join(root, 'missing.tif'))).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
    const gone = new SlideFiles(join(root, 'nope'), { deadlineMs: 2000, probeEveryMs: 0 });
    await expect(gone.open(join(root, 'a.svs'))).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
    expect(gone.storage.ok).toBe(false);
  });

  it('a storage call that never answers (a stalled mount) fails with STORAGE_UNAVAILABLE at its deadline (FAULT-02)', async () => {
    await expect(withDeadline(new Promise(() => undefined), 30, 'reading')).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
    await expect(withDeadline(Promise.resolve(7), 30, 'reading')).resolves.toBe(7);
  });
});
