import { describe, expect, it } from "vitest";
import { ValidationError } from "../../src/errors.js";
import { decode, modelNames, type ModelName } from "../../src/wire/codec.js";

/** Per model: a minimal valid value, the defaults decoding adds to it, and invalid variants with the exact pointer. */
interface Case {
  valid: Record<string, unknown>;
  defaults: Record<string, unknown>;
  missing: string; // a required member, removed from `valid`
  wrongType: [string, unknown, string]; // member, bad value, pointer
  wrongEnum?: [string, unknown];
  nested?: [Record<string, unknown>, string]; // an invalid nested model and its pointer
  closed?: true; // refuses unknown members even on the wire (the client API's request)
}

const cases: Record<ModelName, Case> = {
  HardwareDevice: { valid: { type: "gpu" }, defaults: {}, missing: "type", wrongType: ["properties", [], "/properties"] },
  DeviceUsage: { valid: { unit_id: "gpu0", load_percent: 5 }, defaults: {}, missing: "load_percent", wrongType: ["load_percent", "5", "/load_percent"] },
  ResourcesUsage: {
    valid: {},
    defaults: { cpu_load_percent: 0, ram_used_gb: 0 },
    missing: "",
    wrongType: ["cpu_load_percent", "high", "/cpu_load_percent"],
    nested: [{ devices_usage: [{ unit_id: "g" }] }, "/devices_usage/0/load_percent"],
  },
  Resources: {
    valid: {},
    defaults: {},
    missing: "",
    wrongType: ["devices", {}, "/devices"],
    nested: [{ devices: [{ model: "x" }] }, "/devices/0/type"],
  },
  InstalledArtifact: { valid: { name: "blip" }, defaults: { version: "unknown" }, missing: "name", wrongType: ["version", 1, "/version"] },
  SkillInfo: { valid: { name: "echo" }, defaults: { schema_dialect: "json-schema" }, missing: "name", wrongType: ["output_statuses", "success", "/output_statuses"] },
  SecurityContext: { valid: {}, defaults: {}, missing: "", wrongType: ["identity_chain", [1], "/identity_chain/0"] },
  WorkerCapabilities: { valid: {}, defaults: { hostname: "unknown", ip_address: "0.0.0.0" }, missing: "", wrongType: ["cost_per_skill", { a: "1" }, "/cost_per_skill/a"] },
  FileMetadata: { valid: { uri: "s3://b/k" }, defaults: { size: 0 }, missing: "uri", wrongType: ["size", 1.5, "/size"] },
  WorkerRegistration: {
    valid: { worker_id: "w1" },
    defaults: { worker_type: "generic" },
    missing: "worker_id",
    wrongType: ["installed_software", { torch: 2 }, "/installed_software/torch"],
    nested: [{ worker_id: "w1", supported_skills: [{ name: "a" }, { version: "1" }] }, "/supported_skills/1/name"],
  },
  TokenResponse: { valid: { access_token: "a", expires_in: 3600, worker_id: "w" }, defaults: {}, missing: "expires_in", wrongType: ["expires_in", "3600", "/expires_in"] },
  TokenRefreshRequest: { valid: { refresh_token: "r" }, defaults: {}, missing: "refresh_token", wrongType: ["refresh_token", 1, "/refresh_token"] },
  WorkerEventPayload: {
    valid: { event_id: "e", worker_id: "w", origin_worker_id: "w", event_type: "progress", payload: {} },
    defaults: { priority: 0 },
    missing: "payload",
    wrongType: ["bubbling_chain", "w2", "/bubbling_chain"],
  },
  WorkerCommand: { valid: { command: "cancel_task" }, defaults: {}, missing: "command", wrongType: ["params", "x", "/params"] },
  TaskPayload: {
    valid: { job_id: "j", task_id: "t", type: "echo" },
    defaults: { priority: 0 },
    missing: "type",
    wrongType: ["deadline", "soon", "/deadline"],
    nested: [{ job_id: "j", task_id: "t", type: "echo", params_metadata: { src: { size: 1 } } }, "/params_metadata/src/uri"],
  },
  TaskError: { valid: { code: "TRANSIENT_ERROR", message: "m" }, defaults: {}, missing: "message", wrongType: ["details", "d", "/details"] },
  TaskResult: {
    valid: { job_id: "j", task_id: "t" },
    defaults: { status: "success" },
    missing: "task_id",
    wrongType: ["data", [1], "/data"],
    nested: [{ job_id: "j", task_id: "t", status: "failure", error: { message: "no code" } }, "/error/code"],
  },
  Heartbeat: { valid: { worker_id: "w", status: "idle" }, defaults: {}, missing: "status", wrongType: ["current_tasks", "t1", "/current_tasks"] },
  RegisterResponse: { valid: { status: "registered" }, defaults: {}, missing: "status", wrongType: ["warning", 1, "/warning"] },
  ResultResponse: { valid: { status: "accepted" }, defaults: {}, missing: "status", wrongType: ["message", 1, "/message"], wrongEnum: ["reason", "lost"] },
  HeartbeatResponse: { valid: { status: "ok" }, defaults: {}, missing: "status", wrongType: ["require_full_sync", "yes", "/require_full_sync"], wrongEnum: ["status", "fine"] },
  EventResponse: { valid: { status: "event_accepted" }, defaults: {}, missing: "status", wrongType: ["code", 1, "/code"], wrongEnum: ["status", "accepted"] },
  ErrorResponse: { valid: { error: "bad" }, defaults: {}, missing: "error", wrongType: ["errors", [{ path: "/a" }], "/errors/0/message"] },
  ClientTaskRequest: {
    closed: true,
    valid: { type: "echo" },
    defaults: { priority: 0 },
    missing: "type",
    wrongType: ["maxRetries", "3", "/maxRetries"],
    nested: [{ type: "echo", requirements: { resources: { devices: [{ model: "x" }] } } }, "/requirements/resources/devices/0/type"],
  },
  ClientTaskAccepted: {
    valid: { job_id: "j", task_id: "t", status: "running" },
    defaults: {},
    missing: "task_id",
    wrongType: ["job_id", 1, "/job_id"],
    wrongEnum: ["status", "done"],
  },
  ClientTaskView: {
    valid: { job_id: "j", task_id: "t", status: "waiting_for_worker" },
    defaults: {},
    missing: "status",
    wrongType: ["progress", "half", "/progress"],
    wrongEnum: ["status", "done"],
    nested: [{ job_id: "j", task_id: "t", status: "failed", outcome: { status: "failure", job_id: "j", task_id: "t", attempts: 1, error: { code: "X" } } }, "/outcome/error/message"],
  },
};

