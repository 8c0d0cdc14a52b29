/**
 * Names and descriptions that the server sends in English (datasets, presets, config fields),
 * shown from the catalogues where they hold them, and as sent otherwise (a dataset uploaded
 * by a user, a field added on the server and not yet translated).
 */
import type { DatasetInfo } from "../api/types";
import { hasMessage, tOr } from "./i18n";
import type { FieldSpec } from "./schema";

export function datasetTitle(d: Pick<DatasetInfo, "name" | "title">): string {
  return tOr(`dataset.${d.name}.title`, d.title);
}

export function datasetDescription(d: Pick<DatasetInfo, "name" | "description">): string {
  return tOr(`dataset.${d.name}.description`, d.description);
}

export function presetDescription(p: { name: string; description: string }): string {
  return tOr(`preset.${p.name}.description`, p.description);
}

/** `lang="en"` for text the server sent and the catalogues do not hold (an uploaded
 * dataset's description), so that the page says which language it is in. */
export function datasetLang(d: Pick<DatasetInfo, "name">): "en" | null {
  return hasMessage(`dataset.${d.name}.description`) ? null : "en";
}

export function fieldTitle(spec: Pick<FieldSpec, "name" | "title">): string {
  return tOr(`field.${spec.name}`, spec.title);
}
