/**
 * The de-identification rules as data: the rule file's validation and
 * project overrides, dates reduced to their year, the Aperio description
 * rewriter (every key's action, custom keys never named, unknown header
 * lines refused, idempotent), the OME-XML allow-list, JPEG text segments,
 * and the blank label's determinism (DEID-01, DEID-05, DEID-08, DEID-13).
 */
import { describe, expect, it } from 'vitest';
import { rewriteAperioDescription } from '../../tiles-server/deid/aperio-rewrite.js';
import { renderLabel, checkStudyCode } from '../../tiles-server/deid/blank-label.js';
import { stripTextSegments, textSegmentIn } from '../../tiles-server/deid/jpeg-segments.js';
import { rewriteOmeXml } from '../../tiles-server/deid/ome-rewrite.js';
import { Findings, scanValuesOf } from '../../tiles-server/deid/report.js';
import { DEFAULT_RULES, rulesFrom, validateRules, yearOnly } from '../../tiles-server/deid/rules.js';
import { parseOmeXml } from '../../tiles-server/slides/ome-xml.js';
import { aperioDescription, phiOmeXml, S } from '../helpers/deid-fixtures.js';

describe('rule files', () => {
  it('refuses malformed rule files with DEID_RULES_INVALID', () => {
    for (const bad of [null, [], { name: 'x' }, { ...structuredClone(DEFAULT_RULES), version: '' }]) {
      expect(() => validateRules(bad)).toThrow(expect.objectContaining({ code: 'DEID_RULES_INVALID' }) as unknown as Error);
    }
    expect(() => rulesFrom({ extends: 'other' })).toThrow(/may only name "default"/);
    expect(() => rulesFrom({ extends: 'default', tiff: { tags: { '70000': { action: 'keep' } } } })).toThrow(/not a TIFF tag number/);
    expect(() => rulesFrom({ extends: 'default', images: { macroLabelFraction: 2 } })).toThrow(/macroLabelFraction/);
    expect(() => rulesFrom({ extends: 'default', verify: { sentinels: ['ab'] } })).toThrow(/at least 4/);
  });

  it('merges an override over the defaults and versions it', () => {
    const r = rulesFrom({ extends: 'default', version: 'p2', aperio: { otherKeys: 'refuse' }, tiff: { tags: { '305': { name: 'Software', action: 'keep' } } } });
    expect(r.version).toBe('1.1.0+p2');
    expect(r.aperio.otherKeys).toBe('refuse');
    expect(r.aperio.keep).toEqual(DEFAULT_RULES.aperio.keep);
    expect(r.tiff.tags['305']?.action).toBe('keep');
    expect(r.tiff.tags['306']?.action).toBe('year-only');
  });

  it('keeps only the year of a date, in the forms slides use', () => {
    expect(yearOnly('12/29/09')).toBe('01/01/09');
    expect(yearOnly('01/01/09')).toBe('01/01/09');
    expect(yearOnly('2009:12:29 09:59:15')).toBe('2009:01:01 00:00:00');
    expect(yearOnly('2024-05-17T09:59:15.123+02:00')).toBe('2024-01-01T00:00:00');
    expect(yearOnly('yesterday')).toBeNull();
  });
});

