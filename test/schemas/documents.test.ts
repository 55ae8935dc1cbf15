/**
 * The documents codegen builds from schemas/: the bundled schema validates like the separate files,
 * and the OpenAPI and AsyncAPI documents cover every route and resolve every reference.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import Ajv2020Module from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { describe, expect, it } from "vitest";
import { Endpoint, Header } from "../../generated/constants.js";
import { check, modelNames, type ModelName } from "../../src/wire/codec.js";

const Ajv2020 = Ajv2020Module.default;
const addFormats = addFormatsModule.default;
const root = resolve(import.meta.dirname, "../..");
const read = (path: string): Record<string, unknown> => JSON.parse(readFileSync(resolve(root, path), "utf8")) as Record<string, unknown>;
const bundle = read("schemas/generated/rxon.bundle.schema.json");
const openapi = read("schemas/generated/openapi.json");
const asyncapi = read("schemas/generated/asyncapi.json");
const messages = read("conformance/messages.json").cases as { name: string; model: ModelName; valid: boolean; message: unknown }[];

/** Every `$ref` value in a document. */
function refs(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => refs(v, out));
  else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      if (k === "$ref" && typeof v === "string") out.push(v);
      else refs(v, out);
    }
  }
  return out;
}

/** Resolves a local `#/...` pointer in `doc`. */
function resolvePointer(doc: unknown, ref: string): unknown {
  return ref
    .slice(2)
    .split("/")
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce<unknown>((node, key) => (node !== null && typeof node === "object" ? (node as Record<string, unknown>)[key] : undefined), doc);
}

describe("bundled schema", () => {
  it("has every model and only local references that resolve", () => {
    const defs = bundle.$defs as Record<string, unknown>;
    for (const name of modelNames) expect(defs[name]).toBeDefined();
    for (const ref of refs(bundle)) {
      expect(ref.startsWith("#/$defs/")).toBe(true);
      expect(resolvePointer(bundle, ref)).toBeDefined();
    }
    expect(JSON.stringify(defs)).not.toContain('"$id"');
  });

  it("accepts and refuses every conformance message as decode does", () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema(bundle);
    for (const c of messages) {
      const validate = ajv.getSchema(`${String(bundle.$id)}#/$defs/${c.model}`)!;
      expect({ name: c.name, valid: validate(structuredClone(c.message)) }).toEqual({ name: c.name, valid: c.valid });
      expect(check(c.model, c.message).length === 0).toBe(c.valid);
    }
  });
});

describe("OpenAPI document", () => {
  const paths = openapi.paths as Record<string, Record<string, { responses: Record<string, unknown>; requestBody?: unknown }>>;

  it("is OpenAPI 3.1 with every worker route of the constants and the client routes", () => {
    expect(openapi.openapi).toBe("3.1.0");
    for (const [name, path] of Object.entries(Endpoint)) if (name !== "PREFIX") expect(Object.keys(paths)).toContain(path);
    expect(Object.keys(paths[Endpoint.NEXT_TASK]!)).toEqual(["get"]);
    expect(Object.keys(paths[Endpoint.HEARTBEAT]!)).toEqual(["patch"]);
    expect(Object.keys(paths["/_client/tasks"]!)).toEqual(["post"]);
    expect(Object.keys(paths["/_client/tasks/{job_id}"]!).sort()).toEqual(["delete", "get"]);
  });

  it("resolves every reference and names the bodies, statuses and headers", () => {
    for (const ref of refs(openapi)) expect(resolvePointer(openapi, ref), ref).toBeDefined();
    expect(paths[Endpoint.RESULT]!.post!.requestBody).toEqual({ required: true, content: { "application/json": { schema: { $ref: "#/components/schemas/TaskResult" } } } });
    expect(Object.keys(paths[Endpoint.NEXT_TASK]!.get!.responses)).toEqual(expect.arrayContaining(["200", "204", "403", "429"]));
    const submit = paths["/_client/tasks"]!.post as unknown as { parameters: { name: string }[]; responses: Record<string, { headers?: Record<string, unknown> }> };
    expect(submit.parameters.map((p) => p.name)).toContain(Header.IDEMPOTENCY_KEY);
    expect(Object.keys(submit.responses["429"]!.headers!)).toEqual([Header.RETRY_AFTER]);
    const schemes = (openapi.components as { securitySchemes: Record<string, { name?: string }> }).securitySchemes;
    expect(schemes.workerToken!.name).toBe(Header.WORKER_TOKEN);
    expect(schemes.clientToken!.name).toBe(Header.CLIENT_TOKEN);
  });

  it("has component schemas that compile as JSON Schema 2020-12", () => {
    const ajv = new Ajv2020({ strict: false });
    addFormats(ajv);
    ajv.addSchema({ $id: "https://rxon.dev/openapi", components: openapi.components });
    for (const name of modelNames) expect(() => ajv.getSchema(`https://rxon.dev/openapi#/components/schemas/${name}`)).not.toThrow();
  });
});

describe("AsyncAPI document", () => {
  it("describes the WebSocket channel with commands received and events sent", () => {
    expect(asyncapi.asyncapi).toBe("3.0.0");
    const channel = (asyncapi.channels as Record<string, { address: string }>).commands!;
    expect(channel.address).toBe(Endpoint.WEBSOCKET);
    const ops = asyncapi.operations as Record<string, { action: string }>;
    expect(ops.receiveCommand!.action).toBe("receive");
    expect(ops.sendEvent!.action).toBe("send");
    for (const ref of refs(asyncapi)) expect(resolvePointer(asyncapi, ref), ref).toBeDefined();
  });
});
