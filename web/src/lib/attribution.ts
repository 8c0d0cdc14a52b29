/**
 * The attribution lenses as the Explain view shows them: their order, whether their maps
 * are signed, a short guide to each, and readers of the faithfulness lens's result.
 */

import { slice, type LensResult, type NdArray } from "../api/lenses";
import type { ValueRange } from "./colormap";

export interface LensGuide {
  name: string;
  title: string;
  /** Signed maps (evidence for and against) are drawn with a diverging colour map. */
  signed: boolean;
  /** Costly lenses say so, since they make the view wait. */
  slow: boolean;
  /** What it computes, in a sentence. */
  computes: string;
  /** How to read the map. */
  read: string;
  /** Its known failure modes. */
  caveats: string[];
}

/** The attribution lenses, in the order the view shows them. */
export const ATTRIBUTION_LENSES: LensGuide[] = [
  {
    name: "saliency",
    title: "Saliency",
    signed: false,
    slow: false,
    computes: "The size of the class score's gradient at each pixel, largest over the colour channels.",
    read: "Bright pixels would change the score most if nudged a little.",
    caveats: [
      "Sensitivity, not importance: a saturated unit hides a pixel that matters.",
      "Speckled: a ReLU network's gradient jumps from pixel to pixel.",
    ],
  },
  {
    name: "gradient_x_input",
    title: "Gradient × input",
    signed: true,
    slow: false,
    computes:
      "Each pixel's gradient times its value, summed over the channels: its share of the score, to first order.",
    read: "Red pixels push the class score up, blue ones push it down.",
    caveats: [
      "Black pixels always get zero, whatever their role.",
      "The image multiplies everything, so the map looks like the image even when the gradient means little.",
    ],
  },
  {
    name: "smoothgrad",
    title: "SmoothGrad",
    signed: false,
    slow: false,
    computes: "Saliency averaged over 25 copies of the image with random noise added.",
    read: "What saliency finds consistently around the image, without the speckle.",
    caveats: ["Smoother is not truer: averaging also blurs.", "Noisy copies are images the model never saw."],
  },
  {
    name: "integrated_gradients",
    title: "Integrated gradients",
    signed: true,
    slow: true,
    computes:
      "The gradient averaged along a path from a black image to this one (64 steps), times the difference.",
    read: "Red raised the score on the way from black to the image, blue lowered it; the map adds up to that change.",
    caveats: [
      "Relative to its baseline: with black, black pixels get nothing.",
      "Adding up right does not make the spread right.",
    ],
  },
  {
    name: "grad_cam",
    title: "Grad-CAM",
    signed: false,
    slow: false,
    computes:
      "The last convolution's channels weighted by the score's mean gradient, kept where positive, enlarged to the image.",
    read: "Warm where the features the class wants more of are found.",
    caveats: [
      "Coarse: only as fine as the layer.",
      "Often lights up the image's border, an effect of padding, not of the object.",
    ],
  },
  {
    name: "occlusion",
    title: "Occlusion",
    signed: true,
    slow: true,
    computes: "The drop of the class score when a 4x4 black patch hides each part of the image.",
    read: "Red where hiding the pixels lowers the score (evidence for), blue where it raises it.",
    caveats: [
      "The black patch is itself a shape the model reacts to.",
      "The patch size sets what it can find.",
    ],
  },
  {
    name: "edge_detector",
    title: "Edge detector (control)",
    signed: false,
    slow: false,
    computes: "The image's edges (Sobel filter), computed without the model at all.",
    read: "Not an explanation: a map that looks like this one may explain the image rather than the model.",
    caveats: ["It scores well on the pointing game, and never changes in the sanity check."],
  },
];

export function guideOf(name: string): LensGuide | undefined {
  return ATTRIBUTION_LENSES.find((guide) => guide.name === name);
}

/** One 2-D map of a result's `map` array (`(N, H, W)` or `(S, N, H, W)`): rows, columns, values. */
export interface Map2D {
  rows: number;
  cols: number;
  values: ArrayLike<number>;
}

export function map2d(array: NdArray, ...indices: number[]): Map2D {
  let part = array;
  for (const index of indices) part = slice(part, index);
  const [rows, cols] = part.shape;
  return { rows, cols, values: part.data };
}

/**
 * The values at the ends of a map's colour scale: a few extreme pixels would otherwise
 * turn the rest of the map pale, so the scale ends at the `quantile` of the magnitudes
 * (values beyond it take the end colour), as Captum's visualisation does. Signed maps get
 * a scale symmetric about zero; others run from their minimum.
 */
export function displayRange(values: ArrayLike<number>, signed: boolean, quantile = 0.99): ValueRange {
  const finite = Array.from(values).filter(Number.isFinite);
  if (!finite.length) return { min: 0, max: 1 };
  const low = finite.reduce((a, b) => Math.min(a, b), Infinity);
  const magnitudes = finite.map((v) => (signed ? Math.abs(v) : v - low)).sort((a, b) => a - b);
  const top = magnitudes[Math.min(magnitudes.length - 1, Math.floor(quantile * magnitudes.length))] || 1;
  return signed ? { min: -top, max: top } : { min: low, max: low + top };
}

/** The figures of the faithfulness lens for one image. */
export interface Faithfulness {
  fractions: number[];
  deletion: ArrayLike<number>;
  insertion: ArrayLike<number>;
  deletionRandom: ArrayLike<number>;
  insertionRandom: ArrayLike<number>;
  deletionAuc: number;
  insertionAuc: number;
  deletionRandomAuc: number;
  insertionRandomAuc: number;
  /** On datasets with object masks: is the peak on the object, and the map's share on it. */
  pointingHit: boolean | null;
  maskOverlap: number | null;
  maskShare: number | null;
}

function first(meta: Record<string, unknown>, key: string): number | null {
  const values = meta[key] as number[] | undefined;
  return values?.[0] ?? null;
}

/** Reads the faithfulness lens's result for its first image. */
export function readFaithfulness(result: LensResult): Faithfulness {
  const meta = result.meta;
  const curve = (name: string) => slice(result.arrays[name], 0).data;
  const hit = (meta.pointing_hit as boolean[] | undefined)?.[0];
  return {
    fractions: meta.fractions as number[],
    deletion: curve("deletion"),
    insertion: curve("insertion"),
    deletionRandom: curve("deletion_random"),
    insertionRandom: curve("insertion_random"),
    deletionAuc: first(meta, "deletion_auc") ?? NaN,
    insertionAuc: first(meta, "insertion_auc") ?? NaN,
    deletionRandomAuc: first(meta, "deletion_random_auc") ?? NaN,
    insertionRandomAuc: first(meta, "insertion_random_auc") ?? NaN,
    pointingHit: hit ?? null,
    maskOverlap: first(meta, "mask_overlap"),
    maskShare: first(meta, "mask_share"),
  };
}

/** A value per snapshot of a lens run with `snapshot: "all"`: from `per_snapshot` where
 * it changes, else the shared value (kept once when equal at every snapshot). */
export function perSnapshot<T>(meta: Record<string, unknown>, key: string, count: number): T[] {
  const rows = meta.per_snapshot as Record<string, unknown>[] | undefined;
  return Array.from({ length: count }, (_, i) => (rows?.[i]?.[key] ?? meta[key]) as T);
}