describe('Aperio ImageDescription (DEID-01)', () => {
  const desc = aperioDescription(1000, 760, 256);

  it('keeps geometry keys, rewrites Date, deletes named and custom keys; the report never names a custom key', () => {
    const f = new Findings();
    const out = rewriteAperioDescription(desc, 'IFD 0', DEFAULT_RULES, false, f);
    expect(out).toBe('Aperio Image Library v12.0.0 \r\n1000x760 [0,0 1000x760] (256x256) JPEG/YCC Q=85|AppMag = 20|MPP = 0.4990|StripeWidth = 2040|Date = 01/01/24');
    expect(f.uncovered).toEqual([]);
    expect(f.fields.find((x) => x.field === 'Aperio Date')?.action).toBe('rewritten');
    for (const k of ['Filename', 'Time', 'Time Zone', 'User', 'ScanScope ID', 'DSR ID', 'ImageID', 'Title', 'Rack', 'Slide', 'Accession']) {
      expect(f.fields.find((x) => x.field === `Aperio ${k}`)?.action, k).toBe('deleted');
    }
    expect(f.fields.some((x) => x.field.includes('Patient'))).toBe(false);
    expect(f.fields.find((x) => x.field === 'Aperio custom field 1')?.action).toBe('deleted');
    expect([...f.removedValues.keys()]).toEqual(expect.arrayContaining([S(1), S(5), S(21), 'Patient Name', '05/17/24']));
    // a second pass changes nothing (DEID-13)
    const g = new Findings();
    expect(rewriteAperioDescription(out, 'IFD 0', DEFAULT_RULES, false, g)).toBe(out);
    expect(g.fieldsModified).toBe(0);
  });

  it('refuses custom keys when the rules say so, and header lines that are neither scanner nor geometry', () => {
    const f = new Findings();
    rewriteAperioDescription(`Aperio Image Library v12\r\nPatient Jane Doe\r\n100x100 (256x256)|AppMag = 20|Mystery = 1`, 'IFD 0', rulesFrom({ extends: 'default', aperio: { otherKeys: 'refuse' } }), false, f);
    expect(f.uncovered.join()).toMatch(/Aperio header line/);
    const geometryName = new Findings();
    rewriteAperioDescription('Aperio Image Library v12\r\n100x100 (256x256) Smith/Jane Q=30|AppMag = 20', 'IFD 0', DEFAULT_RULES, false, geometryName);
    expect(geometryName.uncovered.join()).toMatch(/Aperio header line/);
    const named = new Findings();
    rewriteAperioDescription('Aperio Jane Doe v1\r\n100x100 (256x256)|AppMag = 20', 'IFD 0', DEFAULT_RULES, false, named);
    expect(named.uncovered.join()).toMatch(/Aperio header line/);
    expect(f.uncovered.join()).toMatch(/Aperio Mystery/);
    expect(() => f.throwIfUncovered()).toThrow(expect.objectContaining({ code: 'DEID_UNCOVERED_FIELD' }) as unknown as Error);
    // strict: both deleted, nothing refused
    const s = new Findings();
    const out = rewriteAperioDescription(`Aperio Image Library v12\r\nPatient Jane Doe\r\n100x100 (256x256)|AppMag = 20|Mystery = 1`, 'IFD 0', DEFAULT_RULES, true, s);
    expect(s.uncovered).toEqual([]);
    expect(out).toBe('Aperio Image Library v12\r\n100x100 (256x256)|AppMag = 20');
  });

  it('accepts the header forms of real files (re-saved descriptions joined by ";", thumbnails, labels)', () => {
    for (const header of [
      'Aperio Image Library v11.2.1 \r\n46000x32914 [42673,5576 2220x2967] (240x240) JPEG/RGB Q=30;Aperio Image Library v10.0.51\r\n46920x33014 [0,100 46000x32914] (256x256) JPEG/RGB Q=30',
      'Aperio Image Library v11.2.1 \n2220x2967 -> 574x768 - ',
      'Aperio Image Library v11.0.37\r\n4443x3567 (256x256) -> 2221x1783 J2K/KDU Q=70',
      'Aperio Image Library v12.0.0\nlabel 387x463',
      'Aperio Leica Biosystems GT450 v1.0.1',
      'Aperio Image Library v12.0.0 \r\n16384x16384 [0,0 16384x16384] (256x256) JPEG/YCC Q=85 -> 512x512 - ',
    ]) {
      const f = new Findings();
      expect(rewriteAperioDescription(`${header}|AppMag = 20`, 'IFD 0', DEFAULT_RULES, false, f)).toBe(`${header}|AppMag = 20`);
      expect(f.uncovered, header).toEqual([]);
    }
  });
});

