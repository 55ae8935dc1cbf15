import { describe, expect, it } from "vitest";
import { ValidationError } from "../../src/errors.js";
import { MockTransport } from "../../src/testing/index.js";
import { Backoff, createTransport, HttpTransport, parseRetryAfter } from "../../src/transport/index.js";

describe("createTransport", () => {
  it.each([
    ["http://127.0.0.1:8080", "http://127.0.0.1:8080"],
    ["https://orc.example/", "https://orc.example"],
    ["ws://127.0.0.1:8080/", "http://127.0.0.1:8080"],
    ["wss://orc.example/base", "https://orc.example/base"],
  ])("%s → HTTP transport on %s", async (url, base) => {
    const t = createTransport(url, "w1", "tok");
    expect(t).toBeInstanceOf(HttpTransport);
    expect((t as HttpTransport).baseUrl).toBe(base);
    await t.close();
  });

  it("mock:// gives a MockTransport", async () => {
    const t = createTransport("mock://", "w1", "tok");
    expect(t).toBeInstanceOf(MockTransport);
    expect(t.workerId).toBe("w1");
  });

  it.each(["ftp://x", "HTTP://x", "127.0.0.1:8080", ""])("refuses %j", (url) => {
    expect(() => createTransport(url, "w1", "tok")).toThrow(ValidationError);
    expect(() => createTransport(url, "w1", "tok")).toThrow(`Unsupported transport scheme in URL: ${url}`);
  });

  it("refuses worker ids that are not identifiers and tokens that cannot be headers", () => {
    expect(() => createTransport("http://x", "w 1", "tok")).toThrow(ValidationError);
    expect(() => createTransport("http://x", "w1\n", "tok")).toThrow(ValidationError);
    expect(() => createTransport("http://x", "w1", "to\r\nken")).toThrow(ValidationError);
  });

  it("refuses sign: true without a secret or key", () => {
    expect(() => createTransport("http://x", "w1", "tok", { sign: true })).toThrow(/neither `secret` nor `ed25519Key`/);
  });
});

describe("parseRetryAfter", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  const max = 3_600_000;
  it.each([
    ["120", 120_000],
    [" 1.5 ", 1_500],
    ["0", 0],
    ["-3", 0],
    ["inf", max],
    ["Thu, 01 Jan 2026 00:00:30 GMT", 30_000],
    ["Thursday, 01-Jan-26 00:00:30 GMT", 30_000],
    ["Thu, 01 Jan 2026 00:00:30", 30_000],
    ["Wed, 31 Dec 2025 23:59:00 GMT", 0],
  ])("%j → %d ms", (value, ms) => {
    expect(parseRetryAfter(value, now, max)).toBe(ms);
  });

  it.each([undefined, "", "soon", "nan", "1,5", "2026-01-01"])("%j → undefined", (value) => {
    expect(parseRetryAfter(value, now, max)).toBeUndefined();
  });
});

describe("Backoff", () => {
  it("doubles from the initial delay to the cap, with jitter within half of the nominal delay, and resets", () => {
    const low = new Backoff(1_000, 60_000, () => 0);
    expect(Array.from({ length: 8 }, () => low.next())).toEqual([500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
    const high = new Backoff(1_000, 60_000, () => 1);
    expect(Array.from({ length: 8 }, () => high.next())).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]);
    high.reset();
    expect(high.next()).toBe(1_000);
  });
});
