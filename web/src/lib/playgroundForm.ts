import { t } from "./i18n";
import type { Architectures, DatasetInfo, RunConfig, ValidationIssue } from "../api/types";
import { fieldSpec, formatFieldValue, parseField, type FieldSpec } from "./schema";
import { FIELD_NAMES, formFromConfig, type FieldName, type FormState } from "./urlConfig";
import { blockFields } from "./schema";

/** The server's default config as a form: the base of a link that leaves fields out. */
export function serverDefaultForm(arch: Architectures): FormState {
  const form = formFromConfig(arch.config.default, formatFieldValue);
  // The web app measures every layer's probe and k-NN accuracy as it trains (the Depth view).
  form.values.record_depth = "true";
  return form;
}

/** The experiment a first visit shows: Fashion-MNIST when it is there, else shapes. */
export function defaultForm(arch: Architectures, datasets: DatasetInfo[]): FormState {
  const form = serverDefaultForm(arch);
  const available = (name: string) => datasets.some((d) => d.name === name && d.available);
  if (available("fashion_mnist")) {
    form.values.dataset = "fashion_mnist";
    form.values.train_size = "10000";
    form.values.epochs = "3";
  } else if (available("shapes")) {
    form.values.dataset = "shapes";
  } else {
    const first = datasets.find((d) => d.available);
    if (first) form.values.dataset = first.name;
  }
  return form;
}

/** The fields of the config schema that the playground edits. */
export function formFields(arch: Architectures): Partial<Record<FieldName, FieldSpec>> {
  const out: Partial<Record<FieldName, FieldSpec>> = {};
  for (const name of FIELD_NAMES) {
    const spec = fieldSpec(arch.config.schema, name);
    if (spec) out[name] = spec;
  }
  return out;
}

/** Client-side messages, per field, for what is typed now. */
export function validate(
  form: FormState,
  fields: Partial<Record<FieldName, FieldSpec>>,
  arch: Architectures,
  datasets: DatasetInfo[],
): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const [name, spec] of Object.entries(fields) as [FieldName, FieldSpec][]) {
    if (name === "dataset") continue;
    const parsed = parseField(spec, form.values[name] ?? "");
    if (!parsed.ok) errors[name] = parsed.error;
  }
  if (fields.snapshot_fractions && !errors.snapshot_fractions) {
    const parsed = parseField(fields.snapshot_fractions, form.values.snapshot_fractions);
    if (parsed.ok && Array.isArray(parsed.value) && parsed.value.some((v: number) => !(v > 0 && v < 1))) {
      errors.snapshot_fractions = t("form.fractions");
    }
  }
  const ds = datasets.find((d) => d.name === form.values.dataset);
  if (!ds) errors.dataset = t("form.unknownDataset", { name: form.values.dataset });
  else if (!ds.available) errors.dataset = ds.reason ?? t("form.unavailable");
  else {
    const limits: [FieldName, number | null][] = [
      ["train_size", ds.train_count],
      ["test_size", ds.test_count],
    ];
    for (const [name, count] of limits) {
      const n = Number(form.values[name]);
      if (!errors[name] && count && form.values[name].trim() !== "" && n > count) {
        errors[name] = t("form.tooMany", { title: ds.title, n: count });
      }
    }
  }
  if (form.arch.kind === "preset") {
    const name = form.arch.preset;
    if (!arch.presets.some((p) => p.name === name)) errors.arch = t("form.unknownPreset", { name });
  } else {
    const blocks = form.arch.spec.blocks;
    if (blocks.length === 0) errors.arch = t("form.noBlock");
    Object.assign(errors, blockOrderErrors(blocks, arch));
    blocks.forEach((block, i) => {
      const schema = arch.block_types[block.type];
      if (!schema) {
        errors[`blocks.${i}`] = t("form.unknownBlock", { type: block.type });
        return;
      }
      for (const f of blockFields(schema)) {
        const parsed = parseField(f, formatFieldValue(block[f.name]));
        if (!parsed.ok) errors[`blocks.${i}.${f.name}`] = parsed.error;
      }
    });
  }
  return errors;
}

/**
 * The server's rule on the order of blocks, checked as it checks it (same words): once a
 * block has made the tensor a vector, no block that needs an image may follow.
 */
export function blockOrderErrors(blocks: { type: string }[], arch: Architectures): Record<string, string> {
  const needsImage = new Set(arch.block_order?.needs_image ?? []);
  const makesVector = new Set(arch.block_order?.makes_vector ?? []);
  const errors: Record<string, string> = {};
  let flattenedBy = -1;
  blocks.forEach((block, i) => {
    if (needsImage.has(block.type) && flattenedBy >= 0) {
      const previous = blocks[flattenedBy].type;
      errors[`blocks.${i}`] = t("form.blockOrder", { i, type: block.type, j: flattenedBy, previous });
    }
    if (makesVector.has(block.type) && flattenedBy < 0) flattenedBy = i;
  });
  return errors;
}

/** The RunConfig a valid form describes; only fields the server's schema knows are sent. */
export function buildConfig(form: FormState, fields: Partial<Record<FieldName, FieldSpec>>): RunConfig {
  const config: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(fields) as [FieldName, FieldSpec][]) {
    const parsed = parseField(spec, form.values[name] ?? "");
    if (!parsed.ok) continue;
    if (parsed.value === null || (name === "name" && parsed.value === "")) continue;
    config[name] = parsed.value;
  }
  config.arch = form.arch.kind === "preset" ? form.arch.preset : form.arch.spec;
  return config as unknown as RunConfig;
}

/** Maps the server's 422 issues to the keys the form shows messages at. */
export function issuesToErrors(issues: ValidationIssue[]): {
  fields: Record<string, string>;
  other: string[];
} {
  const fields: Record<string, string> = {};
  const other: string[] = [];
  for (const issue of issues) {
    const loc = issue.loc.filter((p) => p !== "body");
    const msg = issue.msg.replace(/^Value error, /, "");
    if (loc.length === 0) {
      other.push(msg);
      continue;
    }
    const head = String(loc[0]);
    if (head === "arch") {
      const b = loc.indexOf("blocks");
      const named = /^blocks\[(\d+)\]/.exec(msg);
      if (b >= 0 && typeof loc[b + 1] === "number") {
        const key = loc[b + 2] !== undefined ? `blocks.${loc[b + 1]}.${loc[b + 2]}` : `blocks.${loc[b + 1]}`;
        fields[key] = msg;
      } else if (named) {
        fields[`blocks.${named[1]}`] = msg;
      } else fields.arch = fields.arch ? `${fields.arch}; ${msg}` : msg;
    } else if ((FIELD_NAMES as string[]).includes(head)) {
      fields[head] = msg;
    } else {
      other.push(`${loc.join(".")}: ${msg}`);
    }
  }
  return { fields, other };
}

/** Switches dataset, dropping sizes the new dataset cannot provide. */
export function withDataset(form: FormState, name: string, datasets: DatasetInfo[]): FormState {
  const ds = datasets.find((d) => d.name === name);
  const values = { ...form.values, dataset: name };
  const tooBig = (text: string, count: number | null | undefined) =>
    text.trim() !== "" && count !== null && count !== undefined && Number(text) > count;
  if (tooBig(values.train_size, ds?.train_count)) values.train_size = "";
  if (tooBig(values.test_size, ds?.test_count)) values.test_size = "";
  return { ...form, values };
}
