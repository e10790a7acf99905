/**
 * The DICOM part of de-identification without files or pydicom (DEID-09):
 * the rule file's "dicom" section and its mistakes, the strict parser and
 * serializer on crafted bytes (round trip, nesting limit, hostile lengths,
 * delimiters where none belong), and the rules applied to a data set
 * (actions, private tags, uncovered attributes, UIDs mapped once per slide,
 * dates kept to the year).
 */
import { describe, expect, it } from 'vitest';
import { DicomRulesRun } from '../../tiles-server/deid/dicom-apply.js';
import { elem, parseDicomFile, serializeElements, serializeMeta, textOf, type DElem } from '../../tiles-server/deid/dicom-data.js';
import { validateDicomRules } from '../../tiles-server/deid/dicom-rules.js';
import { Findings } from '../../tiles-server/deid/report.js';
import { DEFAULT_RULES, rulesFrom } from '../../tiles-server/deid/rules.js';
import type { ByteSource } from '../../tiles-server/tiff/byte-source.js';
import { WsiError } from '../../src/core/errors.js';

function source(bytes: Buffer): ByteSource {
  return {
    size: bytes.length,
    read: (offset, length) => Promise.resolve(Buffer.from(bytes.subarray(offset, offset + length))),
    close: () => Promise.resolve(),
  };
}

const META = [elem(0x00020001, 'OB', Buffer.from([0, 1])), elem(0x00020002, 'UI', '1.2.840.10008.5.1.4.1.1.77.1.6'), elem(0x00020003, 'UI', '1.2.3'), elem(0x00020010, 'UI', '1.2.840.10008.1.2.1')];
const file = (body: DElem[]): Buffer => Buffer.concat([serializeMeta(META), ...serializeElements(body)]);
const sq = (tag: number, items: DElem[][]): DElem => ({ tag, vr: 'SQ', value: Buffer.alloc(0), items });

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'none';
  } catch (e) {
    return e instanceof WsiError ? e.code : String(e);
  }
}

describe('the dicom rule section', () => {
  it('the defaults cover the Basic Profile attributes a WSI carries', () => {
    const a = DEFAULT_RULES.dicom?.attributes ?? {};
    expect(a['00100010']?.action).toBe('study-code');
    expect(a['00100030']?.action).toBe('empty');
    expect(a['00080080']?.action).toBe('delete');
    expect(a['0020000D']?.action).toBe('uid');
    expect(a['00080020']?.action).toBe('date');
    expect(a['00400512']?.action).toBe('study-code');
    expect(a['22000005']?.action).toBe('delete');
    expect(DEFAULT_RULES.dicom?.unlisted).toBe('refuse');
    expect(DEFAULT_RULES.dicom?.privateTags).toBe('delete');
  });

  it.each([
    [{ attributes: { '0010001': { action: 'keep' } } }, /eight hex digits/],
    [{ attributes: { '00100010': { action: 'shift' } } }, /action must be one of/],
    [{ attributes: { '00181000': { action: 'replace' } } }, /needs a "value"/],
    [{ attributes: {}, privateTags: 'keep', unlisted: 'refuse', label: 'remove', overview: 'remove' }, /privateTags/],
    [{ attributes: {}, privateTags: 'delete', unlisted: 'refuse', label: 'blank', overview: 'remove' }, /dicom.label/],
  ])('a mistake is DEID_RULES_INVALID: %j', (raw, message) => {
    expect(() => validateDicomRules({ privateTags: 'delete', unlisted: 'refuse', label: 'remove', overview: 'remove', ...raw })).toThrow(message);
  });

  it('a project override merges attribute by attribute', () => {
    const r = rulesFrom({ extends: 'default', version: 'x', dicom: { attributes: { '00180015': { name: 'BodyPartExamined', action: 'delete' } }, label: 'replace' } });
    expect(r.dicom?.attributes['00180015']?.action).toBe('delete');
    expect(r.dicom?.attributes['00100010']?.action).toBe('study-code');
    expect(r.dicom?.label).toBe('replace');
  });
});

