/**
 * De-identifies OME-XML (the ImageDescription of an OME-TIFF's first IFD).
 * It works on an allow-list: the elements a single-file OME-TIFF needs
 * (images, pixels, channels, planes, TIFF data, instrument optics) are kept
 * with their attributes; Image names become neutral, acquisition dates keep
 * their year, file names (not needed in a single-file OME-TIFF) are dropped, and the people, projects,
 * annotations and free text the rules name are deleted. Any element, text
 * or ID the list does not cover stops the file (strict: deleted).
 * Parsed with the same precautions as slide XML (no DTD, no entities).
 */
import { XMLParser } from 'fast-xml-parser';
import { WsiError } from '../../src/core/errors.js';
import { MAX_SLIDE_XML_BYTES } from '../slides/safe-xml.js';
import type { Findings } from './report.js';
import { yearOnly, type DeidRules } from './rules.js';

type OrderedNode = Record<string, unknown> & { ':@'?: Record<string, string> };

/** Elements kept with all their attributes (less `ome.deleteAttributes`). */
const OPEN_ELEMENTS = new Set([
  'Pixels', 'TiffData', 'Channel', 'Plane', 'LightPath', 'DetectorSettings', 'LightSourceSettings', 'ObjectiveSettings', 'ImagingEnvironment',
  'InstrumentRef', 'FilterSetRef', 'ExcitationFilterRef', 'EmissionFilterRef', 'DichroicRef', 'MetadataOnly', 'HashSHA1', 'Instrument', 'Microscope',
  'Objective', 'Detector', 'Filter', 'FilterSet', 'Dichroic', 'LightSource', 'Laser', 'Arc', 'Filament', 'LightEmittingDiode', 'GenericExcitationSource',
  'TransmittanceRange', 'Pump', 'StageLabel',
]);
/** Elements whose text content is kept (checked). */
const TEXT_ELEMENTS = new Set(['AcquisitionDate', 'UUID', 'HashSHA1']);
const ASSOCIATED_NAME = /^(label|macro|overview|thumbnail)$/i;
const ID_FORM = /^(?:[A-Za-z]+(?::\d+)+|urn:lsid:[\w.:-]+)$/;

function localName(name: string): string {
  const i = name.indexOf(':');
  return i < 0 ? name : name.slice(i + 1);
}

function escAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function escText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function serialize(nodes: OrderedNode[]): string {
  let out = '';
  for (const n of nodes) {
    const name = Object.keys(n).find((k) => k !== ':@') as string;
    const attrs = n[':@'] ?? {};
    const attrText = Object.entries(attrs).map(([k, v]) => ` ${k}="${escAttr(String(v))}"`).join('');
    if (name === '#text') out += escText(String(n['#text']));
    else if (name === '?xml') out += `<?xml${attrText}?>`;
    else {
      const kids = (n[name] as OrderedNode[] | undefined) ?? [];
      out += kids.length === 0 ? `<${name}${attrText}/>` : `<${name}${attrText}>${serialize(kids)}</${name}>`;
    }
  }
  return out;
}

