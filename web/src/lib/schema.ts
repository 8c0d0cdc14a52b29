import { t } from "./i18n";
import type { Block, JsonSchema } from "../api/types";

export type FieldKind = "integer" | "number" | "string" | "boolean" | "enum" | "number-list";

/** A form field derived from one JSON-schema property. */
export interface FieldSpec {
  name: string;
  kind: FieldKind;
  title: string;
  description: string;
  nullable: boolean;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  maxLength?: number;
  maxItems?: number;
  choices: string[];
  default: unknown;
}

function resolveRef(root: JsonSchema, s: JsonSchema): JsonSchema {
  if (!s.$ref) return s;
  const name = s.$ref.split("/").pop() ?? "";
  return root.$defs?.[name] ?? s;
}

/** "kernel_size" as a label: "Kernel size" (pydantic's own titles capitalise every word). */
function sentenceCase(name: string): string {
  const t = name.replace(/_/g, " ");
  return t.charAt(0).toUpperCase() + t.slice(1);
}

/** Reads the field of `name` from an object schema (pydantic style). */
export function fieldSpec(root: JsonSchema, name: string, objectSchema?: JsonSchema): FieldSpec | null {
  const obj = objectSchema ?? root;
  const raw = obj.properties?.[name];
  if (!raw) return null;
  const prop = resolveRef(root, raw);
  let variants = (prop.anyOf ?? prop.oneOf ?? [prop]).map((v) => resolveRef(root, v));
  const nullable =
    variants.some((v) => v.type === "null") || (Array.isArray(prop.type) && prop.type.includes("null"));
  variants = variants.filter((v) => v.type !== "null");
  const main = variants[0] ?? prop;
  const type = Array.isArray(main.type) ? main.type.find((t) => t !== "null") : main.type;
  let kind: FieldKind = "string";
  let choices: string[] = [];
  if (main.enum) {
    kind = "enum";
    choices = main.enum.map(String);
  } else if (main.const !== undefined) {
    kind = "enum";
    choices = [String(main.const)];
  } else if (type === "integer") kind = "integer";
  else if (type === "number") kind = "number";
  else if (type === "boolean") kind = "boolean";
  else if (type === "array") kind = "number-list";
  return {
    name,
    kind,
    title: sentenceCase(name),
    description: prop.description ?? raw.description ?? "",
    nullable,
    minimum: main.minimum,
    maximum: main.maximum,
    exclusiveMinimum: main.exclusiveMinimum,
    exclusiveMaximum: main.exclusiveMaximum,
    maxLength: main.maxLength,
    maxItems: main.maxItems ?? prop.maxItems,
    choices,
    default: prop.default ?? raw.default,
  };
}

function checkBounds(spec: FieldSpec, n: number): string | null {
  if (spec.minimum !== undefined && n < spec.minimum) return t("schema.atLeast", { n: spec.minimum });
  if (spec.exclusiveMinimum !== undefined && n <= spec.exclusiveMinimum) {
    return t("schema.greater", { n: spec.exclusiveMinimum });
  }
  if (spec.maximum !== undefined && n > spec.maximum) return t("schema.atMost", { n: spec.maximum });
  if (spec.exclusiveMaximum !== undefined && n >= spec.exclusiveMaximum) {
    return t("schema.less", { n: spec.exclusiveMaximum });
  }
  return null;
}

export type Parsed = { ok: true; value: unknown } | { ok: false; error: string };

/** Parses the text typed into a field and checks it against the schema bounds. */
export function parseField(spec: FieldSpec, text: string): Parsed {
  const trimmed = text.trim();
  if (spec.kind === "boolean") return { ok: true, value: trimmed === "true" };
  if (trimmed === "") {
    if (spec.nullable) return { ok: true, value: null };
    if (spec.kind === "string") return { ok: true, value: "" };
    return { ok: false, error: t("schema.required") };
  }
  switch (spec.kind) {
    case "integer": {
      if (!/^[+-]?\d+$/.test(trimmed)) return { ok: false, error: t("schema.integer") };
      const n = Number(trimmed);
      const err = checkBounds(spec, n);
      return err ? { ok: false, error: err } : { ok: true, value: n };
    }
    case "number": {
      const n = Number(trimmed);
      if (!Number.isFinite(n)) return { ok: false, error: t("schema.number") };
      const err = checkBounds(spec, n);
      return err ? { ok: false, error: err } : { ok: true, value: n };
    }
    case "enum":
      return spec.choices.includes(trimmed)
        ? { ok: true, value: trimmed }
        : { ok: false, error: t("schema.oneOf", { choices: spec.choices.join(", ") }) };
    case "number-list": {
      const parts = trimmed.split(/[\s,]+/).filter(Boolean);
      const values = parts.map(Number);
      if (values.some((v) => !Number.isFinite(v))) return { ok: false, error: t("schema.numbers") };
      if (spec.maxItems !== undefined && values.length > spec.maxItems) {
        return { ok: false, error: t("schema.maxItems", { n: spec.maxItems }) };
      }
      return { ok: true, value: values };
    }
    default:
      if (spec.maxLength !== undefined && trimmed.length > spec.maxLength) {
        return { ok: false, error: t("schema.maxLength", { n: spec.maxLength }) };
      }
      return { ok: true, value: trimmed };
  }
}

/** The text shown in a field for a value. */
export function formatFieldValue(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (Array.isArray(value)) return value.join(",");
  return String(value);
}

/** The object schema of one block type (its `type` property excluded from the fields). */
export function blockFields(schema: JsonSchema): FieldSpec[] {
  const props = Object.keys(schema.properties ?? {}).filter((k) => k !== "type" && k !== "name");
  return props.map((k) => fieldSpec(schema, k)).filter((f): f is FieldSpec => f !== null);
}

export function blockDefaults(type: string, schema: JsonSchema): Block {
  const block: Block = { type };
  for (const field of blockFields(schema)) {
    if (field.default !== undefined) block[field.name] = field.default;
  }
  return block;
}
