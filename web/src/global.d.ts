/// <reference types="svelte" />
/// <reference types="vite/client" />

declare global {
  interface Window {
    /** Frames drawn by the animated canvases, read by the browser benchmark. */
    __convscopeFrames: number;
  }
}

export {};
