import { request } from "./client";
import type { LensRequest } from "./lenses";

/** Where the web app shows a fact: a view of the run and what it opens there. */
export interface FactLink {
  tab: "training" | "layers" | "explain" | "depth";
  snapshot?: number | null;
  image?: number | null;
  layer?: string | null;
}

/** One sentence of an answer as numbers; the web app words it. */
export interface Fact {
  key: string;
  values: Record<string, unknown>;
  link: FactLink | null;
  /** For missing data: what computes it, a lens request or the Depth view's measures. */
  compute: LensComputation | { depth: true } | null;
}

/** A lens request that computes missing data: POST /api/runs/{id}/lenses/{lens} with the rest. */
export type LensComputation = { lens: string } & LensRequest;

export type Question = "learn" | "look" | "decide";

export interface Answer {
  question: Question;
  facts: Fact[];
}

/** GET /api/runs/{id}/questions. */
export interface Questions {
  snapshot: number | null;
  image: number | null;
  answers: Answer[];
}

/** The three questions about a run, answered from its stored data (`image`: the probe image
 * of "What did it look at?"; default: the one forgotten most). */
export function getQuestions(runId: string, image: number | null = null): Promise<Questions> {
  const query = image === null ? "" : `?image=${image}`;
  return request<Questions>("GET", `/api/runs/${encodeURIComponent(runId)}/questions${query}`);
}
