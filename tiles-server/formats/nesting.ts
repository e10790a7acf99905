/**
 * How deep a JSON or XML text nests, found by a byte scan before any parser
 * or recursive walker sees it. V8's JSON.parse copes with any depth, but
 * JSON.stringify, structured cloning and our own walkers recurse and run out
 * of stack around a few thousand levels; fast-xml-parser throws past its
 * own limit. Annotation files and request bodies need a handful of levels
 * (GeoJSON MultiPolygons are 7 deep inside a FeatureCollection), so anything
 * past MAX_NESTING is refused as the client's mistake, saying where.
 */

/** Deepest nesting accepted in any JSON or XML the server reads. */
export const MAX_NESTING = 100;

export interface TooDeep {
  /** 1-based line and column of the bracket or tag that went past the limit. */
  line: number;
  column: number;
  limit: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const NEWLINE = 0x0a;

/** The first place a JSON text nests deeper than `limit`, or null. Strings are skipped. */
export function jsonTooDeep(text: string | Uint8Array, limit = MAX_NESTING): TooDeep | null {
  // JSON's structure is ASCII, so UTF-16 code units and UTF-8 bytes scan alike
  const at: (i: number) => number = typeof text === 'string' ? (i) => text.charCodeAt(i) : (i) => text[i] as number;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < text.length; i++) {
    const b = at(i);
    if (inString) {
      if (escaped) escaped = false;
      else if (b === BACKSLASH) escaped = true;
      else if (b === QUOTE) inString = false;
      continue;
    }
    switch (b) {
      case QUOTE:
        inString = true;
        break;
      case NEWLINE:
        line++;
        lineStart = i + 1;
        break;
      case 0x7b: // {
      case 0x5b: // [
        if (++depth > limit) return { line, column: i - lineStart + 1, limit };
        break;
      case 0x7d: // }
      case 0x5d: // ]
        depth--;
        break;
    }
  }
  return null;
}

/**
 * The first place an XML text nests elements deeper than `limit`, or null.
 * Comments, CDATA, processing instructions and declarations are skipped;
 * quoted attribute values may hold '>'. Well-formedness is the validator's job.
 */
export function xmlTooDeep(text: string, limit = MAX_NESTING): TooDeep | null {
  let depth = 0;
  const n = text.length;
  const after = (from: number, end: string): number => {
    const at = text.indexOf(end, from);
    return at < 0 ? n : at + end.length;
  };
  let i = text.indexOf('<');
  while (i >= 0 && i < n) {
    if (text.startsWith('<!--', i)) i = after(i + 4, '-->');
    else if (text.startsWith('<![CDATA[', i)) i = after(i + 9, ']]>');
    else if (text.startsWith('<?', i)) i = after(i + 2, '?>');
    else if (text.startsWith('<!', i)) i = after(i + 2, '>');
    else if (text.charCodeAt(i + 1) === 0x2f /* / */) {
      depth--;
      i = after(i + 2, '>');
    } else {
      // an opening tag: find its end, stepping over quoted attribute values
      let j = i + 1;
      let quote = 0;
      for (; j < n; j++) {
        const d = text.charCodeAt(j);
        if (quote) {
          if (d === quote) quote = 0;
        } else if (d === 0x22 || d === 0x27) quote = d;
        else if (d === 0x3e /* > */) break;
      }
      if (text.charCodeAt(j - 1) !== 0x2f && ++depth > limit) {
        const lines = text.slice(0, i).split('\n');
        return { line: lines.length, column: (lines[lines.length - 1] as string).length + 1, limit };
      }
      i = j + 1;
    }
    i = text.indexOf('<', i);
  }
  return null;
}
