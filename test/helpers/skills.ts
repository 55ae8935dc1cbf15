/** Skills several suites run on real workers. */
import Type from "typebox";
import { defineSkill } from "../../src/contracts/index.js";

/** Doubles `n`. */
export const double = defineSkill({
  name: "double",
  version: "1.0.0",
  input: Type.Object({ n: Type.Number() }),
  output: Type.Object({ n: Type.Number() }),
  handler: (p) => ({ n: p.n * 2 }),
});
