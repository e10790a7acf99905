/**
 * DICOM WSI (VL Whole Slide Microscopy Image Storage) as a slide format.
 * Files are recognised by a .dcm extension, or by the DICM prefix at byte
 * 128 when they have no extension (PACS exports name files by UID). The
 * instances of one series in one folder are one slide; several series in a
 * folder are several slides; a file whose header does not parse is listed
 * alone with its code, so a damaged instance never hides the rest. Header
 * summaries are kept per (path, size, mtime): a rescan reads only files
 * that changed.
 */
import { posix } from 'node:path';
import { LRUCache } from 'lru-cache';
import { WsiError, type Problem } from '../../src/core/errors.js';
import { FileByteSource, type ByteSource } from '../tiff/byte-source.js';
import { DICOMDIR_SOP_CLASS, readDicomHeader, WSI_SOP_CLASS, type DicomInstance } from './dicom-header.js';
import { DicomSlide, type SeriesInstance } from './dicom-slide.js';
import type { OpenContext, ScannedFile, SlideFormat, SlideGroup } from './format.js';

const EXTENSIONS = new Set(['.dcm', '.dicom']);

/** What a scan needs to know of one file. */
type Summary = { ok: true; sopClassUid: string; seriesUid: string } | { ok: false; problem: Problem };

const summaries = new LRUCache<string, { key: string; summary: Promise<Summary> }>({ max: 200_000 });

/** How many headers were parsed (not taken from the cache), for tests. */
export const dicomScanStats = { headersRead: 0 };

function problemOf(err: unknown): Problem {
  return err instanceof WsiError ? err.toProblem() : { code: 'DICOM_INVALID', message: `the DICOM header does not parse: ${(err as Error).message}` };
}

async function withHeader<T>(src: ByteSource, positions: boolean, use: (src: ByteSource, inst: DicomInstance) => Promise<T>): Promise<T> {
  let keep = false;
  try {
    const inst = await readDicomHeader(src, { positions });
    const out = await use(src, inst);
    keep = true;
    return out;
  } finally {
    if (!keep) await src.close();
  }
}

function summarize(file: ScannedFile): Promise<Summary> {
  const key = `${file.size}:${file.mtimeMs}`;
  const hit = summaries.get(file.path);
  if (hit && hit.key === key) return hit.summary;
  dicomScanStats.headersRead++;
  // the scanner only offers files it found inside the slide folder; opening for reading is the registry's (ctx.openFile)
  const summary = FileByteSource.open(file.path)
    .then((src) =>
      withHeader(src, false, async (s, inst) => {
        await s.close();
        return { ok: true as const, sopClassUid: inst.sopClassUid, seriesUid: inst.seriesUid };
      }).catch((err: unknown) => ({ ok: false as const, problem: problemOf(err) })),
    )
    .catch((err: unknown) => {
      // a file that cannot be opened now (gone, no permission) is asked again at the next scan
      summaries.delete(file.path);
      return { ok: false as const, problem: { code: 'STORAGE_UNAVAILABLE' as const, message: `the file cannot be opened (${(err as NodeJS.ErrnoException).code ?? 'error'})` } };
    });
  summaries.set(file.path, { key, summary });
  return summary;
}

/** Groups one folder's DICOM files into slides: one per series, one per file that does not parse. */
async function group(files: ScannedFile[]): Promise<SlideGroup[]> {
  const dir = posix.dirname(files[0]?.rel ?? '.');
  const prefix = dir === '.' ? '' : `${dir}/`;
  const series = new Map<string, ScannedFile[]>();
  const alone: SlideGroup[] = [];
  for (const file of files) {
    const s = await summarize(file);
    if (s.ok && s.sopClassUid === DICOMDIR_SOP_CLASS) continue;
    if (!s.ok || !s.seriesUid) {
      alone.push({ name: file.rel, files: [file] });
      continue;
    }
    series.set(s.seriesUid, [...(series.get(s.seriesUid) ?? []), file]);
  }
  const groups: SlideGroup[] = [...alone];
  const taken = new Set(alone.map((g) => g.name));
  // a series in one file is named by the file; the only multi-file series of a folder by the folder
  const multiFile = [...series.values()].filter((m) => m.length > 1).length;
  for (const [uid, members] of series) {
    let name = members.length === 1 ? (members[0] as ScannedFile).rel : multiFile === 1 && prefix ? prefix : `${prefix}series-${uid}`;
    for (let k = 2; taken.has(name); k++) name = `${prefix}series-${uid}#${k}`;
    taken.add(name);
    groups.push({ name, files: members });
  }
  return groups;
}

const SOP_CLASS_NAMES: Record<string, string> = {
  '1.2.840.10008.5.1.4.1.1.66.4': 'Segmentation',
  '1.2.840.10008.5.1.4.1.1.91.1': 'Microscopy Bulk Simple Annotations',
  '1.2.840.10008.5.1.4.1.1.77.1.2': 'VL Microscopic Image',
  '1.2.840.10008.5.1.4.1.1.77.1.3': 'VL Slide-Coordinates Microscopic Image',
  '1.2.840.10008.5.1.4.1.1.2': 'CT Image',
  '1.2.840.10008.5.1.4.1.1.4': 'MR Image',
  '1.2.840.10008.5.1.4.1.1.7': 'Secondary Capture Image',
};

async function openSeries(paths: string[], ctx: OpenContext): Promise<DicomSlide> {
  const series: SeriesInstance[] = [];
  const others: DicomInstance[] = [];
  try {
    for (const path of paths) {
      await withHeader(await ctx.openFile(path), true, async (src, header) => {
        if (header.sopClassUid === WSI_SOP_CLASS) series.push({ src, header });
        else {
          others.push(header);
          await src.close();
        }
      });
    }
    if (series.length === 0) {
      const sop = others[0]?.sopClassUid ?? '';
      throw new WsiError('DICOM_NOT_WSI', `the file is a DICOM ${SOP_CLASS_NAMES[sop] ?? `object of SOP class ${sop || '(none)'}`}, not a VL Whole Slide Microscopy image`, { sopClassUid: sop });
    }
    const warnings = others.length > 0 ? [`${others.length} instances of the series are not whole-slide images and were ignored`] : [];
    return await DicomSlide.open(series, ctx.pool, warnings);
  } catch (err) {
    await Promise.all(series.map((s) => s.src.close()));
    throw err;
  }
}

export const dicomFormat: SlideFormat = {
  name: 'DICOM WSI',
  async supports(file) {
    if (EXTENSIONS.has(file.ext)) return true;
    // no extension, or one that is only digits (a UID cut at its last dot)
    if (file.ext !== '' && !/^\.\d+$/.test(file.ext)) return false;
    const head = await file.head();
    return head.length >= 132 && head.toString('latin1', 128, 132) === 'DICM';
  },
  group,
  open: (entry, ctx) => openSeries(entry.files, ctx),
};
