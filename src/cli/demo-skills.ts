/** The skills of `rxon demo`: small stand-ins for GPU and CPU work, with real contracts. */
import Type from "typebox";
import { createHash } from "node:crypto";
import { defineSkill } from "../contracts/index.js";

const pause = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(t), reject(signal.reason)), { once: true });
  });

/** "Renders" a frame: GPU workers only (the task says how much VRAM it needs). */
export const render = defineSkill({
  name: "render",
  version: "1.0.0",
  description: "Renders a scene frame on a GPU",
  input: Type.Object({ scene: Type.String({ minLength: 1 }), frame: Type.Integer({ minimum: 0 }) }),
  output: Type.Object({ scene: Type.String(), frame: Type.Integer(), pixels: Type.Integer() }),
  handler: async (p, ctx) => {
    await pause(2 + (p.frame % 5), ctx.signal);
    return { scene: p.scene, frame: p.frame, pixels: 1920 * 1080 };
  },
});

/** Scales image dimensions: CPU workers. */
export const resize = defineSkill({
  name: "resize",
  version: "1.0.0",
  description: "Computes a scaled image size",
  input: Type.Object({ width: Type.Integer({ minimum: 1 }), height: Type.Integer({ minimum: 1 }), scale: Type.Number({ exclusiveMinimum: 0, maximum: 16 }) }),
  output: Type.Object({ width: Type.Integer({ minimum: 1 }), height: Type.Integer({ minimum: 1 }) }),
  handler: async (p, ctx) => {
    await pause(1 + (p.width % 3), ctx.signal);
    return { width: Math.max(1, Math.round(p.width * p.scale)), height: Math.max(1, Math.round(p.height * p.scale)) };
  },
});

/** SHA-256 of a text: any worker. */
export const checksum = defineSkill({
  name: "checksum",
  version: "1.0.0",
  description: "SHA-256 of a text",
  input: Type.Object({ text: Type.String({ maxLength: 65536 }) }),
  output: Type.Object({ sha256: Type.String({ pattern: "^[0-9a-f]{64}$" }) }),
  handler: (p) => ({ sha256: createHash("sha256").update(p.text).digest("hex") }),
});
