/**
 * One text for one value, so that a hash of it can be reproduced: object
 * keys sorted by UTF-16 code units, no white space, numbers as JavaScript
 * writes them (the shortest text that reads back as the same double), and
 * no value JSON cannot hold (undefined, functions, NaN and infinities are
 * refused rather than silently dropped or turned into null). Arrays keep
 * their order: whoever builds a value decides its order, and must make it
 * stable. The regulatory report (issue 15) is hashed in this form.
 */

export function canonicalJson(value: unknown): string {
  return write(value, '$');
}

function write(v: unknown, path: string): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(v)) throw new TypeError(`${path}: ${String(v)} has no JSON form`);
      // -0 and 0 are one value in JSON
      return JSON.stringify(v === 0 ? 0 : v);
    case 'object': {
      if (Array.isArray(v)) return `[${v.map((x, i) => write(x, `${path}[${i}]`)).join(',')}]`;
      const proto = Object.getPrototypeOf(v) as unknown;
      if (proto !== Object.prototype && proto !== null) throw new TypeError(`${path}: only plain objects are written`);
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o).sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${write(o[k], `${path}.${k}`)}`).join(',')}}`;
    }
    default:
      throw new TypeError(`${path}: a ${typeof v} has no JSON form`);
  }
}
