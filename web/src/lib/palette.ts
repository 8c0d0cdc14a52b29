import palette from "./palette.json";

/**
 * Class colours, checked for colour-blind safety (see palette.json); red is kept out of
 * them because it marks mistakes. Classes beyond the list get hues spread by the golden
 * angle, which are not checked.
 */
export const CLASS_COLORS: readonly string[] = palette.classes;
export const ERROR_COLOR = palette.error;
export const RUN_COLORS: readonly string[] = palette.runs;

export function classColor(index: number): string {
  if (index < CLASS_COLORS.length) return CLASS_COLORS[index];
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