/** Rewrites OME-XML; returns the new XML (unchanged text when nothing needed rewriting). */
export function rewriteOmeXml(xml: string, where: string, rules: DeidRules, strict: boolean, f: Findings): string {
  if (xml.length > MAX_SLIDE_XML_BYTES) throw new WsiError('OME_XML_INVALID', `OME-XML is ${xml.length} bytes (limit ${MAX_SLIDE_XML_BYTES})`);
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new WsiError('OME_XML_INVALID', 'OME-XML with a DOCTYPE or ENTITY declaration is refused');
  let doc: OrderedNode[];
  try {
    doc = new XMLParser({
      preserveOrder: true,
      ignoreAttributes: false,
      attributeNamePrefix: '',
      parseAttributeValue: false,
      parseTagValue: false,
      processEntities: true,
      htmlEntities: false,
      commentPropName: '#comment',
      cdataPropName: '#cdata',
      trimValues: false,
    }).parse(xml) as OrderedNode[];
  } catch (err) {
    throw new WsiError('OME_XML_INVALID', `OME-XML cannot be read: ${(err as Error).message.split('\n')[0] ?? ''}`);
  }
  const at = `${where} OME-XML`;
  const deleteEls = new Set(rules.ome.deleteElements);
  const deleteAttrs = new Set(rules.ome.deleteAttributes);
  const fileNames = new Set<string>();
  let imageIndex = 0;
  let changed = false;

  const uncovered = (field: string, why: string, value: string): boolean => {
    // true: drop the item (strict); false: refused (the file stops after the walk)
    if (strict || rules.ome.otherElements === 'delete') {
      f.removed(at, field, 'deleted', value, `${why} (deleted)`);
      changed = true;
      return true;
    }
    f.refuse(at, field, why);
    return false;
  };

  const walk = (nodes: OrderedNode[], path: string): OrderedNode[] => {
    const out: OrderedNode[] = [];
    for (const n of nodes) {
      const name = Object.keys(n).find((k) => k !== ':@') as string;
      if (name === '#text') {
        const text = String(n['#text']);
        const parent = localName(path.split('/').pop() ?? '');
        if (!text.trim() || TEXT_ELEMENTS.has(parent)) out.push(n);
        else if (!uncovered(`text in ${path}`, 'free text no rule covers', text)) out.push(n);
        continue;
      }
      if (name === '?xml') {
        out.push(n);
        continue;
      }
      if (name === '#comment' || name === '#cdata') {
        const text = serialize((n[name] as OrderedNode[]) ?? []);
        if (name === '#comment') {
          f.removed(at, `comment in ${path}`, 'deleted', text);
          changed = true;
        } else if (!uncovered(`CDATA in ${path}`, 'CDATA no rule covers', text)) out.push(n);
        continue;
      }
      const local = localName(name);
      const here = `${path}/${local}`;
      const kids = (n[name] as OrderedNode[] | undefined) ?? [];
      if (deleteEls.has(local)) {
        f.removed(at, here, 'deleted', serialize([n]));
        changed = true;
        continue;
      }
      const known = local === 'OME' || local === 'Image' || local === 'AcquisitionDate' || local === 'UUID' || OPEN_ELEMENTS.has(local);
      if (!known) {
        if (!uncovered(here, 'an element no rule covers', serialize([n]))) out.push(n);
        continue;
      }
      const attrs: Record<string, string> = { ...(n[':@'] ?? {}) };
      for (const [k, v] of Object.entries(attrs)) {
        const field = `${here}@${k}`;
        if (k === 'ID' || k.endsWith(':ID')) {
          if (!ID_FORM.test(v)) f.refuse(at, field, 'an ID that is not of the form Type:n');
        } else if (deleteAttrs.has(localName(k))) {
          f.removed(at, field, 'deleted', v);
          delete attrs[k];
          changed = true;
        } else if (local === 'OME') {
          if (!(k === 'xmlns' || k.startsWith('xmlns:') || localName(k) === 'schemaLocation' || k === 'UUID' || k === 'Creator')) {
            if (uncovered(field, 'an attribute no rule covers', v)) delete attrs[k];
          }
        } else if (local === 'Image') {
          if (k === 'Name') {
            const index = imageIndex;
            const next = rules.ome.imageNames === 'keep' || ASSOCIATED_NAME.test(v.trim()) ? v : `image-${index}`;
            if (next === v) f.field(at, field, 'kept');
            else {
              f.removed(at, field, 'rewritten', v, 'replaced by a neutral name');
              attrs[k] = next;
              changed = true;
            }
          } else if (uncovered(field, 'an attribute no rule covers', v)) delete attrs[k];
        } else if (local === 'UUID') {
          if (k === 'FileName') {
            // a single-file OME-TIFF needs no file name (the attribute is optional), and readers then take the file itself
            fileNames.add(v);
            f.removed(at, field, 'deleted', v, 'single-file OME-TIFF: the file name is not needed');
            delete attrs[k];
            changed = true;
          } else if (uncovered(field, 'an attribute no rule covers', v)) delete attrs[k];
        } else if (local === 'StageLabel' && k === 'Name') {
          f.removed(at, field, 'deleted', v);
          delete attrs[k];
          changed = true;
        } else if (local === 'AcquisitionDate') {
          if (uncovered(field, 'an attribute no rule covers', v)) delete attrs[k];
        } else {
          f.keptText.push(v);
        }
      }
      let children = walk(kids, here);
      if (local === 'Image') imageIndex++;
      if (local === 'AcquisitionDate') {
        const text = kids.map((c) => String(c['#text'] ?? '')).join('');
        const y = rules.ome.acquisitionDate === 'year-only' ? yearOnly(text) : null;
        if (y === null) {
          f.removed(at, here, 'deleted', text, rules.ome.acquisitionDate === 'delete' ? undefined : 'date in an unknown form');
          changed = true;
          continue;
        }
        if (y === text.trim()) f.field(at, here, 'kept', 'year only already');
        else {
          f.removed(at, here, 'rewritten', text, 'year kept');
          children = [{ '#text': y }];
          changed = true;
        }
      }
      if (local === 'UUID') {
        const text = kids.map((c) => String(c['#text'] ?? '')).join('').trim();
        if (text && !/^urn:uuid:[0-9a-f-]{36}$/i.test(text)) f.refuse(at, here, 'a UUID that is not urn:uuid:…');
      }
      out.push({ [name]: children, ...(Object.keys(attrs).length ? { ':@': attrs } : {}) });
    }
    return out;
  };
  const rewritten = walk(doc, '');
  if (fileNames.size > 1) {
    throw new WsiError('DEID_UNSUPPORTED_FORMAT', 'multi-file OME-TIFF (TiffData naming more than one file) is not supported by de-identification');
  }
  if (!changed) return xml;
  return serialize(rewritten);
}
