/** The narrow contract between slide formats and everything that serves pixels. */

export interface LevelInfo {
  width: number;
  height: number;
  /** Level-0 pixels per level pixel (OpenSlide's definition: mean of both axes). */
  downsample: number;
  tileWidth: number;
  tileHeight: number;
  /** False for strip-organised images (a "tile" is then a strip). */
  tiled: boolean;
  /**
   * Every whole stored tile of this level is a complete baseline JPEG that a
   * browser shows as it is (`storedJpeg`). A fact about the data, declared
   * by the reader; whether a request is answered that way is decided in
   * render/plan.ts.
   */
  passthrough: boolean;
}

export type AssociatedKind = 'label' | 'macro' | 'thumbnail' | 'other';

export interface AssociatedInfo {
  kind: AssociatedKind;
  width: number;
  height: number;
}

export interface ChannelInfo {
  name: string;
  color: [number, number, number];
  /** What the channel stains for, when the file says (QPTIFF Biomarker). */
  biomarker?: string;
}

export type Vendor = 'aperio' | 'generic-tiff' | 'ome-tiff' | 'qptiff' | 'dicom';

export interface SlideMeta {
  vendor: Vendor;
  /** Stored geometry of each pyramid level, level 0 first. */
  levels: LevelInfo[];
  /** TIFF Orientation (1–8) applied when serving; width/height below are after it. */
  orientation: number;
  width: number;
  height: number;
  /** Microns per level-0 pixel, or null when the file does not say (or says nonsense). */
  mpp: number | null;
  objectivePower: number | null;
  associated: AssociatedInfo[];
  /** Channels of a multi-channel image shown as a composite, else null. */
  channels: ChannelInfo[] | null;
  /** Compression of level 0, as a name (jpeg, deflate, …). */
  compression: string;
  warnings: string[];
}

/** Decoded pixels: 3 interleaved 8-bit channels (RGB), row-major, no padding. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export interface SlideSource {
  readonly meta: SlideMeta;
  /**
   * A whole stored tile of a `passthrough` level as a complete JPEG a browser
   * can show as it is, or null when this one cannot be (a sparse tile, or
   * its stream does not match the level's tile size).
   */
  storedJpeg(level: number, col: number, row: number, signal?: AbortSignal): Promise<Buffer | null>;
  /**
   * The stored tile decoded to RGB and clipped to the level's bounds. For a
   * slide with `channels`, the composite of those listed (indexes into
   * meta.channels, each in its colour), or of all when `channels` is omitted.
   */
  readTile(level: number, col: number, row: number, signal?: AbortSignal, channels?: readonly number[]): Promise<RgbImage>;
  close(): Promise<void>;
}
