import { t, tOr } from "./i18n";
import { archLabel } from "./format";

/**
 * The config fields compared between runs, in order. Each is named in the catalogues
 * (`configDiff.label.<key>`) and, in a run's short label, by `configDiff.short.<key>`;
 * fields without a short name show their value alone ("sgd", "small_cnn").
 */
const FIELDS: { key: string; short: boolean }[] = [
  { key: "dataset", short: false },
  { key: "arch", short: false },
  { key: "optimizer", short: false },
  { key: "learning_rate", short: true },
  { key: "batch_size", short: true },
  { key: "epochs", short: true },
  { key: "weight_init", short: true },
  { key: "dropout", short: true },
  { key: "augment_shift", short: true },
  { key: "augment_flip", short: true },
  { key: "train_size", short: true },
  { key: "test_size", short: true },
  { key: "seed", short: true },
  { key: "probe_size", short: true },
  { key: "eval_size", short: true },
  { key: "snapshots_per_epoch", short: true },
  { key: "snapshot_fractions", short: true },
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
    label: tOr(`configDiff.label.${field.key}`, field.key),
    short: field.short ? tOr(`configDiff.short.${field.key}`, field.key) : "",
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
