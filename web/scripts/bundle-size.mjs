// First-load JavaScript of the built app, gzipped: the entry script and every module it
// preloads (what a phone downloads before the first page shows; lazy chunks are not counted).
// Prints JSON; exits 1 over the budget. Run after `vite build`: `npm run size`.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const BUDGET_BYTES = 120_000; // issue 13: first-load JS <= 120 KB gzipped
const dist = new URL("../dist/", import.meta.url).pathname;
const html = readFileSync(join(dist, "index.html"), "utf8");
const urls = [
  ...html.matchAll(/<script[^>]+type="module"[^>]+src="([^"]+)"/g),
  ...html.matchAll(/<link[^>]+rel="modulepreload"[^>]+href="([^"]+)"/g),
].map((m) => m[1]);
const files = [...new Set(urls)].map((url) => {
  const bytes = readFileSync(join(dist, url.replace(/^\//, "")));
  return { file: url, bytes: bytes.length, gzip_bytes: gzipSync(bytes, { level: 9 }).length };
});
const total = files.reduce((sum, f) => sum + f.gzip_bytes, 0);
const report = { first_load_js_gzip_bytes: total, budget_bytes: BUDGET_BYTES, within_budget: total <= BUDGET_BYTES, files };
console.log(JSON.stringify(report, null, 2));
if (files.length === 0 || total > BUDGET_BYTES) process.exit(1);
