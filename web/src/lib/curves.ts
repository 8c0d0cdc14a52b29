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
      label: "train, per batch",
      color: TRAIN_COLOR,
      x: batches.epoch,
      y: batches[what],
      style: "thin",
    },
    {
      id: "epoch",
      label: "train, per epoch",
      color: TRAIN_COLOR,
      style: "linedots",
      ...snapshotSeries(snapshots, trainKey, true),
    },
    {
      id: "val",
      label: "validation",
      color: VAL_COLOR,
      style: "linedots",
      ...snapshotSeries(snapshots, valKey, false),
    },
  ];
}

/** One metric of several runs, one colour each. */
export function compareSeries(
  runs: { id: string; label: string; color: string; batches: BatchColumns; snapshots: SnapshotSummary[] }[],
  what: "val_accuracy" | "train_loss",
): Series[] {
  const out: Series[] = [];
  for (const r of runs) {
    if (what === "train_loss") {
      out.push({
        id: `${r.id}-b`,
        label: r.label,
        color: r.color,
        x: r.batches.epoch,
        y: r.batches.loss,
        style: "thin",
        hideInLegend: true,
      });
      out.push({
        id: r.id,
        label: r.label,
        color: r.color,
        style: "linedots",
        ...snapshotSeries(r.snapshots, "train_loss", true),
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
