/** Decoding cost: parse + validate + defaults of a 1 KB TaskPayload, against plain JSON.parse of the same text. */
import { decode, decodeJson } from "../src/wire/codec.js";
import { parseJson } from "../src/wire/json.js";
import { taskPayload1k } from "./fixtures/payloads.js";
import { measure, type BenchRow } from "./harness.js";

export async function run(): Promise<BenchRow[]> {
  const object = taskPayload1k();
  const text = JSON.stringify(object);
  const floor = `JSON.parse ${text.length} B (floor)`;
  let sink: unknown;
  const rows = [
    await measure(floor, () => (sink = JSON.parse(text))),
    await measure("parseJson (lossless, bounded)", () => (sink = parseJson(text)), { floor }),
    await measure("decodeJson TaskPayload (parse + validate + defaults)", () => (sink = decodeJson("TaskPayload", text)), {
      floor,
      note: "target >= 0.25x JSON.parse",
    }),
    await measure("decode TaskPayload (copy + validate, no parse)", () => (sink = decode("TaskPayload", object)), { floor }),
  ];
  void sink;
  return rows;
}
