import { api, errorMessage } from "../api/client";
import { decodeArray, toIntArray, toNumbers } from "../api/arrays";
import {
  TERMINAL_STATUSES,
  type BatchColumns,
  type ProbeInfo,
  type Run,
  type SnapshotSummary,
  type Timeline,
} from "../api/types";
import { loadAtlas, type Atlas } from "./atlas";
import { toFrame, type Frame } from "./frames";
import { followRun } from "./sse";

export interface DecodedTimeline {
  epochs: number[];
  snapshots: number;
  count: number;
  trueProbability: Float32Array;
  correct: Uint8Array;
  forgettingEvents: number[];
  firstLearned: number[];
  hardest: number[];
}

function decodeTimeline(t: Timeline): DecodedTimeline {
  const prob = decodeArray(t.true_probability);
  const correct = decodeArray(t.correct);
  return {
    epochs: t.epochs,
    snapshots: t.true_probability.shape[0] ?? 0,
    count: t.true_probability.shape[1] ?? 0,
    trueProbability: prob instanceof Float32Array ? prob : Float32Array.from(prob),
    correct: correct instanceof Uint8Array ? correct : Uint8Array.from(correct),
    forgettingEvents: t.forgetting_events,
    firstLearned: t.first_learned,
    hardest: t.hardest,
  };
}

const emptyBatches = (): BatchColumns => ({ step: [], epoch: [], loss: [], accuracy: [] });

export function isTerminal(run: Run | null): boolean {
  return run !== null && TERMINAL_STATUSES.includes(run.status);
}

/** Everything known about one run, kept up to date from its event stream. */
export class LiveRun {
  readonly id: string;
  run = $state.raw<Run | null>(null);
  error = $state<string | null>(null);
  connection = $state<"connecting" | "open" | "reconnecting" | "closed">("connecting");
  batches = $state.raw<BatchColumns>(emptyBatches());
  snapshots = $state.raw<SnapshotSummary[]>([]);
  frames = $state.raw<Map<number, Frame>>(new Map());
  probe = $state.raw<ProbeInfo | null>(null);
  labels = $state.raw<Int32Array | null>(null);
  atlas = $state.raw<Atlas | null>(null);
  probeError = $state<string | null>(null);
  timeline = $state.raw<DecodedTimeline | null>(null);

  #stream: { close: () => void } | null = null;
  #pendingFrames = new Map<number, Promise<Frame | null>>();
  #timelineWanted = false;
  #timelineTimer: ReturnType<typeof setTimeout> | null = null;
  #stopped = false;
  #probeLoading = false;

  constructor(id: string) {
    this.id = id;
  }

