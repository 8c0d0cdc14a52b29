/** The views of one run, one tab each: each answers one question about the network. */
export const RUN_TABS = ["questions", "training", "layers", "explain", "depth"] as const;
export type RunTab = (typeof RUN_TABS)[number];

function isRunTab(value: string): value is RunTab {
  return (RUN_TABS as readonly string[]).includes(value);
}

export type Route =
  | { name: "playground"; query: URLSearchParams }
  | { name: "run"; id: string; tab: RunTab; query: URLSearchParams }
  | { name: "runs"; query: URLSearchParams }
  | { name: "compare"; ids: string[]; query: URLSearchParams }
  | { name: "sweeps"; query: URLSearchParams }
  | { name: "sweep"; id: string; query: URLSearchParams }
  | { name: "docs"; page: string; query: URLSearchParams }
  | { name: "notfound"; path: string; query: URLSearchParams };

/** Parses `#/path?query` into a route. */
export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#/, "") || "/";
  const q = raw.indexOf("?");
  const path = (q >= 0 ? raw.slice(0, q) : raw) || "/";
  const query = new URLSearchParams(q >= 0 ? raw.slice(q + 1) : "");
  query.delete(LANG_PARAM); // the page's language, not the view's: see withLang
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { name: "playground", query };
  if (parts[0] === "runs" && parts.length === 1) return { name: "runs", query };
  if (parts[0] === "runs" && parts.length === 2) return { name: "run", id: parts[1], tab: "training", query };
  if (parts[0] === "runs" && parts.length === 3 && isRunTab(parts[2])) {
    return { name: "run", id: parts[1], tab: parts[2], query };
  }
  if (parts[0] === "sweeps" && parts.length === 1) return { name: "sweeps", query };
  if (parts[0] === "sweeps" && parts.length === 2) return { name: "sweep", id: parts[1], query };
  if (parts[0] === "docs" && parts.length === 2) return { name: "docs", page: parts[1], query };
  if (parts[0] === "compare" && parts.length === 1) {
    const ids = (query.get("ids") ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    return { name: "compare", ids, query };
  }
  return { name: "notfound", path, query };
}

/** The address of a run's view: its training view by default, or another tab, with a query
 * (`snapshot`, `image`...) that the view reads back. */
export function runHref(id: string, tab: RunTab = "training", query?: Record<string, string>): string {
  const base = `#/runs/${encodeURIComponent(id)}${tab === "training" ? "" : `/${tab}`}`;
  const params = new URLSearchParams(query ?? {}).toString();
  return params ? `${base}?${params}` : base;
}

export function sweepHref(id: string): string {
  return `#/sweeps/${encodeURIComponent(id)}`;
}

export function compareHref(ids: string[]): string {
  return `#/compare?ids=${ids.map(encodeURIComponent).join(",")}`;
}

export function navigate(href: string): void {
  const target = withLang(href);
  if (location.hash === target) return;
  location.hash = target;
}

/** The path of a hash address, without its query (`#/runs/abc?x=1` gives `/runs/abc`). */
function hashPath(hash: string): string {
  const raw = hash.replace(/^#/, "");
  const q = raw.indexOf("?");
  return (q >= 0 ? raw.slice(0, q) : raw) || "/";
}

/**
 * Changes the hash without adding a history entry or firing a route change: a view writes
 * its choices into its own address. Nothing is written once the address has moved to
 * another path: a view answering late, as the learner leaves it, must not bring its
 * address back over the one the learner went to.
 */
export function replaceHash(href: string): void {
  const target = withLang(href);
  if (location.hash === target) return;
  if (hashPath(location.hash) !== hashPath(target)) return;
  history.replaceState(history.state, "", target);
}

/** The hash query parameter that carries the page's language, so that a link keeps it. */
export const LANG_PARAM = "lang";
let hashLang: string | null = null;

/** The language named in a hash (`#/runs?lang=fr`), or null. */
export function langFromHash(hash: string): string | null {
  const q = hash.indexOf("?");
  return q >= 0 ? new URLSearchParams(hash.slice(q + 1)).get(LANG_PARAM) : null;
}

/** An address with the page's language in its query, as every address of the app keeps it. */
export function withLang(href: string): string {
  if (hashLang === null || !href.startsWith("#")) return href;
  const raw = href === "#" ? "#/" : href;
  const q = raw.indexOf("?");
  const query = new URLSearchParams(q >= 0 ? raw.slice(q + 1) : "");
  query.set(LANG_PARAM, hashLang);
  return `${q >= 0 ? raw.slice(0, q) : raw}?${query.toString()}`;
}

/** Sets the language that addresses carry, and writes it into the current one. */
export function setHashLang(lang: string): void {
  hashLang = lang;
  keepLangInHash();
}

/** Puts the language back into an address reached by a plain link (`href="#/runs"`). */
export function keepLangInHash(): void {
  replaceHash(location.hash || "#/");
}
