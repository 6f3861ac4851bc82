import preact from "@preact/preset-vite";
import { defineConfig } from "vite";

// `npm run dev` serves the app on :5173 and forwards nothing: the API must allow this origin
// (FINDME_CORS_ORIGINS=http://localhost:5173) and the app reads its API from VITE_API_URL.
export default defineConfig({
  plugins: [preact()],
  build: {
    target: "es2022",
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  server: { port: 5173 },
});
