/**
 * Conformance with the Python reference: every case of canonical-public.json (a copy of
 * ../shared/vectors) and the worked vectors of PROTOCOL.md 6.5.
 */
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ValidationError } from "../../src/errors.js";
import { parseJson, type JsonValue } from "../../src/wire/json.js";
import { canonicalize, hashPayload, signingText } from "../../src/wire/canonical.js";
import { signHmac, verifyHmac } from "../../src/security/hmac.js";

interface VectorCase {
  name: string;
  input_text: string;
  exact_integer_literal?: boolean;
  ignore_fields: string[] | null;
  secret: string;
  canonical?: string;
  hash_canonical?: string;
  hmac_sha256_hex?: string;
  dict_hash_sha256_hex?: string;
  error?: string;
  error_stage?: string;
  dict_hash_error?: string;
}

const file = JSON.parse(readFileSync(new URL("./canonical-public.json", import.meta.url), "utf8")) as { cases: VectorCase[] };

/** The wire text parsed losslessly; deep cases need a parse limit above the canonical one. */
function input(c: VectorCase): JsonValue {
  return parseJson(c.input_text, { maxDepth: 1000 });
}

/** The same hex signature with one character changed. */
function flipOne(hex: string): string {
  const i = hex.length >> 1;
  return hex.slice(0, i) + (hex[i] === "0" ? "1" : "0") + hex.slice(i + 1);
}

describe("canonical-public.json", () => {
  it("has the 45 cases", () => {
    expect(file.cases).toHaveLength(45);
  });

  for (const c of file.cases) {
    const options = { ignoreFields: c.ignore_fields ?? [] };
    describe(c.name, () => {
      if (c.error !== undefined) {
        it(`refuses to sign (${c.error_stage})`, () => {
          const value = input(c);
          expect(() => signHmac(value, c.secret, options)).toThrow(ValidationError);
          expect(verifyHmac(value, "0".repeat(64), c.secret, options)).toBe(false);
          if (c.error_stage !== "secret") expect(() => signingText(value, options)).toThrow(ValidationError);
        });
      } else {
        it("signingText equals canonical", () => {
          expect(signingText(input(c), options)).toBe(c.canonical);
        });
        it("signHmac equals hmac_sha256_hex; verifyHmac accepts it and rejects one changed character", () => {
          const value = input(c);
          expect(signHmac(value, c.secret, options)).toBe(c.hmac_sha256_hex);
          expect(verifyHmac(value, c.hmac_sha256_hex, c.secret, options)).toBe(true);
          expect(verifyHmac(value, flipOne(c.hmac_sha256_hex!), c.secret, options)).toBe(false);
        });
      }
      if (c.dict_hash_error !== undefined) {
        it("hashPayload refuses", () => {
          expect(() => hashPayload(input(c))).toThrow(ValidationError);
        });
      } else {
        it("hashPayload equals dict_hash_sha256_hex over hash_canonical", () => {
          const value = input(c);
          expect(canonicalize(value)).toBe(c.hash_canonical);
          expect(hashPayload(value)).toBe(c.dict_hash_sha256_hex);
          expect(createHash("sha256").update(c.hash_canonical!, "utf8").digest("hex")).toBe(c.dict_hash_sha256_hex);
        });
      }
    });
  }

  it("exact_integer_literal cases lose digits with JSON.parse, so the lossless parser is required", () => {
    const exact = file.cases.filter((c) => c.exact_integer_literal && c.canonical !== undefined);
    expect(exact.length).toBeGreaterThan(0);
    const lossy = exact.filter((c) => {
      try {
        return signingText(JSON.parse(c.input_text), { ignoreFields: c.ignore_fields ?? [] }) !== c.canonical;
      } catch {
        return true;
      }
    });
    expect(lossy.length).toBeGreaterThan(0);
  });
});