function problems(model: ModelName, value: unknown, strict = false): { path: string; message: string }[] {
  try {
    decode(model, value, { strict });
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    expect((e as ValidationError).message).toContain(`Invalid ${model}`);
    return [...(e as ValidationError).errors];
  }
  return [];
}

describe("every model has test cases", () => {
  it("covers exactly the generated model list", () => {
    expect(Object.keys(cases).sort()).toEqual([...modelNames].sort());
  });
});

describe.each(Object.entries(cases) as [ModelName, Case][])("%s", (model, c) => {
  it("decodes a minimal valid value and applies the schema defaults", () => {
    expect(decode(model, c.valid)).toEqual({ ...c.valid, ...c.defaults });
  });

  it("does not change the caller's value", () => {
    const input = structuredClone(c.valid);
    decode(model, input);
    expect(input).toEqual(c.valid);
  });

  it("refuses a missing required member with its pointer", () => {
    if (c.missing === "") {
      expect(problems(model, c.valid)).toEqual([]);
      return;
    }
    const { [c.missing]: _gone, ...rest } = c.valid;
    expect(problems(model, rest)).toContainEqual({ path: `/${c.missing}`, message: "is required" });
  });

  it("refuses a wrong type with its pointer", () => {
    const [member, bad, pointer] = c.wrongType;
    const found = problems(model, { ...c.valid, [member]: bad });
    expect(found.map((p) => p.path)).toContain(pointer);
  });

  it("refuses a value that is not an object at the root", () => {
    expect(problems(model, [c.valid])).toContainEqual({ path: "", message: "must be object" });
    expect(problems(model, "x")).toContainEqual({ path: "", message: "must be object" });
  });

  if (c.wrongEnum) {
    it("refuses a value outside the enumeration", () => {
      const [member, bad] = c.wrongEnum!;
      const found = problems(model, { ...c.valid, [member]: bad });
      expect(found).toHaveLength(1);
      expect(found[0]!.path).toBe(`/${member}`);
      expect(found[0]!.message).toMatch(/^must be one of: /);
    });
  }

  if (c.nested) {
    it("validates nested models like top-level ones", () => {
      const [value, pointer] = c.nested!;
      expect(problems(model, value).map((p) => p.path)).toContain(pointer);
    });
  }

  it("ignores unknown members on the wire and refuses them in strict mode", () => {
    const withExtra = { ...c.valid, future_field: { any: "thing" } };
    expect(problems(model, withExtra)).toEqual(c.closed ? [{ path: "/future_field", message: "is not allowed" }] : []);
    expect(problems(model, withExtra, true)).toEqual([{ path: "/future_field", message: "is not allowed" }]);
  });

  it("treats null members as absent", () => {
    expect(decode(model, { ...c.valid, metadata: null, security: null })).toEqual({ ...c.valid, ...c.defaults });
  });
});

describe("open objects stay open in strict mode", () => {
  it("accepts arbitrary params, metadata and device properties", () => {
    const task = { job_id: "j", task_id: "t", type: "x", params: { anything: { deep: [1] } }, metadata: { k: 1 } };
    expect(() => decode("TaskPayload", task, { strict: true })).not.toThrow();
    const reg = { worker_id: "w", resources: { devices: [{ type: "gpu", properties: { vram_gb: 24, arch: ["sm_90"] } }], properties: { os: "linux" } } };
    expect(() => decode("WorkerRegistration", reg, { strict: true })).not.toThrow();
  });
  it("still closes nested models in strict mode", () => {
    const reg = { worker_id: "w", resources: { devices: [{ type: "gpu", vram: 24 }] } };
    expect(problems("WorkerRegistration", reg, true)).toEqual([{ path: "/resources/devices/0/vram", message: "is not allowed" }]);
  });
});

describe("reports every problem at once", () => {
  it("lists all errors of a message", () => {
    const found = problems("TaskPayload", { job_id: 1, params: [], priority: "high" });
    expect(found.map((p) => p.path).sort()).toEqual(["/job_id", "/params", "/priority", "/task_id", "/type"]);
  });
  it("accepts a plain string as a result error, as the orchestrator does", () => {
    expect(decode("TaskResult", { job_id: "j", task_id: "t", status: "failure", error: "boom" }).error).toBe("boom");
  });
  it("names an unknown model clearly", () => {
    expect(() => decode("Nope" as ModelName, {})).toThrow(/Unknown model "Nope"/);
  });
});
