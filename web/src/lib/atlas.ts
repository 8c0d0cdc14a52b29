import { t } from "./i18n";
import type { ProbeInfo } from "../api/types";
import { classColor, hexToRgb } from "./palette";

/** The probe images: one atlas image, and for grey images one tinted copy per class. */
export interface Atlas {
  image: CanvasImageSource;
  tinted: HTMLCanvasElement[] | null;
  tileWidth: number;
  tileHeight: number;
  columns: number;
  count: number;
}

export function tileOrigin(atlas: Atlas, index: number): [number, number] {
  return [(index % atlas.columns) * atlas.tileWidth, Math.floor(index / atlas.columns) * atlas.tileHeight];
}

function loadImage(url: string): Promise<HTMLImageElement> {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.decoding = "async";
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error(t("atlas.failed", { url })));
    img.src = url;
  });
}

/** Maps grey level v to a mix of a pale and a strong shade of a class colour. */
function tint(source: HTMLImageElement, color: string): HTMLCanvasElement {
  const canvas = document.createElement("canvas");
  canvas.width = source.naturalWidth;
  canvas.height = source.naturalHeight;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  if (!ctx) return canvas;
  ctx.drawImage(source, 0, 0);
  const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
  const d = img.data;
  const [r, g, b] = hexToRgb(color);
  const lo = [r + (255 - r) * 0.82, g + (255 - g) * 0.82, b + (255 - b) * 0.82];
  const hi = [r * 0.55, g * 0.55, b * 0.55];
  for (let i = 0; i < d.length; i += 4) {
    const v = d[i] / 255;
    d[i] = lo[0] + (hi[0] - lo[0]) * v;
    d[i + 1] = lo[1] + (hi[1] - lo[1]) * v;
    d[i + 2] = lo[2] + (hi[2] - lo[2]) * v;
    d[i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return canvas;
}

/** Most pixels spent on tinted copies (4 bytes each). */
const TINT_BUDGET = 24_000_000;

const cache = new Map<string, Promise<Atlas>>();

/** Loads (once per url) the atlas of a run's probe images. */
export function loadAtlas(probe: ProbeInfo): Promise<Atlas> {
  const key = `${probe.atlas_url}|${probe.class_names.length}`;
  let pending = cache.get(key);
  if (!pending) {
    pending = loadImage(probe.atlas_url).then((image) => ({
      image,
      tinted:
        probe.channels === 1 &&
        image.naturalWidth * image.naturalHeight * probe.class_names.length <= TINT_BUDGET
          ? probe.class_names.map((_, c) => tint(image, classColor(c)))
          : null,
      tileWidth: probe.tile_width,
      tileHeight: probe.tile_height,
      columns: probe.columns,
      count: probe.count,
    }));
    pending.catch(() => cache.delete(key));
    cache.set(key, pending);
  }
  return pending;
}

/** The grey values (0..255, rows of columns) of one probe image, read from the atlas. */
export function atlasPixels(atlas: Atlas, index: number): number[][] {
  const canvas = new OffscreenCanvas(atlas.tileWidth, atlas.tileHeight);
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  if (!ctx) return [];
  const [sx, sy] = tileOrigin(atlas, index);
  ctx.drawImage(
    atlas.image,
    sx,
    sy,
    atlas.tileWidth,
    atlas.tileHeight,
    0,
    0,
    atlas.tileWidth,
    atlas.tileHeight,
  );
  const data = ctx.getImageData(0, 0, atlas.tileWidth, atlas.tileHeight).data;
  return Array.from({ length: atlas.tileHeight }, (_, y) =>
    Array.from({ length: atlas.tileWidth }, (_, x) => data[4 * (y * atlas.tileWidth + x)]),
  );
}
