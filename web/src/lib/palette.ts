/** Categorical class colours; red is kept out so that it can mark mistakes. */
const BASE = [
  "#4e79a7",
  "#f28e2b",
  "#59a14f",
  "#b07aa1",
  "#edc948",
  "#76b7b2",
  "#9c755f",
  "#ff9da7",
  "#5b5f97",
  "#8cd17d",
  "#bab0ac",
  "#499894",
  "#d4a6c8",
  "#86bcb6",
  "#f1ce63",
  "#a0cbe8",
];

export const ERROR_COLOR = "#e0242f";
export const RUN_COLORS = [
  "#2563eb",
  "#ea580c",
  "#16a34a",
  "#9333ea",
  "#0891b2",
  "#ca8a04",
  "#db2777",
  "#4b5563",
];

export function classColor(index: number): string {
  if (index < BASE.length) return BASE[index];
  const hue = (index * 137.508) % 360;
  return `hsl(${hue.toFixed(0)} 55% 55%)`;
}

export function runColor(index: number): string {
  return RUN_COLORS[index % RUN_COLORS.length];
}

export function hexToRgb(color: string): [number, number, number] {
  const m = /^#([0-9a-f]{6})$/i.exec(color);
  if (m) {
    const v = parseInt(m[1], 16);
    return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
  }
  const ctx = document.createElement("canvas").getContext("2d");
  if (!ctx) return [128, 128, 128];
  ctx.fillStyle = color;
  ctx.fillRect(0, 0, 1, 1);
  const d = ctx.getImageData(0, 0, 1, 1).data;
  return [d[0], d[1], d[2]];
}
