/** Child processes for the e2e tests, with their JSON-line output collected. */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface Proc {
  readonly child: ChildProcess;
  readonly events: Record<string, unknown>[];
  readonly lines: string[];
  readonly stderr: string[];
  waitFor(pred: (e: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>;
  send(cmd: Record<string, unknown>): void;
  exited: Promise<number | null>;
}

export function start(args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, ["--import", "tsx", ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] });
  const events: Record<string, unknown>[] = [];
  const lines: string[] = [];
  const stderr: string[] = [];
  const listeners = new Set<() => void>();
  createInterface({ input: child.stdout! }).on("line", (line) => {
    lines.push(line);
    if (line.startsWith("{")) {
      try {
        events.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        /* not an event */
      }
    }
    for (const l of listeners) l();
  });
  createInterface({ input: child.stderr! }).on("line", (line) => stderr.push(line));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    events,
    lines,
    stderr,
    exited,
    send: (cmd) => void child.stdin!.write(JSON.stringify(cmd) + "\n"),
    waitFor: (pred, ms = 15_000) =>
      new Promise((resolve, reject) => {
        const check = (): boolean => {
          const found = events.find(pred);
          if (found) {
            listeners.delete(onLine);
            clearTimeout(timer);
            resolve(found);
            return true;
          }
          return false;
        };
        const onLine = (): void => void check();
        const timer = setTimeout(() => {
          listeners.delete(onLine);
          reject(new Error(`timed out waiting; last lines:\n${lines.slice(-10).join("\n")}\n${stderr.slice(-10).join("\n")}`));
        }, ms);
        listeners.add(onLine);
        check();
      }),
  };
}

export async function stop(p: Proc | undefined): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill("SIGKILL");
  await p.exited;
}

/** Polls `cond` every 25 ms until it holds; fails after `ms` with `what()` in the message. */
export async function until(cond: () => boolean, what: () => string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const LISTENING = "rxon hub listening on ";

/** The URL an `rxon hub` process listens on, once it has said so. */
export async function hubUrl(p: Proc, ms = 30_000): Promise<string> {
  await until(() => p.lines.some((l) => l.startsWith(LISTENING)), () => p.stderr.join("\n"), ms);
  return p.lines.find((l) => l.startsWith(LISTENING))!.slice(LISTENING.length).trim();
}

/** Resolves once an `rxon worker` process has registered. */
export async function registered(p: Proc, ms = 30_000): Promise<void> {
  await until(() => p.lines.some((l) => l.includes("registered")), () => p.stderr.join("\n"), ms);
}
