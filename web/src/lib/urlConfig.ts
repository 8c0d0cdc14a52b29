import type { ArchSpec, RunConfig } from "../api/types";

/** Config fields edited as text in the playground, with their short URL keys. */
export const URL_KEYS = {
  dataset: "dataset",
  name: "name",
  train_size: "train",
  test_size: "test",
  optimizer: "optimizer",
  learning_rate: "lr",
  batch_size: "batch",
  epochs: "epochs",
  weight_init: "init",
  dropout: "dropout",
  augment_shift: "shift",
  augment_flip: "flip",
  seed: "seed",
  probe_size: "probe",
  snapshot_fractions: "snapshots",
  snapshots_per_epoch: "per_epoch",
  eval_size: "eval",
  record_depth: "depth",
} as const;

export type FieldName = keyof typeof URL_KEYS;
export const FIELD_NAMES = Object.keys(URL_KEYS) as FieldName[];

export type ArchChoice = { kind: "preset"; preset: string } | { kind: "custom"; spec: ArchSpec };

/** Everything the playground form holds: the text of each field and the architecture. */
export interface FormState {
  values: Record<FieldName, string>;
  arch: ArchChoice;
}

export function base64UrlEncode(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function base64UrlDecode(text: string): string {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const padded = b64 + "=".repeat((4 - (b64.length % 4)) % 4);
  const binary = atob(padded);
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** The hash query (without `#/?`) that reproduces a form. */
export function encodeForm(form: FormState): string {
  const params = new URLSearchParams();
  for (const name of FIELD_NAMES) {
    const value = form.values[name];
    if (name === "name" && value === "") continue;
    params.set(URL_KEYS[name], value);
  }
  if (form.arch.kind === "preset") params.set("arch", form.arch.preset);
  else params.set("spec", base64UrlEncode(JSON.stringify(form.arch.spec)));
  return params.toString();
}

function isArchSpec(value: unknown): value is ArchSpec {
  return (
    typeof value === "object" &&
    value !== null &&
    Array.isArray((value as ArchSpec).blocks) &&
    (value as ArchSpec).blocks.every((b) => typeof b === "object" && b !== null && typeof b.type === "string")
  );
}

/**
 * Reads a form from a hash query; fields that are missing keep their value in `base`.
 * Returns whether the query held any config at all.
 */
export function decodeForm(
  query: URLSearchParams,
  base: FormState,
): { form: FormState; found: boolean; error: string | null } {
  const values = { ...base.values };
  let found = false;
  let error: string | null = null;
  for (const name of FIELD_NAMES) {
    const v = query.get(URL_KEYS[name]);
    if (v !== null) {
      values[name] = v;
      found = true;
    }
  }
  let arch = base.arch;
  const spec = query.get("spec");
  const preset = query.get("arch");
  if (spec !== null) {
    found = true;
    try {
      const parsed: unknown = JSON.parse(base64UrlDecode(spec));
      if (isArchSpec(parsed)) arch = { kind: "custom", spec: parsed };
      else error = "The architecture in the link is not a valid block list; the default is shown.";
    } catch {
      error = "The architecture in the link cannot be read; the default is shown.";
    }
  } else if (preset !== null) {
    found = true;
    arch = { kind: "preset", preset };
  }
  return { form: { values, arch }, found, error };
}

/** The form state that shows a config. */
export function formFromConfig(config: RunConfig, format: (v: unknown) => string): FormState {
  const values = {} as Record<FieldName, string>;
  for (const name of FIELD_NAMES) values[name] = format((config as unknown as Record<string, unknown>)[name]);
  const arch: ArchChoice =
    typeof config.arch === "string"
      ? { kind: "preset", preset: config.arch }
      : { kind: "custom", spec: config.arch };
  return { values, arch };
}
