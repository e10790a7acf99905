/**
 * De-identifies one slide file into a new file (rewrite, don't patch): the
 * input is walked, every IFD's tags are planned against the rules (anything
 * not covered stops the file), label and macro images are removed, replaced
 * or blanked, and a new TIFF is written holding only referenced bytes, with
 * the pyramid's blocks copied bit for bit. The copy is verified (byte scan,
 * no unreferenced bytes) before it is renamed into place. Used by the CLI
 * and by the server's inbox jobs; both get the same report. DICOM slides
 * (a .dcm file, or a folder of one series) go to dicom-deid.ts.
 */
import { rm, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import sharp from 'sharp';
import { WsiError } from '../../src/core/errors.js';
import { isAperioDescription } from '../slides/aperio-description.js';
import { FileByteSource } from '../tiff/byte-source.js';
import type { TiffIfd } from '../tiff/structure.js';
import { Compression, FieldType, Tag } from '../tiff/tags.js';
import { decodeTiffText } from '../tiff/text.js';
import { TiffFile, type TiffImage } from '../tiff/tiff-file.js';
import { APERIO_VENDOR_LINE, rewriteAperioDescription } from './aperio-rewrite.js';
import { classify, layoutFor, sniff, unsupported, type Role } from './classify.js';
import { checkStudyCode, lzwStrips, renderLabel } from './blank-label.js';
import { deidentifyDicom, isDicomInput, type DicomRunResult } from './dicom-deid.js';
import { stripTextSegments, textSegmentIn } from './jpeg-segments.js';
import { rewriteOmeXml } from './ome-rewrite.js';
import { checkFreeSpace, commitOutput, fileSink, partialPathFor, pathError, sha256Of, sweepPartials, writeError, type OpenSink, type OutputSink } from './output-file.js';
import { Findings, type DeidReport, type ImageAction } from './report.js';
import { DEFAULT_RULES, yearOnly, type DeidRules } from './rules.js';
import { IfdLayout, type OutEntry } from '../tiff/ifd-layout.js';
import { scanForNeedles, unreferencedRanges, type Needle } from './verify.js';

export interface DeidOptions {
  studyCode: string;
  rules?: DeidRules;
  strict?: boolean;
  /** Replace an existing output (the CLI's --force); otherwise DEID_OUTPUT_EXISTS. */
  overwrite?: boolean;
  /** Where bytes go (tests inject a failing sink). */
  openSink?: OpenSink;
}

interface NewPixels {
  width: number;
  height: number;
  rowsPerStrip: number;
  strips: Buffer[];
  description: string;
  newSubfileType: number;
}

interface ImagePlan {
  image: TiffImage;
  role: Role;
  /** copy: blocks bit for bit; pixels: new strips (replaced label, blanked macro). */
  pixels: NewPixels | null;
  entries: OutEntry[];
  subs: ImagePlan[];
}

const TEXT_TYPES = new Set<number>([FieldType.ASCII, FieldType.BYTE, FieldType.UNDEFINED]);
const OFFSET_TAGS = new Set<number>([Tag.StripOffsets, Tag.StripByteCounts, Tag.TileOffsets, Tag.TileByteCounts, Tag.SubIFDs]);

function textOf(bytes: Buffer): string {
  return decodeTiffText(bytes);
}

const WRITE_RUN = 8 * 1024 * 1024;
const READ_WINDOW = 8 * 1024 * 1024;

/** Reads blocks through a window of READ_WINDOW bytes: a pyramid's blocks mostly lie one after another. */
class WindowReader {
  private start = 0;
  private buf: Buffer = Buffer.alloc(0);

  constructor(private readonly src: FileByteSource | TiffFile['src']) {}

  async read(offset: number, length: number): Promise<Buffer> {
    if (offset >= this.start && offset + length <= this.start + this.buf.length) {
      // a copy: the window is replaced while earlier blocks may still wait in the write run
      return Buffer.from(this.buf.subarray(offset - this.start, offset - this.start + length));
    }
    if (length >= READ_WINDOW) return this.src.read(offset, length);
    const size = Math.min(Math.max(length, READ_WINDOW), this.src.size - offset);
    this.buf = await this.src.read(offset, size);
    this.start = offset;
    return Buffer.from(this.buf.subarray(0, length));
  }
}

class Run {
  readonly f = new Findings();
  readonly w: IfdLayout;
  readonly rules: DeidRules;
  readonly strict: boolean;
  aperioHeader = 'Aperio Image Library';
  blocksCopied = 0;

  constructor(
    readonly file: TiffFile,
    readonly inPath: string,
    readonly opts: DeidOptions,
  ) {
    this.w = new IfdLayout(file.structure.bigTiff, file.structure.littleEndian);
    this.rules = opts.rules ?? DEFAULT_RULES;
    this.strict = opts.strict ?? false;
  }

  /** The entries an IFD keeps (offset tables excepted: the writer makes those). */
  async planEntries(img: TiffImage, vendor: string): Promise<OutEntry[]> {
    const { ifd } = img;
    const out: OutEntry[] = [];
    const where = ifd.path;
    const src = this.file.src;
    for (const e of [...ifd.entries.values()].sort((a, b) => a.tag - b.tag)) {
      if (OFFSET_TAGS.has(e.tag)) continue;
      const rule = this.rules.tiff.tags[String(e.tag)];
      const raw = await src.read(e.valueOffset, e.bytes);
      const text = TEXT_TYPES.has(e.type) ? textOf(raw) : null;
      const field = rule ? `tag ${e.tag} ${rule.name}` : `tag ${e.tag}${e.tag >= 32768 ? ' (private)' : ''}`;
      const copy = (): void => {
        out.push({ tag: e.tag, type: e.type, count: e.count, bytes: Buffer.from(raw) });
      };
      if (!rule) {
        if (this.strict || this.rules.tiff.unlistedTags === 'delete') this.f.removed(where, field, 'deleted', text, 'no rule lists this tag');
        else this.f.refuse(where, field, 'no rule');
        continue;
      }
      const action = this.strict && !rule.structural && (rule.action === 'keep' || rule.action === 'refuse') ? 'delete' : rule.action;
      switch (action) {
        case 'keep':
          if (e.type === FieldType.IFD || e.type === FieldType.IFD8) {
            this.f.refuse(where, field, 'a pointer to a sub-IFD cannot be kept');
            break;
          }
          this.f.field(where, field, 'kept');
          if (text !== null) this.f.keptText.push(text);
          copy();
          break;
        case 'delete':
          this.f.removed(where, field, 'deleted', text ?? null);
          break;
        case 'refuse':
          this.f.refuse(where, field, rule.why ?? 'the rules refuse this tag');
          break;
        case 'year-only': {
          const y = text === null ? null : yearOnly(text);
          if (y === null) this.f.removed(where, field, 'deleted', text, 'not a recognisable date');
          else if (y === text) {
            this.f.field(where, field, 'kept', 'year only already');
            copy();
          } else {
            this.f.removed(where, field, 'rewritten', text, 'year kept');
            out.push(this.w.asciiEntry(e.tag, y));
          }
          break;
        }
        case 'jpeg-tables': {
          const { bytes, removed } = stripTextSegments(Buffer.from(raw));
          if (removed.length) {
            this.f.removed(where, field, 'rewritten', textOf(raw), `removed ${removed.join(', ')} segments`);
            out.push({ tag: e.tag, type: e.type, count: bytes.length, bytes });
          } else {
            this.f.field(where, field, 'kept');
            copy();
          }
          break;
        }
        case 'description': {
          const desc = text ?? '';
          let next: string | null;
          if (!desc.trim()) next = desc;
          else if (vendor === 'aperio' && isAperioDescription(desc)) next = rewriteAperioDescription(desc, where, this.rules, this.strict, this.f);
          else if (vendor === 'ome-tiff' && ifd.chainIndex === 0 && /<OME[\s>]/.test(desc)) {
            next = rewriteOmeXml(desc, where, this.rules, this.strict, this.f);
          } else if (this.strict || this.rules.tiff.otherDescriptions === 'delete') {
            this.f.removed(where, field, 'deleted', desc, 'free text');
            next = null;
          } else {
            this.f.refuse(where, field, 'free-text description no rule covers');
            next = null;
          }
          if (next === null) break;
          if (next === desc) copy();
          else out.push(this.w.asciiEntry(e.tag, next));
          this.f.keptText.push(next);
          break;
        }
        case 'offsets':
          break;
      }
    }
    return out;
  }

  /** The replacement label: white, the study code drawn on it (Aperio keeps its "label" line, so readers still list it). */
  labelPixels(img: TiffImage, vendor: string): NewPixels {
    const { width, height } = img.ifd;
    const rgb = renderLabel(this.opts.studyCode, width, height);
    const { rowsPerStrip, strips } = lzwStrips(rgb, width, height);
    const description = vendor === 'aperio' ? `${this.aperioHeader}\nlabel ${width}x${height}` : 'label';
    return { width, height, rowsPerStrip, strips, description, newSubfileType: 1 };
  }

  /** Whether an existing label is already the replacement this run would write (a second run). */
  async isOwnLabel(img: TiffImage, px: NewPixels): Promise<boolean> {
    const { ifd } = img;
    if (ifd.compression !== Compression.LZW || ifd.tiled || img.description !== px.description) return false;
    const t = await this.file.blockTable(img);
    if (t.offsets.length !== px.strips.length) return false;
    for (const [i, s] of px.strips.entries()) {
      if (t.counts[i] !== s.length) return false;
      if (!(await this.file.src.read(t.offsets[i] as number, s.length)).equals(s)) return false;
    }
    return true;
  }

  /** The macro with its label end painted white, or null when it already is (a second run). */
  async blankedMacro(img: TiffImage, vendor: string): Promise<NewPixels | null> {
    const { width, height } = img.ifd;
    let raw: Buffer;
    try {
      raw = await sharp(this.inPath, { page: img.ifd.chainIndex, limitInputPixels: 1e8, failOn: 'none' }).removeAlpha().toColourspace('srgb').raw().toBuffer();
    } catch (err) {
      throw new WsiError('DEID_UNSUPPORTED_FORMAT', `${img.ifd.path}: the macro image cannot be decoded to blank its label (${(err as Error).message.split('\n')[0] ?? ''}); set images.macro to "remove"`);
    }
    const span = Math.ceil(width * this.rules.images.macroLabelFraction);
    const x0 = this.rules.images.macroLabelSide === 'left' ? 0 : width - span;
    let blank = true;
    for (let y = 0; y < height && blank; y++) for (let x = x0; x < x0 + span; x++) if (raw.readUIntBE((y * width + x) * 3, 3) !== 0xffffff) { blank = false; break; }
    if (blank) return null;
    for (let y = 0; y < height; y++) raw.fill(255, (y * width + x0) * 3, (y * width + x0 + span) * 3);
    const { rowsPerStrip, strips } = lzwStrips(raw, width, height);
    const description = vendor === 'aperio' ? `${this.aperioHeader}\nmacro ${width}x${height}` : 'macro';
    return { width, height, rowsPerStrip, strips, description, newSubfileType: 9 };
  }

  /** Decides each image's fate; returns the kept main-chain images with their SubIFDs. */
  async plan(vendor: string, roles: Map<TiffIfd, Role>): Promise<ImagePlan[]> {
    const byIfd = new Map(this.file.images.map((i) => [i.ifd, i] as const));
    const seen = { label: false, macro: false };
    const planOne = async (ifd: TiffIfd): Promise<ImagePlan | null> => {
      const image = byIfd.get(ifd) as TiffImage;
      const role = roles.get(ifd) as Role;
      let pixels: NewPixels | null = null;
      if (role === 'label') {
        seen.label = true;
        if (this.rules.images.label === 'remove') {
          this.f.image(ifd.path, 'label', 'removed');
          return null;
        }
        pixels = this.labelPixels(image, vendor);
        if (await this.isOwnLabel(image, pixels)) {
          this.f.image(ifd.path, 'label', 'kept', 'already the study-code label');
          pixels = null;
        } else this.f.image(ifd.path, 'label', 'replaced', 'blank image bearing the study code');
      } else if (role === 'macro') {
        seen.macro = true;
        if (this.rules.images.macro === 'remove') {
          this.f.image(ifd.path, 'macro', 'removed');
          return null;
        }
        pixels = await this.blankedMacro(image, vendor);
        if (pixels) this.f.image(ifd.path, 'macro', 'blanked', `${this.rules.images.macroLabelSide} ${Math.round(this.rules.images.macroLabelFraction * 100)}% painted white`);
        else this.f.image(ifd.path, 'macro', 'kept', 'label end already blank');
      } else if (role === 'thumbnail') this.f.image(ifd.path, 'thumbnail', 'kept', 'copied bit for bit');
      const entries = await this.planEntries(image, vendor);
      const subs: ImagePlan[] = [];
      for (const s of ifd.subIfds) {
        const p = await planOne(s);
        if (p) subs.push(p);
      }
      return { image, role, pixels, entries, subs };
    };
    const out: ImagePlan[] = [];
    for (const ifd of this.file.structure.chain) {
      const p = await planOne(ifd);
      if (p) out.push(p);
    }
    for (const w of this.file.structure.warnings) this.f.field('file', 'unreadable tag', 'deleted', w);
    if (!seen.label) this.f.image('file', 'label', 'not present');
    if (!seen.macro) this.f.image('file', 'macro', 'not present');
    return out;
  }

  /** Writes the planned images: blocks first, IFDs last; returns the bytes written. */
  async write(plans: ImagePlan[], sink: OutputSink): Promise<number> {
    let pos = this.w.headerSize;
    const limit = this.w.bigTiff ? Number.MAX_SAFE_INTEGER : 0xffffffff;
    // writes are gathered into runs of WRITE_RUN bytes (one syscall each, not one per block)
    let run: Buffer[] = [];
    let runStart = pos;
    let runBytes = 0;
    const flush = async (): Promise<void> => {
      if (runBytes === 0) return;
      await sink.write(run.length === 1 ? (run[0] as Buffer) : Buffer.concat(run, runBytes), runStart);
      run = [];
      runStart = pos;
      runBytes = 0;
    };
    const put = async (data: Uint8Array): Promise<number> => {
      const at = pos;
      if (at + data.byteLength > limit) throw new WsiError('DEID_UNSUPPORTED_FORMAT', 'the rewritten classic TIFF would pass 4 GiB');
      run.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      runBytes += data.byteLength;
      pos += data.byteLength;
      if (pos & 1) {
        run.push(Buffer.alloc(1));
        runBytes++;
        pos++;
      }
      if (runBytes >= WRITE_RUN) await flush();
      return at;
    };
    const reader = new WindowReader(this.file.src);
    const tables = new Map<ImagePlan, { offsets: number[]; counts: number[] }>();
    const all: ImagePlan[] = [];
    const flatten = (p: ImagePlan): void => {
      all.push(p);
      p.subs.forEach(flatten);
    };
    plans.forEach(flatten);
    for (const p of all) {
      const offsets: number[] = [];
      const counts: number[] = [];
      if (p.pixels) {
        for (const s of p.pixels.strips) {
          offsets.push(await put(s));
          counts.push(s.length);
        }
      } else {
        const t = await this.file.blockTable(p.image);
        const jpeg = p.image.ifd.compression === Compression.JPEG;
        for (let i = 0; i < t.offsets.length; i++) {
          const c = t.counts[i] as number;
          if (c === 0) {
            offsets.push(0);
            counts.push(0);
            continue;
          }
          const block = await reader.read(t.offsets[i] as number, c);
          if (jpeg) {
            const seg = textSegmentIn(block);
            if (seg) throw new WsiError('DEID_UNCOVERED_FIELD', `${p.image.ifd.path} block ${i} holds a JPEG ${seg} segment; tiles are copied bit for bit, so the file is refused`, { uncovered: [`${p.image.ifd.path}: JPEG ${seg} segment in block ${i}`] });
          }
          offsets.push(await put(block));
          counts.push(c);
          if (p.role !== 'label' && p.role !== 'macro') this.blocksCopied++;
        }
      }
      tables.set(p, { offsets, counts });
    }
    // IFDs: each main image followed by its SubIFDs; sizes first, then the bytes
    const entriesOf = (p: ImagePlan, subOffsets: number[]): OutEntry[] => {
      const t = tables.get(p) as { offsets: number[]; counts: number[] };
      const e = p.entries.filter((x) => !(p.pixels && [Tag.ImageDescription, Tag.NewSubfileType, Tag.RowsPerStrip, Tag.Compression, Tag.Photometric, Tag.BitsPerSample, Tag.SamplesPerPixel, Tag.PlanarConfiguration, Tag.Predictor, Tag.JPEGTables, Tag.YCbCrSubSampling, 531, 532, 529, Tag.TileWidth, Tag.TileLength].includes(x.tag as never)));
      if (p.pixels) {
        e.push(this.w.longEntry(Tag.NewSubfileType, [p.pixels.newSubfileType]));
        e.push(this.w.asciiEntry(Tag.ImageDescription, p.pixels.description));
        e.push(this.w.shortEntry(Tag.BitsPerSample, [8, 8, 8]));
        e.push(this.w.shortEntry(Tag.Compression, [Compression.LZW]));
        e.push(this.w.shortEntry(Tag.Photometric, [2]));
        e.push(this.w.shortEntry(Tag.SamplesPerPixel, [3]));
        e.push(this.w.longEntry(Tag.RowsPerStrip, [p.pixels.rowsPerStrip]));
        e.push(this.w.shortEntry(Tag.PlanarConfiguration, [1]));
      }
      const tiled = !p.pixels && p.image.ifd.tiled;
      e.push(this.w.offsetsEntry(tiled ? Tag.TileOffsets : Tag.StripOffsets, t.offsets));
      e.push(this.w.offsetsEntry(tiled ? Tag.TileByteCounts : Tag.StripByteCounts, t.counts));
      if (subOffsets.length) e.push(this.w.offsetsEntry(Tag.SubIFDs, subOffsets, true));
      return e;
    };
    const at = new Map<ImagePlan, number>();
    let cursor = pos;
    for (const p of all) {
      at.set(p, cursor);
      cursor += this.w.size(entriesOf(p, p.subs.map(() => 0)));
    }
    const chunks: Buffer[] = [];
    const serialize = (p: ImagePlan, next: number): void => {
      chunks.push(this.w.serialize(entriesOf(p, p.subs.map((s) => at.get(s) as number)), at.get(p) as number, next));
      p.subs.forEach((s) => serialize(s, 0));
    };
    plans.forEach((p, i) => serialize(p, i + 1 < plans.length ? (at.get(plans[i + 1] as ImagePlan) as number) : 0));
    await flush();
    const tail = Buffer.concat(chunks);
    if (pos + tail.length > limit) throw new WsiError('DEID_UNSUPPORTED_FORMAT', 'the rewritten classic TIFF would pass 4 GiB');
    await sink.write(tail, pos);
    pos += tail.length;
    await sink.write(this.w.header(at.get(plans[0] as ImagePlan) as number), 0);
    return pos;
  }
}

/** The needles the output is scanned for: removed values (long enough, not kept elsewhere) and the sentinels. */
function needlesOf(f: Findings, rules: DeidRules, extra: string[]): { needles: Needle[]; skippedShort: number; skippedKept: number } {
  const needles: Needle[] = [];
  let skippedShort = 0;
  let skippedKept = 0;
  const kept = f.keptText.join('\n');
  for (const [value, label] of f.removedValues) {
    if (value.length < rules.verify.minValueLength) skippedShort++;
    else if (kept.includes(value)) skippedKept++;
    else needles.push({ label: `removed value of ${label}`, value });
  }
  [...rules.verify.sentinels, ...extra].forEach((s, i) => needles.push({ label: `sentinel ${i + 1}`, value: s }));
  return { needles, skippedShort, skippedKept };
}

/**
 * De-identifies `input` into `output`. Never throws for a refused or failed
 * file: the report says what happened (result, error); the output then does
 * not exist. Unexpected faults (bugs) are thrown after cleaning up.
 */
export async function deidentifyFile(input: string, output: string, opts: DeidOptions & { sentinels?: string[] }): Promise<DeidReport> {
  checkStudyCode(opts.studyCode);
  const rules = opts.rules ?? DEFAULT_RULES;
  const report: DeidReport = {
    tool: 'wsi-annotate deid',
    rules: { name: rules.name, version: rules.version },
    profile: opts.strict ? 'strict' : 'default',
    studyCode: opts.studyCode,
    format: null,
    input: { bytes: 0 },
    output: null,
    fields: [],
    images: [],
    label: 'not present',
    macro: 'not present',
    fieldsModified: 0,
    imagesModified: 0,
    uncovered: [],
    pyramidBlocksCopied: 0,
    verification: null,
    result: 'failed',
    error: null,
    startedAt: new Date().toISOString(),
    finishedAt: null,
  };
  if (await isDicomInput(input)) return deidentifyDicomSlide(input, output, opts, report);
  let partial: string | null = null;
  let run: Run | null = null;
  let src: FileByteSource | null = null;
  try {
    if (resolve(input) === resolve(output)) throw new WsiError('DEID_OUTPUT_EXISTS', 'the output must be a new file, not the input');
    await sweepPartials(dirname(output));
    report.input.bytes = await stat(input).then((st) => st.size, (err: unknown) => {
      throw pathError(err, 'input');
    });
    await sniff(input);
    if (!opts.overwrite) {
      const exists = await stat(output).then(() => true, () => false);
      if (exists) throw new WsiError('DEID_OUTPUT_EXISTS', 'the output file exists already');
    }
    src = await FileByteSource.open(input);
    const file = await TiffFile.open(src);
    const first = file.images.find((i) => i.ifd.chainIndex === 0);
    if (first?.ifd.entries.has(65420)) throw unsupported('Hamamatsu NDPI');
    const layout = layoutFor(file, rules);
    report.format = layout.vendor;
    if (layout.vendor === 'qptiff') throw unsupported('PerkinElmer QPTIFF (its XML rules are not implemented)');
    if (layout.vendor === 'ome-tiff' && layout.associated.some((a) => a.kind === 'label' || a.kind === 'macro')) {
      throw unsupported('OME-TIFF with label or macro Image elements (renumbering its TiffData is not implemented)');
    }
    const roles = classify(file, layout);
    run = new Run(file, input, opts);
    if (layout.vendor === 'aperio') {
      const head = (first?.description ?? '').split(/\r?\n|\|/)[0]?.trim() ?? '';
      if (APERIO_VENDOR_LINE.test(head)) run.aperioHeader = head;
    }
    const plans = await run.plan(layout.vendor, roles);
    run.f.throwIfUncovered();
    if (plans.length === 0) throw new WsiError('NO_PYRAMID_LEVELS', 'nothing of the file would remain');

    await checkFreeSpace(dirname(output), report.input.bytes);
    partial = partialPathFor(output);
    const sink = await (opts.openSink ?? fileSink)(partial).catch((err: unknown) => {
      throw pathError(err, 'output');
    });
    let written: number;
    try {
      written = await run.write(plans, sink);
      await sink.sync();
    } finally {
      await sink.close().catch(() => undefined);
    }
    // verification: the byte scan and the referenced-bytes check
    const { needles, skippedShort, skippedKept } = needlesOf(run.f, rules, opts.sentinels ?? []);
    const scan = await scanForNeedles(partial, needles);
    const gaps = await unreferencedRanges(partial);
    const hits = [...scan.hits, ...gaps.map(([a, b]) => `unreferenced bytes ${a}..${b}`)];
    report.verification = { bytesScanned: scan.bytesScanned, needles: needles.length, skippedShort, skippedKept, hits, result: hits.length ? 'fail' : 'pass' };
    if (hits.length) throw new WsiError('DEID_VERIFY_FAILED', `verification found ${hits.length} problem(s) in the de-identified copy: ${hits.slice(0, 3).join('; ')}`);
    // rename replaces an existing output (--force) atomically
    await commitOutput(partial, output);
    partial = null;
    report.output = { bytes: written, sha256: await sha256Of(output) };
    report.result = 'de-identified';
  } catch (raw) {
    if (partial) await rm(partial, { force: true });
    recordFailure(report, raw);
  } finally {
    if (partial) await rm(partial, { force: true }).catch(() => undefined);
    if (src) await src.close().catch(() => undefined);
  }
  return finishReport(report, run?.f ?? null, run?.blocksCopied ?? 0);
}

/** A refused or failed file goes into the report; an unexpected fault (a bug) is thrown. */
function recordFailure(report: DeidReport, raw: unknown): void {
  const err = writeError(raw);
  if (!(err instanceof WsiError)) throw err;
  report.result = err.code === 'DEID_VERIFY_FAILED' || err.code === 'DEID_DISK_FULL' ? 'failed' : 'refused';
  report.error = { code: err.code, message: err.message };
}

function finishReport(report: DeidReport, f: Findings | null, blocksCopied: number): DeidReport {
  if (f) {
    report.fields = f.fields;
    report.images = f.images;
    report.uncovered = f.uncovered;
    report.fieldsModified = f.fieldsModified;
    report.imagesModified = f.imagesModified;
    report.pyramidBlocksCopied = blocksCopied;
    const state = (kind: 'label' | 'macro'): ImageAction => f.images.find((i) => i.kind === kind)?.action ?? 'not present';
    report.label = state('label');
    report.macro = state('macro');
  }
  report.finishedAt = new Date().toISOString();
  return report;
}

/** A DICOM slide (a .dcm file or a folder of one series' instances), through dicom-deid.ts. */
async function deidentifyDicomSlide(input: string, output: string, opts: DeidOptions & { sentinels?: string[] }, report: DeidReport): Promise<DeidReport> {
  const rules = opts.rules ?? DEFAULT_RULES;
  const result: DicomRunResult = { findings: null, blocksCopied: 0 };
  try {
    if (resolve(input) === resolve(output)) throw new WsiError('DEID_OUTPUT_EXISTS', 'the output must be a new file, not the input');
    await sweepPartials(dirname(output));
    await deidentifyDicom(input, output, opts, report, result, (f, extra) => needlesOf(f, rules, extra));
    report.result = 'de-identified';
  } catch (raw) {
    recordFailure(report, raw);
  }
  return finishReport(report, result.findings, result.blocksCopied);
}
