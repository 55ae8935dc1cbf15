// Copies the generated JavaScript validators (emitted as .js with .d.ts, not compiled by tsc) into dist/.
import { copyFileSync, mkdirSync, readdirSync } from "node:fs";

mkdirSync("dist/generated", { recursive: true });
for (const f of readdirSync("generated")) {
  if (f.endsWith(".js") || f.endsWith(".d.ts")) copyFileSync(`generated/${f}`, `dist/generated/${f}`);
}
