import { readable, writable, type Readable } from "svelte/store";
import { api, errorMessage } from "./api/client";
import type { Architectures, DatasetInfo } from "./api/types";
import { parseHash, type Route } from "./lib/router";

/** The current route, from the location hash. */
export const route: Readable<Route> = readable(parseHash(location.hash), (set) => {
  const update = () => set(parseHash(location.hash));
  window.addEventListener("hashchange", update);
  return () => window.removeEventListener("hashchange", update);
});

export interface Catalog {
  datasets: DatasetInfo[];
  architectures: Architectures;
}

export type Loadable<T> =
  { state: "loading" } | { state: "ready"; value: T } | { state: "error"; message: string };

/** Datasets and architectures, fetched once for the whole app. */
export const catalog = writable<Loadable<Catalog>>({ state: "loading" });

export async function loadCatalog(): Promise<void> {
  catalog.set({ state: "loading" });
  try {
    const [datasets, architectures] = await Promise.all([api.datasets(), api.architectures()]);
    catalog.set({ state: "ready", value: { datasets, architectures } });
  } catch (err) {
    catalog.set({ state: "error", message: errorMessage(err) });
  }
}

/** Reads the datasets again (one was uploaded), leaving the page as it is. */
export async function refreshDatasets(): Promise<void> {
  const datasets = await api.datasets();
  catalog.update((current) =>
    current.state === "ready" ? { state: "ready", value: { ...current.value, datasets } } : current,
  );
}

export interface Notice {
  id: number;
  kind: "info" | "error";
  text: string;
}

/** Short messages shown at the corner of the page. */
export const notices = writable<Notice[]>([]);
let noticeId = 0;

export function notify(text: string, kind: Notice["kind"] = "info", ms = 5000): void {
  const id = ++noticeId;
  notices.update((list) => [...list, { id, kind, text }]);
  setTimeout(() => notices.update((list) => list.filter((n) => n.id !== id)), ms);
}

export function dismissNotice(id: number): void {
  notices.update((list) => list.filter((n) => n.id !== id));
}
