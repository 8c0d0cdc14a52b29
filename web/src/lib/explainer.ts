/**
 * The arithmetic of one layer, redone from the `conv_explainer` lens's arrays (the layer's
 * input, kernel and bias, for one image): the same formulas as
 * `convscope.lenses.conv_explainer` in Python, whose tests check them against the network.
 */
import type { NdArray } from "../api/lenses";
import { fmtFixed, fmtNumber } from "./format";
import { t } from "./i18n";

/** The lens's meta for the layer. */
export interface ExplainerMeta {
  layer: string;
  class_name: string;
  kind: "convolution" | "pooling" | "flatten" | "dense";
  activation: string | null;
  input_shape: number[];
  input_layer: string;
  is_output: boolean;
  window?: number[];
  strides?: number[];
  padding?: string;
  pad?: number[];
  pool_size?: number[];
  operation?: "max" | "average";
}

/** What the explainer of a layer with maps is given: its input and output for one image. */
export interface MapExplainerProps {
  input: NdArray;
  output: NdArray;
  meta: ExplainerMeta;
  /** The output channel explained, and its pixel (row, column). */
  channel: number;
  pixel: [number, number];
  onpixel: (pixel: [number, number]) => void;
}

/** Layer classes the explainer shows (the lens refuses the others). */
export const EXPLAINED = new Set(["Conv2D", "MaxPooling2D", "AveragePooling2D", "Flatten", "Dense"]);

/** The value at `index` of a row-major array of `shape`. */
export function at(array: NdArray, ...index: number[]): number {
  let offset = 0;
  for (let axis = 0; axis < array.shape.length; axis++)
    offset = offset * array.shape[axis] + (index[axis] ?? 0);
  return Number(array.data[offset]);
}

/** One channel of a `(H, W, C)` map as row-major values. */
export function channelPlane(array: NdArray, channel: number): Float64Array {
  const [rows, cols, channels] = array.shape;
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows * cols; i++) out[i] = Number(array.data[i * channels + channel]);
  return out;
}

/** The top-left input position of the window under output (row, col); may lie in the padding. */
export function windowOrigin(meta: ExplainerMeta, row: number, col: number): [number, number] {
  const [sr, sc] = meta.strides ?? [1, 1];
  const [pr, pc] = meta.pad ?? [0, 0];
  return [row * sr - pr, col * sc - pc];
}

/** An input value under a window, or null in the padding (where it counts as 0). */
function inputAt(input: NdArray, r: number, c: number, channel: number): number | null {
  const [rows, cols] = input.shape;
  return r >= 0 && c >= 0 && r < rows && c < cols ? at(input, r, c, channel) : null;
}

export interface ConvTerms {
  /** `[kh][kw]` input values per input channel (null: padding). */
  patch: (number | null)[][][];
  /** `[kh][kw]` kernel weights per input channel. */
  weights: number[][][];
  /** Each input channel's sum of products. */
  perChannel: number[];
  bias: number;
  /** The multiply-add: every product plus the bias, before the activation. */
  total: number;
}

/** One output value of a convolution as a multiply-add (input `(H, W, Cin)`, kernel
 * `(kh, kw, Cin, Cout)`, bias `(Cout)`). */
export function convTerms(
  input: NdArray,
  kernel: NdArray,
  bias: NdArray,
  meta: ExplainerMeta,
  row: number,
  col: number,
  channel: number,
): ConvTerms {
  const [kh, kw, cin] = kernel.shape;
  const [top, left] = windowOrigin(meta, row, col);
  const patch: (number | null)[][][] = [];
  const weights: number[][][] = [];
  const perChannel: number[] = [];
  for (let k = 0; k < cin; k++) {
    const p: (number | null)[][] = [];
    const w: number[][] = [];
    let sum = 0;
    for (let i = 0; i < kh; i++) {
      p.push([]);
      w.push([]);
      for (let j = 0; j < kw; j++) {
        const x = inputAt(input, top + i, left + j, k);
        const weight = at(kernel, i, j, k, channel);
        p[i].push(x);
        w[i].push(weight);
        sum += (x ?? 0) * weight;
      }
    }
    patch.push(p);
    weights.push(w);
    perChannel.push(sum);
  }
  const b = at(bias, channel);
  return { patch, weights, perChannel, bias: b, total: perChannel.reduce((a, s) => a + s, 0) + b };
}

