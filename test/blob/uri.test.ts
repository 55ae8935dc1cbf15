import { describe, expect, it } from "vitest";
import { blobConfigHash, formatBlobUri, MemoryBlobProvider, parseBlobUri } from "../../src/blob/index.js";
import { ValidationError } from "../../src/errors.js";

describe("10.1 parseBlobUri", () => {
  it("s3://bucket/key", () => {
    expect(parseBlobUri("s3://bucket/path/to/file.bin")).toEqual({ bucket: "bucket", key: "path/to/file.bin", isDirectory: false });
    expect(parseBlobUri("s3://bucket/dir/")).toEqual({ bucket: "bucket", key: "dir/", isDirectory: true });
    expect(parseBlobUri("s3://bucket")).toEqual({ bucket: "bucket", key: "", isDirectory: false });
    expect(parseBlobUri("s3://bucket/")).toEqual({ bucket: "bucket", key: "", isDirectory: true });
    expect(parseBlobUri("s3:///k")).toEqual({ bucket: "", key: "k", isDirectory: false });
  });
  it("authority kept whole, case preserved; all leading slashes removed", () => {
    expect(parseBlobUri("s3://user@My-Bucket:9000//a//b")).toEqual({ bucket: "user@My-Bucket:9000", key: "a//b", isDirectory: false });
  });
  it("query and fragment dropped, ';' kept", () => {
    expect(parseBlobUri("s3://b/k;v=1?x=1#frag")).toEqual({ bucket: "b", key: "k;v=1", isDirectory: false });
    expect(parseBlobUri("s3://b/k#f?q")).toEqual({ bucket: "b", key: "k", isDirectory: false });
    expect(parseBlobUri("s3://b?x=/y")).toEqual({ bucket: "b", key: "", isDirectory: false });
    expect(parseBlobUri("s3://b#/y/")).toEqual({ bucket: "b", key: "", isDirectory: true });
  });
  it("relative paths need a default bucket; prefix concatenated as is", () => {
    expect(parseBlobUri("/data/x.csv", { defaultBucket: "def", prefix: "jobs/1/" })).toEqual({ bucket: "def", key: "jobs/1/data/x.csv", isDirectory: false });
    expect(parseBlobUri("x.csv", { defaultBucket: "def", prefix: "p" })).toEqual({ bucket: "def", key: "px.csv", isDirectory: false });
    expect(parseBlobUri("S3://b/k", { defaultBucket: "def" })).toEqual({ bucket: "def", key: "S3://b/k", isDirectory: false });
    expect(parseBlobUri("http://h/k/", { defaultBucket: "def" })).toEqual({ bucket: "def", key: "http://h/k/", isDirectory: true });
    expect(() => parseBlobUri("x.csv")).toThrow(ValidationError);
    expect(() => parseBlobUri("x.csv", { defaultBucket: "" })).toThrow("Cannot parse relative path 'x.csv' without a default bucket.");
  });
  it("formatBlobUri round-trips", () => {
    const { bucket, key } = parseBlobUri(formatBlobUri("b", "/a/b"));
    expect([bucket, key]).toEqual(["b", "a/b"]);
  });
});

describe("10.2 blobConfigHash", () => {
  it("matches the reference vector", () => {
    expect(blobConfigHash("http://s3.local", "key123", "my-bucket")).toBe("5a190c323715f6e6");
  });
  it("null when a part is empty or missing", () => {
    expect(blobConfigHash("", "key123", "my-bucket")).toBeNull();
    expect(blobConfigHash("http://s3.local", null, "my-bucket")).toBeNull();
    expect(blobConfigHash("http://s3.local", "key123", undefined)).toBeNull();
  });
});

describe("MemoryBlobProvider", () => {
  it("put, get, stat, exists, list, delete, abort, capacity", async () => {
    const p = new MemoryBlobProvider("bkt", 10);
    const meta = await p.put("s3://bkt/a/x", new Uint8Array([1, 2, 3]));
    expect(meta).toMatchObject({ uri: "s3://bkt/a/x", size: 3 });
    expect(await p.get("a/x")).toEqual(new Uint8Array([1, 2, 3]));
    expect(await p.get("s3://bkt/missing")).toBeNull();
    expect(await p.exists("s3://bkt/a/x")).toBe(true);
    expect((await p.stat("s3://bkt/a/x"))?.size).toBe(3);
    await p.put("s3://bkt/a/y", (async function* () { yield new Uint8Array([4]); })());
    const listed: string[] = [];
    for await (const u of p.list("s3://bkt/a/")) listed.push(u);
    expect(listed).toEqual(["s3://bkt/a/x", "s3://bkt/a/y"]);
    await expect(p.put("s3://bkt/big", new Uint8Array(10))).rejects.toThrow(/full/);
    await p.delete("s3://bkt/a/x");
    await p.delete("s3://bkt/a/x");
    expect(await p.exists("s3://bkt/a/x")).toBe(false);
    const ac = new AbortController();
    ac.abort(new Error("stop"));
    await expect(p.get("s3://bkt/a/y", { signal: ac.signal })).rejects.toThrow("stop");
  });
});
