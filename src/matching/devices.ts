/**
 * Device matching (PROTOCOL.md 8.2) and the assignment of required devices to available ones
 * (8.3). The reference assigns greedily, first fit, and so rejects `[vram>=8, vram>=16]` against
 * `[24, 8]`; rxon finds a maximum bipartite matching instead, so a request is accepted whenever
 * some assignment satisfies it.
 */
import type { HardwareDevice } from "../../generated/types.js";
import { matchProperties, type MatchOptions } from "./compare.js";

/** A device requirement: a `HardwareDevice` whose fields are all optional filters. */
export type DeviceRequirement = Partial<HardwareDevice>;

/**
 * Beyond this many (required × available) pairs a request is refused without work: no real
 * machine has that many devices, and the pairwise check would let one message burn seconds.
 */
export const MAX_DEVICE_PAIRS = 1 << 20;

/**
 * Does `available` satisfy `required` (8.2)? Type and id exactly (empty = any), model as a
 * case-insensitive substring, properties per 8.1; metrics are ignored.
 */
export function matchDevice(available: HardwareDevice, required: DeviceRequirement, options: MatchOptions = {}): boolean {
  // Empty means "any"; anything else, even a value of the wrong JSON type, must be met.
  const type: unknown = required.type;
  if (type !== undefined && type !== null && type !== "" && type !== available.type) return false;
  const model: unknown = required.model;
  if (model !== undefined && model !== null && model !== "") {
    const have = available.model;
    if (typeof model !== "string" || typeof have !== "string" || !have.toLowerCase().includes(model.toLowerCase())) return false;
  }
  const id: unknown = required.id;
  if (id !== undefined && id !== null && id !== "" && id !== available.id) return false;
  return matchProperties(available.properties, required.properties, options);
}

/**
 * Assigns each required device a distinct available device that matches it.
 *
 * Returns `result` with `result[i]` = index in `available` of the device serving `required[i]`,
 * or `null` when no assignment exists. With the default parity the search is exhaustive
 * (augmenting paths), and when first fit succeeds it returns exactly the first-fit assignment,
 * so it accepts everything the reference accepts, the same way. With `parity: "reference"` it is
 * the reference's greedy first fit.
 */
export function assignDevices(
  available: readonly HardwareDevice[],
  required: readonly DeviceRequirement[],
  options: MatchOptions = {},
): number[] | null {
  const r = required.length;
  const a = available.length;
  if (r === 0) return [];
  if (r > a || r * a > MAX_DEVICE_PAIRS) return null;
  // When first fit succeeds the optimal search returns the same answer, so try it first: the
  // common case then costs exactly what the reference costs.
  const first = greedy(available, required, options);
  if (first !== null || options.parity === "reference") return first;
  return optimal(available, required, options);
}

function greedy(available: readonly HardwareDevice[], required: readonly DeviceRequirement[], options: MatchOptions): number[] | null {
  const used = new Uint8Array(available.length);
  const result: number[] = new Array<number>(required.length);
  for (let i = 0; i < required.length; i++) {
    let found = -1;
    for (let j = 0; j < available.length; j++) {
      if (used[j] === 0 && matchDevice(available[j]!, required[i]!, options)) {
        found = j;
        break;
      }
    }
    if (found < 0) return null;
    used[found] = 1;
    result[i] = found;
  }
  return result;
}

/** Match cache cell values. */
const UNKNOWN = 0;
const YES = 1;
const NO = 2;

// Scratch buffers reused across calls: matching calls no user code, so it never re-enters.
let cacheBuf = new Uint8Array(64);
let ownerBuf = new Int32Array(16);

function scratchCache(n: number): Uint8Array {
  if (cacheBuf.length < n) cacheBuf = new Uint8Array(Math.max(n, cacheBuf.length * 2));
  cacheBuf.fill(UNKNOWN, 0, n);
  return cacheBuf;
}

function scratchOwner(n: number): Int32Array {
  if (ownerBuf.length < n) ownerBuf = new Int32Array(Math.max(n, ownerBuf.length * 2));
  ownerBuf.fill(-1, 0, n);
  return ownerBuf;
}

function optimal(available: readonly HardwareDevice[], required: readonly DeviceRequirement[], options: MatchOptions): number[] | null {
  const r = required.length;
  const a = available.length;
  // Pairs are evaluated lazily and at most once: the common case (first fit works) costs what
  // the greedy costs.
  const cache = scratchCache(r * a);
  const owner = scratchOwner(a);
  const result: number[] = new Array<number>(r);
  const ok = (i: number, j: number): boolean => {
    const c = i * a + j;
    let v = cache[c]!;
    if (v === UNKNOWN) {
      v = matchDevice(available[j]!, required[i]!, options) ? YES : NO;
      cache[c] = v;
    }
    return v === YES;
  };
  let visited: Uint8Array | undefined;
  // Iterative depth-first search for an augmenting path from requirement `start`, so deep chains
  // cannot overflow the stack.
  const augment = (start: number): boolean => {
    visited = visited ? (visited.fill(0), visited) : new Uint8Array(a);
    const stackReq: number[] = [start];
    const stackPos: number[] = [0];
    const via: number[] = []; // device chosen at each level
    while (stackReq.length > 0) {
      const level = stackReq.length - 1;
      const i = stackReq[level]!;
      let j = stackPos[level]!;
      let advanced = false;
      for (; j < a; j++) {
        if (visited[j] === 1 || !ok(i, j)) continue;
        visited[j] = 1;
        stackPos[level] = j + 1;
        const holder = owner[j]!;
        if (holder < 0) {
          // Flip the path: each requirement on the stack takes the device chosen below it.
          via[level] = j;
          for (let l = level; l >= 0; l--) {
            const req = stackReq[l]!;
            const dev = via[l]!;
            owner[dev] = req;
            result[req] = dev;
          }
          return true;
        }
        via[level] = j;
        stackReq.push(holder);
        stackPos.push(0);
        advanced = true;
        break;
      }
      if (!advanced) {
        stackReq.pop();
        stackPos.pop();
      }
    }
    return false;
  };
  for (let i = 0; i < r; i++) {
    // First fit before any re-routing, so a greedy-satisfiable request keeps the greedy answer.
    let placed = false;
    for (let j = 0; j < a; j++) {
      if (owner[j]! < 0 && ok(i, j)) {
        owner[j] = i;
        result[i] = j;
        placed = true;
        break;
      }
    }
    if (!placed && !augment(i)) return null;
  }
  return result;
}
