import type { Atlas } from "./atlas";
import type { Frame } from "./frames";
import { ERROR_COLOR, classColor } from "./palette";

/** How a tile shows its predicted class: the image tinted in the class colour, or the image
 * as it is inside a border of that colour. Colour images always get the border. */
export type TileStyle = "tint" | "border";

/** The probe images of one snapshot, and what a hover card says about them. */
export interface ProbeTiles {
  atlas: Atlas | null;
  frame: Frame | null;
  labels: Int32Array | null;
  classNames: string[];
}

/** What the views of the probe images as tiles (the classification map, the class columns) are given. */
export interface TileViewProps extends ProbeTiles {
  /** True classes to show; empty shows all. */
  classFilter?: ReadonlySet<number>;
  misclassifiedOnly?: boolean;
  selected?: number | null;
  tileStyle?: TileStyle;
  duration?: number;
  onselect?: (index: number) => void;
}

export interface TileScene {
  atlas: Atlas;
  style?: TileStyle;
  /** Centre of each tile in CSS pixels, interleaved x, y. */
  xy: Float32Array;
  size: number;
  predictions: Int32Array;
  labels: Int32Array;
  /** Whether a tile passes the filters; others are drawn faint. */
  visible: (index: number) => boolean;
  selected: number | null;
  hovered: number | null;
  width: number;
  height: number;
}

/** Whether tile `index` passes the filters: its true class among `classFilter` (empty: any
 * class), and a mistake when `misclassifiedOnly`. Everything passes before the data is in. */
export function passesFilters(
  index: number,
  labels: Int32Array | null,
  predictions: Int32Array | null,
  classFilter: ReadonlySet<number>,
  misclassifiedOnly: boolean,
): boolean {
  if (!labels || !predictions) return true;
  if (classFilter.size && !classFilter.has(labels[index])) return false;
  if (misclassifiedOnly && predictions[index] === labels[index]) return false;
  return true;
}

/** Sizes a canvas for `width` x `height` CSS pixels at the screen's pixel ratio and clears
 * it; returns its context in CSS pixels, or null. */
export function clearCanvas(
  canvas: HTMLCanvasElement,
  width: number,
  height: number,
): CanvasRenderingContext2D | null {
  const ctx = canvas.getContext("2d");
  if (!ctx) return null;
  const dpr = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
  }
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, height);
  return ctx;
}

/** Width of the class-coloured border around an untinted tile. */
export function borderWidth(size: number): number {
  return Math.max(1.5, Math.min(3, size / 7));
}

/** Draws every probe image as a tile showing its predicted class; mistakes outlined in red. */
export function drawTiles(ctx: CanvasRenderingContext2D, scene: TileScene): void {
  const { atlas, xy, size, predictions, labels, width, height } = scene;
  const n = Math.min(predictions.length, xy.length / 2);
  const half = size / 2;
  const useTint = scene.style !== "border";
  const border = borderWidth(size);
  const tw = atlas.tileWidth;
  const th = atlas.tileHeight;
  const cols = atlas.columns;
  ctx.imageSmoothingEnabled = size > tw;
  const errors: number[] = [];
  const drawOne = (i: number) => {
    const x = xy[2 * i] - half;
    const y = xy[2 * i + 1] - half;
    if (x > width || y > height || x + size < 0 || y + size < 0) return;
    const pred = predictions[i];
    const sx = (i % cols) * tw;
    const sy = Math.floor(i / cols) * th;
    const tinted = useTint ? atlas.tinted?.[pred] : undefined;
    if (tinted) {
      ctx.drawImage(tinted, sx, sy, tw, th, x, y, size, size);
    } else {
      ctx.fillStyle = classColor(pred);
      ctx.fillRect(x - border, y - border, size + 2 * border, size + 2 * border);
      ctx.drawImage(atlas.image, sx, sy, tw, th, x, y, size, size);
    }
  };

  ctx.globalAlpha = 0.1;
  for (let i = 0; i < n; i++) if (!scene.visible(i)) drawOne(i);
  ctx.globalAlpha = 1;
  for (let i = 0; i < n; i++) {
    if (!scene.visible(i)) continue;
    if (predictions[i] !== labels[i]) errors.push(i);
    else drawOne(i);
  }
  for (const i of errors) drawOne(i);
  if (errors.length) {
    ctx.beginPath();
    const lw = Math.max(1, Math.min(2, size / 8));
    // Around the class border when there is one, so both stay visible.
    const out = (useTint && atlas.tinted ? 0 : border) + lw / 2;
    for (const i of errors)
      ctx.rect(xy[2 * i] - half - out, xy[2 * i + 1] - half - out, size + 2 * out, size + 2 * out);
    ctx.strokeStyle = ERROR_COLOR;
    ctx.lineWidth = lw;
    ctx.stroke();
  }
  for (const [index, color, lw] of [
    [scene.hovered, "#111827", 1.5],
    [scene.selected, "#111827", 2.5],
  ] as const) {
    if (index === null || index >= n) continue;
    ctx.globalAlpha = 1;
    drawOne(index);
    ctx.strokeStyle = "#ffffff";
    ctx.lineWidth = lw + 2;
    ctx.strokeRect(xy[2 * index] - half - 2, xy[2 * index + 1] - half - 2, size + 4, size + 4);
    ctx.strokeStyle = color;
    ctx.lineWidth = lw;
    ctx.strokeRect(xy[2 * index] - half - 2, xy[2 * index + 1] - half - 2, size + 4, size + 4);
  }
}

/** The topmost visible tile under a point, or null. */
export function hitTest(
  scene: Pick<TileScene, "xy" | "size" | "visible">,
  n: number,
  x: number,
  y: number,
): number | null {
  const half = scene.size / 2 + 1;
  let best: number | null = null;
  let bestD = Infinity;
  for (let i = 0; i < n; i++) {
    if (!scene.visible(i)) continue;
    const dx = Math.abs(scene.xy[2 * i] - x);
    const dy = Math.abs(scene.xy[2 * i + 1] - y);
    if (dx <= half && dy <= half) {
      const d = dx * dx + dy * dy;
      if (d < bestD) {
        bestD = d;
        best = i;
      }
    }
  }
  return best;
}
