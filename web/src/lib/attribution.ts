/**
 * The attribution lenses as the Explain view shows them: their order, whether their maps
 * are signed, a short guide to each, and readers of the faithfulness lens's result.
 */

import { slice, type LensResult, type NdArray } from "../api/lenses";
import type { ValueRange } from "./colormap";
import { t, type MessageKey } from "./i18n";

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

/** A lens's guide; its words come from the catalogues, in the page's language. */
function guide(name: string, signed: boolean, slow: boolean, caveats: number): LensGuide {
  const text = (part: string) => t(`lens.${name}.${part}` as MessageKey);
  return {
    name,
    signed,
    slow,
    get title() {
      return text("title");
    },
    get computes() {
      return text("computes");
    },
    get read() {
      return text("read");
    },
    get caveats() {
      return Array.from({ length: caveats }, (_, i) => text(`caveat${i + 1}`));
    },
  };
}

/** The attribution lenses, in the order the view shows them. */
export const ATTRIBUTION_LENSES: LensGuide[] = [
  guide("saliency", false, false, 2),
  guide("gradient_x_input", true, false, 2),
  guide("smoothgrad", false, false, 2),
  guide("integrated_gradients", true, true, 2),
  guide("grad_cam", false, false, 2),
  guide("occlusion", true, true, 2),
  guide("edge_detector", false, false, 1),
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
