import type { LensResult, NdArray } from "../api/lenses";
import type { Frame } from "./frames";

/** A drop in accuracy above this share counts a channel as one the network relies on. */
export const IMPORTANT_DROP = 0.01;

/** Layers wider than this are not measured channel by channel in the web app (a flattened
 * layer has thousands of units, each costing a pass of the rest of the network). */
export const MAX_IMPORTANCE_CHANNELS = 128;

/** What a layer of the model looks like, from the `architecture` lens. */
export interface LayerShape {
  name: string;
  className: string;
  channels: number | null;
}

/** The model's layers and their channel counts, from an `architecture` result. */
export function layerShapes(result: LensResult): LayerShape[] {
  const rows = (result.meta.layers ?? []) as {
    name: string;
    class_name: string;
    output_shape: (number | null)[] | null;
  }[];
  return rows.map((row) => {
    const last = row.output_shape?.[row.output_shape.length - 1] ?? null;
    return { name: row.name, className: row.class_name, channels: last };
  });
}

/** Layers whose channels the network computes (not reshaped or dropped copies): the curve's
 * rows across training. The logits are left out: switching a class off is not a question. */
export function measuredLayers(shapes: LayerShape[]): string[] {
  const kinds = new Set(["Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Dense", "Add"]);
  const last = shapes[shapes.length - 1]?.name;
  return shapes
    .filter((s) => s.name !== last && kinds.has(s.className))
    .filter((s) => s.channels !== null && s.channels <= MAX_IMPORTANCE_CHANNELS)
    .map((s) => s.name);
}

/** One row of a `(rows, 1 + classes)` array: column 0 overall, then one per class. */
export function row(array: NdArray, index: number): Float32Array {
  const width = array.shape[array.shape.length - 1];
  return Float32Array.from(array.data.subarray(index * width, (index + 1) * width));
}

/** The channels' drops in one column (0: overall; 1 + c: class c). */
export function dropColumn(drop: NdArray, column: number): Float32Array {
  const [channels, width] = drop.shape;
  const out = new Float32Array(channels);
  for (let k = 0; k < channels; k++) out[k] = drop.data[k * width + column];
  return out;
}

/** How many channels cost more than {@link IMPORTANT_DROP} of the overall accuracy, at
 * each snapshot of a `channel_importance` result over several snapshots. */
export function importantCounts(drop: NdArray): number[] {
  const [snapshots, channels, width] = drop.shape;
  const counts: number[] = [];
  for (let s = 0; s < snapshots; s++) {
    let count = 0;
    for (let k = 0; k < channels; k++) {
      if (drop.data[(s * channels + k) * width] > IMPORTANT_DROP) count++;
    }
    counts.push(count);
  }
  return counts;
}

/** An `ablation` result, decoded for the views. */
export interface Ablated {
  /** Overall then per class: switched off, and intact. */
  ablated: Float32Array;
  intact: Float32Array;
  predictions: Int32Array;
  probabilities: Float32Array;
  confusion: number[][];
  intactConfusion: number[][];
}

function matrix(array: NdArray, index: number): number[][] {
  const [, size] = array.shape;
  const out: number[][] = [];
  for (let t = 0; t < size; t++) {
    const start = (index * size + t) * size;
    out.push(Array.from(array.data.subarray(start, start + size)));
  }
  return out;
}

/** The ablated network's side of an `ablation` result (row 0), with the intact accuracies. */
export function ablated(result: LensResult): Ablated {
  const { accuracy, predicted, probabilities, confusion } = result.arrays;
  const count = predicted.shape[1];
  return {
    ablated: row(accuracy, 0),
    intact: row(accuracy, 1),
    predictions: Int32Array.from(predicted.data.subarray(0, count)),
    probabilities: Float32Array.from(probabilities.data.subarray(0, count * probabilities.shape[2])),
    confusion: matrix(confusion, 0),
    intactConfusion: matrix(confusion, 1),
  };
}

/** The snapshot's map with the ablated network's predictions: its colours and frames change,
 * its positions (the intact network's) do not. */
export function ablatedFrame(frame: Frame, result: Ablated): Frame {
  return {
    ...frame,
    predictions: result.predictions,
    probabilities: result.probabilities,
    confusion: result.confusion,
  };
}
