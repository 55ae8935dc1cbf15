/**
 * mTLS material made with the openssl CLI in a temporary directory: a CA, a server certificate
 * for 127.0.0.1 and a client certificate whose CN is the worker id, with a SPIFFE URI SAN.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Certs {
  ca: string;
  serverKey: string;
  serverCert: string;
  clientKey: string;
  clientCert: string;
}

export function makeCerts(workerId: string): Certs {
  const dir = mkdtempSync(join(tmpdir(), "rxon-listener-certs-"));
  const run = (...args: string[]): void => void execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  try {
    const key = (name: string): void => run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", `${name}.key`);
    key("ca");
    run("req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=rxon listener test CA", "-days", "2", "-out", "ca.crt");
    const leaf = (name: string, cn: string, ext: string): void => {
      key(name);
      run("req", "-new", "-key", `${name}.key`, "-subj", `/CN=${cn}`, "-out", `${name}.csr`);
      writeFileSync(join(dir, `${name}.ext`), ext);
      run("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", `${name}.ext`, "-out", `${name}.crt`);
    };
    leaf("server", "127.0.0.1", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
    leaf("client", workerId, `subjectAltName=URI:spiffe://rxon.test/worker/${workerId}\nextendedKeyUsage=clientAuth\n`);
    const read = (f: string): string => readFileSync(join(dir, f), "utf8");
    return { ca: read("ca.crt"), serverKey: read("server.key"), serverCert: read("server.crt"), clientKey: read("client.key"), clientCert: read("client.crt") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