export interface PoolTerms {
  /** `[ph][pw]` values (null: padding). */
  window: (number | null)[][];
  /** The winner's place in the window (max pooling). */
  winner: [number, number];
  value: number;
}

/** One output value of a pooling layer: its window and, for max-pooling, which input won. */
export function poolTerms(
  input: NdArray,
  meta: ExplainerMeta,
  row: number,
  col: number,
  channel: number,
): PoolTerms {
  const [ph, pw] = meta.pool_size ?? [2, 2];
  const [top, left] = windowOrigin(meta, row, col);
  const window: (number | null)[][] = [];
  let winner: [number, number] = [0, 0];
  let best = -Infinity;
  let sum = 0;
  let count = 0;
  for (let i = 0; i < ph; i++) {
    window.push([]);
    for (let j = 0; j < pw; j++) {
      const x = inputAt(input, top + i, left + j, channel);
      window[i].push(x);
      if (x === null) continue;
      sum += x;
      count += 1;
      if (x > best) {
        best = x;
        winner = [i, j];
      }
    }
  }
  return { window, winner, value: meta.operation === "average" ? sum / Math.max(1, count) : best };
}

/** The input position (row, column, channel) that flatten puts at `index`. */
export function flattenSource(index: number, shape: number[]): number[] {
  const out: number[] = [];
  let rest = index;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    out.unshift(rest % shape[axis]);
    rest = Math.floor(rest / shape[axis]);
  }
  return out;
}

export interface DenseTerms {
  /** Each input times its weight, in input order. */
  products: Float64Array;
  bias: number;
  total: number;
}

/** One unit of a dense layer as a multiply-add (input `(N)`, kernel `(N, units)`). */
export function denseTerms(input: NdArray, kernel: NdArray, bias: NdArray, unit: number): DenseTerms {
  const [n, units] = kernel.shape;
  const products = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    products[i] = Number(input.data[i]) * Number(kernel.data[i * units + unit]);
    sum += products[i];
  }
  const b = at(bias, unit);
  return { products, bias: b, total: sum + b };
}

/** The activations the explainer shows. */
export function activate(name: string | null, value: number): number {
  if (name === "relu") return Math.max(0, value);
  if (name === "tanh") return Math.tanh(value);
  if (name === "sigmoid") return 1 / (1 + Math.exp(-value));
  return value;
}

/** How the line that applies the layer's activation to the sum `total` reads. */
export function activationLabel(name: string | null, total: number): string {
  if (name === "relu") return t("explainer.relu", { x: fmt(total) });
  return name ? t("explainer.activation", { name, x: fmt(total) }) : t("explainer.noActivation");
}

/** The softmax of logits, with the exponentials it divides (shifted by the largest logit). */
export function softmax(logits: number[]): { exps: number[]; probabilities: number[] } {
  const top = Math.max(...logits);
  const exps = logits.map((z) => Math.exp(z - top));
  const total = exps.reduce((a, b) => a + b, 0);
  return { exps, probabilities: exps.map((e) => e / total) };
}

/** Indices of the `count` largest absolute values, largest first. */
export function largest(values: ArrayLike<number>, count: number): number[] {
  return Array.from({ length: values.length }, (_, i) => i)
    .sort((a, b) => Math.abs(values[b]) - Math.abs(values[a]))
    .slice(0, count);
}

/** A number as the explainer prints it: 3 significant digits, a true minus sign. */
export function fmt(value: number | null): string {
  if (value === null) return "0";
  if (value === 0) return "0";
  // In the page's language (a decimal comma in French), as the rest of the app.
  const text = Math.abs(value) >= 100 ? fmtFixed(value, 1) : fmtNumber(value, 3);
  return text.replace("-", "−");
}
