// Copies the generated JavaScript validators (emitted as .js with .d.ts, not compiled by tsc) into dist/.
import { copyFileSync, mkdirSync, readdirSync } from "node:fs";

mkdirSync("dist/generated", { recursive: true });
for (const f of readdirSync("generated")) {
  if (f.endsWith(".js") || f.endsWith(".d.ts")) copyFileSync(`generated/${f}`, `dist/generated/${f}`);
}

// The dashboard's browser files are served as they are from next to the compiled module.
mkdirSync("dist/src/hub/dashboard/assets", { recursive: true });
for (const f of readdirSync("src/hub/dashboard/assets")) copyFileSync(`src/hub/dashboard/assets/${f}`, `dist/src/hub/dashboard/assets/${f}`);
