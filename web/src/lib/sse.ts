import type { ProbeEvent, ProgressEvent, SnapshotSummary, StatusEvent } from "../api/types";

export interface RunEventHandlers {
  status?: (data: StatusEvent) => void;
  progress?: (data: ProgressEvent) => void;
  snapshot?: (data: SnapshotSummary) => void;
  probe?: (data: ProbeEvent) => void;
  connection?: (state: "open" | "reconnecting" | "closed") => void;
}

/**
 * Follows a run's event stream. The browser's EventSource reconnects by itself and
 * resumes from the last event id; `close()` stops it for good.
 */
export function followRun(url: string, handlers: RunEventHandlers): { close: () => void } {
  const source = new EventSource(url);
  let closed = false;

  const listen = <T>(name: string, fn: ((data: T) => void) | undefined) => {
    if (!fn) return;
    source.addEventListener(name, (event) => {
      if (closed) return;
      try {
        fn(JSON.parse((event as MessageEvent<string>).data) as T);
      } catch (err) {
        console.warn(`convscope: bad ${name} event`, err);
      }
    });
  };
  listen<StatusEvent>("status", handlers.status);
  listen<ProgressEvent>("progress", handlers.progress);
  listen<SnapshotSummary>("snapshot", handlers.snapshot);
  listen<ProbeEvent>("probe", handlers.probe);
  source.onopen = () => handlers.connection?.("open");
  source.onerror = () => {
    if (closed) return;
    handlers.connection?.(source.readyState === EventSource.CLOSED ? "closed" : "reconnecting");
  };

  return {
    close() {
      closed = true;
      source.close();
    },
  };
}
