/**
 * Token checks kept per keep-alive connection: one connection presenting a good token, then a
 * wrong one, then the good one again, is answered as three separate connections would be.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Client } from "undici";
import { Hub } from "../../src/hub/index.js";
import { SECRETS } from "./helpers.js";

const CLIENT_TOKEN = "client-token-0123456789";
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** One request on `client` (a single keep-alive connection); its status. */
async function status(client: Client, path: string, headers: Record<string, string>): Promise<number> {
  const res = await client.request({ method: "GET", path, headers });
  await res.body.text();
  return res.statusCode;
}

describe("tokens on one keep-alive connection", () => {
  it("worker and client tokens are checked on every request, whatever the connection presented before", async () => {
    const hub = new Hub({ auth: { tokens: SECRETS }, clientTokens: [CLIENT_TOKEN] });
    const server = await hub.listen({ port: 0 });
    cleanup.push(() => hub.close());
    const client = new Client(server.url, { pipelining: 1 });
    cleanup.push(() => client.close());
    const [id, secret] = Object.entries(SECRETS)[0]!;
    const poll = `/_worker/workers/${id}/tasks/next?timeout=0.01`;
    const worker = (token: string): Record<string, string> => ({ "x-worker-id": id, "x-worker-token": token });
    expect(await status(client, poll, worker(secret))).toBe(204);
    expect(await status(client, poll, worker(`${secret}x`))).toBeGreaterThanOrEqual(401);
    expect(await status(client, poll, worker(secret.slice(0, -1)))).toBeGreaterThanOrEqual(401);
    expect(await status(client, poll, worker(secret))).toBe(204);

    const job = "/_client/tasks/job-unknown";
    expect(await status(client, job, { "x-client-token": CLIENT_TOKEN })).toBe(404);
    expect(await status(client, job, { "x-client-token": `${CLIENT_TOKEN}x` })).toBe(403);
    expect(await status(client, job, { "x-client-token": CLIENT_TOKEN })).toBe(404);
    expect(await status(client, job, { "x-client-token": "" })).toBe(401);
  });
});
