/**
 * The listener's side of the command channel: a worker whose path died without a FIN/RST (NAT
 * mapping dropped, host powered off) must not keep its WebSocket open on the hub for ever. The
 * socket counts against the per-address connection cap, keeps the worker's channel "open" (cancel
 * commands are written into it and lost), and is never freed without TCP keepalive.
 */
import { WebSocket } from "ws";
import { afterEach, expect, it } from "vitest";
import type { CommandChannel } from "../../src/listener/index.js";
import { waitUntil } from "../../src/testing/index.js";
import { start, type Started } from "../listener/helpers.js";

let started: Started | undefined;
afterEach(async () => {
  await started?.stop();
  started = undefined;
});

it("a WebSocket whose peer stops answering pings is dropped by the listener", async () => {
  const channels: CommandChannel[] = [];
  let closedAt = 0;
  started = await start({
    limits: { wsPingIntervalMs: 200 },
    handler: async (action, payload, _ctx) => {
      if (action === "websocket") {
        channels.push(payload);
        await payload.closed;
        closedAt = Date.now();
      }
    },
  });
  const client = new WebSocket(`${started.base.replace("http", "ws")}/_worker/ws/w1`, { headers: { "X-Worker-ID": "w1" } });
  await new Promise((resolve, reject) => client.once("open", resolve).once("error", reject));
  await waitUntil(() => channels.length === 1);
  // The peer goes silent: nothing it receives is read, so no pong is ever sent.
  const deadAt = Date.now();
  (client as unknown as { _socket: { pause(): void } })._socket.pause();
  await waitUntil(() => closedAt > 0, { timeoutMs: 3_000 });
  expect(closedAt - deadAt).toBeLessThan(1_500);
  expect(channels[0]!.isOpen).toBe(false);
  client.terminate();
});
