/**
 * Blob locations (PROTOCOL.md 10.1) and the storage configuration hash (10.2), exactly as the
 * reference computes them, so Python and TypeScript workers agree on where a file lives and on
 * whether they share a store.
 */
import { createHash } from "node:crypto";
import { ValidationError } from "../errors.js";

/** Where a blob lives. */
export interface BlobLocation {
  /** Bucket name (for `s3://` URIs: the whole authority, `user@` and `:port` included). */
  bucket: string;
  /** Object key, without leading `/`. */
  key: string;
  /** The input ended with `/`. */
  isDirectory: boolean;
}

/** Options of {@link parseBlobUri}. */
export interface ParseBlobUriOptions {
  /** Bucket for relative paths; without it a relative path is an error. */
  defaultBucket?: string;
  /** Prepended to relative paths as is (no separator inserted). */
  prefix?: string;
}

/**
 * Splits an `s3://bucket/key` URI, or resolves a relative path against a default bucket and
 * prefix. Only the exact lower-case `s3://` scheme is a URI; anything else (`S3://…`,
 * `http://…`) is a relative path, as in the reference. Query and fragment are dropped.
 */
export function parseBlobUri(uri: string, options: ParseBlobUriOptions = {}): BlobLocation {
  if (typeof uri !== "string") throw new ValidationError("blob URI must be a string", [{ path: "", message: "must be a string" }]);
  const isDirectory = uri.endsWith("/");
  if (uri.startsWith("s3://")) {
    const rest = uri.slice(5);
    const end = firstOf(rest, 0);
    const bucket = rest.slice(0, end);
    // Python's urlsplit: the path ends at the first `?` or `#`; `;` stays in the path for s3.
    let pathEnd = rest.length;
    const q = rest.indexOf("?", end);
    const h = rest.indexOf("#", end);
    if (q >= 0) pathEnd = q;
    if (h >= 0 && h < pathEnd) pathEnd = h;
    const key = rest.slice(end, pathEnd).replace(/^\/+/, "");
    return { bucket, key, isDirectory };
  }
  const { defaultBucket, prefix = "" } = options;
  if (!defaultBucket) {
    throw new ValidationError(`Cannot parse relative path '${uri.length > 256 ? `${uri.slice(0, 256)}…` : uri}' without a default bucket.`, [
      { path: "", message: "relative path without a default bucket" },
    ]);
  }
  return { bucket: defaultBucket, key: prefix + uri.replace(/^\/+/, ""), isDirectory };
}

/** Index of the first `/`, `?` or `#` at or after `from`, or the length. */
function firstOf(s: string, from: number): number {
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 47 || c === 63 || c === 35) return i;
  }
  return s.length;
}

/** The `s3://bucket/key` form of a location. */
export function formatBlobUri(bucket: string, key: string): string {
  return `s3://${bucket}/${key.replace(/^\/+/, "")}`;
}

/**
 * First 16 lowercase hex digits of SHA-256 over `endpoint|accessKey|bucket` (10.2); `null` when
 * any part is empty or missing. Workers advertise it as `capabilities.s3_config_hash`.
 */
export function blobConfigHash(endpoint: string | null | undefined, accessKey: string | null | undefined, bucket: string | null | undefined): string | null {
  if (!endpoint || !accessKey || !bucket) return null;
  return createHash("sha256").update(`${endpoint}|${accessKey}|${bucket}`, "utf8").digest("hex").slice(0, 16);
}
