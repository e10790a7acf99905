/**
 * Procedural H&E-like tissue: lobes of eosin-pink stroma with fibre texture
 * on a near-white background, and haematoxylin-purple nuclei whose density
 * varies across the section (dense "tumour" nests, sparse stroma). Rendered
 * band by band so arbitrarily large slides stream in constant memory.
 * Deterministic for a given size and seed.
 */

const COARSE = 64;

function hash(x: number, y: number, seed: number): number {
  let h = (Math.imul(x | 0, 0x27d4eb2d) ^ Math.imul(y | 0, 0x165667b1) ^ Math.imul(seed | 0, 0x9e3779b9)) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

function rand01(x: number, y: number, seed: number): number {
  return hash(x, y, seed) / 4294967296;
}

/** Smooth value noise at (x, y) on a lattice of unit spacing. */
function valueNoise(x: number, y: number, seed: number): number {
  const xi = Math.floor(x);
  const yi = Math.floor(y);
  const fx = x - xi;
  const fy = y - yi;
  const sx = fx * fx * (3 - 2 * fx);
  const sy = fy * fy * (3 - 2 * fy);
  const a = rand01(xi, yi, seed);
  const b = rand01(xi + 1, yi, seed);
  const c = rand01(xi, yi + 1, seed);
  const d = rand01(xi + 1, yi + 1, seed);
  return a + (b - a) * sx + (c - a) * sy + (a - b - c + d) * sx * sy;
}

function fbm(x: number, y: number, seed: number, octaves: number): number {
  let sum = 0;
  let amp = 0.5;
  let norm = 0;
  let f = 1;
  for (let o = 0; o < octaves; o++) {
    sum += amp * valueNoise(x * f, y * f, seed + o * 1013);
    norm += amp;
    amp *= 0.5;
    f *= 2;
  }
  return sum / norm;
}

export class TissueSynth {
  private readonly cw: number;
  private readonly ch: number;
  /** Coarse fields, one value per 64×64 px cell corner. */
  private readonly tissue: Float32Array;
  private readonly eosin: Float32Array;
  private readonly density: Float32Array;
  /** Fibre direction (cos, sin) and holes (lumina, fat) inside tissue. */
  private readonly dirX: Float32Array;
  private readonly dirY: Float32Array;
  private readonly holes: Float32Array;
  private readonly wave: Float32Array;
  private readonly grain: Int8Array;
  private readonly nucleusCell: number;
  private readonly fibreScale: number;

  constructor(
    readonly width: number,
    readonly height: number,
    private readonly seed = 7,
    /** Microns per pixel: sets nucleus size so slides look right at their scale. */
    readonly mpp = 0.25,
  ) {
    this.cw = Math.ceil(width / COARSE) + 2;
    this.ch = Math.ceil(height / COARSE) + 2;
    const n = this.cw * this.ch;
    this.tissue = new Float32Array(n);
    this.eosin = new Float32Array(n);
    this.density = new Float32Array(n);
    this.dirX = new Float32Array(n);
    this.dirY = new Float32Array(n);
    this.holes = new Float32Array(n);
    const longest = Math.max(width, height);
    const lobe = longest / COARSE / 2.5; // tissue lobes ~40% of the slide
    for (let cy = 0; cy < this.ch; cy++) {
      for (let cx = 0; cx < this.cw; cx++) {
        const i = cy * this.cw + cx;
        const u = (cx * COARSE) / width - 0.5;
        const v = (cy * COARSE) / height - 0.5;
        const falloff = Math.min(1, Math.max(0, (Math.sqrt(u * u + v * v) - 0.3) * 3));
        this.tissue[i] = fbm(cx / lobe, cy / lobe, seed, 5) - falloff * 0.6;
        this.eosin[i] = fbm(cx / 6, cy / 6, seed + 77, 3);
        this.density[i] = fbm(cx / 14, cy / 14, seed + 151, 3);
        const a = fbm(cx / 9, cy / 9, seed + 313, 2) * Math.PI * 3;
        this.dirX[i] = Math.cos(a);
        this.dirY[i] = Math.sin(a);
        this.holes[i] = fbm(cx / 3, cy / 3, seed + 517, 3);
      }
    }
    // one period of a soft fibre profile, sampled 256 times
    this.wave = new Float32Array(256);
    for (let i = 0; i < 256; i++) this.wave[i] = Math.pow(0.5 + 0.5 * Math.cos((i / 256) * 2 * Math.PI), 6);
    this.grain = new Int8Array(256 * 256);
    for (let i = 0; i < this.grain.length; i++) this.grain[i] = Math.round((rand01(i, 3, seed) - 0.5) * 14);
    // ~9 µm between nuclei; fibres ~3 µm apart
    this.nucleusCell = Math.max(6, Math.round(9 / mpp));
    this.fibreScale = 256 / Math.max(2, 3 / mpp);
  }

  private field(f: Float32Array, x: number, y: number): number {
    const fx = x / COARSE;
    const fy = y / COARSE;
    const x0 = Math.floor(fx);
    const y0 = Math.floor(fy);
    const tx = fx - x0;
    const ty = fy - y0;
    const i = y0 * this.cw + x0;
    const a = f[i] as number;
    const b = f[i + 1] as number;
    const c = f[i + this.cw] as number;
    const d = f[i + this.cw + 1] as number;
    return a + (b - a) * tx + (c - a) * ty + (a - b - c + d) * tx * ty;
  }

  /** RGB pixels of rows [y0, y0+rows) over the full width. */
  renderBand(y0: number, rows: number): Uint8Array {
    const w = this.width;
    // clamped: stains and grain may overshoot 0..255
    const out = new Uint8ClampedArray(w * rows * 3);
    const cw = this.cw;
    for (let r = 0; r < rows; r++) {
      const y = y0 + r;
      const cy = Math.floor(y / COARSE);
      const ty = (y - cy * COARSE) / COARSE;
      const grainRow = (y & 255) << 8;
      let o = r * w * 3;
      for (let cx = 0; cx * COARSE < w; cx++) {
        const i = cy * cw + cx;
        const lerpY = (f: Float32Array, k: number): number => (f[k] as number) + ((f[k + cw] as number) - (f[k] as number)) * ty;
        const tl = lerpY(this.tissue, i);
        const tr = lerpY(this.tissue, i + 1);
        const el = lerpY(this.eosin, i);
        const er = lerpY(this.eosin, i + 1);
        const hl = lerpY(this.holes, i);
        const hr = lerpY(this.holes, i + 1);
        const dxl = lerpY(this.dirX, i);
        const dxr = lerpY(this.dirX, i + 1);
        const dyl = lerpY(this.dirY, i);
        const dyr = lerpY(this.dirY, i + 1);
        const xEnd = Math.min(w, (cx + 1) * COARSE);
        for (let x = cx * COARSE; x < xEnd; x++) {
          const tx = (x - cx * COARSE) / COARSE;
          const t = tl + (tr - tl) * tx;
          const e = el + (er - el) * tx;
          const hole = hl + (hr - hl) * tx;
          let wgt = (t - 0.47) * 30;
          wgt = wgt < 0 ? 0 : wgt > 1 ? 1 : wgt;
          // lumina and fat: rounded white spaces inside the tissue
          let open = (hole - 0.66) * 25;
          open = open < 0 ? 0 : open > 1 ? 1 : open;
          wgt *= 1 - open;
          const g = this.grain[grainRow | ((x + (y >> 8) * 37) & 255)] as number;
          // wavy collagen fibres along a slowly turning direction
          const along = x * (dyl + (dyr - dyl) * tx) - y * (dxl + (dxr - dxl) * tx) + g * 0.6 + e * 40;
          const fibre = (this.wave[(along * this.fibreScale) & 255] as number) * (1 - e) * 26;
          const pr = 238 - 30 * e - fibre * 0.5;
          const pg = 158 - 50 * e - fibre * 1.2;
          const pb = 200 - 22 * e - fibre * 0.4;
          out[o++] = 243 + (pr - 243) * wgt + g;
          out[o++] = 241 + (pg - 241) * wgt + g;
          out[o++] = 245 + (pb - 245) * wgt + g;
        }
      }
    }
    this.stampNuclei(out, y0, rows);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }

  private stampNuclei(out: Uint8ClampedArray, y0: number, rows: number): void {
    const C = this.nucleusCell;
    const w = this.width;
    const maxR = Math.ceil(C * 0.55);
    const cellRow0 = Math.max(0, Math.floor((y0 - maxR) / C));
    const cellRow1 = Math.floor((y0 + rows + maxR) / C);
    for (let j = cellRow0; j <= cellRow1; j++) {
      for (let i = 0; i * C < w; i++) {
        const h = hash(i, j, this.seed + 999);
        const cx = i * C + ((h & 0xff) / 255) * C;
        const cy = j * C + (((h >>> 8) & 0xff) / 255) * C;
        if (cx >= w || cy >= this.height) continue;
        const fx = Math.min(cx, w - 1);
        const fy = Math.min(cy, this.height - 1);
        const t = this.field(this.tissue, fx, fy);
        if (t < 0.5 || this.field(this.holes, fx, fy) > 0.64) continue;
        const dens = this.field(this.density, fx, fy);
        const p = Math.min(0.97, Math.max(0.12, (dens - 0.3) * 2.6));
        if (((h >>> 16) & 0xffff) / 65536 > p) continue;
        const h2 = hash(i, j, this.seed + 4242);
        const tumour = dens > 0.55;
        // tumour nests: large pale-rimmed nuclei; stroma: small spindles along the fibres
        const rx = C * (tumour ? 0.34 : 0.24) * (0.8 + ((h2 & 0xff) / 255) * 0.5);
        const ry = rx * (tumour ? 0.65 + (((h2 >>> 8) & 0xff) / 255) * 0.35 : 0.3 + (((h2 >>> 8) & 0xff) / 255) * 0.2);
        const ang = tumour ? (((h2 >>> 16) & 0xff) / 255) * Math.PI : Math.atan2(-this.field(this.dirX, fx, fy), this.field(this.dirY, fx, fy));
        const ca = Math.cos(ang);
        const sa = Math.sin(ang);
        const dark = ((h2 >>> 24) & 0x3f) - 32;
        const nr = 92 + dark * 0.6;
        const ng = 58 + dark * 0.5;
        const nb = 142 + dark * 0.4;
        const r = Math.ceil(Math.max(rx, ry)) + 1;
        const ya = Math.max(y0, Math.floor(cy - r));
        const yb = Math.min(y0 + rows - 1, Math.ceil(cy + r));
        const xa = Math.max(0, Math.floor(cx - r));
        const xb = Math.min(w - 1, Math.ceil(cx + r));
        for (let y = ya; y <= yb; y++) {
          const dy = y - cy;
          let o = ((y - y0) * w + xa) * 3;
          for (let x = xa; x <= xb; x++, o += 3) {
            const dx = x - cx;
            const u = (dx * ca + dy * sa) / rx;
            const v = (dy * ca - dx * sa) / ry;
            const q = u * u + v * v;
            if (q >= 1) continue;
            let a = (1 - q) * 3;
            a = a > 0.92 ? 0.92 : a;
            const chrom = (this.grain[((y & 255) << 8) | (x & 255)] as number) * 1.5;
            out[o] = (out[o] as number) * (1 - a) + (nr + chrom) * a;
            out[o + 1] = (out[o + 1] as number) * (1 - a) + (ng + chrom) * a;
            out[o + 2] = (out[o + 2] as number) * (1 - a) + (nb + chrom) * a;
          }
        }
      }
    }
  }
}
