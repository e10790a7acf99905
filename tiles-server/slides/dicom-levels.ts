/**
 * The pyramid of one DICOM WSI series, planned from its instance headers:
 * VOLUME instances grouped into levels by their total pixel matrix (several
 * instances of one size, concatenations or a level split over files, are
 * one level), each level's tile map (tile → instance and frame) from the
 * TILED_FULL frame order or the TILED_SPARSE plane positions, the first
 * focal plane and optical path only, and the label, overview and thumbnail
 * instances as associated images. Pure: no file access, so it is tested on
 * headers alone.
 */
import { WsiError } from '../../src/core/errors.js';
import type { DicomInstance } from './dicom-header.js';
import type { AssociatedInfo, AssociatedKind } from './types.js';

export interface PlannedDicomLevel {
  width: number;
  height: number;
  tileWidth: number;
  tileHeight: number;
  across: number;
  down: number;
  /** Per tile (row × across + col): index of the instance holding it, -1 for none (background). */
  instance: Int32Array;
  /** Per tile: 0-based frame number within that instance. */
  frame: Int32Array;
  /** Instances this level reads (indexes into the series). */
  members: number[];
}

export interface DicomPlan {
  levels: PlannedDicomLevel[];
  associated: AssociatedInfo[];
  mpp: number | null;
  objectivePower: number | null;
  warnings: string[];
}

const ASSOCIATED: Record<string, AssociatedKind> = { LABEL: 'label', OVERVIEW: 'macro', THUMBNAIL: 'thumbnail' };

function levelKey(i: DicomInstance): string {
  return `${i.totalColumns}x${i.totalRows}`;
}

/** Fills a level's tile map from its instances, first focal plane and optical path only. */
function mapTiles(level: PlannedDicomLevel, series: DicomInstance[], warnings: string[], label: string): void {
  const perPlane = level.across * level.down;
  const set = (tile: number, inst: number, frame: number): boolean => {
    if (level.instance[tile] !== -1) return false;
    level.instance[tile] = inst;
    level.frame[tile] = frame;
    return true;
  };
  let duplicates = 0;
  const members = level.members.map((m) => ({ m, inst: series[m] as DicomInstance }));
  // one optical path: the first instance's
  const path = members[0]?.inst.opticalPathId ?? '';
  const otherPaths = new Set<string>();
  const used = members.filter(({ inst }) => {
    if (inst.opticalPathId !== path && inst.opticalPathId !== '' && path !== '') {
      otherPaths.add(inst.opticalPathId);
      return false;
    }
    return true;
  });
  // frames of a concatenation are counted across its parts
  const concatFrames = new Map<string, number>();
  for (const { inst } of used) if (inst.concatenation) concatFrames.set(inst.concatenation.uid, (concatFrames.get(inst.concatenation.uid) ?? 0) + inst.frames);
  let planesNote = 1;
  let pathsNote = otherPaths.size + 1;
  let sparseZ: number | null = null;
  let skippedPlanes = 0;
  for (const { m, inst } of used) {
    const sparse = inst.dimensionOrganization === 'TILED_SPARSE' || (inst.dimensionOrganization !== 'TILED_FULL' && inst.positions !== null);
    if (!sparse) {
      const expected = perPlane * inst.focalPlanes * inst.opticalPaths;
      const got = inst.concatenation ? (concatFrames.get(inst.concatenation.uid) as number) : inst.frames;
      if (got !== expected) {
        throw new WsiError(
          'DICOM_BAD_FRAME_COUNT',
          `${label}: ${got} frames for a ${level.across}x${level.down} tile grid` +
            (inst.focalPlanes * inst.opticalPaths > 1 ? ` × ${inst.focalPlanes} focal planes × ${inst.opticalPaths} optical paths` : '') +
            ` (${expected} expected)`,
          { frames: got, expected },
        );
      }
      planesNote = Math.max(planesNote, inst.focalPlanes);
      pathsNote = Math.max(pathsNote, inst.opticalPaths);
      const offset = inst.concatenation?.frameOffset ?? 0;
      for (let k = 0; k < inst.frames; k++) {
        const g = offset + k;
        if (g >= perPlane) break;
        if (!set(g, m, k)) duplicates++;
      }
      continue;
    }
    const pos = inst.positions;
    if (!pos) throw new WsiError('DICOM_MISSING_ATTRIBUTE', `${label}: a TILED_SPARSE instance has no plane positions (PerFrameFunctionalGroupsSequence → PlanePositionSlideSequence)`);
    if (sparseZ === null) sparseZ = pos.z[0] ?? Number.NaN;
    const firstPath = pos.path[0] ?? -1;
    const framePaths = new Set<number>();
    for (let k = 0; k < inst.frames; k++) {
      const z = pos.z[k] as number;
      if (!(Number.isNaN(z) && Number.isNaN(sparseZ)) && Math.abs(z - sparseZ) > 1e-9) {
        skippedPlanes++;
        continue;
      }
      const p = pos.path[k] as number;
      framePaths.add(p);
      if (p !== firstPath) continue;
      const x = (pos.columns[k] as number) - 1;
      const y = (pos.rows[k] as number) - 1;
      if (x < 0 || y < 0 || x >= level.width || y >= level.height) {
        throw new WsiError('DICOM_BAD_FRAME_POSITION', `${label}: frame ${k + 1} is placed at column ${x + 1}, row ${y + 1}, outside the ${level.width}x${level.height} matrix`, { frame: k + 1 });
      }
      if (x % level.tileWidth !== 0 || y % level.tileHeight !== 0) {
        throw new WsiError('DICOM_BAD_FRAME_POSITION', `${label}: frame ${k + 1} is placed at column ${x + 1}, row ${y + 1}, off the ${level.tileWidth}x${level.tileHeight} tile grid (frames between grid positions are not supported)`, { frame: k + 1 });
      }
      if (!set((y / level.tileHeight) * level.across + x / level.tileWidth, m, k)) duplicates++;
    }
    pathsNote = Math.max(pathsNote, framePaths.size);
  }
  if (planesNote > 1 || skippedPlanes > 0) warnings.push(`${label}: the series has several focal planes; only the first is shown`);
  if (pathsNote > 1) warnings.push(`${label}: the series has ${pathsNote} optical paths; only the first${path ? ` (${path})` : ''} is shown`);
  if (duplicates > 0) warnings.push(`${label}: ${duplicates} frames repeat a tile another frame already gives; the first is shown`);
}

