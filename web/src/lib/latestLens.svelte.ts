import { errorMessage } from "../api/client";
import { runLens, type LensRequest, type LensResult } from "../api/lenses";
import { latestOnly } from "./layers";

/**
 * One lens asked again and again as the learner moves (a new snapshot, another image, a
 * drawing at every stroke): answers are kept by key, and only the newest question that is
 * not kept waits for the server (older ones are dropped).
 */
export class LatestLens {
  result = $state.raw<LensResult | null>(null);
  error = $state<string | null>(null);
  loading = $state(false);
  readonly #cache = new Map<string, LensResult>();
  readonly #ask: (question: { runId: string; key: string | null; body: LensRequest }) => void;

  constructor(lens: string) {
    this.#ask = latestOnly(async ({ runId, key, body }) => {
      this.loading = true;
      try {
        const found = await runLens(runId, lens, body);
        if (key) this.#cache.set(key, found);
        this.result = found;
        this.error = null;
      } catch (err) {
        this.error = errorMessage(err);
      } finally {
        this.loading = false;
      }
    });
  }

  /**
   * Shows the kept answer for `key` at once, or asks the server.
   *
   * Args:
   *   runId: the run.
   *   key: what identifies the question within the run; null (a drawing) is never kept.
   *   body: the lens request.
   */
  request(runId: string, key: string | null, body: LensRequest): void {
    const kept = key ? this.#cache.get(key) : undefined;
    if (kept) this.result = kept;
    else this.#ask({ runId, key, body });
  }
}
