/**
 * De-identifies a DICOM WSI slide: one .dcm file, or a folder holding one
 * series (one file per level, and label, overview and thumbnail instances)
 * as one slide. Every instance is parsed whole (dicom-data.ts), its
 * attributes judged by the rules (dicom-apply.ts; anything uncovered stops
 * the slide), LABEL and OVERVIEW instances dropped (or the label replaced
 * by one bearing the study code, dicom-label.ts), and each kept instance
 * written anew — new file meta, the rewritten data set, and Pixel Data
 * copied bit for bit — into a temporary file or folder that is verified
 * (byte scan, structure) before it is renamed into place. Called by
 * deidentifyFile, which owns the report.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { WsiError } from '../../src/core/errors.js';
import { WSI_SOP_CLASS } from '../slides/dicom-header.js';
import { FileByteSource } from '../tiff/byte-source.js';
import { DicomRulesRun } from './dicom-apply.js';
import { elem, parseDicomFile, PIXEL_DATA, SEQUENCE_END, serializeElements, serializeMeta, stringAt, tagText, textOf, type DElem, type ParsedDicom } from './dicom-data.js';
import { blankLabelInstance, EXPLICIT_VR_LITTLE_ENDIAN } from './dicom-label.js';
import { dicomFileProblems, dicomOutputFiles } from './dicom-verify.js';
import { textSegmentIn } from './jpeg-segments.js';
import { checkFreeSpace, commitOutput, fileSink, partialPathFor, pathError, sha256Of, type OutputSink } from './output-file.js';
import type { DeidReport } from './report.js';
import { Findings } from './report.js';
import { DEFAULT_RULES } from './rules.js';
import { scanForNeedles, type Needle } from './verify.js';
import type { DeidOptions } from './deidentify.js';

const EXTENSIONS = new Set(['.dcm', '.dicom']);
/** Our implementation's UID (file meta), a 2.25 UUID-derived UID fixed for this tool. */
const IMPLEMENTATION_UID = '2.25.331399729926896638576147133002291983524';
const IMPLEMENTATION_VERSION = 'WSIA_DEID_1';
/** A folder with more instances than this is refused before any is opened. */
const MAX_INSTANCES = 10_000;
const JPEG_SYNTAXES = new Set(['1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.4.51', '1.2.840.10008.1.2.4.57', '1.2.840.10008.1.2.4.70']);
const COPY_CHUNK = 8 * 1024 * 1024;
/** The meta elements a copy carries (all rewritten); any other is dropped and reported. */
const META_WRITTEN = new Set([0x00020000, 0x00020001, 0x00020002, 0x00020003, 0x00020010, 0x00020012]);

async function isDicomFile(path: string): Promise<boolean> {
  if (EXTENSIONS.has(extname(path).toLowerCase())) return true;
  const fh = await open(path, 'r').catch(() => null);
  if (!fh) return false;
  try {
    const head = Buffer.alloc(132);
    const { bytesRead } = await fh.read(head, 0, 132, 0);
    return bytesRead === 132 && head.toString('latin1', 128, 132) === 'DICM';
  } finally {
    await fh.close();
  }
}

async function folderFiles(dir: string): Promise<string[]> {
  const names = (await readdir(dir)).filter((n) => !n.startsWith('.')).sort();
  const files: string[] = [];
  for (const n of names) {
    const st = await stat(join(dir, n));
    if (st.isDirectory()) throw new WsiError('DEID_UNSUPPORTED_FORMAT', 'the DICOM folder holds sub-folders; de-identify one slide (one series) per folder');
    if (st.isFile()) files.push(join(dir, n));
  }
  return files;
}

/** Whether the input is DICOM: a .dcm/.dicom file, a file with the DICM prefix, or a folder holding one. */
export async function isDicomInput(input: string): Promise<boolean> {
  const st = await stat(input).catch(() => null);
  if (!st) return false;
  if (!st.isDirectory()) return isDicomFile(input);
  for (const n of (await readdir(input)).filter((x) => !x.startsWith('.'))) {
    const path = join(input, n);
    if ((await stat(path)).isFile() && (await isDicomFile(path))) return true;
  }
  return false;
}

interface Instance {
  src: FileByteSource;
  parsed: ParsedDicom;
  flavor: string;
  where: string;
}

interface Planned {
  inst: Instance;
  meta: DElem[];
  body: DElem[];
  frames: number;
  /** A replaced label's one native frame (written in explicit VR little endian); null: Pixel Data copied. */
  pixels: Buffer | null;
}

