/** The run-time side of `await using`: leaving the scope closes the listener. */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { RxonListener } from "../../src/listener/index.js";

describe("RxonListener and await using", () => {
  it("closes the listener when the scope ends: later requests are refused with 503", async () => {
    const server = http.createServer();
    let url = "";
    {
      await using listener = new RxonListener({ handler: async () => undefined });
      listener.attach(server);
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const open = await fetch(`${url}/_worker/workers/register`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
      expect(open.status, await open.text()).not.toBe(503);
    }
    const closed = await fetch(`${url}/_worker/workers/register`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
    expect(closed.status, await closed.text()).toBe(503);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});
