/**
 * Safe XML for annotation files: no DTD, no entity expansion beyond the five
 * predefined ones, a size cap, a nesting cap, and errors that say where the
 * file breaks.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { MAX_NESTING, xmlTooDeep } from './nesting.js';
import { FormatError } from './types.js';

export const MAX_XML_BYTES = 256 * 1024 * 1024;

export type XmlNode = Record<string, unknown>;

export function parseXml(text: string, arrays: string[]): XmlNode {
  if (text.length > MAX_XML_BYTES) throw new FormatError(`XML is larger than ${MAX_XML_BYTES} bytes`, 'file');
  const doctype = /<!DOCTYPE|<!ENTITY/i.exec(text);
  if (doctype) {
    const line = text.slice(0, doctype.index).split('\n').length;
    throw new FormatError('DOCTYPE and ENTITY declarations are not allowed in annotation files', `line ${line}`);
  }
  const deep = xmlTooDeep(text);
  if (deep) throw new FormatError(`elements are nested more than ${deep.limit} levels deep`, `line ${deep.line}, column ${deep.column}`);
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw new FormatError(`malformed XML: ${valid.err.msg}`, `line ${valid.err.line}, column ${valid.err.col}`);
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '',
    parseAttributeValue: false,
    parseTagValue: false,
    processEntities: true,
    htmlEntities: false,
    removeNSPrefix: true,
    isArray: (name) => arrays.includes(name),
    maxNestedTags: MAX_NESTING + 1,
  });
  try {
    return parser.parse(text) as XmlNode;
  } catch (err) {
    // validated above, so this is a limit of the parser's: still the file's doing
    throw new FormatError(`the XML cannot be read: ${(err as Error).message.split('\n')[0] ?? ''}`, 'file');
  }
}

export function asArray(v: unknown): XmlNode[] {
  if (v === undefined || v === null || v === '') return [];
  return (Array.isArray(v) ? v : [v]) as XmlNode[];
}

/** A number written with either decimal mark ("543,02" or "543.02"). */
export function xmlNumber(v: unknown, where: string): number {
  if (typeof v !== 'string' && typeof v !== 'number') throw new FormatError('missing number', where);
  const s = String(v).trim().replace(',', '.');
  const n = Number(s);
  if (s === '' || !Number.isFinite(n)) throw new FormatError(`"${String(v).slice(0, 40)}" is not a number`, where);
  return n;
}
