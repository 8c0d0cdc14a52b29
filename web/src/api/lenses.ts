import { decodeArray, type NumericArray } from "./arrays";
import { request } from "./client";
import type { EncodedArray, JsonSchema } from "./types";

/** How the web app draws a lens's result. */
export type LensKind =
  | "activations"
  | "image_map"
  | "feature_grid"
  | "images"
  | "curves"
  | "bars"
  | "matrix"
  | "table"
  | "scatter";

/** One lens of the registry (GET /api/lenses). */
export interface LensInfo {
  name: string;
  title: string;
  kind: LensKind;
  description: string;
  params_schema: JsonSchema;
  references: string[];
  uses_target: boolean;
  needs_labels: boolean;
  /** `images`: looks at the chosen image; `probe_set`: at the run's whole probe set;
   * `model`: at the model alone (its layers and weights). */
  scope: "images" | "probe_set" | "model";
}

/** The image a lens looks at: a probe image by position, pixel rows (0..255), or an upload. */
export type ImageRef = { probe: number } | { pixels: number[][] | number[][][] } | { upload: string };

/** The body of POST /api/runs/{id}/lenses/{name}. */
export interface LensRequest {
  snapshot?: number | "last" | "all" | number[];
  image?: ImageRef | null;
  target?: "predicted" | number;
  params?: Record<string, unknown>;
}

/** A decoded array: its shape and its values, row-major. */
export interface NdArray {
  shape: number[];
  data: NumericArray;
}

/** A lens's result, arrays decoded. With several snapshots each array gains a first axis. */
export interface LensResult {
  lens: string;
  kind: LensKind;
  arrays: Record<string, NdArray>;
  meta: Record<string, unknown> & { snapshots: number[]; epochs: number[] };
}

interface LensResponse {
  lens: string;
  kind: LensKind;
  arrays: Record<string, EncodedArray>;
  meta: LensResult["meta"];
}

/** Every lens the server knows. */
export function listLenses(): Promise<LensInfo[]> {
  return request<LensInfo[]>("GET", "/api/lenses");
}

/** Runs a lens on a run's model and decodes its arrays. */
export async function runLens(runId: string, name: string, body: LensRequest): Promise<LensResult> {
  const path = `/api/runs/${encodeURIComponent(runId)}/lenses/${encodeURIComponent(name)}`;
  const response = await request<LensResponse>("POST", path, body);
  const arrays: Record<string, NdArray> = {};
  for (const [key, encoded] of Object.entries(response.arrays)) {
    arrays[key] = { shape: encoded.shape, data: decodeArray(encoded) };
  }
  return { lens: response.lens, kind: response.kind, arrays, meta: response.meta };
}

/** The `index`-th sub-array along the first axis (one image of a batch, one snapshot...). */
export function slice(array: NdArray, index: number): NdArray {
  const [first, ...rest] = array.shape;
  if (index < 0 || index >= first) throw new RangeError(`index ${index} outside 0..${first - 1}`);
  const size = rest.reduce((a, b) => a * b, 1);
  return { shape: rest, data: array.data.subarray(index * size, (index + 1) * size) };
}
