/**
 * Colour maps for arrays of numbers: a perceptually ordered sequential map (dark to bright)
 * for values that only grow, and a diverging map (blue, white, red) for signed values,
 * white at zero. Each is a 256-entry lookup table.
 */

export type ColormapName = "sequential" | "diverging";
export type Rgb = [number, number, number];

function lerpStops(stops: Rgb[], t: number): Rgb {
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const a = stops[i];
  const b = stops[i + 1];
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

// Viridis at nine evenly spaced points (van der Walt and Smith, matplotlib).
const VIRIDIS: Rgb[] = [
  [68, 1, 84],
  [71, 44, 122],
  [59, 81, 139],
  [44, 113, 142],
  [33, 144, 141],
  [39, 173, 129],
  [92, 200, 99],
  [170, 220, 50],
  [253, 231, 37],
];

// ColorBrewer RdBu, reversed so that negative is blue and positive red.
const RDBU: Rgb[] = [
  [5, 48, 97],
  [33, 102, 172],
  [67, 147, 195],
  [146, 197, 222],
  [247, 247, 247],
  [244, 165, 130],
  [214, 96, 77],
  [178, 24, 43],
  [103, 0, 31],
];

function table(stops: Rgb[]): Uint8ClampedArray {
  const lut = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) {
    const [r, g, b] = lerpStops(stops, i / 255);
    lut[3 * i] = r;
    lut[3 * i + 1] = g;
    lut[3 * i + 2] = b;
  }
  return lut;
}

const TABLES: Record<ColormapName, Uint8ClampedArray> = {
  sequential: table(VIRIDIS),
  diverging: table(RDBU),
};

/** The colour of `t` in 0..1 (clamped). */
export function colorAt(name: ColormapName, t: number): Rgb {
  const lut = TABLES[name];
  const i = Math.round(Math.min(1, Math.max(0, t)) * 255) * 3;
  return [lut[i], lut[i + 1], lut[i + 2]];
}

/** A CSS colour string for `t` in 0..1. */
export function cssColor(name: ColormapName, t: number): string {
  const [r, g, b] = colorAt(name, t);
  return `rgb(${r},${g},${b})`;
}

/** The range that maps to the ends of the colour map. */
export interface ValueRange {
  min: number;
  max: number;
}

/**
 * The range of `values` for a map: `[min, max]` for a sequential map, and `[-m, m]` with
 * m the largest absolute value for a diverging map, so that zero stays white.
 */
export function valueRange(values: ArrayLike<number>, name: ColormapName): ValueRange {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === Infinity) return { min: 0, max: 1 };
  if (name === "diverging") {
    const m = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
    return { min: -m, max: m };
  }
  return hi > lo ? { min: lo, max: hi } : { min: lo - 0.5, max: lo + 0.5 };
}

/**
 * Paints `values` (row-major, `height` x `width`) into RGBA pixels. `alpha` is the opacity of
 * each pixel (0..255); with `alphaByMagnitude`, small values fade out, so an image under the
 * map stays visible where the map says little.
 */
export function paint(
  values: ArrayLike<number>,
  width: number,
  height: number,
  name: ColormapName,
  range: ValueRange,
  alpha = 255,
  alphaByMagnitude = false,
): ImageData {
  const image = new ImageData(width, height);
  const out = image.data;
  const lut = TABLES[name];
  const span = range.max - range.min || 1;
  const centre = name === "diverging" ? 0 : range.min;
  const reach = Math.max(Math.abs(range.max - centre), Math.abs(range.min - centre)) || 1;
  for (let i = 0; i < width * height; i++) {
    const v = values[i];
    const t = Number.isFinite(v) ? (v - range.min) / span : 0;
    const k = Math.round(Math.min(1, Math.max(0, t)) * 255) * 3;
    out[4 * i] = lut[k];
    out[4 * i + 1] = lut[k + 1];
    out[4 * i + 2] = lut[k + 2];
    const strength = alphaByMagnitude && Number.isFinite(v) ? Math.min(1, Math.abs(v - centre) / reach) : 1;
    out[4 * i + 3] = alpha * strength;
  }
  return image;
}
