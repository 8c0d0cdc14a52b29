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
  /** Map positions as recorded (aligned across the run's snapshots), interleaved x, y. */
  positions: Float32Array;
  predictions: Int32Array;
  probabilities: Float32Array;
  confusion: number[][];
}

/** Share of the points, at each end of each axis, that may be pulled in to the view's edge. */
const TAIL = 0.005;

/** The region of the map's coordinates a view shows: a centre and one half-size for both axes. */
export interface MapExtent {
  cx: number;
  cy: number;
  half: number;
}

function quantile(sorted: Float32Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.floor(q * (sorted.length - 1))))];
}

/**
 * The extent that holds every frame's points (all but the outermost 0.5% on each side of
 * each axis, which are pulled in to the edge), so the view neither clips clusters nor
 * jumps from one snapshot to the next. Null when no frame has a finite point.
 */
export function mapExtent(frames: Iterable<Frame>): MapExtent | null {
  let x0 = Infinity;
  let x1 = -Infinity;
  let y0 = Infinity;
  let y1 = -Infinity;
  for (const frame of frames) {
    const xs: number[] = [];
    const ys: number[] = [];
    for (let i = 0; i < frame.count; i++) {
      const x = frame.positions[2 * i];
      const y = frame.positions[2 * i + 1];
      if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
      xs.push(x);
      ys.push(y);
    }
    if (!xs.length) continue;
    const sortedX = Float32Array.from(xs).sort();
    const sortedY = Float32Array.from(ys).sort();
    x0 = Math.min(x0, quantile(sortedX, TAIL));
    x1 = Math.max(x1, quantile(sortedX, 1 - TAIL));
    y0 = Math.min(y0, quantile(sortedY, TAIL));
    y1 = Math.max(y1, quantile(sortedY, 1 - TAIL));
  }
  if (!Number.isFinite(x0)) return null;
  return { cx: (x0 + x1) / 2, cy: (y0 + y1) / 2, half: Math.max(x1 - x0, y1 - y0) / 2 || 1 };
}

/**
 * Positions scaled into [-1, 1] on both axes by one factor, y pointing down as on screen;
 * points beyond the extent are pulled in to its edge.
 */
export function projectPositions(raw: Float32Array, count: number, extent: MapExtent): Float32Array {
  const out = new Float32Array(count * 2);
  const clamp = (v: number) => Math.max(-1, Math.min(1, v));
  for (let i = 0; i < count; i++) {
    const x = raw[2 * i];
    const y = raw[2 * i + 1];
    out[2 * i] = Number.isFinite(x) ? clamp((x - extent.cx) / extent.half) : 0;
    out[2 * i + 1] = Number.isFinite(y) ? clamp(-(y - extent.cy) / extent.half) : 0;
  }
  return out;
}

export function toFrame(detail: SnapshotDetail): Frame {
  const predictions = Int32Array.from(decodeArray(detail.predictions));
  const count = predictions.length;
  const probabilities = Float32Array.from(decodeArray(detail.probabilities));
  const numClasses = detail.probabilities.shape[1] ?? (count ? probabilities.length / count : 0);
  const raw = decodeArray(detail.positions);
  const positions = raw instanceof Float32Array ? raw : Float32Array.from(raw);
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

/** Whether two extents show the same region (so a view need not move). */
export function sameExtent(a: MapExtent | null, b: MapExtent | null): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  return a.cx === b.cx && a.cy === b.cy && a.half === b.half;
}
