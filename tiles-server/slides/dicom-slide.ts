/**
 * SlideSource for a DICOM WSI series: the levels dicom-levels.ts planned,
 * each tile read as one frame of one instance (frames located by
 * dicom-frames.ts). JPEG baseline frames are passed through as they are
 * (with an Adobe marker added to RGB-coded ones); everything else is
 * decoded through the transfer syntax's codec (dicom-codecs.ts). A tile no
 * frame covers (TILED_SPARSE) is white background.
 */
import { WsiError } from '../../src/core/errors.js';
import { inGrid, makeGrid, tileRect, type TileGrid } from '../../src/core/tile-grid.js';
import { checkJpegTile } from '../decode/jpeg.js';
import type { DecodePool } from '../decode/pool.js';
import type { ByteSource } from '../tiff/byte-source.js';
import { codecFor, frameAsJpeg, type FrameCodec } from './dicom-codecs.js';
import { locateFrames, type FrameSource } from './dicom-frames.js';
import type { DicomInstance } from './dicom-header.js';
import { planDicomSeries, type PlannedDicomLevel } from './dicom-levels.js';
import type { RgbImage, SlideMeta, SlideSource } from './types.js';

/** One instance of the series, its file open. */
export interface SeriesInstance {
  src: ByteSource;
  header: DicomInstance;
}

interface ReadyInstance extends SeriesInstance {
  codec: FrameCodec;
  frames: FrameSource;
}

interface LevelState {
  plan: PlannedDicomLevel;
  grid: TileGrid;
  passthrough: boolean;
}

/** Adds the tile to a frame error, keeping its code. */
function atTile(err: unknown, level: number, col: number, row: number): unknown {
  if (!(err instanceof WsiError)) return err;
  return new WsiError(err.code, `level ${level} tile ${col},${row}: ${err.message}`, { ...err.detail, level, col, row });
}

export class DicomSlide implements SlideSource {
  readonly meta: SlideMeta;

  private constructor(
    private readonly instances: Array<ReadyInstance | null>,
    private readonly levels: LevelState[],
    meta: SlideMeta,
    private readonly pool: DecodePool,
    private readonly sources: ByteSource[],
  ) {
    this.meta = meta;
  }

  /** Plans the series and locates the frames of every instance a level reads. */
  static async open(series: SeriesInstance[], pool: DecodePool, extraWarnings: string[] = []): Promise<DicomSlide> {
    const plan = planDicomSeries(series.map((s) => s.header));
    const used = new Set(plan.levels.flatMap((l) => l.members));
    const instances: Array<ReadyInstance | null> = [];
    for (const [i, s] of series.entries()) {
      if (!used.has(i)) {
        instances.push(null);
        continue;
      }
      const codec = codecFor(s.header);
      instances.push({ ...s, codec, frames: await locateFrames(s.src, s.header) });
    }
    const levels = plan.levels.map((p): LevelState => ({
      plan: p,
      grid: makeGrid(p.width, p.height, p.tileWidth, p.tileHeight),
      passthrough: p.members.every((m) => instances[m]?.codec.passthrough === true),
    }));
    const base = levels[0] as LevelState;
    const meta: SlideMeta = {
      vendor: 'dicom',
      levels: levels.map((l) => ({
        width: l.plan.width,
        height: l.plan.height,
        downsample: (base.plan.width / l.plan.width + base.plan.height / l.plan.height) / 2,
        tileWidth: l.plan.tileWidth,
        tileHeight: l.plan.tileHeight,
        tiled: true,
        passthrough: l.passthrough,
      })),
      orientation: 1,
      width: base.plan.width,
      height: base.plan.height,
      mpp: plan.mpp,
      objectivePower: plan.objectivePower,
      associated: plan.associated,
      channels: null,
      compression: instances[base.plan.members[0] as number]?.codec.name ?? 'none',
      warnings: [...extraWarnings, ...plan.warnings],
    };
    return new DicomSlide(instances, levels, meta, pool, series.map((s) => s.src));
  }

  private level(level: number, col: number, row: number): LevelState {
    const st = this.levels[level];
    if (!st) throw new WsiError('TILE_OUT_OF_RANGE', `level ${level} does not exist`);
    if (!inGrid(st.grid, col, row)) throw new WsiError('TILE_OUT_OF_RANGE', `tile ${col},${row} is outside level ${level}`);
    return st;
  }

  /** The instance and frame under a tile, or null for background. */
  private frameAt(st: LevelState, col: number, row: number): { inst: ReadyInstance; frame: number } | null {
    const t = row * st.plan.across + col;
    const i = st.plan.instance[t] as number;
    if (i < 0) return null;
    return { inst: this.instances[i] as ReadyInstance, frame: st.plan.frame[t] as number };
  }

  async storedJpeg(level: number, col: number, row: number, signal?: AbortSignal): Promise<Buffer | null> {
    const st = this.level(level, col, row);
    const rect = tileRect(st.grid, col, row);
    if (!st.passthrough || rect.width !== st.grid.tileWidth || rect.height !== st.grid.tileHeight) return null;
    const at = this.frameAt(st, col, row);
    if (!at) return null;
    try {
      const jpeg = frameAsJpeg(await at.inst.frames.read(at.frame, signal), at.inst.header);
      const h = checkJpegTile(jpeg, st.grid.tileWidth, st.grid.tileHeight, at.inst.header.samplesPerPixel);
      return h.width === st.grid.tileWidth && h.height === st.grid.tileHeight ? jpeg : null;
    } catch (err) {
      throw atTile(err, level, col, row);
    }
  }

  async readTile(level: number, col: number, row: number, signal?: AbortSignal): Promise<RgbImage> {
    const st = this.level(level, col, row);
    const rect = tileRect(st.grid, col, row);
    const at = this.frameAt(st, col, row);
    if (!at) return { data: new Uint8Array(rect.width * rect.height * 3).fill(255), width: rect.width, height: rect.height };
    let full: Uint8Array;
    try {
      const data = await at.inst.frames.read(at.frame, signal);
      full = await at.inst.codec.decode(data, at.inst.header, this.pool, signal);
    } catch (err) {
      throw atTile(err, level, col, row);
    }
    const fw = st.grid.tileWidth;
    if (full.length < fw * st.grid.tileHeight * 3) {
      throw new WsiError('TILE_DECODE_ERROR', `level ${level} tile ${col},${row} decoded to ${full.length} bytes, ${fw * st.grid.tileHeight * 3} expected`);
    }
    if (rect.width === fw && rect.height === st.grid.tileHeight) return { data: full.subarray(0, fw * rect.height * 3), width: rect.width, height: rect.height };
    const out = new Uint8Array(rect.width * rect.height * 3);
    for (let y = 0; y < rect.height; y++) out.set(full.subarray(y * fw * 3, (y * fw + rect.width) * 3), y * rect.width * 3);
    return { data: out, width: rect.width, height: rect.height };
  }

  async close(): Promise<void> {
    await Promise.all(this.sources.map((s) => s.close()));
  }
}
