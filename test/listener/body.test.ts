/**
 * readBody: a body that has arrived by the time it is asked for is taken from the stream's buffer
 * at once (no promise, no timer), under the same size limit; one still arriving is read as it comes.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import { connect } from "node:net";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { readBody } from "../../src/listener/body.js";

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

/** Starts a server whose handler gets each request after a turn of the event loop (the body has arrived by then). */
async function serve(onRequest: (req: IncomingMessage) => Promise<string>): Promise<number> {
  server = createServer((req, res) => {
    setImmediate(() => {
      void onRequest(req).then(
        (text) => res.end(text),
        (err: Error & { status?: number }) => {
          res.statusCode = err.status ?? 500;
          res.end(err.message);
        },
      );
    });
  });
  await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
  return (server.address() as AddressInfo).port;
}

/** Sends raw request text, then (optionally, later) more; resolves with the raw answer. */
async function raw(port: number, head: string, later?: { afterMs: number; text: string }): Promise<string> {
  const socket = connect(port, "127.0.0.1");
  let answer = "";
  socket.on("data", (c) => (answer += c.toString()));
  await new Promise((r) => socket.once("connect", r));
  socket.write(head);
  if (later) setTimeout(() => socket.write(later.text), later.afterMs);
  await new Promise<void>((r) => {
    const check = setInterval(() => {
      if (/\r\n\r\n[\s\S]+/.test(answer)) {
        clearInterval(check);
        r();
      }
    }, 5);
  });
  socket.destroy();
  return answer;
}

describe("readBody", () => {
  it("takes a body that has arrived at once, and reads one still arriving as it comes", async () => {
    const kinds: string[] = [];
    const port = await serve(async (req) => {
      const got = readBody(req, 1024, 5_000);
      kinds.push(got instanceof Promise ? "promise" : "buffer");
      return (await got).toString();
    });
    const body = '{"n":1}';
    expect(await raw(port, `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`)).toMatch(/\r\n\r\n\{"n":1\}$/);
    // Half the body now, the rest 100 ms later: read through the stream.
    expect(await raw(port, `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 3)}`, { afterMs: 100, text: body.slice(3) })).toMatch(/\r\n\r\n\{"n":1\}$/);
    expect(kinds).toEqual(["buffer", "promise"]);
  });

  it("refuses a body over the limit that has arrived whole (chunked, so no length was declared)", async () => {
    const port = await serve(async (req) => (await readBody(req, 8, 5_000)).toString());
    const chunk = "0123456789abcdef";
    const answer = await raw(port, `POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 413/);
  });
});
