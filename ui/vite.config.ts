import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// In development the UI is served by Vite and talks to a parlor-server on :8080; in a build it
// is embedded in parlor-server and served from the same origin.
const server = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env
  .PARLOR_SERVER ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      "/api": server,
      "/auth": server,
      "/health": server,
      "/ws": { target: server.replace(/^http/, "ws"), ws: true },
    },
  },
  build: { outDir: "dist", sourcemap: false },
  test: { environment: "node", include: ["test/**/*.test.ts"] },
});
