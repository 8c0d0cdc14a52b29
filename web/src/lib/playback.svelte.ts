import type { SnapshotSummary } from "../api/types";

/** Time from one snapshot to the next while playing. */
const STEP_MS = 900;

/**
 * The snapshot a run's view shows under its scrubber: the latest one until the learner moves
 * the scrubber or plays through the snapshots, or the one the address names.
 *
 * Made while a component starts, since it runs effects for the component's lifetime.
 */
export class SnapshotPlayback {
  /** The chosen position in the list of snapshots; null follows the latest. */
  position = $state<number | null>(null);
  playing = $state(false);
  readonly #snapshots: () => SnapshotSummary[];

  /** The last position in the list. */
  readonly last = $derived.by(() => Math.max(0, this.#snapshots().length - 1));
  /** The position shown. */
  readonly shown = $derived.by(() => Math.min(this.position ?? this.last, this.last));
  /** The index of the snapshot shown, or null before any. */
  readonly snapshot = $derived.by(() => this.#snapshots()[this.shown]?.index ?? null);

  /**
   * Args:
   *   snapshots: the run's snapshots, read reactively.
   *   query: the address's query, whose `snapshot` names the snapshot to open on.
   */
  constructor(snapshots: () => SnapshotSummary[], query: () => URLSearchParams) {
    this.#snapshots = snapshots;

    // The address names the snapshot; read it once the snapshots are known.
    $effect(() => {
      const list = this.#snapshots();
      const params = query();
      const wanted = Number(params.get("snapshot"));
      if (this.position === null && list.length && Number.isInteger(wanted) && params.has("snapshot")) {
        const at = list.findIndex((s) => s.index === wanted);
        if (at >= 0) this.position = at;
      }
    });

    $effect(() => {
      if (!this.playing) return;
      if (this.shown >= this.last) {
        this.playing = false;
        return;
      }
      const next = this.shown + 1;
      const timer = setTimeout(() => (this.position = next), STEP_MS);
      return () => clearTimeout(timer);
    });
  }

  /** Shows position `at` and stops playing. */
  seek(at: number): void {
    this.playing = false;
    this.position = at;
  }

  /** Plays from where the scrubber is (from the start when it is at the end), or pauses. */
  togglePlay(): void {
    if (!this.playing && this.shown >= this.last) this.position = 0;
    this.playing = !this.playing;
  }
}
