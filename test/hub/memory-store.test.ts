/** The store conformance suite against MemoryStore, with an injected clock. */
import { MemoryStore } from "../../src/hub/memory-store.js";
import { storeConformance } from "./store-conformance.js";

storeConformance("MemoryStore", async () => {
  let now = 1_700_000_000_000;
  const store = new MemoryStore({ now: () => now });
  return {
    store,
    async advance(ms: number) {
      now += ms;
    },
    async close() {
      store.close();
    },
  };
});
