/**
 * The dashboard's browser files: hand-written ES modules, CSS and one HTML page in `assets/`
 * next to this module, shipped as they are (no build step, nothing fetched from elsewhere).
 * Read once, on first use; only the names listed here are ever served.
 */
import { readFileSync } from "node:fs";

/** Served file names and their content types. */
export const ASSET_TYPES: Readonly<Record<string, string>> = Object.freeze({
  "index.html": "text/html; charset=utf-8",
  "app.js": "text/javascript; charset=utf-8",
  "api.js": "text/javascript; charset=utf-8",
  "charts.js": "text/javascript; charset=utf-8",
  "dom.js": "text/javascript; charset=utf-8",
  "pages.js": "text/javascript; charset=utf-8",
  "style.css": "text/css; charset=utf-8",
});

/** A loaded asset. */
export interface Asset {
  readonly body: Buffer;
  readonly type: string;
}

let cache: Map<string, Asset> | undefined;

/** The asset called `name`, or undefined for any name not in {@link ASSET_TYPES}. */
export function asset(name: string): Asset | undefined {
  if (!Object.prototype.hasOwnProperty.call(ASSET_TYPES, name)) return undefined;
  if (cache === undefined) {
    const loaded = new Map<string, Asset>();
    for (const [file, type] of Object.entries(ASSET_TYPES)) {
      loaded.set(file, { body: readFileSync(new URL(`./assets/${file}`, import.meta.url)), type });
    }
    cache = loaded;
  }
  return cache.get(name);
}
