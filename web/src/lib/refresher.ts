/**
 * Keeps one resource up to date: loads it on request, never twice at once, and asks again
 * after a pause while the answer says that parts of it are still `pending` (the server
 * computes them a few at a time).
 */
export class Refresher<T extends { pending: unknown[] }> {
  #load: () => Promise<T>;
  #onresult: (value: T) => void;
  #onerror: (message: unknown) => void;
  #delay: number;
  #busy = false;
  #again = false;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #stopped = false;

  constructor(
    load: () => Promise<T>,
    onresult: (value: T) => void,
    onerror: (error: unknown) => void,
    delay = 700,
  ) {
    this.#load = load;
    this.#onresult = onresult;
    this.#onerror = onerror;
    this.#delay = delay;
  }

  /** Loads now, or right after the load in flight. */
  request(): void {
    if (this.#stopped) return;
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    if (this.#busy) {
      this.#again = true;
      return;
    }
    this.#busy = true;
    this.#load().then(
      (value) => {
        this.#busy = false;
        if (this.#stopped) return;
        this.#onresult(value);
        if (this.#again || value.pending.length) this.#schedule(this.#again ? 0 : this.#delay);
        this.#again = false;
      },
      (error: unknown) => {
        this.#busy = false;
        this.#again = false;
        if (!this.#stopped) this.#onerror(error);
      },
    );
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
  }

  #schedule(delay: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.request();
    }, delay);
  }
}
