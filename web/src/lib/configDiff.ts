import { t, tOr } from "./i18n";
import { archLabel } from "./format";

/** A config field as compared between runs: how it is named and shown. */
interface FieldView {
  key: string;
  /** Name in a run's label; empty: the value alone ("sgd", "small_cnn"). */
  short: string;
  label: string;
}

const FIELDS: FieldView[] = [
  { key: "dataset", short: "", label: "dataset" },
  { key: "arch", short: "", label: "architecture" },
  { key: "optimizer", short: "", label: "optimizer" },
  { key: "learning_rate", short: "lr", label: "learning rate" },
  { key: "batch_size", short: "batch", label: "batch size" },
  { key: "epochs", short: "epochs", label: "epochs" },
  { key: "weight_init", short: "init", label: "weight init" },
  { key: "dropout", short: "dropout", label: "dropout" },
  { key: "augment_shift", short: "shift", label: "random shift" },
  { key: "augment_flip", short: "flips", label: "random flips" },
  { key: "train_size", short: "train", label: "training images" },
  { key: "test_size", short: "val", label: "validation images" },
  { key: "seed", short: "seed", label: "seed" },
  { key: "probe_size", short: "probe", label: "probe images" },
  { key: "eval_size", short: "eval", label: "images measured per snapshot" },
  { key: "snapshots_per_epoch", short: "snapshots/epoch", label: "snapshots per epoch" },
  { key: "snapshot_fractions", short: "early", label: "early snapshots" },
];

/** A custom architecture in a few words: its blocks with their main setting. */
function blocksLabel(arch: { blocks?: Record<string, unknown>[] }): string {
  const parts = (arch.blocks ?? []).map((b) => {
    const main = b.filters ?? b.units ?? b.rate ?? b.size ?? b.kind ?? "";
    return `${String(b.type)}${main === "" ? "" : String(main)}`;
  });
  return parts.join(" ");
}

function show(key: string, value: unknown): string {
  if (value === null || value === undefined) return "–";
  if (key === "arch") {
    if (typeof value === "object") return blocksLabel(value as { blocks?: Record<string, unknown>[] });
    return archLabel(value);
  }
  if (Array.isArray(value)) return value.join(", ");
  if (typeof value === "boolean") return value ? t("configDiff.on") : t("configDiff.off");
  return String(value);
}

export interface ConfigDiff {
  /** The fields whose values are not all equal, each with one shown value per run. */
  rows: { key: string; label: string; values: string[] }[];
  /** Per run: what tells it apart, e.g. "lr 0.03 · sgd"; empty when nothing does. */
  labels: string[];
}

/** Compares run configs field by field (a notebook run's `model` stands for `arch`). */
export function configDiff(configs: object[], maxInLabel = 3): ConfigDiff {
  const records: Record<string, unknown>[] = configs.map((c) => {
    const r = c as Record<string, unknown>;
    return { ...r, arch: r.arch ?? r.model };
  });
  const rows = FIELDS.map((field) => ({
    key: field.key,
    label: tOr(`configDiff.label.${field.key}`, field.label),
    short: field.short && tOr(`configDiff.short.${field.key}`, field.short),
    values: records.map((r) => show(field.key, r[field.key])),
  })).filter((row) => new Set(row.values).size > 1);
  const labels = records.map(
    (_, i) =>
      rows
        .slice(0, maxInLabel)
        .map((row) => (row.short ? `${row.short} ${row.values[i]}` : row.values[i]))
        .join(" · ") + (rows.length > maxInLabel ? " …" : ""),
  );
  return { rows: rows.map(({ key, label, values }) => ({ key, label, values })), labels };
}