/** Plans levels and associated images from the headers of one series. */
export function planDicomSeries(series: DicomInstance[]): DicomPlan {
  const warnings: string[] = [];
  const associated: AssociatedInfo[] = [];
  const volumes = new Map<string, number[]>();
  series.forEach((inst, i) => {
    const kind = ASSOCIATED[inst.flavor];
    if (kind) {
      associated.push({ kind, width: inst.totalColumns ?? inst.columns, height: inst.totalRows ?? inst.rows });
      return;
    }
    if (inst.flavor !== 'VOLUME') {
      warnings.push(`an instance of image type ${inst.flavor || '(none)'} is neither a pyramid level nor a label, overview or thumbnail, and was ignored`);
      return;
    }
    if (inst.totalColumns === null) throw new WsiError('DICOM_MISSING_ATTRIBUTE', 'a VOLUME instance has no TotalPixelMatrixColumns (0048,0006)', { attribute: 'TotalPixelMatrixColumns' });
    if (inst.totalRows === null) throw new WsiError('DICOM_MISSING_ATTRIBUTE', 'a VOLUME instance has no TotalPixelMatrixRows (0048,0007)', { attribute: 'TotalPixelMatrixRows' });
    const k = levelKey(inst);
    volumes.set(k, [...(volumes.get(k) ?? []), i]);
  });
  if (volumes.size === 0) throw new WsiError('NO_PYRAMID_LEVELS', 'the series holds no VOLUME instances (only label, overview or thumbnail images)');
  const groups = [...volumes.values()].sort((a, b) => {
    const ia = series[a[0] as number] as DicomInstance;
    const ib = series[b[0] as number] as DicomInstance;
    return (ib.totalColumns as number) * (ib.totalRows as number) - (ia.totalColumns as number) * (ia.totalRows as number);
  });
  const levels = groups.map((members, li): PlannedDicomLevel => {
    const first = series[members[0] as number] as DicomInstance;
    for (const m of members) {
      const inst = series[m] as DicomInstance;
      if (inst.columns !== first.columns || inst.rows !== first.rows) {
        throw new WsiError('DICOM_INCONSISTENT_SERIES', `two instances of the ${first.totalColumns}x${first.totalRows} level have different frame sizes (${first.columns}x${first.rows} and ${inst.columns}x${inst.rows})`);
      }
    }
    // concatenation parts in frame order, then the rest as found
    members.sort((a, b) => ((series[a] as DicomInstance).concatenation?.frameOffset ?? 0) - ((series[b] as DicomInstance).concatenation?.frameOffset ?? 0));
    const width = first.totalColumns as number;
    const height = first.totalRows as number;
    const across = Math.ceil(width / first.columns);
    const down = Math.ceil(height / first.rows);
    const level: PlannedDicomLevel = {
      width,
      height,
      tileWidth: first.columns,
      tileHeight: first.rows,
      across,
      down,
      instance: new Int32Array(across * down).fill(-1),
      frame: new Int32Array(across * down),
      members,
    };
    mapTiles(level, series, warnings, `level ${li} (${width}x${height})`);
    return level;
  });
  const base = series[(levels[0] as PlannedDicomLevel).members[0] as number] as DicomInstance;
  const mpp = base.mppX ?? (base.imagedWidthMm ? (base.imagedWidthMm * 1000) / (base.totalColumns as number) : null);
  const objectivePower = series.find((s) => s.objectivePower !== null)?.objectivePower ?? null;
  return { levels, associated, mpp, objectivePower, warnings };
}
