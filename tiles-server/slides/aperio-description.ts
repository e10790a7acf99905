/**
 * Parses an Aperio ImageDescription: a header line, then `key = value` pairs
 * separated by `|`. Malformed pairs are skipped with a warning (READ-17);
 * numbers accept a decimal comma.
 */
export interface AperioDescription {
  properties: Map<string, string>;
  mpp: number | null;
  appMag: number | null;
  warnings: string[];
}

export function isAperioDescription(desc: string | null): boolean {
  return desc !== null && desc.startsWith('Aperio');
}

function parseNumber(value: string | undefined): number | null {
  if (value === undefined) return null;
  const v = Number(value.trim().replace(',', '.'));
  return Number.isFinite(v) && v > 0 ? v : null;
}

export function parseAperioDescription(desc: string): AperioDescription {
  const warnings: string[] = [];
  const properties = new Map<string, string>();
  const parts = desc.split('|');
  for (const part of parts.slice(1)) {
    const eq = part.indexOf('=');
    if (eq < 0) {
      warnings.push(`Aperio property without '=' skipped (${part.length} chars)`);
      continue;
    }
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (!key) {
      warnings.push('Aperio property with an empty name skipped');
      continue;
    }
    if (!value) {
      warnings.push(`Aperio property ${key} has no value`);
      continue;
    }
    properties.set(key, value);
  }
  const mppRaw = properties.get('MPP');
  const mpp = parseNumber(mppRaw);
  if (mppRaw !== undefined && mpp === null) warnings.push('Aperio MPP value is not a positive number; MPP unknown');
  const magRaw = properties.get('AppMag');
  const appMag = parseNumber(magRaw);
  if (magRaw !== undefined && appMag === null) warnings.push('Aperio AppMag value is not a positive number');
  return { properties, mpp, appMag, warnings };
}
