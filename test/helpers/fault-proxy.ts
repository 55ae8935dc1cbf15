/**
 * A TCP proxy for fault tests: forwards connections to `target` until told to black-hole the
 * ones open now (a NAT or firewall that lost its mappings: nothing more goes through them in
 * either direction, and neither side sees a FIN or RST). Connections made afterwards pass.
 */
import { connect, createServer, type Server, type Socket } from "node:net";

export interface FaultProxy {
  /** `http://127.0.0.1:<port>` of the proxy. */
  readonly url: string;
  /** Every connection open now goes silent, both ways, without being closed. */
  blackholeExisting(): void;
  /** Connections made so far. */
  readonly connections: number;
  close(): Promise<void>;
}

interface Pair {
  readonly client: Socket;
  readonly upstream: Socket;
  dead: boolean;
}

export async function faultProxy(targetPort: number, targetHost = "127.0.0.1"): Promise<FaultProxy> {
  const pairs = new Set<Pair>();
  let connections = 0;
  const server: Server = createServer((client) => {
    connections++;
    const upstream = connect(targetPort, targetHost);
    const pair: Pair = { client, upstream, dead: false };
    pairs.add(pair);
    const forward = (from: Socket, to: Socket): void => {
      from.on("data", (d) => {
        if (!pair.dead) to.write(d);
      });
      from.on("error", () => undefined);
      from.on("close", () => {
        // A black-holed path tells the other side nothing.
        if (!pair.dead) to.destroy();
        pairs.delete(pair);
      });
    };
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    get connections() {
      return connections;
    },
    blackholeExisting() {
      for (const p of pairs) p.dead = true;
    },
    async close() {
      for (const p of pairs) {
        p.client.destroy();
        p.upstream.destroy();
      }
      pairs.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