describe('OME-XML (DEID-08)', () => {
  it('removes people, names, file names and free text, keeps what the reader needs, and is a fixed point', () => {
    const f = new Findings();
    const out = rewriteOmeXml(phiOmeXml(900, 700), 'IFD 0', DEFAULT_RULES, false, f);
    expect(f.uncovered).toEqual([]);
    for (let n = 40; n <= 49; n++) expect(out).not.toContain(S(n));
    const [img] = parseOmeXml(out);
    expect(img).toMatchObject({ name: 'image-0', sizeX: 900, sizeY: 700, physicalSizeX: 0.65, nominalMagnification: 20 });
    expect(out).toContain('<AcquisitionDate>2024-01-01T00:00:00</AcquisitionDate>');
    const g = new Findings();
    expect(rewriteOmeXml(out, 'IFD 0', DEFAULT_RULES, false, g)).toBe(out);
    expect(g.fieldsModified).toBe(0);
  });

  it('refuses what the allow-list does not cover: unknown elements, free text, odd IDs; a DTD is refused outright', () => {
    const base = phiOmeXml(10, 10);
    const cases: Array<[string, RegExp]> = [
      [base.replace('</Image>', '</Image><Secret>x</Secret>'), /\/OME\/Secret/],
      [base.replace('<LightPath/>', '<LightPath>Dr Who</LightPath>'), /text in \/OME\/Image\/Pixels\/Channel\/LightPath/],
      [base.replace('ID="Image:0"', 'ID="Image:Doe"'), /Image@ID/],
      [base.replace('<Image ID', '<Image Label="x" ID'), /Image@Label/],
    ];
    for (const [xml, re] of cases) {
      const f = new Findings();
      rewriteOmeXml(xml, 'IFD 0', DEFAULT_RULES, false, f);
      expect(f.uncovered.join(), re.source).toMatch(re);
    }
    expect(() => rewriteOmeXml(`<!DOCTYPE x [<!ENTITY a "b">]>${base}`, 'IFD 0', DEFAULT_RULES, false, new Findings())).toThrow(expect.objectContaining({ code: 'OME_XML_INVALID' }) as unknown as Error);
    const twoFiles = base.replace('</TiffData>', '</TiffData><TiffData IFD="1"><UUID FileName="other.ome.tif">urn:uuid:0b7a3ea2-77f5-4a4b-9f0a-6a9d8a0f5c12</UUID></TiffData>');
    expect(() => rewriteOmeXml(twoFiles, 'IFD 0', DEFAULT_RULES, false, new Findings())).toThrow(expect.objectContaining({ code: 'DEID_UNSUPPORTED_FORMAT' }) as unknown as Error);
  });
});

describe('helpers', () => {
  it('finds and strips JPEG COM and APPn segments', () => {
    const soi = Buffer.from([0xff, 0xd8]);
    const com = Buffer.concat([Buffer.from([0xff, 0xfe, 0, 7]), Buffer.from('hello')]);
    const app1 = Buffer.concat([Buffer.from([0xff, 0xe1, 0, 6]), Buffer.from('Exif')]);
    const dqt = Buffer.concat([Buffer.from([0xff, 0xdb, 0, 4]), Buffer.from([1, 2])]);
    const eoi = Buffer.from([0xff, 0xd9]);
    expect(textSegmentIn(Buffer.concat([soi, dqt, com, eoi]))).toBe('COM');
    expect(textSegmentIn(Buffer.concat([soi, app1, eoi]))).toBe('APP1');
    expect(textSegmentIn(Buffer.concat([soi, dqt, eoi]))).toBeNull();
    const { bytes, removed } = stripTextSegments(Buffer.concat([soi, dqt, com, app1, eoi]));
    expect(removed).toEqual(['COM', 'APP1']);
    expect(bytes.equals(Buffer.concat([soi, dqt, eoi]))).toBe(true);
  });

  it('scans XML values separately, and draws the same label for the same code', () => {
    expect(scanValuesOf('<a x="PHI-1">PHI-2</a>')).toEqual(expect.arrayContaining(['PHI-1', 'PHI-2']));
    expect(Buffer.from(renderLabel('STUDY-1', 120, 60)).equals(Buffer.from(renderLabel('STUDY-1', 120, 60)))).toBe(true);
    expect(Buffer.from(renderLabel('STUDY-1', 120, 60)).equals(Buffer.from(renderLabel('STUDY-2', 120, 60)))).toBe(false);
    expect(() => checkStudyCode('Doe, Jane')).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }) as unknown as Error);
  });
});
