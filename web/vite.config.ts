import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";

const apiTarget = "http://127.0.0.1:8765";

export default defineConfig({
  plugins: [svelte()],
  base: "/",
  build: {
    outDir: "../src/convscope/server/static",
    emptyOutDir: true,
    target: "es2022",
    chunkSizeWarningLimit: 300,
  },
  server: {
    proxy: { "/api": { target: apiTarget, changeOrigin: false } },
  },
});
