import { decodeArray } from "./arrays";
import { request } from "./client";
import type { EncodedArray } from "./types";

/** GET /api/runs/{id}/depth as sent: accuracies per layer (rows) and snapshot (columns). */
export interface DepthResponse {
  layers: string[];
  same_as: Record<string, string>;
  snapshots: number[];
  epochs: number[];
  probe: EncodedArray;
  knn: EncodedArray;
  network_probe: (number | null)[];
  network_knn: (number | null)[];
  pending: number[];
  unavailable: number[];
  settings: Record<string, unknown>;
  rule: string;
}

/** The accuracies decoded: `probe[row * snapshots.length + column]`, NaN where not measured. */
export interface Depth extends Omit<DepthResponse, "probe" | "knn"> {
  probe: Float32Array;
  knn: Float32Array;
}

/** GET /api/runs/{id}/depth/maps as sent. */
export interface DepthMapsResponse {
  layers: string[];
  /** Rows whose map repeats an earlier row's (a flatten, a dropout), with that row. */
  same_as: Record<string, string>;
  snapshots: number[];
  epochs: number[];
  positions: EncodedArray;
  pending: number[];
  unavailable: number[];
}

/** The maps decoded: positions `[snapshot][layer][image][x, y]`, row-major. */
export interface DepthMaps extends Omit<DepthMapsResponse, "positions"> {
  positions: Float32Array;
  count: number;
}

function floats(encoded: EncodedArray): Float32Array {
  const values = decodeArray(encoded);
  return values instanceof Float32Array ? values : Float32Array.from(values);
}

/** The accuracies measured so far; snapshots still `pending` come with a later call. */
export async function getDepth(runId: string): Promise<Depth> {
  const body = await request<DepthResponse>("GET", `/api/runs/${encodeURIComponent(runId)}/depth`);
  return { ...body, probe: floats(body.probe), knn: floats(body.knn) };
}

/** Every layer's map at the snapshots measured so far, aligned. */
export async function getDepthMaps(runId: string): Promise<DepthMaps> {
  const path = `/api/runs/${encodeURIComponent(runId)}/depth/maps`;
  const body = await request<DepthMapsResponse>("GET", path);
  return { ...body, positions: floats(body.positions), count: body.positions.shape[2] ?? 0 };
}

/** One map's positions (interleaved x, y) out of the decoded maps. */
export function mapAt(maps: DepthMaps, snapshotColumn: number, layerRow: number): Float32Array {
  const size = maps.count * 2;
  const start = (snapshotColumn * maps.layers.length + layerRow) * size;
  return maps.positions.subarray(start, start + size);
}
