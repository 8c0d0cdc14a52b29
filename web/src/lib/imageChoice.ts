import type { ImageRef } from "../api/lenses";

/** The image a view looks at: a probe image, one the learner drew (rows of 0..255), or one
 * they uploaded (by its id). */
export type ImageChoice = { probe: number } | { pixels: number[][] } | { upload: string };

export function isProbe(choice: ImageChoice | null): choice is { probe: number } {
  return choice !== null && "probe" in choice;
}

export function isUpload(choice: ImageChoice | null): choice is { upload: string } {
  return choice !== null && "upload" in choice;
}

/** Reads `image=probe:12` or `image=upload:<id>` from an address's query; drawings are not
 * kept in addresses. */
export function parseImageParam(value: string | null): ImageChoice | null {
  const probe = /^probe:(\d{1,7})$/.exec(value ?? "");
  if (probe) return { probe: Number(probe[1]) };
  const upload = /^upload:([0-9a-f]{16})$/.exec(value ?? "");
  return upload ? { upload: upload[1] } : null;
}

/** The query value of a choice, or null for a drawing. */
export function imageParam(choice: ImageChoice | null): string | null {
  if (isProbe(choice)) return `probe:${choice.probe}`;
  return isUpload(choice) ? `upload:${choice.upload}` : null;
}

/** The body's `image` for a lens request. */
export function imageRef(choice: ImageChoice): ImageRef {
  if (isProbe(choice)) return { probe: choice.probe };
  return isUpload(choice) ? { upload: choice.upload } : { pixels: choice.pixels };
}

/** A blank drawing of the given size. */
export function blankPixels(height: number, width: number): number[][] {
  return Array.from({ length: height }, () => new Array<number>(width).fill(0));
}
