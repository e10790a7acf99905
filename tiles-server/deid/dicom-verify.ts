/**
 * The structural half of verifying a de-identified DICOM copy (the byte
 * scan is verify.ts's, shared with TIFF): the preamble must be zeros, the
 * whole file must parse as elements with nothing left over (so no byte lies
 * outside an element: the DICOM form of "no unreferenced bytes"), no private
 * tag the rules do not keep may remain, and Patient Identity Removed must
 * say YES. Each problem is named without its value.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { WsiError } from '../../src/core/errors.js';
import { FileByteSource } from '../tiff/byte-source.js';
import { parseDicomFile, stringAt, tagKey, tagText, type DElem } from './dicom-data.js';
import type { DicomRules } from './dicom-rules.js';

function privateTags(elems: DElem[], rules: DicomRules | null, out: string[]): void {
  for (const e of elems) {
    if ((e.tag >>> 16) % 2 === 1 && !rules?.attributes[tagKey(e.tag)]) out.push(tagText(e.tag));
    for (const item of e.items ?? []) privateTags(item, rules, out);
  }
}

/** Problems with one de-identified DICOM file; empty when it holds up. */
export async function dicomFileProblems(path: string, rules: DicomRules | null): Promise<string[]> {
  const src = await FileByteSource.open(path);
  try {
    const problems: string[] = [];
    const head = await src.read(0, Math.min(128, src.size));
    const firstNonZero = head.findIndex((b) => b !== 0);
    if (firstNonZero >= 0) problems.push(`non-zero preamble byte at ${firstNonZero}`);
    let parsed;
    try {
      parsed = await parseDicomFile(src);
    } catch (err) {
      problems.push(`does not parse as DICOM (${err instanceof WsiError ? err.code : 'error'})`);
      return problems;
    }
    if (!parsed.pixel) problems.push('no Pixel Data');
    const found: string[] = [];
    privateTags([...parsed.body, ...parsed.trailing], rules, found);
    if (found.length) problems.push(`private tags no rule keeps: ${[...new Set(found)].slice(0, 5).join(', ')}`);
    if (stringAt(parsed.body, 0x00120062) !== 'YES') problems.push('Patient Identity Removed (0012,0062) is not YES');
    return problems;
  } finally {
    await src.close();
  }
}

/** The files of a DICOM output: the file itself, or a folder's files in name order. */
export async function dicomOutputFiles(path: string): Promise<string[]> {
  if (!(await stat(path)).isDirectory()) return [path];
  return (await readdir(path)).filter((n) => !n.startsWith('.')).sort().map((n) => join(path, n));
}
