/**
 * QPTIFF metadata: description text in UTF-8 and UTF-16 (with and without a
 * byte-order mark), the PerkinElmer-QPI page XML (names, colours, objective,
 * pixel size, hostile or malformed XML: READ-19 for this format), and the
 * `channels` selection parameter.
 */
import { describe, expect, it } from 'vitest';
import { WsiError } from '../../src/core/errors.js';
import { qpiXml } from '../../scripts/fixtures/qptiff.js';
import { parseChannels } from '../../tiles-server/render/channels.js';
import { isQpiDescription, parseQpiDescription } from '../../tiles-server/slides/qptiff-description.js';
import { decodeTiffText, textEncodingOf } from '../../tiles-server/tiff/text.js';

/** Expects `fn` to throw a WsiError with `code`. */
function expectCode(fn: () => unknown, code: string): void {
  expect(fn).toThrow(expect.objectContaining({ code }) as unknown as Error);
}

const XML = qpiXml({ imageType: 'FullResolution', channel: { name: 'Opal 690', color: '255,0,255', biomarker: 'β-catenin' }, objective: '20x', profileMpp: 0.4977 });

describe('TIFF text tags', () => {
  const nul = Buffer.from([0]);
  it.each([
    ['UTF-8 with its NUL', Buffer.concat([Buffer.from(XML, 'utf8'), nul]), 'utf-8'],
    ['UTF-8 with a BOM', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(XML, 'utf8')]), 'utf-8'],
    ['UTF-16LE with a BOM', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(XML, 'utf16le'), nul, nul]), 'utf-16le'],
    ['UTF-16LE without a BOM, odd ASCII terminator', Buffer.concat([Buffer.from(XML, 'utf16le'), nul]), 'utf-16le'],
    ['UTF-16BE with a BOM', Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(XML, 'utf16le').swap16(), nul, nul]), 'utf-16be'],
    ['UTF-16BE without a BOM', Buffer.from(XML, 'utf16le').swap16(), 'utf-16be'],
  ])('%s decodes to the same text', (_what, bytes, encoding) => {
    expect(textEncodingOf(bytes).encoding).toBe(encoding);
    expect(decodeTiffText(bytes)).toBe(XML);
  });

  it('leaves plain ASCII and Latin text alone', () => {
    expect(decodeTiffText(Buffer.from('Aperio Image Library v12\0', 'utf8'))).toBe('Aperio Image Library v12');
    expect(decodeTiffText(Buffer.from('µm', 'utf8'))).toBe('µm');
    expect(decodeTiffText(Buffer.alloc(0))).toBe('');
  });
});

describe('PerkinElmer-QPI page description', () => {
  it('reads type, name, colour, biomarker, objective and pixel size from a utf-16-declared document', () => {
    expect(isQpiDescription(XML)).toBe(true);
    expect(parseQpiDescription(XML, 'IFD 4')).toEqual({
      imageType: 'FullResolution',
      name: 'Opal 690',
      biomarker: 'β-catenin',
      colorText: '255,0,255',
      color: [255, 0, 255],
      objective: 20,
      pixelSizeMicrons: 0.4977,
    });
  });

  it('takes the objective from the scan profile when the page has none, and tolerates missing fields', () => {
    const xml = '<PerkinElmer-QPI-ImageDescription><ImageType>Thumbnail</ImageType><ScanProfile><root><ScanResolution><ObjectiveName>40x</ObjectiveName></ScanResolution></root></ScanProfile></PerkinElmer-QPI-ImageDescription>';
    expect(parseQpiDescription(`  \r\n${xml}\r\n`, 'IFD 1')).toMatchObject({ imageType: 'Thumbnail', name: null, color: null, objective: 40, pixelSizeMicrons: null });
  });

  it.each(['300,0,0', '255,0', 'red', '#ff0000', '1,2,3,4'])('keeps an unusable colour "%s" as text only', (color) => {
    const p = parseQpiDescription(`<PerkinElmer-QPI-ImageDescription><Color>${color}</Color></PerkinElmer-QPI-ImageDescription>`, 'IFD 0');
    expect(p.color).toBeNull();
    expect(p.colorText).toBe(color);
  });

  it.each([
    ['malformed', '<?xml version="1.0" encoding="utf-16"?><PerkinElmer-QPI-ImageDescription><Name>DAPI</PerkinElmer-QPI-ImageDescription>'],
    ['an external entity', '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><PerkinElmer-QPI-ImageDescription><Name>&e;</Name></PerkinElmer-QPI-ImageDescription>'],
    ['another root element', '<OME><Image/></OME>'],
    ['not XML at all', 'Aperio Image Library'],
  ])('refuses %s with QPTIFF_XML_INVALID', (_what, xml) => {
    expectCode(() => parseQpiDescription(xml, 'IFD 2'), 'QPTIFF_XML_INVALID');
  });

  it('says where a malformed description breaks', () => {
    try {
      parseQpiDescription('<PerkinElmer-QPI-ImageDescription>\n<Name>DAPI</Nme>\n</PerkinElmer-QPI-ImageDescription>', 'IFD 7');
      expect.unreachable();
    } catch (e) {
      expect((e as WsiError).message).toMatch(/IFD 7.*line 2, column \d+/);
    }
  });
});

describe('channels parameter', () => {
  const meta = { channels: Array.from({ length: 6 }, (_, i) => ({ name: `c${i}`, color: [255, 255, 255] as [number, number, number] })) };
  it.each([
    [null, undefined],
    ['2', [2]],
    ['3,0', [0, 3]],
    ['1,1,4', [1, 4]],
    ['0,1,2,3,4,5', undefined],
    ['5,4,3,2,1,0,0', undefined],
  ])('%s -> %j', (param, want) => {
    expect(parseChannels(param, meta)).toEqual(want);
  });

  it.each(['', '6', '-1', '1.5', 'a', '1,,2', '0x1', '1e2', '__proto__', '0 ,1', `${'1,'.repeat(300)}1`])('refuses "%s"', (param) => {
    expectCode(() => parseChannels(param, meta), 'BAD_REQUEST');
  });

  it('refuses any selection on a slide without channels', () => {
    expectCode(() => parseChannels('0', { channels: null }), 'BAD_REQUEST');
    expect(parseChannels(null, { channels: null })).toBeUndefined();
  });
});
