import { decodeArray } from "../api/arrays";
import type { Metrics, SnapshotDetail } from "../api/types";

/** One snapshot, decoded and ready to draw. */
export interface Frame {
  index: number;
  epoch: number;
  step: number;
  metrics: Metrics;
  count: number;
  numClasses: number;
  /** Positions scaled into [-1, 1] on both axes, interleaved x, y. */
  positions: Float32Array;
  predictions: Int32Array;
  probabilities: Float32Array;
  confusion: number[][];
}

/**
 * Centres the points and scales them uniformly so that all but the outermost 1% fall
 * inside [-1, 1]; those few are pulled in to the edge.
 */
export function normalisePositions(raw: Float32Array, count: number): Float32Array {
  const out = new Float32Array(count * 2);
  let cx = 0;
  let cy = 0;
  let finite = 0;
  for (let i = 0; i < count; i++) {
    const x = raw[2 * i];
    const y = raw[2 * i + 1];
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    cx += x;
    cy += y;
    finite++;
  }
  if (finite === 0) return out;
  cx /= finite;
  cy /= finite;
  const radii = new Float32Array(finite);
  let k = 0;
  for (let i = 0; i < count; i++) {
    const x = raw[2 * i];
    const y = raw[2 * i + 1];
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    radii[k++] = Math.max(Math.abs(x - cx), Math.abs(y - cy));
  }
  radii.sort();
  const scale = radii[Math.min(finite - 1, Math.floor(finite * 0.99))] || radii[finite - 1] || 1;
  const clamp = (v: number) => Math.max(-EDGE, Math.min(EDGE, v));
  for (let i = 0; i < count; i++) {
    const x = raw[2 * i];
    const y = raw[2 * i + 1];
    out[2 * i] = Number.isFinite(x) ? clamp((x - cx) / scale) : 0;
    out[2 * i + 1] = Number.isFinite(y) ? clamp(-(y - cy) / scale) : 0;
  }
  return out;
}

const EDGE = 1.04;

export function toFrame(detail: SnapshotDetail): Frame {
  const predictions = Int32Array.from(decodeArray(detail.predictions));
  const count = predictions.length;
  const probabilities = Float32Array.from(decodeArray(detail.probabilities));
  const numClasses = detail.probabilities.shape[1] ?? (count ? probabilities.length / count : 0);
  const rawPositions = decodeArray(detail.positions);
  const positions = normalisePositions(
    rawPositions instanceof Float32Array ? rawPositions : Float32Array.from(rawPositions),
    count,
  );
  return {
    index: detail.index,
    epoch: detail.epoch,
    step: detail.step,
    metrics: detail.metrics,
    count,
    numClasses,
    positions,
    predictions,
    probabilities,
    confusion: detail.confusion,
  };
}
