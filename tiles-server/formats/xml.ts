/**
 * Safe XML for annotation files: no DTD, no entity expansion beyond the five
 * predefined ones, a size cap, and errors that say where the file breaks.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
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
  });
  return parser.parse(text) as XmlNode;
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
