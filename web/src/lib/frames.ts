import { decodeArray } from "../api/arrays";
import type { Metrics, SnapshotDetail } from "../api/types";
import type { Atlas } from "./atlas";

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

/** Share of the points, at each end of each axis, that may fall outside the view. */
const TAIL = 0.01;

function quantile(sorted: Float32Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.floor(q * (sorted.length - 1))))];
}

/**
 * Centres the points on the middle of their central range (the 1st to 99th percentile of
 * each axis) and scales both axes by the same factor so that range fills [-1, 1]; the few
 * points beyond it are pulled in to the edge. Centring on the range rather than the mean
 * keeps a map with one long arm from sitting off-centre.
 */
export function normalisePositions(raw: Float32Array, count: number): Float32Array {
  const out = new Float32Array(count * 2);
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = 0; i < count; i++) {
    const x = raw[2 * i];
    const y = raw[2 * i + 1];
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    xs.push(x);
    ys.push(y);
  }
  if (xs.length === 0) return out;
  const sortedX = Float32Array.from(xs).sort();
  const sortedY = Float32Array.from(ys).sort();
  const [x0, x1] = [quantile(sortedX, TAIL), quantile(sortedX, 1 - TAIL)];
  const [y0, y1] = [quantile(sortedY, TAIL), quantile(sortedY, 1 - TAIL)];
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  const scale = Math.max(x1 - x0, y1 - y0) / 2 || 1;
  const clamp = (v: number) => Math.max(-EDGE, Math.min(EDGE, v));
  for (let i = 0; i < count; i++) {
    const x = raw[2 * i];
    const y = raw[2 * i + 1];
    out[2 * i] = Number.isFinite(x) ? clamp((x - cx) / scale) : 0;
    out[2 * i + 1] = Number.isFinite(y) ? clamp(-(y - cy) / scale) : 0;
  }
  return out;
}

const EDGE = 1;

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

/** What every panel over the probe set receives: the images, the scrubbed snapshot, the choice. */
export interface ProbePanelProps {
  atlas: Atlas | null;
  frame: Frame | null;
  labels: Int32Array | null;
  classNames: string[];
  selected: number | null;
  onselect: (index: number) => void;
}
