/**
 * Signing cost against the floor of `JSON.stringify` + node:crypto HMAC of the same object, on
 * TaskPayload-shaped objects of about 1 KB and 64 KB; plus canonicalization alone, verification
 * and Ed25519 with both backends.
 */
import { createHmac } from "node:crypto";
import { measure, type BenchRow } from "./harness.js";
import { canonicalize } from "../src/wire/canonical.js";
import { signHmac, verifyHmac } from "../src/security/hmac.js";
import { generateEd25519KeyPair, setEd25519Backend, signEd25519, verifyEd25519, getEd25519Backend } from "../src/security/ed25519.js";

/** A TaskPayload-shaped object whose JSON text is about `bytes` long. */
function taskPayload(bytes: number): Record<string, unknown> {
  const items: unknown[] = [];
  const task: Record<string, unknown> = {
    job_id: "job-7f3a9c21-5b2e-4c1d-9a0f-3e8d7c6b5a49",
    task_id: "task-3f0c2b1e-0000-4000-8000-000000000000",
    type: "image.resize",
    params: { format: "webp", width: 1024, height: 768, quality: 0.85, keep_aspect: true, source: { uri: "s3://media/in/cat.png" }, items },
    tracing_context: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" },
    params_metadata: { source: { uri: "s3://media/in/cat.png", size: 1048576, etag: '"5d41402abc4b2a76"' } },
    priority: 5,
    deadline: 1767225600.25,
    metadata: { tenant: "acme", attempt: 1 },
    timestamp: 1767225000.123456,
    skill_version: "1.0.0",
  };
  for (let i = 0; JSON.stringify(task).length < bytes; i++) {
    items.push({ id: `item-${i}`, label: `Label number ${i}, ünïcode`, score: (i * 0.37) % 1, count: i * 17, tags: ["a", "b"], active: i % 2 === 0 });
  }
  return task;
}

const SECRET = "worker-token-5a9b0c";

/** Rows of the security benchmark. */
export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const sizes = [
    { label: "1KB", task: taskPayload(1024), target: "target >= 0.5x; Python reference (orjson): ~67,000/s" },
    { label: "64KB", task: taskPayload(65536), target: "target >= 0.7x; Python reference (orjson): ~530/s" },
  ];
  for (const { label, task, target } of sizes) {
    const floor = `stringify+hmac ${label} (floor)`;
    const bytes = Buffer.byteLength(JSON.stringify(task));
    rows.push(await measure(floor, () => createHmac("sha256", SECRET).update(JSON.stringify(task)).digest("hex"), { note: `${bytes} bytes of JSON` }));
    rows.push(await measure(`signHmac ${label}`, () => signHmac(task, SECRET), { floor, note: target }));
    rows.push(await measure(`canonicalize ${label}`, () => canonicalize(task), { floor }));
    const signature = signHmac(task, SECRET);
    rows.push(await measure(`verifyHmac ${label}`, () => verifyHmac(task, signature, SECRET), { floor }));
  }
  const task = sizes[0]!.task;
  const { privateKey, publicKey } = generateEd25519KeyPair();
  const initial = getEd25519Backend();
  for (const backend of ["node", "noble"] as const) {
    setEd25519Backend(backend);
    const signature = signEd25519(task, privateKey);
    rows.push(await measure(`ed25519 sign 1KB (${backend})`, () => signEd25519(task, privateKey), { floor: "stringify+hmac 1KB (floor)" }));
    rows.push(await measure(`ed25519 verify 1KB (${backend})`, () => verifyEd25519(task, signature, publicKey), { floor: "stringify+hmac 1KB (floor)" }));
  }
  setEd25519Backend(initial);
  return rows;
}
