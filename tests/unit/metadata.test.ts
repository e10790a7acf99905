import { describe, expect, it } from 'vitest';
import { parseAperioDescription } from '../../tiles-server/slides/aperio-description.js';
import { parseOmeXml } from '../../tiles-server/slides/ome-xml.js';

describe('Aperio ImageDescription', () => {
  it('reads MPP and AppMag from a real-style description', () => {
    const d = parseAperioDescription(
      'Aperio Image Library v11.2.1 \r\n46000x32914 [42673,5576 2220x2967] (240x240) JPEG/RGB Q=30|AppMag = 20|StripeWidth = 2040|ScanScope ID = CPAPERIOCS|Filename = CMU-1|MPP = 0.4990|Left = 25.691574',
    );
    expect(d.mpp).toBe(0.499);
    expect(d.appMag).toBe(20);
    expect(d.properties.get('Filename')).toBe('CMU-1');
    expect(d.warnings).toEqual([]);
  });

  it.each([
    ['decimal comma', 'Aperio x|MPP = 0,2525|AppMag = 40', 0.2525, 40, 0],
    ['empty values', 'Aperio x|MPP = |AppMag = ', null, null, 2],
    ['no equals', 'Aperio x|MPP 0.5|AppMag = 20', null, 20, 1],
    ['truncated', 'Aperio x|AppMag = 20|MP', null, 20, 1],
    ['garbage number', 'Aperio x|MPP = abc', null, null, 1],
    ['negative', 'Aperio x|MPP = -1', null, null, 1],
    ['no properties', 'Aperio Image Library', null, null, 0],
  ])('%s', (_n, text, mpp, mag, warnings) => {
    const d = parseAperioDescription(text);
    expect(d.mpp).toBe(mpp);
    expect(d.appMag).toBe(mag);
    expect(d.warnings).toHaveLength(warnings);
  });
});

describe('OME-XML', () => {
  const xml = (body: string, pixels = ''): string =>
    `<?xml version="1.0"?><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"><Instrument ID="I:0"><Objective ID="O:0" NominalMagnification="40"/></Instrument><Image ID="Image:0" Name="main"><ObjectiveSettings ID="O:0"/><Pixels DimensionOrder="XYZCT" Type="uint8" SizeX="100" SizeY="50" SizeC="3" SizeZ="2" SizeT="1" ${pixels}>${body}</Pixels></Image></OME>`;

  it('maps channels of plane z=0,t=0 to IFDs through TiffData', () => {
    const [img] = parseOmeXml(xml('<Channel ID="C:0" Color="-16776961"/><Channel ID="C:1"/><Channel ID="C:2"/><TiffData IFD="0" PlaneCount="6"/>', 'PhysicalSizeX="325" PhysicalSizeXUnit="nm"'));
    expect(img?.sizeC).toBe(3);
    // XYZCT: z fastest, so channel c at z=0 is plane 2c
    expect(img?.channelIfds).toEqual([0, 2, 4]);
    expect(img?.channels[0]?.color).toEqual([255, 0, 0]);
    expect(img?.channels[1]?.color).toBeNull();
    expect(img?.physicalSizeX).toBeCloseTo(0.325);
    expect(img?.nominalMagnification).toBe(40);
  });

  it('treats one 3-sample channel as RGB', () => {
    const [img] = parseOmeXml(xml('<Channel ID="C:0" SamplesPerPixel="3"/><TiffData/>'));
    expect(img?.sizeC).toBe(1);
    expect(img?.channelIfds).toEqual([0]);
  });

  it.each([
    ['a DOCTYPE', '<?xml version="1.0"?><!DOCTYPE OME [<!ENTITY x SYSTEM "file:///etc/passwd">]><OME/>'],
    ['an entity declaration', '<?xml version="1.0"?><OME><!ENTITY a "b"></OME>'],
    ['malformed XML', '<OME><Image></OME>'],
    ['no OME root', '<?xml version="1.0"?><Other/>'],
  ])('refuses %s with OME_XML_INVALID', (_n, text) => {
    expect(() => parseOmeXml(text)).toThrow(expect.objectContaining({ code: 'OME_XML_INVALID' }) as Error);
  });

  it('says where malformed XML breaks', () => {
    try {
      parseOmeXml('<OME>\n<Image>\n</Pixels></OME>');
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).toMatch(/line 3/);
    }
  });

  it('refuses multi-file datasets', () => {
    expect(() => parseOmeXml(xml('<Channel ID="C:0"/><TiffData IFD="0"><UUID FileName="other.ome.tif">urn:uuid:1</UUID></TiffData>'))).toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED_FORMAT' }) as Error,
    );
  });
});
