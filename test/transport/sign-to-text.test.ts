import { describe, expect, it } from "vitest";
import { ValidationError } from "../../src/errors.js";
import { createSigner, IGNORED_FIELDS, prepareOutgoing } from "../../src/transport/index.js";
import { canonicalize, joinMembers, signingText, splitSigningText } from "../../src/wire/canonical.js";

// The HMAC signer serializes a message once for both its signature and its body
// (signToText); what it returns must be exactly what signing and then canonicalizing give.

const SECRET = "long-term-worker-secret";
const NOW = Date.parse("2026-03-01T12:00:00.750Z");

/** Messages whose top-level keys fall on either side of `security`, or on one side only. */
const MESSAGES: Record<string, unknown>[] = [
  { job_id: "j", task_id: "t", worker_id: "w1", status: "success", data: { n: 1, d: 0.25 }, timestamp: 1 },
  { a: 1, timestamp: 2 },
  { timestamp: 3, zz: [1, 2, { y: null, x: "é\u2028" }] },
  { aa: 1, timestamp: 4, "\u{1F600}key": "emoji key sorts last", secs: 1, securitz: 2, securit: 3 },
  { only: "before", b: Number.NaN, c: undefined, d: null, timestamp: 5 },
  { timestamp: 6 },
];

describe("signToText", () => {
  const signer = createSigner("w1", { secret: SECRET })!;

  it("gives the signed message and the canonical text of exactly that message", () => {
    expect(signer.signToText).toBeTypeOf("function");
    for (const message of MESSAGES) {
      const fast = signer.signToText!(message, []);
      const slow = signer(message, []);
      expect(fast.message).toEqual(slow);
      expect(fast.body).toBe(canonicalize(slow));
      expect(Object.keys(fast.message).at(-1)).toBe("security");
    }
  });

  it("writes signer ids that need escaping as canonical JSON does", () => {
    for (const id of ['w"1', "wé\u2028", "w\\x"]) {
      const own = createSigner(id, { secret: SECRET })!;
      const fast = own.signToText!(MESSAGES[0]!, []);
      expect(fast.body).toBe(canonicalize(own(MESSAGES[0]!, [])));
    }
    // An id without a canonical form is refused at signing, as before, through the plain path.
    const lone = createSigner("w\ud800", { secret: SECRET })!;
    expect(lone.signToText).toBeUndefined();
  });

  it("splitSigningText joins back into the signing text", () => {
    for (const message of MESSAGES) {
      const { before, after } = splitSigningText(message);
      expect(joinMembers(before, after)).toBe(signingText(message));
    }
  });

  it("leaves messages outside the common case to the plain signer", () => {
    const withSecurity = { a: 1, timestamp: 1, security: { signature: "x", signer_id: "w1", identity_chain: ["o"] } };
    const event = { event_id: "e", timestamp: 1, bubbling_chain: [{ hop: 1 }] };
    const noTimestamp = { a: 1 };
    for (const [message, ignored] of [
      [withSecurity, []],
      [event, IGNORED_FIELDS.event],
      [noTimestamp, []],
    ] as const) {
      const fast = signer.signToText!(message, ignored);
      const slow = signer(message, ignored);
      expect(fast.message.timestamp).toBeTypeOf("number");
      expect({ ...fast.message, timestamp: 0 }).toEqual({ ...slow, timestamp: 0 });
      expect(fast.body).toBe(canonicalize(fast.message));
    }
  });

  it("refuses what cannot be canonicalized with the same located error", () => {
    const bad = { timestamp: 1, data: { deep: { n: 2n ** 70n } } };
    const fast = (() => {
      try {
        signer.signToText!(bad, []);
      } catch (error) {
        return error;
      }
    })();
    const slow = (() => {
      try {
        signer(bad, []);
      } catch (error) {
        return error;
      }
    })();
    expect(fast).toBeInstanceOf(ValidationError);
    expect((fast as ValidationError).message).toBe((slow as ValidationError).message);
    expect((fast as ValidationError).details).toEqual((slow as ValidationError).details);
    expect((fast as ValidationError).details).toMatchObject({ reason: "integer_range", path: "/data/deep/n" });
  });

  it("prepareOutgoing bodies are unchanged: a result's body is the canonical text of the signed result", () => {
    const result = { job_id: "j", task_id: "t", worker_id: "w1", status: "success", data: { n: 1 } };
    const prepared = prepareOutgoing("result", result, NOW, signer);
    const plain = createSigner("w1", { secret: SECRET })!;
    delete plain.signToText;
    const reference = prepareOutgoing("result", result, NOW, plain);
    expect(prepared.body).toBe(reference.body);
    expect(prepared.message).toEqual(reference.message);
  });
});
