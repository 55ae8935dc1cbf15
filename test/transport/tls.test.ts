import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NetworkError } from "../../src/errors.js";
import { waitUntil } from "../../src/testing/index.js";
import { createTransport, type HttpTransport } from "../../src/transport/index.js";
import { makeCerts, type TestCerts } from "./certs.js";
import { TestServer } from "./server.js";

let certs: TestCerts;
let server: TestServer;

beforeAll(async () => {
  certs = makeCerts("w1");
  server = await new TestServer({ tls: { key: certs.serverKey, cert: certs.serverCert, ca: certs.ca, requestCert: true } }).start();
});

afterAll(async () => {
  await server.stop();
});

describe("mTLS", () => {
  it("works with a valid client certificate, for HTTP and the command WebSocket", async () => {
    const t = createTransport(server.url, "w1", "", { tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey } }) as HttpTransport;
    try {
      expect(await t.register({ worker_id: "w1" })).toMatchObject({ status: "registered" });
      // No token configured: the certificate is the credential, so no X-Worker-Token is sent.
      expect(server.routeRequests("register")[0]!.headers["x-worker-token"]).toBeUndefined();
      const controller = new AbortController();
      const got: string[] = [];
      const done = (async () => {
        for await (const c of t.commands({ signal: controller.signal })) got.push(c.command);
      })();
      await waitUntil(() => server.wsClients.size === 1, { timeoutMs: 10_000 });
      server.pushCommand({ command: "cancel_task", task_id: "t" });
      await waitUntil(() => got.length === 1);
      controller.abort();
      await done;
    } finally {
      await t.close();
    }
  });

  it("fails clearly without a client certificate", async () => {
    const t = createTransport(server.url, "w1", "tok", { tls: { ca: certs.ca } });
    try {
      const error = await t.register({ worker_id: "w1" }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NetworkError);
      expect((error as Error).message).toMatch(/^Network error during POST \/_worker\/workers\/register: /);
      expect((error as Error).message).toMatch(/TLS client certificate/);
    } finally {
      await t.close();
    }
  });

  it("fails with a certificate from an untrusted CA", async () => {
    const t = createTransport(server.url, "w1", "tok", { tls: { ca: certs.ca, cert: certs.strangerCert, key: certs.strangerKey } });
    try {
      await expect(t.register({ worker_id: "w1" })).rejects.toBeInstanceOf(NetworkError);
    } finally {
      await t.close();
    }
  });

  it("refuses a server whose certificate is not trusted", async () => {
    const t = createTransport(server.url, "w1", "tok", { tls: { cert: certs.clientCert, key: certs.clientKey } });
    try {
      await expect(t.register({ worker_id: "w1" })).rejects.toThrow(/certificate/i);
    } finally {
      await t.close();
    }
  });
});
