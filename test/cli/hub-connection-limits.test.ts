/**
 * `rxon hub --max-connections-per-address`, `--stranger-idle-timeout`, `--max-waits-per-client` and
 * `--max-skill-calls-per-worker` reach the server of a real hub process: behind a reverse proxy, every connection comes from the
 * proxy's address, so a client token's share of held waits is what keeps one client from the rest.
 */
import { afterEach, describe, expect, it } from "vitest";
import { hubUrl, start, stop, type Proc } from "../e2e/procs.js";
import { destroyAll, open, settled, type Watched } from "../hardening/sockets.js";
import { request } from "undici";
import { api } from "../hub/client-http.js";

const procs: Proc[] = [];
const sockets: Watched[] = [];
afterEach(async () => {
  destroyAll(sockets.splice(0));
  for (const p of procs.splice(0)) await stop(p);
});

const portOf = (url: string): number => Number(new URL(url).port);

describe("rxon hub connection limits", () => {
  it("caps an address at --max-connections-per-address and, with --stranger-idle-timeout 0, keeps silent connections", async () => {
    const hub = start(["src/cli/main.ts", "hub", "--port", "0", "--insecure", "--max-connections-per-address", "3", "--stranger-idle-timeout", "0"]);
    procs.push(hub);
    const port = portOf(await hubUrl(hub));
    const held = [open(port, "127.0.0.1"), open(port, "127.0.0.1"), open(port, "127.0.0.1")];
    sockets.push(...held);
    await settled(held);
    // A fourth from the same address is closed at accept: no stranger deadline, so none gives way.
    const fourth = open(port, "127.0.0.1");
    sockets.push(fourth);
    expect(await fourth.closedWithin(3000)).toBe(true);
    expect(fourth.received()).toBe("");
    // Past the default deadline (5 s) the silent ones are still open: the flag turned it off.
    await new Promise((r) => setTimeout(r, 6000));
    expect(held.map((w) => w.closed)).toEqual([false, false, false]);
  }, 60_000);

  it("with --max-connections-per-address 0 takes more connections from one address than the default cap", async () => {
    const hub = start(["src/cli/main.ts", "hub", "--port", "0", "--insecure", "--max-connections-per-address", "0"]);
    procs.push(hub);
    const port = portOf(await hubUrl(hub));
    const many = Array.from({ length: 300 }, () => open(port, "127.0.0.1"));
    sockets.push(...many);
    await settled(many);
    await new Promise((r) => setTimeout(r, 500));
    expect(many.filter((w) => w.closed)).toHaveLength(0);
  }, 60_000);

  it("refuses a client token's wait past --max-waits-per-client with 429", async () => {
    const token = "client-token-cli-waits-0123456789";
    const hub = start(["src/cli/main.ts", "hub", "--port", "0", "--insecure", "--client-tokens", token, "--max-waits-per-client", "1"]);
    procs.push(hub);
    const url = await hubUrl(hub);
    const job = (await api(url, "POST", "/_client/tasks", { body: { type: "nobody-runs-this" } }, token)).body!.job_id as string;
    const leave = new AbortController();
    const held = api(url, "GET", `/_client/tasks/${job}?wait=30`, { signal: leave.signal }, token).catch(() => undefined);
    // Asked with short waits until the first is held (each is admitted and answered after 10 ms
    // until then), at most 100 times.
    let second = await api(url, "GET", `/_client/tasks/${job}?wait=0.01`, {}, token);
    for (let i = 0; i < 100 && second.status !== 429; i++) second = await api(url, "GET", `/_client/tasks/${job}?wait=0.01`, {}, token);
    expect(second.status).toBe(429);
    expect(second.headers["retry-after"]).toBe("1");
    leave.abort();
    await held;
  }, 60_000);

  it("refuses a worker's skill call past --max-skill-calls-per-worker with 429", async () => {
    const hub = start(["src/cli/main.ts", "hub", "--port", "0", "--insecure", "--max-skill-calls-per-worker", "1"]);
    procs.push(hub);
    const url = await hubUrl(hub);
    const leave = new AbortController();
    const call = async (): Promise<number> => {
      const res = await request(`${url}/skills/call`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Worker-ID": "worker-1" },
        body: JSON.stringify({ skill_name: "nobody-runs-this" }),
        signal: leave.signal,
      });
      await res.body.dump();
      return res.statusCode;
    };
    // Both wait for a child nobody runs, so whichever comes second is past the share of one.
    const statuses = [call().catch(() => 0), call().catch(() => 0)];
    expect(await Promise.race(statuses)).toBe(429);
    leave.abort();
    await Promise.all(statuses);
  }, 60_000);
});
