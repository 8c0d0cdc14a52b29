import type { ImageRef } from "../api/lenses";

/** The image a view looks at: a probe image, or one the learner drew (rows of 0..255). */
export type ImageChoice = { probe: number } | { pixels: number[][] };

export function isProbe(choice: ImageChoice | null): choice is { probe: number } {
  return choice !== null && "probe" in choice;
}

/** Reads `image=probe:12` from an address's query; drawings are not kept in addresses. */
export function parseImageParam(value: string | null): ImageChoice | null {
  const match = /^probe:(\d{1,7})$/.exec(value ?? "");
  return match ? { probe: Number(match[1]) } : null;
}

/** The query value of a choice, or null for a drawing. */
export function imageParam(choice: ImageChoice | null): string | null {
  return isProbe(choice) ? `probe:${choice.probe}` : null;
}

/** The body's `image` for a lens request. */
export function imageRef(choice: ImageChoice): ImageRef {
  return isProbe(choice) ? { probe: choice.probe } : { pixels: choice.pixels };
}

/** A blank drawing of the given size. */
export function blankPixels(height: number, width: number): number[][] {
  return Array.from({ length: height }, () => new Array<number>(width).fill(0));
}