describe('the strict DICOM parser', () => {
  it('round-trips nested sequences, and finds Pixel Data and what follows it', async () => {
    const body = [elem(0x00080016, 'UI', '1.2.840.10008.5.1.4.1.1.77.1.6'), sq(0x00400560, [[elem(0x00400551, 'LO', 'S1'), sq(0x00400562, [[elem(0x00400031, 'UT', 'x')], []])]])];
    const pixels = Buffer.from([1, 2, 3, 4]);
    const bytes = Buffer.concat([file(body), ...serializeElements([elem(0x7fe00010, 'OB', pixels), elem(0xfffcfffc, 'OB', Buffer.alloc(4))])]);
    const p = await parseDicomFile(source(bytes));
    expect(p.transferSyntax).toBe('1.2.840.10008.1.2.1');
    expect(p.body.map((e) => e.tag)).toEqual([0x00080016, 0x00400560]);
    expect(p.body[1]?.items?.[0]?.[1]?.items).toHaveLength(2);
    expect(bytes.subarray(p.pixel?.offset, (p.pixel?.offset ?? 0) + (p.pixel?.length ?? 0))).toEqual(pixels);
    expect(p.trailing.map((e) => e.tag)).toEqual([0xfffcfffc]);
    expect(Buffer.concat(serializeElements(p.body)).equals(Buffer.concat(serializeElements(body)))).toBe(true);
  });

  it('refuses what does not hold up, with clear codes', async () => {
    let deep: DElem = elem(0x00080100, 'SH', 'X');
    for (let i = 0; i < 13; i++) deep = sq(0x00400560, [[deep]]);
    expect(await code(parseDicomFile(source(file([deep]))))).toBe('DICOM_INVALID');
    const hostile = Buffer.concat([file([]), Buffer.from([0x10, 0, 0x10, 0, 0x50, 0x4e, 0x40, 0])]);
    expect(await code(parseDicomFile(source(hostile)))).toBe('DICOM_TRUNCATED');
    const stray = Buffer.concat([file([]), Buffer.from([0xfe, 0xff, 0x0d, 0xe0, 0, 0, 0, 0])]);
    expect(await code(parseDicomFile(source(stray)))).toBe('DICOM_INVALID');
    const noVr = Buffer.concat([file([]), Buffer.from([0x10, 0, 0x10, 0, 4, 0, 0, 0, 0x41, 0x42, 0x43, 0x44])]);
    expect(await code(parseDicomFile(source(noVr)))).toBe('DICOM_INVALID');
    const outOfOrder = Buffer.concat([file([]), ...serializeElements([elem(0x00100020, 'LO', 'B')]), ...serializeElements([elem(0x00100010, 'PN', 'A')])]);
    expect(await code(parseDicomFile(source(outOfOrder)))).toBe('DICOM_INVALID');
    const openPixels = Buffer.concat([file([]), Buffer.from([0xe0, 0x7f, 0x10, 0, 0x4f, 0x42, 0, 0, 0xff, 0xff, 0xff, 0xff]), Buffer.from([0xfe, 0xff, 0x00, 0xe0, 0x00, 0x10, 0, 0])]);
    expect(await code(parseDicomFile(source(openPixels)))).toBe('DICOM_TRUNCATED');
  });
});

describe('the rules applied to a data set', () => {
  const rules = DEFAULT_RULES.dicom;
  if (!rules) throw new Error('the default rules have a dicom section');

  it('replaces, empties, deletes, maps UIDs once, keeps the year, drops private tags and refuses what no rule lists', () => {
    const f = new Findings();
    const run = new DicomRulesRun(f, rules, false, 'CODE-1', 5);
    const ds: DElem[] = [
      elem(0x00080020, 'DA', '20240315'),
      elem(0x00080030, 'TM', '101530'),
      elem(0x00080080, 'LO', 'St Elsewhere Hospital'),
      elem(0x00090010, 'LO', 'ACME'),
      elem(0x00091001, 'LO', 'Secret Note'),
      elem(0x00100010, 'PN', 'Doe^Jane'),
      elem(0x00100030, 'DA', '19700412'),
      elem(0x00180015, 'CS', 'BREAST'),
      elem(0x0020000d, 'UI', '1.2.3.4.5'),
      sq(0x00081140, [[elem(0x00081150, 'UI', '1.2.840.10008.5.1.4.1.1.77.1.6'), elem(0x00081155, 'UI', '1.2.3.4.5')]]),
    ];
    const out = run.apply(ds, 'instance 1', true);
    const get = (tag: number): string | undefined => {
      const e = out.find((x) => x.tag === tag);
      return e ? textOf(e) : undefined;
    };
    expect(get(0x00080020)).toBe('20240101');
    expect(get(0x00080030)).toBe('000000');
    expect(get(0x00080080)).toBeUndefined();
    expect(get(0x00091001)).toBeUndefined();
    expect(get(0x00090010)).toBeUndefined();
    expect(get(0x00100010)).toBe('CODE-1');
    expect(get(0x00100030)).toBe('');
    const study = get(0x0020000d) as string;
    expect(study).toMatch(/^2\.25\.\d+$/);
    expect(textOf(out.find((x) => x.tag === 0x00081140)?.items?.[0]?.[1] as DElem)).toBe(study);
    expect(f.uncovered).toEqual(['instance 1: (0018,0015) attribute (no rule)']);
    for (const v of ['St Elsewhere Hospital', 'Secret Note', 'Doe^Jane', 'Doe', 'Jane', '19700412', '20240315', '1.2.3.4.5']) expect(f.removedValues.has(v), v).toBe(true);
    expect(run.datesModified).toBe(true);
  });

  it('the strict profile deletes what no rule lists; a rule whose action does not fit the VR refuses', () => {
    const f = new Findings();
    const strict = new DicomRulesRun(f, rules, true, 'CODE-1', 5);
    expect(strict.apply([elem(0x00180015, 'CS', 'BREAST'), elem(0x00080070, 'LO', 'ACME')], 'i', true)).toEqual([]);
    expect(f.uncovered).toEqual([]);
    const g = new Findings();
    new DicomRulesRun(g, rules, false, 'CODE-1', 5).apply([elem(0x0020000d, 'LO', 'not a UID')], 'i', true);
    expect(g.uncovered.join()).toMatch(/does not fit VR LO/);
  });
});
