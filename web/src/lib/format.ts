export function fmtPercent(v: number | null | undefined, digits = 1): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  return `${(v * 100).toFixed(digits)}%`;
}

export function fmtNumber(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  if (Math.abs(v) >= 1000) return v.toFixed(0);
  return Number(v.toPrecision(digits)).toString();
}

export function fmtEpoch(epoch: number): string {
  if (Number.isInteger(epoch)) return String(epoch);
  return Number(epoch.toFixed(3)).toString();
}

export function fmtDate(iso: string | null | undefined): string {
  if (!iso) return "–";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, {
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
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${s % 60} s`;
}

export function archLabel(arch: unknown): string {
  if (typeof arch === "string") return arch;
  if (typeof arch === "object" && arch !== null) {
    const spec = arch as { name?: string; blocks?: unknown[] };
    const n = Array.isArray(spec.blocks) ? spec.blocks.length : 0;
    return `${spec.name ?? "custom"} (${n} blocks)`;
  }
  return "–";
}

/** The parts of a run's configuration worth a glance, leaving out what is not recorded. */
export function configSummary(recorded: object): string[] {
  const config = recorded as Record<string, unknown>;
  const parts: string[] = [archLabel(config.arch ?? config.model)];
  if (config.optimizer) {
    const lr = config.learning_rate;
    parts.push(lr != null ? `${String(config.optimizer)} lr ${String(lr)}` : String(config.optimizer));
  }
  if (config.batch_size != null) parts.push(`batch ${String(config.batch_size)}`);
  if (config.epochs != null) parts.push(`${String(config.epochs)} epochs`);
  if (config.seed != null) parts.push(`seed ${String(config.seed)}`);
  return parts;
}
