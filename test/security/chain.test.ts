import { describe, expect, it } from "vitest";
import { ValidationError } from "../../src/errors.js";
import { forwardEvent, signChainHop, verifyChain } from "../../src/security/chain.js";
import { generateEd25519KeyPair, type Ed25519PrivateKey, type Ed25519PublicKey } from "../../src/security/ed25519.js";

const ids = ["origin", "hop-1", "hop-2", "intruder"] as const;
const keys = new Map<string, { privateKey: Ed25519PrivateKey; publicKey: Ed25519PublicKey }>(ids.map((id) => [id, generateEd25519KeyPair()]));
const resolver = (id: string): Ed25519PublicKey | undefined => keys.get(id)?.publicKey;
const priv = (id: string): Ed25519PrivateKey => keys.get(id)!.privateKey;

type Event = Record<string, unknown> & { security: { identity_chain: string[] } };

/** origin → hop-1 → hop-2, as received from hop-2. */
function threeHops(): Event {
  const event = {
    event_id: "evt-1",
    worker_id: "origin",
    origin_worker_id: "origin",
    origin_task_id: "task-1",
    event_type: "progress",
    payload: { percent: 42.5 },
    bubbling_chain: [],
    priority: 0,
    timestamp: 1_700_000_000,
  };
  const signed = signChainHop(event, "origin", priv("origin"));
  return forwardEvent(forwardEvent(signed, "hop-1", priv("hop-1")), "hop-2", priv("hop-2")) as unknown as Event;
}

describe("signed bubbling chain", () => {
  it("verifies an intact chain, and the forwarding bookkeeping is as PROTOCOL.md 7.9 expects", async () => {
    const event = threeHops();
    expect(event.worker_id).toBe("hop-2");
    expect(event.bubbling_chain).toEqual(["hop-1"]);
    expect(event.security.identity_chain.map((e) => e.split(":")[0])).toEqual(["origin", "hop-1", "hop-2"]);
    expect(await verifyChain(event, resolver)).toEqual({ ok: true });
    // Fields outside the core may be rewritten by hops.
    expect(await verifyChain({ ...event, priority: 9, target_job_id: "j", metadata: { a: 1 } }, resolver)).toEqual({ ok: true });
  });

  it("catches a tampered payload", async () => {
    const event = threeHops();
    expect(await verifyChain({ ...event, payload: { percent: 99 } }, resolver)).toEqual({ ok: false, hop: 0, reason: "bad_signature" });
  });

  it("catches a removed hop", async () => {
    const event = threeHops();
    const chain = event.security.identity_chain;
    const removed = { ...event, security: { identity_chain: [chain[0]!, chain[2]!] } };
    expect(await verifyChain(removed, resolver)).toEqual({ ok: false, hop: 1, reason: "path_mismatch" });
    // Also hiding it from bubbling_chain: the last hop signed a path that included hop-1.
    expect(await verifyChain({ ...removed, bubbling_chain: [] }, resolver)).toEqual({ ok: false, hop: 1, reason: "bad_signature" });
  });

  it("catches a reordered hop", async () => {
    const event = threeHops();
    const extra = forwardEvent(event, "intruder", priv("intruder")) as Event;
    const [o, h1, h2, last] = extra.security.identity_chain;
    const reordered = { ...extra, bubbling_chain: ["hop-2", "hop-1"], security: { identity_chain: [o!, h2!, h1!, last!] } };
    expect(await verifyChain(reordered, resolver)).toEqual({ ok: false, hop: 1, reason: "bad_signature" });
    const unmatched = { ...extra, security: { identity_chain: [o!, h2!, h1!, last!] } };
    expect(await verifyChain(unmatched, resolver)).toEqual({ ok: false, hop: 1, reason: "path_mismatch" });
  });

  it("catches a hop signed with the wrong key", async () => {
    const event = threeHops();
    const chain = event.security.identity_chain;
    // hop-1's entry re-signed by the intruder's key but still claiming to be hop-1.
    const base = forwardEvent(signChainHop({ ...event, security: {}, worker_id: "origin", bubbling_chain: [] }, "origin", priv("origin")), "hop-1", priv("intruder")) as unknown as Event;
    const forged = { ...event, security: { identity_chain: [chain[0]!, base.security.identity_chain[1]!, chain[2]!] } };
    expect(await verifyChain(forged, resolver)).toEqual({ ok: false, hop: 1, reason: "bad_signature" });
  });

  it("checks origin, sender, known signers and entry syntax", async () => {
    const event = threeHops();
    expect(await verifyChain({ ...event, origin_worker_id: "hop-1" }, resolver)).toMatchObject({ ok: false, hop: 0, reason: "origin_mismatch" });
    expect(await verifyChain({ ...event, worker_id: "hop-1" }, resolver)).toMatchObject({ ok: false, hop: 2, reason: "sender_mismatch" });
    expect(await verifyChain(event, (id) => (id === "hop-2" ? null : resolver(id)))).toEqual({ ok: false, hop: 2, reason: "unknown_signer" });
    const chain = event.security.identity_chain;
    expect(await verifyChain({ ...event, security: { identity_chain: [chain[0]!, "hop-1:xyz", chain[2]!] } }, resolver)).toEqual({
      ok: false,
      hop: 1,
      reason: "malformed_entry",
    });
    expect(await verifyChain({ ...event, security: {} }, resolver)).toEqual({ ok: false, hop: -1, reason: "missing_chain" });
    expect(await verifyChain("nope", resolver)).toEqual({ ok: false, hop: -1, reason: "missing_chain" });
  });

  it("refuses to start a chain with a signer other than the origin", () => {
    expect(() => signChainHop({ origin_worker_id: "origin" }, "hop-1", priv("hop-1"))).toThrow(ValidationError);
  });
});