describe("PROTOCOL.md 6.5 worked vectors", () => {
  it("1: heartbeat", () => {
    const heartbeat = {
      worker_id: "worker-01",
      status: "idle",
      usage: { cpu_load_percent: 12.5, ram_used_gb: 3.0, devices_usage: [{ unit_id: "gpu-0", load_percent: 45.0, metrics: { temp: 65.0 } }] },
      current_tasks: [],
      timestamp: 1700000000,
      security: { signature: "ignored", signer_id: "worker-01" },
    };
    expect(signingText(heartbeat)).toBe(
      '{"current_tasks":[],"status":"idle","timestamp":1700000000,"usage":{"cpu_load_percent":12.5,"devices_usage":[{"load_percent":45,"metrics":{"temp":65},"unit_id":"gpu-0"}],"ram_used_gb":3},"worker_id":"worker-01"}',
    );
    expect(signHmac(heartbeat, "super-secret-key")).toBe("da14c50ad29dd2740b6364611824863d1dc45077526c9246f4fe9172d72ec0e4");
  });

  it("2: event ignoring bubbling_chain", () => {
    const event = {
      event_id: "e-1",
      worker_id: "w1",
      origin_worker_id: "w1",
      event_type: "progress",
      payload: { progress: 0.5, message: "half" },
      bubbling_chain: ["proxy-1"],
      target_job_id: "job-1",
      priority: 0.0,
      timestamp: 1700000001,
    };
    const options = { ignoreFields: ["bubbling_chain"] };
    expect(signingText(event, options)).toBe(
      '{"event_id":"e-1","event_type":"progress","origin_worker_id":"w1","payload":{"message":"half","progress":0.5},"priority":0,"target_job_id":"job-1","timestamp":1700000001,"worker_id":"w1"}',
    );
    expect(signHmac(event, "k", options)).toBe("948221eeff408fa9777507cbdf963dbefefc305c46dc84cce33e0a825aaace49");
  });

  it("3: nulls stripped, security and an ignored field removed", () => {
    const value = parseJson('{"b":{"y":null,"x":[{"k":null}]},"a":10.0,"security":{"signature":"z"},"extra":"ignore-me"}');
    expect(signingText(value, { ignoreFields: ["extra"] })).toBe('{"a":10,"b":{"x":[{}]}}');
    expect(signHmac(value, "secret", { ignoreFields: ["extra"] })).toBe("a9afdf35aefba6f4e9db6aa7345958757a828cd39f40174a707ab116beef8249");
  });

  it("4: number layout", () => {
    const value = { worker_id: "w1", timestamp: 1700000003, m: [1.0, null, 2.5, 1e-7, 0.00001, 0.000005, 123456789.125, -0.0, 1e17] };
    expect(signingText(value)).toBe(
      '{"m":[1,null,2.5,1e-7,0.00001,5e-6,123456789.125,0,100000000000000000],"timestamp":1700000003,"worker_id":"w1"}',
    );
    expect(signHmac(value, "k")).toBe("a2412151bf3955c82e5273e7b6a2bb981c003dbd696768e4e93c9aaf2b2930c3");
  });

  it("5: keys in code point order", () => {
    const value = { "\u00e9": 1, "\ue000": 2, "\u{1F600}": 3, Z: 4, a: "caf\u00e9" };
    expect(signingText(value)).toBe('{"Z":4,"a":"caf\u00e9","\u00e9":1,"\ue000":2,"\u{1F600}":3}');
    expect(signHmac(value, "k")).toBe("2a1e98fb774188b41746f1321660506e87c209082c8f6a68b14cdd281b2850ee");
  });

  it("6: booleans, 2^53 + 1 exact, NaN dropped", () => {
    const value = { t: true, f: false, i: 9007199254740993n, nested: { z: { y: null } }, nan: Number.NaN };
    expect(signingText(value)).toBe('{"f":false,"i":9007199254740993,"nested":{"z":{}},"t":true}');
    expect(signHmac(value, "k")).toBe("3a6de5862a61a9eea991d2ae5912da36cccf066fa515e639f4ca588efc1ed0c2");
  });
});
