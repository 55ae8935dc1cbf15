import { describe, expect, it } from "vitest";
import { matchArtifact, matchSkill } from "../../src/matching/index.js";

describe("8.4 matchArtifact", () => {
  const art = { name: "llama-3-8b", version: "1.2", type: "model", properties: { quant: ["q4", "q8"], size_gb: 5 } };
  it("names exactly", () => {
    expect(matchArtifact(art, { name: "llama-3-8b" })).toBe(true);
    expect(matchArtifact(art, { name: "Llama-3-8b" })).toBe(false);
  });
  it("version: unknown (the default) means any, otherwise equal strings", () => {
    expect(matchArtifact(art, { name: "llama-3-8b", version: "unknown" })).toBe(true);
    expect(matchArtifact(art, { name: "llama-3-8b", version: "1.2" })).toBe(true);
    expect(matchArtifact(art, { name: "llama-3-8b", version: "1.2.0" })).toBe(false);
    expect(matchArtifact({ name: "x" }, { name: "x", version: "1" })).toBe(false);
    expect(matchArtifact({ name: "x" }, { name: "x", version: "unknown" })).toBe(true);
  });
  it("type is ignored; properties per 8.1", () => {
    expect(matchArtifact(art, { name: "llama-3-8b", type: "dataset" })).toBe(true);
    expect(matchArtifact(art, { name: "llama-3-8b", properties: { quant: "q4", size_gb: 4 } })).toBe(true);
    expect(matchArtifact(art, { name: "llama-3-8b", properties: { quant: "fp16" } })).toBe(false);
    expect(matchArtifact(art, { name: "llama-3-8b", properties: { size_gb: 6 } })).toBe(false);
  });
});

describe("8.5 matchSkill", () => {
  const skill = { name: "summarize", type: "nlp", version: "1.0.0" };
  it("names exactly; nothing else unless required", () => {
    expect(matchSkill(skill, { name: "summarize" })).toBe(true);
    expect(matchSkill(skill, { name: "translate" })).toBe(false);
    expect(matchSkill(skill, { name: "summarize", type: null, version: null })).toBe(true);
  });
  it("type must be equal when given; empty requirement type only matches empty type", () => {
    expect(matchSkill(skill, { name: "summarize", type: "nlp" })).toBe(true);
    expect(matchSkill(skill, { name: "summarize", type: "vision" })).toBe(false);
    expect(matchSkill(skill, { name: "summarize", type: "" })).toBe(false);
    expect(matchSkill({ name: "summarize", type: "" }, { name: "summarize", type: "" })).toBe(true);
    expect(matchSkill({ name: "summarize" }, { name: "summarize", type: "" })).toBe(false);
  });
  it("version must be equal when given; an unversioned skill fails a versioned requirement", () => {
    expect(matchSkill(skill, { name: "summarize", version: "1.0.0" })).toBe(true);
    expect(matchSkill(skill, { name: "summarize", version: "1.0" })).toBe(false);
    expect(matchSkill({ name: "summarize" }, { name: "summarize", version: "1.0.0" })).toBe(false);
  });
});
