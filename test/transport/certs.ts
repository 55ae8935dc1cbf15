/**
 * Test certificates made with the openssl CLI in a temporary directory: a CA, a server
 * certificate for 127.0.0.1, and a client certificate (CN = the worker id) for mTLS.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestCerts {
  ca: string;
  serverKey: string;
  serverCert: string;
  clientKey: string;
  clientCert: string;
  /** A client certificate signed by a CA the server does not trust. */
  strangerKey: string;
  strangerCert: string;
}

export function makeCerts(clientCn = "w1"): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), "rxon-transport-certs-"));
  const run = (...args: string[]): void => {
    execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  };
  try {
    const key = (name: string): void => run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", `${name}.key`);
    key("ca");
    run("req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=rxon test CA", "-days", "2", "-out", "ca.crt");
    const leaf = (name: string, cn: string, ext: string, caName = "ca"): void => {
      key(name);
      run("req", "-new", "-key", `${name}.key`, "-subj", `/CN=${cn}`, "-out", `${name}.csr`);
      writeFileSync(join(dir, `${name}.ext`), ext);
      run("x509", "-req", "-in", `${name}.csr`, "-CA", `${caName}.crt`, "-CAkey", `${caName}.key`, "-CAcreateserial", "-days", "2", "-extfile", `${name}.ext`, "-out", `${name}.crt`);
    };
    leaf("server", "127.0.0.1", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
    leaf("client", clientCn, "extendedKeyUsage=clientAuth\n");
    key("other-ca");
    run("req", "-x509", "-new", "-key", "other-ca.key", "-subj", "/CN=stranger CA", "-days", "2", "-out", "other-ca.crt");
    leaf("stranger", clientCn, "extendedKeyUsage=clientAuth\n", "other-ca");
    const read = (f: string): string => readFileSync(join(dir, f), "utf8");
    return {
      ca: read("ca.crt"),
      serverKey: read("server.key"),
      serverCert: read("server.crt"),
      clientKey: read("client.key"),
      clientCert: read("client.crt"),
      strangerKey: read("stranger.key"),
      strangerCert: read("stranger.crt"),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
