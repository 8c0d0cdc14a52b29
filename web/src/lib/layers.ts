import { intlLocale } from "./i18n";
/**
 * Reading the layers lenses' results: the network's rows, one layer's feature maps as
 * planes, value ranges for shared or per-channel colour scales, and a requester that keeps
 * only the newest of quickly repeated requests (drawing).
 */
import type { NdArray } from "../api/lenses";
import type { ValueRange } from "./colormap";

/** One row of the `architecture` lens. */
export interface LayerRow {
  name: string;
  class_name: string;
  output_shape: (number | null)[] | null;
  params: number;
  trainable_params: number;
  inputs: string[];
  activation: string | null;
}

/** Whether a layer's output is a stack of feature maps (height, width, channels). */
export function isSpatial(row: LayerRow | undefined): boolean {
  return (row?.output_shape?.length ?? 0) === 3;
}

/** Number of channels (or units, or classes) of a layer's output: its last axis. */
export function channelCount(row: LayerRow | undefined): number {
  const shape = row?.output_shape ?? [];
  return Number(shape[shape.length - 1] ?? 0);
}

export function isConvolution(row: LayerRow | undefined): boolean {
  return /Conv/.test(row?.class_name ?? "") && isSpatial(row);
}

/** A layer's output for one image as planes: `(rows, cols)` values per channel. */
export interface Planes {
  rows: number;
  cols: number;
  channels: number;
  plane: (channel: number) => Float32Array;
}

/** Splits `(1, h, w, c)` (or `(h, w, c)`) activations into one plane per channel. */
export function toPlanes(array: NdArray): Planes {
  const shape = array.shape.length === 4 ? array.shape.slice(1) : array.shape;
  const [rows, cols, channels] = shape;
  const data = array.data;
  const cache = new Map<number, Float32Array>();
  return {
    rows,
    cols,
    channels,
    plane(channel: number): Float32Array {
      let out = cache.get(channel);
      if (!out) {
        out = new Float32Array(rows * cols);
        for (let i = 0; i < rows * cols; i++) out[i] = data[i * channels + channel];
        cache.set(channel, out);
      }
      return out;
    },
  };
}

/** The range of every value of an array (a shared colour scale for a whole layer). A
 * constant array (a channel that is zero everywhere) maps to the bottom of the scale. */
export function rangeOf(values: ArrayLike<number>): ValueRange {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (!Number.isFinite(min)) return { min: 0, max: 1 };
  return max > min ? { min, max } : { min, max: min + 1 };
}

/**
 * Calls `run` with the newest argument only: while one call is in flight, later arguments
 * replace each other and the last one runs when it ends. Drawing asks for activations at
 * every frame; only the newest drawing is worth the server's time.
 */
export function latestOnly<A>(run: (arg: A) => Promise<void>): (arg: A) => void {
  let busy = false;
  let pending: { arg: A } | null = null;
  async function loop(arg: A): Promise<void> {
    busy = true;
    try {
      await run(arg);
    } finally {
      busy = false;
      const next = pending;
      pending = null;
      if (next) void loop(next.arg);
    }
  }
  return (arg: A) => {
    if (busy) pending = { arg };
    else void loop(arg);
  };
}

/** Human count in the page's language: 1,234 or 1.2M (1 234 or 1,2 M in French). */
export function fmtCount(n: number): string {
  return new Intl.NumberFormat(
    intlLocale(),
    n >= 1e6 ? { notation: "compact", maximumFractionDigits: 1 } : {},
  ).format(n);
}

/** A layer's output shape as text: 28×28×16, or 64. */
export function fmtShape(shape: (number | null)[] | null): string {
  return shape ? shape.map((s) => (s === null ? "?" : String(s))).join("×") : "";
}
