import { easeCubicInOut } from "d3-ease";

/** Interpolates a flat array of coordinates from where it is drawn to a new target. */
export class ArrayTween {
  current: Float32Array | null = null;
  #from: Float32Array | null = null;
  #to: Float32Array | null = null;
  #start = 0;
  #duration = 600;
  #ease: (t: number) => number = easeCubicInOut;
  progress = 1;

  get active(): boolean {
    return this.progress < 1;
  }

  /**
   * Starts moving towards `target`; jumps there when nothing is drawn yet or sizes differ.
   * `linear` keeps a constant speed, so that successive moves join into one smooth motion
   * (playing a film of snapshots); otherwise a move eases in and out.
   */
  moveTo(target: Float32Array, duration: number, now = performance.now(), linear = false): void {
    if (!this.current || this.current.length !== target.length || duration <= 0) {
      this.current = Float32Array.from(target);
      this.#from = null;
      this.#to = target;
      this.progress = 1;
      return;
    }
    this.#from = Float32Array.from(this.current);
    this.#to = target;
    this.#start = now;
    this.#duration = duration;
    this.#ease = linear ? (t: number) => t : easeCubicInOut;
    this.progress = 0;
  }

  /** Advances to time `now`; returns the eased progress in [0, 1]. */
  step(now = performance.now()): number {
    if (!this.#from || !this.#to || !this.current || this.progress >= 1) return 1;
    const raw = Math.min(1, Math.max(0, (now - this.#start) / this.#duration));
    const t = this.#ease(raw);
    const from = this.#from;
    const to = this.#to;
    const cur = this.current;
    for (let i = 0; i < cur.length; i++) cur[i] = from[i] + (to[i] - from[i]) * t;
    this.progress = raw;
    if (raw >= 1) this.#from = null;
    return raw;
  }
}

let lastCounted = -1;

/** Counts a drawn animation frame (once per frame, however many canvases draw in it). */
export function countFrame(now: number): void {
  if (now === lastCounted) return;
  lastCounted = now;
  window.__convscopeFrames = (window.__convscopeFrames ?? 0) + 1;
}

/** Draws on the next animation frame, then on every frame for as long as `draw` asks to
 * go on (while a tween moves); requests in between share that one frame. */
export class FrameLoop {
  #frame = 0;
  readonly #draw: (now: number) => boolean;

  constructor(draw: (now: number) => boolean) {
    this.#draw = draw;
  }

  request(): void {
    if (!this.#frame) this.#frame = requestAnimationFrame(this.#step);
  }

  stop(): void {
    if (this.#frame) cancelAnimationFrame(this.#frame);
    this.#frame = 0;
  }

  #step = (now: number): void => {
    this.#frame = 0;
    if (this.#draw(now)) this.#frame = requestAnimationFrame(this.#step);
  };
}
