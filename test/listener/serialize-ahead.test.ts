/** A handler value serialized ahead is written from its kept text, exactly as it would be written. */
import { describe, expect, it } from "vitest";
import { ValidationError } from "../../src/errors.js";
import { jsonText, serializeAhead } from "../../src/listener/respond.js";

describe("serializeAhead", () => {
  it("gives the text jsonText would give, and jsonText then answers that text without writing the value again", () => {
    const task = { type: "echo", params: { b: 2, a: [1, "x"], none: null }, job_id: "j", task_id: "t" };
    const plain = jsonText(structuredClone(task));
    expect(serializeAhead(task)).toBe(plain);
    // The kept text is what goes out (the value is not read again).
    task.params.b = 3;
    expect(jsonText(task)).toBe(plain);
    expect(jsonText(structuredClone(task))).not.toBe(plain);
  });

  it("throws the canonical writer's error for a value that cannot be written, and keeps nothing", () => {
    const bad = { params: { n: 1e21 } };
    expect(() => serializeAhead(bad)).toThrow(ValidationError);
    expect(() => jsonText(bad)).toThrow(/cannot be serialized/);
  });

  it("jsonText writes plain values in one pass and class instances as their wire form, as before", () => {
    class Answer {
      status = "accepted";
      reason = null;
      nested = { list: [1, undefined, null] };
    }
    expect(jsonText(new Answer())).toBe('{"nested":{"list":[1,null,null]},"status":"accepted"}');
    expect(jsonText({ z: 1, a: null, m: [undefined] })).toBe('{"m":[null],"z":1}');
    expect(jsonText({ when: new Map([["a", 1]]) })).toBe('{"when":{}}');
  });
});
