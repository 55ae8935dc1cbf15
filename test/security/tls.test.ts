/**
 * mTLS over a real HTTPS server on 127.0.0.1 with certificates made here by the openssl CLI:
 * a CA, a server certificate for 127.0.0.1, a client certificate with a CN and a SPIFFE URI,
 * and a client certificate from a CA the server does not trust.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientTlsOptions, parseSubjectAltNames, peerIdentity, serverTlsOptions } from "../../src/security/tls.js";

let dir: string;
const pem: Record<string, string> = {};

function openssl(...args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
}

function makeCa(name: string): void {
  openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.crt`, "-days", "2", "-subj", `/CN=${name}`);
}

function makeLeaf(name: string, ca: string, subject: string, san: string, usage: string): void {
  writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\nextendedKeyUsage=${usage}\nbasicConstraints=CA:FALSE\n`);
  openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject);
  openssl("x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.crt`, "-CAkey", `${ca}.key`, "-CAcreateserial", "-out", `${name}.crt`, "-days", "2", "-extfile", `${name}.ext`);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "rxon-tls-"));
  makeCa("ca");
  makeCa("rogue-ca");
  makeLeaf("server", "ca", "/CN=orchestrator", "IP:127.0.0.1", "serverAuth");
  makeLeaf("client", "ca", "/O=rxon/CN=worker-01", "URI:spiffe://rxon.test/worker/worker-01,DNS:worker-01.local", "clientAuth");
  makeLeaf("rogue", "rogue-ca", "/CN=worker-01", "URI:spiffe://evil.test/x", "clientAuth");
  for (const name of ["ca", "server", "client", "rogue"]) {
    pem[`${name}.crt`] = readFileSync(join(dir, `${name}.crt`), "utf8");
    pem[`${name}.key`] = readFileSync(join(dir, `${name}.key`), "utf8");
  }
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function withServer(requireClientCert: boolean, fn: (port: number) => Promise<void>): Promise<void> {
  const server: Server = createServer(serverTlsOptions({ cert: pem["server.crt"]!, key: pem["server.key"]!, ca: pem["ca.crt"]!, requireClientCert }), (req, res) => {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify(peerIdentity(req.socket as TLSSocket)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    await fn((server.address() as AddressInfo).port);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function get(port: number, client: ReturnType<typeof clientTlsOptions>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: "/", method: "GET", agent: false, ...client }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve(JSON.parse(body)));
    });
    req.setTimeout(5000, () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

describe("mTLS", () => {
  it("reports the verified client's CN and SAN URIs", async () => {
    await withServer(true, async (port) => {
      const identity = await get(port, clientTlsOptions({ ca: pem["ca.crt"]!, cert: pem["client.crt"]!, key: pem["client.key"]! }));
      expect(identity).toEqual({ commonName: "worker-01", uris: ["spiffe://rxon.test/worker/worker-01"] });
    });
  });

  it("refuses a client without a certificate when one is required", async () => {
    await withServer(true, async (port) => {
      await expect(get(port, clientTlsOptions({ ca: pem["ca.crt"]! }))).rejects.toThrow();
    });
  });

  it("gives no identity for a missing or untrusted certificate when certificates are optional", async () => {
    await withServer(false, async (port) => {
      expect(await get(port, clientTlsOptions({ ca: pem["ca.crt"]! }))).toBeNull();
      expect(await get(port, clientTlsOptions({ ca: pem["ca.crt"]!, cert: pem["rogue.crt"]!, key: pem["rogue.key"]! }))).toBeNull();
      const identity = await get(port, clientTlsOptions({ ca: pem["ca.crt"]!, cert: pem["client.crt"]!, key: pem["client.key"]! }));
      expect(identity).toMatchObject({ commonName: "worker-01" });
    });
  });

  it("rejects a server the client's CA does not vouch for", async () => {
    await withServer(true, async (port) => {
      const rogueCa = readFileSync(join(dir, "rogue-ca.crt"), "utf8");
      await expect(get(port, clientTlsOptions({ ca: rogueCa, cert: pem["client.crt"]!, key: pem["client.key"]! }))).rejects.toThrow();
    });
  });
});

describe("peerIdentity and SAN parsing", () => {
  it("returns null for unverified or plain sockets", () => {
    expect(peerIdentity(null)).toBeNull();
    expect(peerIdentity({ authorized: false, getPeerCertificate: () => ({ subject: { CN: "x" } }) })).toBeNull();
    expect(peerIdentity({ authorized: true, getPeerCertificate: () => ({}) })).toBeNull();
  });

  it("takes the first CN when several are present", () => {
    const socket = { authorized: true, getPeerCertificate: () => ({ subject: { CN: ["first", "second"] }, subjectaltname: undefined }) };
    expect(peerIdentity(socket)).toEqual({ commonName: "first", uris: [] });
  });

  it("decodes node's quoted SAN values instead of splitting them", () => {
    expect(parseSubjectAltNames('DNS:a.test, URI:"spiffe://x/a, URI:spiffe://evil", IP Address:127.0.0.1, URI:spiffe://y/b')).toEqual([
      { type: "DNS", value: "a.test" },
      { type: "URI", value: "spiffe://x/a, URI:spiffe://evil" },
      { type: "IP Address", value: "127.0.0.1" },
      { type: "URI", value: "spiffe://y/b" },
    ]);
    expect(parseSubjectAltNames(undefined)).toEqual([]);
  });
});