/** Checks the text segments of each JPEG frame (copied bit for bit, so a comment in one refuses the slide). */
async function checkJpegFrames(inst: Instance): Promise<void> {
  const px = inst.parsed.pixel;
  if (!px?.encapsulated || !JPEG_SYNTAXES.has(inst.parsed.transferSyntax)) return;
  const { src } = inst;
  let winStart = 0;
  let win: Buffer = Buffer.alloc(0);
  const read = async (at: number, n: number): Promise<Buffer> => {
    if (at < winStart || at + n > winStart + win.length) {
      winStart = at;
      win = await src.read(at, Math.min(Math.max(n, COPY_CHUNK), src.size - at));
    }
    return win.subarray(at - winStart, at - winStart + n);
  };
  const end = px.offset + px.length;
  for (let pos = px.offset, item = 0; pos + 8 <= end; item++) {
    const h = await read(pos, 8);
    const tag = ((h.readUInt16LE(0) << 16) | h.readUInt16LE(2)) >>> 0;
    const len = h.readUInt32LE(4);
    if (tag === SEQUENCE_END) break;
    if (item > 0 && len > 0) {
      const seg = textSegmentIn(await read(pos + 8, Math.min(len, 65536)));
      if (seg) throw new WsiError('DEID_UNCOVERED_FIELD', `${inst.where}: Pixel Data item ${item} holds a JPEG ${seg} segment; frames are copied bit for bit, so the slide is refused`, { uncovered: [`${inst.where}: JPEG ${seg} segment in item ${item}`] });
    }
    pos += 8 + len;
  }
}

async function writeInstance(p: Planned, sink: OutputSink): Promise<number> {
  const { src, parsed } = p.inst;
  const px = parsed.pixel as NonNullable<ParsedDicom['pixel']>;
  const before = p.body.filter((e) => e.tag < PIXEL_DATA);
  const after = p.body.filter((e) => e.tag > PIXEL_DATA);
  const head = Buffer.concat([serializeMeta(p.meta), ...serializeElements(p.pixels ? [...before, elem(PIXEL_DATA, 'OB', p.pixels)] : [...before]), p.pixels ? Buffer.alloc(0) : px.header]);
  await sink.write(head, 0);
  let pos = head.length;
  for (let at = px.offset; !p.pixels && at < px.offset + px.length; ) {
    const n = Math.min(COPY_CHUNK, px.offset + px.length - at);
    await sink.write(await src.read(at, n), pos);
    pos += n;
    at += n;
  }
  if (after.length) {
    const tail = Buffer.concat(serializeElements(after));
    await sink.write(tail, pos);
    pos += tail.length;
  }
  return pos;
}

/** One file's SHA-256; a folder's: the SHA-256 of its files' names and hashes. */
async function sha256OfFiles(files: string[]): Promise<string> {
  if (files.length === 1) return sha256Of(files[0] as string);
  const all = createHash('sha256');
  for (const f of files) all.update(`${basename(f)}\0${await sha256Of(f)}\n`);
  return all.digest('hex');
}

export interface DicomRunResult {
  findings: Findings | null;
  blocksCopied: number;
}

/**
 * De-identifies a DICOM input into `output` (a file for a file, a folder
 * for a folder); fills the report's format, input size, output and
 * verification; throws a WsiError for a refused or failed slide (the caller
 * records it), after removing any partial output.
 */
