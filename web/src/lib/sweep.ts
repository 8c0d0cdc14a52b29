import { interpolateHcl } from "d3-interpolate";
import type { SweepRun } from "../api/types";
import { fmtNumber, fmtPercent } from "./format";
import { t, tOr } from "./i18n";

/** The fields a sweep may vary, how their values are typed, and values to start from; their
 * names are in the catalogues (`sweepField.<name>`). */
export const SWEEP_FIELDS = {
  learning_rate: { kind: "number", suggest: "0.0003, 0.001, 0.003, 0.01" },
  batch_size: { kind: "integer", suggest: "16, 32, 64, 128" },
  arch: { kind: "text", suggest: "mlp, lenet5, small_cnn" },
  dropout: { kind: "number", suggest: "0, 0.25, 0.5" },
  augment_shift: { kind: "number", suggest: "0, 0.1, 0.2" },
  augment_flip: { kind: "bool", suggest: "false, true" },
  seed: { kind: "integer", suggest: "0, 1, 2, 3" },
  optimizer: { kind: "text", suggest: "adam, sgd, rmsprop" },
} as const;

export type SweepField = keyof typeof SWEEP_FIELDS;
export const SWEEP_FIELD_NAMES = Object.keys(SWEEP_FIELDS) as SweepField[];

/** A varied field's name as a learner reads it, in the page's language. */
export function fieldLabel(field: string): string {
  return tOr(`sweepField.${field}`, field);
}

/** Parses "0.001, 0.01" into the values of one field, or says what is wrong. */
export function parseSweepValues(
  field: SweepField,
  text: string,
): { ok: true; values: unknown[] } | { ok: false; error: string } {
  const parts = text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (parts.length < 2) return { ok: false, error: t("sweepValues.two") };
  if (parts.length > 12) return { ok: false, error: t("schema.maxItems", { n: 12 }) };
  const kind = SWEEP_FIELDS[field].kind;
  const values: unknown[] = [];
  for (const part of parts) {
    if (kind === "text") {
      values.push(part);
    } else if (kind === "bool") {
      if (part !== "true" && part !== "false") return { ok: false, error: t("sweepValues.bool", { part }) };
      values.push(part === "true");
    } else {
      const n = Number(part);
      if (!Number.isFinite(n)) return { ok: false, error: t("sweepValues.number", { part }) };
      if (kind === "integer" && !Number.isInteger(n))
        return { ok: false, error: t("sweepValues.integer", { part }) };
      values.push(n);
    }
  }
  if (new Set(parts).size !== parts.length) return { ok: false, error: t("sweepValues.once") };
  return { ok: true, values };
}

/** How one varied field is laid out along an axis. */
export interface Axis {
  field: string;
  label: string;
  kind: "linear" | "log" | "category";
  /** Numeric axes: [min, max]; category axes: unused. */
  domain: [number, number];
  /** Category axes: the labels in order. */
  categories: string[];
  /** Numeric axes: how tick labels read (accuracies as percentages). */
  percent?: boolean;
}

/** What a learner reads for a value: numbers short, a custom architecture as "custom". */
export function valueLabel(value: unknown): string {
  if (value === null || value === undefined) return t("field.default");
  if (typeof value === "number") return fmtNumber(value, 3);
  if (typeof value === "object") return t("format.custom");
  return String(value);
}

/** An axis for these values: log for positive numbers spanning 20x or more, linear for
 * other numbers, categories for the rest. */
export function makeAxis(field: string, values: unknown[], label = fieldLabel(field)): Axis {
  const numbers = values.filter((v): v is number => typeof v === "number" && Number.isFinite(v));
  if (numbers.length === values.length && numbers.length > 0) {
    const lo = Math.min(...numbers);
    const hi = Math.max(...numbers);
    const kind = lo > 0 && hi / lo >= 20 ? "log" : "linear";
    return { field, label, kind, domain: [lo, hi], categories: [] };
  }
  const categories: string[] = [];
  for (const v of values) {
    const l = valueLabel(v);
    if (!categories.includes(l)) categories.push(l);
  }
  return { field, label, kind: "category", domain: [0, 1], categories };
}

/** Where a value sits along an axis, from 0 to 1 (categories at their band's centre). */
export function axisFraction(axis: Axis, value: unknown): number {
  if (axis.kind === "category") {
    const i = axis.categories.indexOf(valueLabel(value));
    const n = axis.categories.length;
    return n <= 1 ? 0.5 : Math.max(0, i) / (n - 1);
  }
  const v = typeof value === "number" ? value : NaN;
  const [lo, hi] = axis.domain;
  if (!Number.isFinite(v)) return 0.5;
  if (hi === lo) return 0.5;
  if (axis.kind === "log") return (Math.log(v) - Math.log(lo)) / (Math.log(hi) - Math.log(lo));
  return (v - lo) / (hi - lo);
}

/** A few labelled positions along an axis. */
export function axisTicks(axis: Axis): { at: number; label: string }[] {
  if (axis.kind === "category") {
    return axis.categories.map((c) => ({ at: axisFraction(axis, c), label: c }));
  }
  const [lo, hi] = axis.domain;
  const fmt = (v: number) => (axis.percent ? fmtPercent(v) : fmtNumber(v));
  if (hi === lo) return [{ at: 0.5, label: fmt(lo) }];
  if (axis.kind === "log") {
    const ticks: { at: number; label: string }[] = [];
    for (let e = Math.ceil(Math.log10(lo)); e <= Math.floor(Math.log10(hi)); e++) {
      ticks.push({ at: axisFraction(axis, 10 ** e), label: fmtNumber(10 ** e) });
    }
    if (ticks.length >= 2) return ticks;
  }
  return [0, 0.5, 1].map((t) => ({
    at: t,
    label: fmt(
      axis.kind === "log" ? Math.exp(Math.log(lo) + t * (Math.log(hi) - Math.log(lo))) : lo + t * (hi - lo),
    ),
  }));
}

// Amber to deep blue through green, interpolated in HCL: every step stays visible on white,
// and red stays free for mistakes.
const LOW = "#e8a33d";
const HIGH = "#1d4ed8";

/** Colour of a run by its final accuracy within the sweep's range: amber (worst) to blue. */
export function accuracyColor(accuracy: number | null, range: [number, number]): string {
  if (accuracy === null) return "#e2e8f0";
  const [lo, hi] = range;
  const t = hi > lo ? (accuracy - lo) / (hi - lo) : 1;
  return interpolateHcl(LOW, HIGH)(Math.max(0, Math.min(1, t)));
}

/** The lowest and highest final accuracy among the runs that have one. */
export function accuracyRange(rows: SweepRun[]): [number, number] {
  const values = rows.map((r) => r.final_accuracy).filter((v): v is number => v !== null);
  if (!values.length) return [0, 1];
  return [Math.min(...values), Math.max(...values)];
}
