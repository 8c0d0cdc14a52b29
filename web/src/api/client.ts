import { t } from "../lib/i18n";
import type {
  Architectures,
  Curves,
  DatasetInfo,
  Health,
  ProbeInfo,
  Run,
  RunConfig,
  SnapshotDetail,
  SnapshotSummary,
  Sweep,
  SweepSpec,
  SweepSummary,
  Timeline,
  ValidationIssue,
} from "./types";

/** An HTTP error from the API, or a network failure (status 0). */
export class ApiError extends Error {
  readonly status: number;
  readonly detail: unknown;

  constructor(status: number, message: string, detail: unknown = null) {
    super(message);
    this.status = status;
    this.detail = detail;
  }

  /** The 422 issues, one per bad field, or an empty list. */
  get issues(): ValidationIssue[] {
    if (this.status !== 422 || !Array.isArray(this.detail)) return [];
    return this.detail.filter(
      (d): d is ValidationIssue =>
        typeof d === "object" && d !== null && Array.isArray((d as ValidationIssue).loc),
    );
  }
}

function describeDetail(detail: unknown): string | null {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    const msgs = detail
      .map((d) => {
        if (typeof d !== "object" || d === null) return String(d);
        const issue = d as Partial<ValidationIssue>;
        const loc = (issue.loc ?? []).filter((p) => p !== "body").join(".");
        return loc ? `${loc}: ${issue.msg ?? ""}` : (issue.msg ?? "");
      })
      .filter(Boolean);
    return msgs.length ? msgs.join("; ") : null;
  }
  return null;
}

export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  return send<T>(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** Posts a multipart form (file uploads); the browser sets the content type. */
export function postForm<T>(path: string, form: FormData): Promise<T> {
  return send<T>(path, { method: "POST", headers: { Accept: "application/json" }, body: form });
}

async function send<T>(path: string, init: RequestInit): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, t("client.unreachable"));
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let payload: unknown = null;
  if (text) {
    try {
      payload = JSON.parse(text);
    } catch {
      payload = text;
    }
  }
  if (!response.ok) {
    const detail =
      typeof payload === "object" && payload !== null && "detail" in payload
        ? (payload as { detail: unknown }).detail
        : payload;
    const message = describeDetail(detail) ?? `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, message, detail);
  }
  return payload as T;
}

const enc = encodeURIComponent;

export const api = {
  health: () => request<Health>("GET", "/api/health"),
  datasets: () => request<DatasetInfo[]>("GET", "/api/datasets"),
  architectures: () => request<Architectures>("GET", "/api/architectures"),
  runs: () => request<Run[]>("GET", "/api/runs"),
  run: (id: string) => request<Run>("GET", `/api/runs/${enc(id)}`),
  createRun: (config: RunConfig) => request<Run>("POST", "/api/runs", config),
  cancelRun: (id: string) => request<Run>("POST", `/api/runs/${enc(id)}/cancel`),
  deleteRun: (id: string) => request<void>("DELETE", `/api/runs/${enc(id)}`),
  curves: (id: string) => request<Curves>("GET", `/api/runs/${enc(id)}/curves`),
  snapshots: (id: string) => request<SnapshotSummary[]>("GET", `/api/runs/${enc(id)}/snapshots`),
  snapshot: (id: string, index: number) =>
    request<SnapshotDetail>("GET", `/api/runs/${enc(id)}/snapshots/${index}`),
  probe: (id: string) => request<ProbeInfo>("GET", `/api/runs/${enc(id)}/probe`),
  timeline: (id: string) => request<Timeline>("GET", `/api/runs/${enc(id)}/timeline`),
  eventsUrl: (id: string) => `/api/runs/${enc(id)}/events`,
  sweeps: () => request<SweepSummary[]>("GET", "/api/sweeps"),
  sweep: (id: string) => request<Sweep>("GET", `/api/sweeps/${enc(id)}`),
  createSweep: (spec: SweepSpec) => request<Sweep>("POST", "/api/sweeps", spec),
};

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
