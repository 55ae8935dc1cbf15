/** RecentMap and RecentSet: bounded to their capacity, the most recent half always kept. */
import { describe, expect, it } from "vitest";
import { RecentMap, RecentSet } from "../../src/recent.js";

describe("RecentMap", () => {
  it("never holds more than its capacity and always the most recent half", () => {
    const m = new RecentMap<number, string>(100);
    for (let i = 0; i < 1_000; i++) {
      m.set(i, `v${i}`);
      expect(m.size).toBeLessThanOrEqual(100);
      for (let j = Math.max(0, i - 49); j <= i; j++) expect(m.get(j)).toBe(`v${j}`);
    }
    expect(m.has(0)).toBe(false);
    expect(m.get(0)).toBeUndefined();
  });

  it("finds, replaces and deletes entries of either generation; a key set again outlives older ones", () => {
    // Capacity 4: generations of 2.
    const m = new RecentMap<string, number>(4);
    m.set("a", 1).set("b", 2); // the young generation is full: a and b become the old one
    m.set("c", 3);
    expect([m.get("a"), m.get("b"), m.get("c")]).toEqual([1, 2, 3]);
    m.set("a", 10); // a moves up beside c; that generation is full, so the old one (b) goes
    expect(m.has("b")).toBe(false);
    expect([m.get("a"), m.get("c"), m.size]).toEqual([10, 3, 2]);
    m.set("d", 4);
    expect([...m.values()]).toEqual([3, 10, 4]);
    expect(m.delete("a")).toBe(true);
    expect(m.delete("a")).toBe(false);
    expect(m.size).toBe(2);
    m.clear();
    expect(m.size).toBe(0);
  });
});

describe("RecentSet", () => {
  it("never holds more than its capacity and always the most recent half", () => {
    const s = new RecentSet<number>(64);
    for (let i = 0; i < 500; i++) {
      s.add(i);
      expect(s.size).toBeLessThanOrEqual(64);
      for (let j = Math.max(0, i - 31); j <= i; j++) expect(s.has(j)).toBe(true);
    }
    expect(s.has(0)).toBe(false);
    expect(s.delete(499)).toBe(true);
    expect(s.has(499)).toBe(false);
  });
});
