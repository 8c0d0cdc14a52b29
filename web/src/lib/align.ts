import type { Frame } from "./frames";

/** A 2x2 orthogonal matrix, row-major: a point (x, y) goes to (x r0 + y r2, x r1 + y r3). */
export type Rotation = [number, number, number, number];

/**
 * The orthogonal 2x2 matrix R (a rotation, or a rotation with a mirror) that minimises
 * ||A R - B|| over the rows of A and B (orthogonal Procrustes, Schönemann 1966), in closed
 * form. Both are centred, unit-RMS map positions of the same images in the same order, as
 * the Recorder writes them, so no shift or scale is needed.
 */
export function procrustes(source: Float32Array, target: Float32Array, count: number): Rotation {
  let m00 = 0;
  let m01 = 0;
  let m10 = 0;
  let m11 = 0;
  for (let i = 0; i < count; i++) {
    const ax = source[2 * i];
    const ay = source[2 * i + 1];
    const bx = target[2 * i];
    const by = target[2 * i + 1];
    if (!Number.isFinite(ax + ay + bx + by)) continue;
    m00 += ax * bx;
    m01 += ax * by;
    m10 += ay * bx;
    m11 += ay * by;
  }
  // trace(R^T M) is c (m00 + m11) + s (m10 - m01) for a rotation by t (c = cos t, s = sin t)
  // and c (m00 - m11) + s (m01 + m10) for a mirror: each is largest at its atan2.
  const rotation = Math.hypot(m00 + m11, m10 - m01);
  const mirror = Math.hypot(m00 - m11, m01 + m10);
  if (rotation >= mirror) {
    const t = Math.atan2(m10 - m01, m00 + m11);
    return [Math.cos(t), -Math.sin(t), Math.sin(t), Math.cos(t)];
  }
  const t = Math.atan2(m01 + m10, m00 - m11);
  return [Math.cos(t), Math.sin(t), Math.sin(t), -Math.cos(t)];
}

/** The frame with its positions turned by `r`. */
export function rotateFrame(frame: Frame, r: Rotation): Frame {
  const positions = new Float32Array(frame.positions.length);
  for (let i = 0; i < frame.count; i++) {
    const x = frame.positions[2 * i];
    const y = frame.positions[2 * i + 1];
    positions[2 * i] = x * r[0] + y * r[2];
    positions[2 * i + 1] = x * r[1] + y * r[3];
  }
  return { ...frame, positions };
}

/** How one run's map is shown beside the first run's. */
export interface Alignment {
  frame: Frame;
  /** "reference" for the first run; "aligned"; or why it could not be aligned. */
  state: "reference" | "aligned" | "different-images" | "waiting";
  rotation: Rotation | null;
}

/**
 * Turns `frame` onto `reference` (the first run's frame at the same moment) when both
 * follow the same probe images, which their digests tell; otherwise leaves it as it is.
 */
export function alignTo(frame: Frame, reference: Frame | null, sameImages: boolean): Alignment {
  if (!sameImages || (reference !== null && reference.count !== frame.count)) {
    return { frame, state: "different-images", rotation: null };
  }
  if (reference === null) return { frame, state: "waiting", rotation: null };
  const rotation = procrustes(frame.positions, reference.positions, frame.count);
  return { frame: rotateFrame(frame, rotation), state: "aligned", rotation };
}