export async function deidentifyDicom(
  input: string,
  output: string,
  opts: DeidOptions & { sentinels?: string[] },
  report: DeidReport,
  result: DicomRunResult,
  needlesOf: (f: Findings, extra: string[]) => { needles: Needle[]; skippedShort: number; skippedKept: number },
): Promise<void> {
  const rules = opts.rules ?? DEFAULT_RULES;
  report.format = 'dicom';
  if (!rules.dicom) throw new WsiError('DEID_UNSUPPORTED_FORMAT', 'the rule file has no "dicom" section, so DICOM slides are refused');
  const folder = (await stat(input)).isDirectory();
  const files = folder ? await folderFiles(input) : [input];
  if (files.length > MAX_INSTANCES) throw new WsiError('DEID_UNSUPPORTED_FORMAT', `the folder holds ${files.length} files; more than ${MAX_INSTANCES} are refused`);
  const notDicom = (await Promise.all(files.map(isDicomFile))).filter((x) => !x).length;
  if (notDicom) throw new WsiError('DEID_UNSUPPORTED_FORMAT', `${notDicom} of the folder's ${files.length} files are not DICOM (no .dcm extension, no DICM prefix); the folder must hold one slide's instances only`);
  let bytes = 0;
  for (const f of files) bytes += (await stat(f)).size;
  report.input.bytes = bytes;
  if (!opts.overwrite && (await stat(output).then(() => true, () => false))) throw new WsiError('DEID_OUTPUT_EXISTS', 'the output exists already');

  const f = new Findings();
  result.findings = f;
  const dicom = rules.dicom;
  const profile = opts.strict ? 'strict' : 'default';
  const run = new DicomRulesRun(f, dicom, opts.strict ?? false, opts.studyCode, rules.verify.minValueLength);
  const scratch = new DicomRulesRun(f, dicom, opts.strict ?? false, opts.studyCode, rules.verify.minValueLength, true);
  const instances: Instance[] = [];
  let partial: string | null = null;
  try {
    for (const [i, path] of files.entries()) {
      const src = await FileByteSource.open(path).catch((err: unknown) => {
        throw pathError(err, 'input');
      });
      try {
        const parsed = await parseDicomFile(src);
        const sop = stringAt(parsed.body, 0x00080016) || stringAt(parsed.meta, 0x00020002);
        const where = `instance ${i + 1}`;
        if (sop !== WSI_SOP_CLASS) {
          throw new WsiError('DICOM_NOT_WSI', `${where} is a DICOM object of SOP class ${sop || '(none)'}, not a VL Whole Slide Microscopy image`, { sopClassUid: sop });
        }
        const flavor = (stringAt(parsed.body, 0x00080008).split('\\')[2] ?? '').trim().toUpperCase();
        instances.push({ src, parsed, flavor, where: `${where} (${flavor || 'no image type'})` });
      } catch (err) {
        await src.close();
        throw err;
      }
    }
    const series = new Set(instances.map((x) => stringAt(x.parsed.body, 0x0020000e)));
    if (series.size > 1) throw new WsiError('DEID_UNSUPPORTED_FORMAT', `the folder holds ${series.size} series; de-identify one slide (one series) per folder`);
    run.ownCopy = instances.every((x) => DicomRulesRun.isOwnCopy(x.parsed.body));

    const planned: Planned[] = [];
    const seen = { label: false, macro: false };
    for (const inst of instances) {
      const { parsed, where, flavor } = inst;
      if (flavor === 'LABEL' && dicom.label === 'replace') {
        const blank = blankLabelInstance(run.apply([...parsed.body, ...parsed.trailing], where, true), opts.studyCode);
        seen.label = true;
        const own = parsed.transferSyntax === EXPLICIT_VR_LITTLE_ENDIAN && parsed.pixel?.length === blank.pixels.length && (await inst.src.read(parsed.pixel.offset, parsed.pixel.length)).equals(blank.pixels);
        f.image(where, 'label', own ? 'kept' : 'replaced', own ? 'already the study-code label' : 'blank image bearing the study code');
        planned.push({ inst, meta: [], body: blank.body, frames: 0, pixels: blank.pixels });
        continue;
      }
      if (flavor === 'LABEL' || flavor === 'OVERVIEW') {
        const kind = flavor === 'LABEL' ? 'label' : 'macro';
        seen[kind] = true;
        const note = flavor === 'OVERVIEW' && stringAt(parsed.body, 0x00480010) === 'YES' ? 'the overview shows the slide label' : undefined;
        f.image(where, kind, 'removed', note);
        // nothing of it is written; what its rules would remove is still looked for in the output
        scratch.apply([...parsed.body, ...parsed.trailing], where, true);
        continue;
      }
      if (flavor === 'THUMBNAIL') f.image(where, 'thumbnail', 'kept', 'frames copied bit for bit');
      else if (flavor !== 'VOLUME') {
        throw new WsiError('DEID_AMBIGUOUS_ASSOCIATED_IMAGE', `${where}: an instance of image type ${flavor || '(none)'} is neither a pyramid level nor a label, overview or thumbnail; the slide stays quarantined`);
      }
      if (!parsed.pixel) throw new WsiError('DICOM_MISSING_ATTRIBUTE', `${where} has no Pixel Data (7FE0,0010)`, { attribute: 'PixelData' });
      for (const m of parsed.meta) {
        if (META_WRITTEN.has(m.tag) || (m.tag === 0x00020013 && textOf(m) === IMPLEMENTATION_VERSION)) continue;
        f.field(`${where} file meta`, `${tagText(m.tag)}`, 'deleted', 'not written by this tool');
        for (const v of run.texts(m)) if (!f.removedValues.has(v)) f.removedValues.set(v, `${where} file meta ${tagText(m.tag)}`);
      }
      const body = run.apply([...parsed.body, ...parsed.trailing], where, true);
      const frames = Number(stringAt(parsed.body, 0x00280008) || '1');
      planned.push({ inst, meta: [], body, frames: Number.isSafeInteger(frames) && frames > 0 ? frames : 1, pixels: null });
    }
    if (!seen.label) f.image('slide', 'label', 'not present');
    if (!seen.macro) f.image('slide', 'macro', 'not present');
    f.throwIfUncovered();
    if (!planned.some((p) => p.inst.flavor === 'VOLUME')) throw new WsiError('NO_PYRAMID_LEVELS', 'nothing of the slide would remain: it has no VOLUME instance');
    // what every copy's file meta says is not PHI, whatever a deleted element also held
    f.keptText.push(WSI_SOP_CLASS, IMPLEMENTATION_UID, IMPLEMENTATION_VERSION, ...new Set(planned.map((p) => p.inst.parsed.transferSyntax)));
    for (const p of planned) {
      if (!p.pixels) await checkJpegFrames(p.inst);
      p.body.push(...run.toolElements(p.inst.parsed.body, rules.version, profile, p.inst.where));
      const sopInstance = stringAt(p.body, 0x00080018);
      if (!sopInstance) throw new WsiError('DICOM_MISSING_ATTRIBUTE', `${p.inst.where} has no SOPInstanceUID (0008,0018)`, { attribute: 'SOPInstanceUID' });
      p.meta = [
        elem(0x00020001, 'OB', Buffer.from([0, 1])),
        elem(0x00020002, 'UI', WSI_SOP_CLASS),
        elem(0x00020003, 'UI', sopInstance),
        elem(0x00020010, 'UI', p.pixels ? EXPLICIT_VR_LITTLE_ENDIAN : p.inst.parsed.transferSyntax),
        elem(0x00020012, 'UI', IMPLEMENTATION_UID),
        elem(0x00020013, 'SH', IMPLEMENTATION_VERSION),
      ];
    }

    // write: a hidden temporary file (or folder) beside the output
    await checkFreeSpace(dirname(output), bytes);
    partial = partialPathFor(output);
    if (folder) await mkdir(partial, { mode: 0o700 });
    const written: string[] = [];
    let total = 0;
    for (const [i, p] of planned.entries()) {
      const path = folder ? join(partial, `${opts.studyCode}-${String(i + 1).padStart(3, '0')}.dcm`) : partial;
      const sink = await (opts.openSink ?? fileSink)(path).catch((err: unknown) => {
        throw pathError(err, 'output');
      });
      try {
        total += await writeInstance(p, sink);
        await sink.sync();
      } finally {
        await sink.close().catch(() => undefined);
      }
      written.push(path);
      result.blocksCopied += p.frames;
    }

    // verification: the byte scan of every file, and each file's structure
    const { needles, skippedShort, skippedKept } = needlesOf(f, opts.sentinels ?? []);
    const hits: string[] = [];
    let scanned = 0;
    for (const path of written) {
      const label = folder ? `${basename(path)}: ` : '';
      const scan = await scanForNeedles(path, needles);
      scanned += scan.bytesScanned;
      hits.push(...scan.hits.map((h) => `${label}${h}`), ...(await dicomFileProblems(path, dicom)).map((h) => `${label}${h}`));
    }
    report.verification = { bytesScanned: scanned, needles: needles.length, skippedShort, skippedKept, hits, result: hits.length ? 'fail' : 'pass' };
    if (hits.length) throw new WsiError('DEID_VERIFY_FAILED', `verification found ${hits.length} problem(s) in the de-identified copy: ${hits.slice(0, 3).join('; ')}`);
    if (opts.overwrite) await rm(output, { recursive: true, force: true });
    await commitOutput(partial, output);
    partial = null;
    report.output = { bytes: total, sha256: await sha256OfFiles(await dicomOutputFiles(output)) };
  } finally {
    if (partial) await rm(partial, { recursive: true, force: true }).catch(() => undefined);
    await Promise.all(instances.map((x) => x.src.close().catch(() => undefined)));
  }
}

/** Problems of a DICOM output (file or folder) for `npm run deid -- --verify`: the structure checks of every file. */
export async function dicomOutputProblems(path: string): Promise<string[]> {
  const out: string[] = [];
  const files = await dicomOutputFiles(path);
  for (const f of files) for (const p of await dicomFileProblems(f, DEFAULT_RULES.dicom)) out.push(files.length > 1 ? `${basename(f)}: ${p}` : p);
  return out;
}
