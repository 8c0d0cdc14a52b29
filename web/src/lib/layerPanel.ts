import type { Atlas } from "./atlas";

/**
 * What every panel about one layer at one snapshot of the Depth view takes. The view shows
 * each panel of its list under the cell chosen in its grids; a new panel (another way of
 * looking at one layer) is one component with these props and one entry in that list.
 */
export interface LayerPanelProps {
  runId: string;
  /** The layer: a row of the grids ("input" for the raw pixels). */
  layer: string;
  /** The snapshot's index. */
  snapshot: number;
  /** How many snapshots the run has now: a panel refreshes when it grows. */
  snapshotCount: number;
  labels: Int32Array | null;
  atlas: Atlas | null;
  classNames: string[];
  /** The probe image whose neighbours are shown, if any. */
  query: number | null;
  /** A probe image was clicked. */
  onpickimage?: (index: number) => void;
  /** Another layer or snapshot was chosen from inside the panel. */
  onselect?: (layer: string, snapshot: number) => void;
}
