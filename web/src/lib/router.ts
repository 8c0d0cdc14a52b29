export type Route =
  | { name: "playground"; query: URLSearchParams }
  | { name: "run"; id: string; query: URLSearchParams }
  | { name: "runs"; query: URLSearchParams }
  | { name: "compare"; ids: string[]; query: URLSearchParams }
  | { name: "docs"; page: string; query: URLSearchParams }
  | { name: "notfound"; path: string; query: URLSearchParams };

/** Parses `#/path?query` into a route. */
export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#/, "") || "/";
  const q = raw.indexOf("?");
  const path = (q >= 0 ? raw.slice(0, q) : raw) || "/";
  const query = new URLSearchParams(q >= 0 ? raw.slice(q + 1) : "");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { name: "playground", query };
  if (parts[0] === "runs" && parts.length === 1) return { name: "runs", query };
  if (parts[0] === "runs" && parts.length === 2) return { name: "run", id: parts[1], query };
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

export function runHref(id: string): string {
  return `#/runs/${encodeURIComponent(id)}`;
}

export function compareHref(ids: string[]): string {
  return `#/compare?ids=${ids.map(encodeURIComponent).join(",")}`;
}

export function navigate(href: string): void {
  if (location.hash === href) return;
  location.hash = href;
}

/** Changes the hash without adding a history entry or firing a route change. */
export function replaceHash(href: string): void {
  if (location.hash === href) return;
  history.replaceState(history.state, "", href);
}
