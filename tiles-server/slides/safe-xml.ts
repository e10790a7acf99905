/**
 * XML from slide files (OME-XML, PerkinElmer QPTIFF page descriptions),
 * parsed by the same hardened parser as annotation files (formats/xml.ts:
 * no DTD, a DOCTYPE or ENTITY declaration refused outright, READ-19; only
 * the five predefined entities; errors that say where the text breaks),
 * under a tighter size cap, with its failures as a slide error code.
 */
import { WsiError, type ErrorCode } from '../../src/core/errors.js';
import { parseXml, type XmlNode } from '../formats/xml.js';
import { FormatError } from '../formats/types.js';

export type { XmlNode } from '../formats/xml.js';

export const MAX_SLIDE_XML_BYTES = 16 * 1024 * 1024;

export interface SafeXmlOptions {
  /** The code every refusal carries (OME_XML_INVALID, QPTIFF_XML_INVALID). */
  code: ErrorCode;
  /** What the XML is, for messages ("OME-XML", "the QPTIFF description of IFD 3"). */
  what: string;
  /** Element names that always parse as arrays. */
  arrays?: string[];
}

export function parseSafeXml(xml: string, opts: SafeXmlOptions): XmlNode {
  if (xml.length > MAX_SLIDE_XML_BYTES) throw new WsiError(opts.code, `${opts.what} is ${xml.length} bytes (limit ${MAX_SLIDE_XML_BYTES})`);
  try {
    return parseXml(xml, opts.arrays ?? []);
  } catch (err) {
    if (err instanceof FormatError) throw new WsiError(opts.code, `${opts.what} is refused: ${err.message}`);
    throw err;
  }
}