  /** Loads the run, its curves and probe images, then follows its events unless it is over. */
  async start(options: { live?: boolean } = {}): Promise<void> {
    const live = options.live ?? true;
    try {
      this.run = await api.run(this.id);
    } catch (err) {
      this.error = errorMessage(err);
      return;
    }
    const curves = this.#loadCurves().catch((err: unknown) => {
      this.error = errorMessage(err);
    });
    if (live && !isTerminal(this.run)) this.#follow();
    else this.connection = "closed";
    await curves;
  }

  stop(): void {
    this.#stopped = true;
    this.#stream?.close();
    this.#stream = null;
    if (this.#timelineTimer) clearTimeout(this.#timelineTimer);
  }

  async cancel(): Promise<void> {
    this.run = await api.cancelRun(this.id);
    if (isTerminal(this.run)) this.#closeStream();
  }

  /** Steps per epoch, from progress or from a snapshot recorded at an epoch's end. */
  get stepsPerEpoch(): number | null {
    const p = this.run?.progress;
    if (p && p.steps_per_epoch > 0) return p.steps_per_epoch;
    const s = this.snapshots.find((x) => x.epoch >= 1 && Number.isInteger(x.epoch) && x.step > 0);
    return s ? s.step / s.epoch : null;
  }

  frame(index: number): Frame | null {
    return this.frames.get(index) ?? null;
  }

  /** Fetches one snapshot's detail (once). */
  loadFrame(index: number): Promise<Frame | null> {
    const have = this.frames.get(index);
    if (have) return Promise.resolve(have);
    let pending = this.#pendingFrames.get(index);
    if (!pending) {
      pending = api.snapshot(this.id, index).then(
        (detail) => {
          const frame = toFrame(detail);
          const next = new Map(this.frames);
          next.set(index, frame);
          this.frames = next;
          return frame;
        },
        (err: unknown) => {
          this.#pendingFrames.delete(index);
          console.warn(`convscope: snapshot ${index}:`, errorMessage(err));
          return null;
        },
      );
      this.#pendingFrames.set(index, pending);
    }
    return pending;
  }

  async loadAllFrames(): Promise<void> {
    for (const s of this.snapshots) {
      if (this.#stopped) return;
      await this.loadFrame(s.index);
    }
  }

  /** Fetches the timeline now and again whenever a snapshot is added. */
  wantTimeline(): void {
    this.#timelineWanted = true;
    if (!this.timeline) this.#scheduleTimeline(0);
  }

  #scheduleTimeline(delay: number): void {
    if (!this.#timelineWanted || this.#stopped) return;
    if (this.#timelineTimer) clearTimeout(this.#timelineTimer);
    this.#timelineTimer = setTimeout(() => {
      this.#timelineTimer = null;
      api.timeline(this.id).then(
        (t) => {
          if (!this.#stopped) this.timeline = decodeTimeline(t);
        },
        (err: unknown) => console.warn("convscope: timeline:", errorMessage(err)),
      );
    }, delay);
  }

  /**
   * Fetches the probe set and its atlas, once they exist: after a `probe` event, or when a
   * snapshot is known (asking earlier would only get a 404). A failure is shown, and the
   * next snapshot tries again.
   */
  async #loadProbe(): Promise<void> {
    if (this.#probeLoading || this.atlas || this.#stopped) return;
    this.#probeLoading = true;
    try {
      const probe = await api.probe(this.id);
      this.probe = probe;
      this.labels = toIntArray(probe.labels);
      this.atlas = await loadAtlas(probe);
      this.probeError = null;
    } catch (err) {
      this.probeError = errorMessage(err);
    } finally {
      this.#probeLoading = false;
    }
  }

  #follow(): void {
    this.#stream = followRun(api.eventsUrl(this.id), {
      status: (e) => {
        if (!this.run) return;
        this.run = { ...this.run, status: e.status, error: e.error ?? this.run.error };
        if (isTerminal(this.run)) {
          this.#closeStream();
          void api.run(this.id).then(
            (r) => (this.run = r),
            () => undefined,
          );
          // The server keeps a finished run's curve, not each progress event: a stream
          // that was reconnecting may have missed some batches.
          void this.#loadCurves(true).catch(() => undefined);
        }
      },
      progress: (e) => {
        if (this.run) {
          const { epoch, step, steps_per_epoch, epochs } = e;
          this.run = { ...this.run, progress: { epoch, step, steps_per_epoch, epochs } };
          if (this.run.status === "queued")
            this.run = { ...this.run, status: "running", queue_position: null };
        }
        if (e.batches?.length) {
          const cols = emptyBatches();
          for (const [step, epoch, loss, accuracy] of e.batches) {
            cols.step.push(step);
            cols.epoch.push(epoch);
            cols.loss.push(loss);
            cols.accuracy.push(accuracy);
          }
          this.#mergeBatches(cols);
        }
      },
      probe: () => {
        void this.#loadProbe();
      },
      snapshot: (s) => {
        this.#addSnapshot(s);
        if (this.run)
          this.run = { ...this.run, num_snapshots: Math.max(this.run.num_snapshots, s.index + 1) };
        void this.#loadProbe();
      },
      connection: (state) => {
        this.connection = state;
      },
    });
  }

  /**
   * Fetches the run's per-batch curve and snapshots, merged with what is known; with
   * `complete`, the stored curve (the whole run's) replaces the one built from events.
   */
  async #loadCurves(complete = false): Promise<void> {
    const c = await api.curves(this.id);
    const batches = {
      step: toNumbers(c.batches.step),
      epoch: toNumbers(c.batches.epoch),
      loss: toNumbers(c.batches.loss),
      accuracy: toNumbers(c.batches.accuracy),
    };
    if (complete && batches.step.length >= this.batches.step.length) this.batches = batches;
    else this.#mergeBatches(batches);
    for (const s of c.snapshots) this.#addSnapshot(s);
    // A snapshot is written after the probe set: its images can be asked for.
    if (c.snapshots.length) void this.#loadProbe();
  }

  #closeStream(): void {
    this.#stream?.close();
    this.#stream = null;
    this.connection = "closed";
  }

  #mergeBatches(incoming: BatchColumns): void {
    const cur = this.batches;
    let lastStep = cur.step.length ? cur.step[cur.step.length - 1] : -Infinity;
    const next: BatchColumns = {
      step: cur.step.slice(),
      epoch: cur.epoch.slice(),
      loss: cur.loss.slice(),
      accuracy: cur.accuracy.slice(),
    };
    let added = 0;
    for (let i = 0; i < incoming.step.length; i++) {
      if (incoming.step[i] <= lastStep) continue;
      lastStep = incoming.step[i];
      next.step.push(incoming.step[i]);
      next.epoch.push(incoming.epoch[i]);
      next.loss.push(incoming.loss[i]);
      next.accuracy.push(incoming.accuracy[i]);
      added++;
    }
    if (added) this.batches = next;
  }

  #addSnapshot(s: SnapshotSummary): void {
    if (this.snapshots.some((x) => x.index === s.index)) return;
    this.snapshots = [...this.snapshots, s].sort((a, b) => a.index - b.index);
    this.#scheduleTimeline(800);
  }
}
