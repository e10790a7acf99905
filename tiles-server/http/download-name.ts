/**
 * The names exports are downloaded under: a name a person recognises, with
 * what it holds and the day it was made — "<slide>_<what>_<YYYY-MM-DD>.<ext>".
 * <slide> is the slide's display name (its file name without the extension)
 * only where the caller sees file names; in blind projects it is always the
 * study code, since a file name can carry a case or accession number (PHI)
 * and would unblind the reader. Names are plain ASCII (letters, digits,
 * `.`, `_`, `-`), so they need no quoting rules and show the same everywhere.
 */

export interface NamingScope {
  seesFileNames: boolean;
  studyCode: string;
}

/** A file name's stem: the last path part without its extension. */
function stem(fileName: string): string {
  const last = fileName.replace(/[\\/]+$/, '').split(/[\\/]/).pop() ?? '';
  const dot = last.lastIndexOf('.');
  return dot > 0 ? last.slice(0, dot) : last;
}

/** ASCII letters, digits, `.`, `_`, `-` only; accents dropped; at most 80 characters. */
export function safeFilePart(s: string): string {
  return s
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .replace(/^[._-]+|[._-]+$/g, '')
    .slice(0, 80);
}

export function downloadName(scope: NamingScope, fileName: string | undefined, what: string, ext: string, at = new Date()): string {
  const base = safeFilePart(scope.seesFileNames && fileName ? stem(fileName) : scope.studyCode) || 'slide';
  return `${base}_${safeFilePart(what) || 'export'}_${at.toISOString().slice(0, 10)}.${ext}`;
}

/** The Content-Disposition of a download under that name. */
export function attachment(name: string): string {
  return `attachment; filename="${name}"`;
}
