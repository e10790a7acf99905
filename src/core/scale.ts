/**
 * Screen calibration: scale-bar lengths and magnification readouts.
 * `imageZoom` is screen (CSS) pixels per level-0 image pixel.
 */

export interface ScaleBar {
  /** Bar length in screen pixels. */
  px: number;
  label: string;
  calibrated: boolean;
}

const STEPS = [1, 2, 5];

/** Largest 1/2/5×10^k value not above `max`. */
export function niceFloor(max: number): number {
  if (!(max > 0) || !Number.isFinite(max)) return 0;
  const exp = Math.floor(Math.log10(max));
  let best = 10 ** exp;
  for (const s of STEPS) {
    const v = s * 10 ** exp;
    if (v <= max * (1 + 1e-12)) best = v;
  }
  return best;
}

export function formatLength(um: number): string {
  if (um >= 1000) return `${+(um / 1000).toPrecision(3)} mm`;
  if (um >= 1) return `${+um.toPrecision(3)} µm`;
  return `${+(um * 1000).toPrecision(3)} nm`;
}

/** An area given in µm², in mm² from 1 mm² up (three significant digits). */
export function formatArea(um2: number): string {
  if (um2 >= 1e6) return `${+(um2 / 1e6).toPrecision(3)} mm²`;
  return `${+um2.toPrecision(3)} µm²`;
}

/**
 * A scale bar no longer than `maxPx` screen pixels. With a known MPP the bar
 * measures microns; without one it measures image pixels and says so.
 */
export function scaleBar(mpp: number | null, imageZoom: number, maxPx = 150): ScaleBar {
  if (!(imageZoom > 0)) return { px: 0, label: '', calibrated: mpp !== null };
  if (mpp !== null && mpp > 0) {
    const umPerScreenPx = mpp / imageZoom;
    const um = niceFloor(maxPx * umPerScreenPx);
    return { px: um / umPerScreenPx, label: formatLength(um), calibrated: true };
  }
  const imagePx = niceFloor(maxPx / imageZoom);
  return { px: imagePx * imageZoom, label: `${imagePx} px (no MPP)`, calibrated: false };
}

/** Objective power to use: the file's, or one estimated from MPP (10 µm / MPP ≈ 40× at 0.25). */
export function effectiveObjective(objectivePower: number | null, mpp: number | null): { power: number; estimated: boolean } | null {
  if (objectivePower !== null && objectivePower > 0) return { power: objectivePower, estimated: false };
  if (mpp !== null && mpp > 0) return { power: 10 / mpp, estimated: true };
  return null;
}

export function magnification(objective: number, imageZoom: number): number {
  return objective * imageZoom;
}

/** Image zoom that shows the slide at magnification `mag`. */
export function imageZoomForMagnification(objective: number, mag: number): number {
  return mag / objective;
}

export function formatMagnification(mag: number): string {
  if (mag >= 10) return `${mag.toFixed(mag >= 100 ? 0 : 1).replace(/\.0$/, '')}×`;
  return `${+mag.toPrecision(2)}×`;
}

export const MAGNIFICATION_PRESETS = [1.25, 2.5, 5, 10, 20, 40] as const;

/** One magnification preset as the viewer offers it. */
export interface Preset {
  /** The magnification asked for (1.25…40): the key and the zoom it gives. */
  mag: number;
  /** What its button and the help say: "20×", or a zoom factor ("25%") on an uncalibrated slide. */
  label: string;
  /** Above the scan's objective: pixels are only enlarged (digital zoom). */
  digital: boolean;
  /** The button's tooltip. */
  title: string;
}

/** Percent of the full resolution, for an uncalibrated slide ("3.1%", "25%", "100%"). */
function percent(f: number): string {
  const p = f * 100;
  return `${p >= 10 ? Math.round(p) : +p.toFixed(1)}%`;
}

/**
 * The presets for a slide: magnifications when its objective is known or
 * estimated — those above the scan's marked as digital zoom — and, on a
 * slide with neither objective power nor MPP, zoom factors of the full
 * resolution (the same zooms, read as what they are).
 */
export function presets(objective: { power: number; estimated: boolean } | null): Preset[] {
  return MAGNIFICATION_PRESETS.map((mag, i) => {
    const key = `key ${i + 1}`;
    if (!objective) {
      const f = imageZoomForMagnification(40, mag);
      return { mag, label: percent(f), digital: false, title: `${percent(f)} of the full resolution (${key}); the slide states no magnification or pixel size` };
    }
    const digital = mag > objective.power * 1.001;
    const scan = `${objective.estimated ? '≈' : ''}${formatMagnification(objective.power)} scan`;
    return {
      mag,
      label: `${mag}×`,
      digital,
      title: digital ? `${mag}× (${key}): digital zoom, past the ${scan}; pixels are enlarged ${+(mag / objective.power).toFixed(2)}×, no more detail` : `${mag}× (${key})`,
    };
  });
}
