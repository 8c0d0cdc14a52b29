import { t } from "./i18n";
import type { BatchColumns, Metrics, SnapshotSummary } from "../api/types";
import type { Series } from "../views/CurveChart.svelte";

export const TRAIN_COLOR = "#2563eb";
export const VAL_COLOR = "#ea580c";

type MetricKey = keyof Metrics;

function snapshotSeries(snapshots: SnapshotSummary[], key: MetricKey, onlyEpochEnds: boolean) {
  const pts = snapshots.filter(
    (s) => (!onlyEpochEnds || Number.isInteger(s.epoch)) && s.metrics[key] !== null,
  );
  return { x: pts.map((s) => s.epoch), y: pts.map((s) => s.metrics[key] as number) };
}

/** Loss or accuracy of one run: per batch (thin), per epoch, and validation per snapshot. */
export function runSeries(
  batches: BatchColumns,
  snapshots: SnapshotSummary[],
  what: "loss" | "accuracy",
): Series[] {
  const trainKey: MetricKey = what === "loss" ? "train_loss" : "train_accuracy";
  const valKey: MetricKey = what === "loss" ? "val_loss" : "val_accuracy";
  return [
    {
      id: "batch",
      label: t("curves.batch"),
      color: TRAIN_COLOR,
      x: batches.epoch,
      y: batches[what],
      style: "thin",
    },
    {
      id: "epoch",
      label: t("curves.epoch"),
      color: TRAIN_COLOR,
      style: "linedots",
      ...snapshotSeries(snapshots, trainKey, true),
    },
    {
      id: "val",
      label: t("curves.val"),
      color: VAL_COLOR,
      style: "linedots",
      ...snapshotSeries(snapshots, valKey, false),
    },
  ];
}

/**
 * One metric of several runs, one colour each. The training loss is drawn per batch,
 * smoothed by an EMA of `smoothing` (0: raw); `raw` adds the unsmoothed batches, faint.
 */
export function compareSeries(
  runs: { id: string; label: string; color: string; batches: BatchColumns; snapshots: SnapshotSummary[] }[],
  what: "val_accuracy" | "train_loss",
  options: { smoothing?: number; raw?: boolean } = {},
): Series[] {
  const out: Series[] = [];
  const smoothing = options.smoothing ?? 0;
  for (const r of runs) {
    if (what === "train_loss") {
      if (options.raw && smoothing > 0) {
        out.push({
          id: `${r.id}-raw`,
          label: r.label,
          color: r.color,
          x: r.batches.epoch,
          y: r.batches.loss,
          style: "thin",
          hideInLegend: true,
        });
      }
      out.push({
        id: r.id,
        label: r.label,
        color: r.color,
        x: r.batches.epoch,
        y: smoothing > 0 ? ema(r.batches.loss, smoothing) : r.batches.loss,
        style: smoothing > 0 ? "line" : "thin",
      });
    } else {
      out.push({
        id: r.id,
        label: r.label,
        color: r.color,
        style: "linedots",
        ...snapshotSeries(r.snapshots, "val_accuracy", false),
      });
    }
  }
  return out;
}

/**
 * Exponential moving average with TensorBoard's debiasing: the first values are not pulled
 * towards zero. `weight` 0 returns the values unchanged; 0.9 averages over about ten.
 */
export function ema(values: ArrayLike<number>, weight: number): number[] {
  const out: number[] = [];
  let last = 0;
  let steps = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) {
      out.push(NaN);
      continue;
    }
    last = last * weight + (1 - weight) * v;
    steps++;
    out.push(weight > 0 ? last / (1 - Math.pow(weight, steps)) : v);
  }
  return out;
}
