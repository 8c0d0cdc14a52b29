import { intlLocale, t } from "./i18n";

/** A fraction as a percentage in the page's language: "93.0%", "93,0 %". */
export function fmtPercent(v: number | null | undefined, digits = 1): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  return new Intl.NumberFormat(intlLocale(), {
    style: "percent",
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(v);
}

/** A number to `digits` significant digits (whole above 1,000), in the page's language. */
export function fmtNumber(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  if (Math.abs(v) >= 1000) return fmtDecimal(v, 0);
  return new Intl.NumberFormat(intlLocale(), { maximumSignificantDigits: digits, useGrouping: false }).format(
    v,
  );
}

/** A number with at most `digits` decimals, in the page's language ("0.93", "0,93"). */
export function fmtDecimal(v: number, digits: number): string {
  return new Intl.NumberFormat(intlLocale(), { maximumFractionDigits: digits, useGrouping: false }).format(v);
}

/** A number with exactly `digits` decimals, in the page's language ("1.00", "1,00"). */
export function fmtFixed(v: number, digits: number): string {
  return new Intl.NumberFormat(intlLocale(), {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
    useGrouping: false,
  }).format(v);
}

export function fmtEpoch(epoch: number): string {
  return fmtDecimal(epoch, 3);
}

const GLYPHS: Record<string, string> = {
  "1/2": "½",
  "1/3": "⅓",
  "2/3": "⅔",
  "1/4": "¼",
  "3/4": "¾",
  "1/5": "⅕",
  "2/5": "⅖",
  "3/5": "⅗",
  "4/5": "⅘",
  "1/6": "⅙",
  "5/6": "⅚",
  "1/8": "⅛",
  "3/8": "⅜",
  "5/8": "⅝",
  "7/8": "⅞",
};
/** Denominators tried in turn: the Recorder's own (halves to eighths) first. */
const DENOMINATORS = [2, 4, 8, 3, 5, 6, 10, 12, 16, 20];

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * How much training a snapshot had seen, in epochs, as a learner reads it: "¼", "1 ½", "3".
 * A snapshot's epoch is exact (batches done / batches per epoch, 78/313 for a quarter), so
 * the fraction is the simple one whose batch it was taken after; null when there is none
 * (a run stopped between two planned snapshots).
 */
export function epochFraction(epoch: number, step: number): string | null {
  if (Number.isInteger(epoch)) return String(epoch);
  if (!(epoch > 0) || !(step > 0)) return null;
  const perEpoch = Math.round(step / epoch);
  const whole = Math.floor(epoch + 1e-9);
  const into = step - whole * perEpoch;
  for (const d of DENOMINATORS) {
    const k = Math.round((into * d) / perEpoch);
    if (k <= 0 || k >= d || Math.abs(into - (k * perEpoch) / d) > 0.5 + 1e-9) continue;
    const g = gcd(k, d);
    const text = GLYPHS[`${k / g}/${d / g}`] ?? `${k / g}/${d / g}`;
    return whole > 0 ? `${whole}\u2009${text}` : text;
  }
  return null;
}

/** When a snapshot was taken: "epoch 1 ¼", or "step 40" for a run stopped in between. */
export function snapshotWhen(snapshot: { epoch: number; step: number }): string {
  const fraction = epochFraction(snapshot.epoch, snapshot.step);
  return fraction !== null
    ? t("format.epochWhen", { fraction })
    : t("format.stepWhen", { step: snapshot.step });
}

/** A short axis label of a snapshot: "¼", "1 ½", or its epoch to two decimals. */
export function snapshotTick(snapshot: { epoch: number; step: number }): string {
  return epochFraction(snapshot.epoch, snapshot.step) ?? fmtDecimal(snapshot.epoch, 2);
}

export function fmtDate(iso: string | null | undefined): string {
  if (!iso) return "–";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(intlLocale(), {
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

export function fmtDuration(fromIso: string | null, toIso: string | null): string {
  if (!fromIso) return "–";
  const end = toIso ? new Date(toIso).getTime() : Date.now();
  const s = Math.max(0, Math.round((end - new Date(fromIso).getTime()) / 1000));
  if (s < 60) return t("format.seconds", { s });
  return t("format.minutes", { m: Math.floor(s / 60), s: s % 60 });
}

export function archLabel(arch: unknown): string {
  if (typeof arch === "string") return arch;
  if (typeof arch === "object" && arch !== null) {
    const spec = arch as { name?: string; blocks?: unknown[] };
    const n = Array.isArray(spec.blocks) ? spec.blocks.length : 0;
    return t("format.archLabel", { name: spec.name ?? t("format.custom"), n });
  }
  return "–";
}

/** The parts of a run's configuration worth a glance, leaving out what is not recorded. */
export function configSummary(recorded: object): string[] {
  const config = recorded as Record<string, unknown>;
  const parts: string[] = [archLabel(config.arch ?? config.model)];
  if (config.optimizer) {
    const lr = config.learning_rate;
    const optimizer = String(config.optimizer);
    parts.push(lr != null ? t("format.optimizerLr", { optimizer, lr: fmtNumber(Number(lr), 4) }) : optimizer);
  }
  if (config.batch_size != null) parts.push(t("format.batch", { n: String(config.batch_size) }));
  if (config.epochs != null) parts.push(t("format.epochs", { n: Number(config.epochs) }));
  if (config.seed != null) parts.push(t("format.seed", { n: String(config.seed) }));
  return parts;
}
