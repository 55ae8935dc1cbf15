/** An in-memory {@link BlobProvider} for tests and examples; bounded in total bytes. */
import { createHash } from "node:crypto";
import type { FileMetadata } from "../../generated/types.js";
import { RxonError } from "../errors.js";
import { ErrorCode } from "../../generated/constants.js";
import type { BlobCallOptions, BlobListOptions, BlobProvider, BlobPutOptions } from "./provider.js";
import { formatBlobUri, parseBlobUri } from "./uri.js";

interface Stored {
  data: Uint8Array;
  meta: FileMetadata;
}

function checkSignal(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason;
}

/** Keeps objects in a Map keyed by `s3://` URI. */
export class MemoryBlobProvider implements BlobProvider {
  private readonly objects = new Map<string, Stored>();
  private bytes = 0;

  /**
   * @param defaultBucket bucket for relative paths.
   * @param maxBytes total bytes held before `put` refuses (default 64 MiB).
   */
  constructor(
    private readonly defaultBucket = "rxon",
    private readonly maxBytes = 64 * 1024 * 1024,
  ) {}

  readonly configHash = null;

  private key(uri: string): string {
    const loc = parseBlobUri(uri, { defaultBucket: this.defaultBucket });
    return formatBlobUri(loc.bucket, loc.key);
  }

  async get(uri: string, options: BlobCallOptions = {}): Promise<Uint8Array | null> {
    checkSignal(options.signal);
    const o = this.objects.get(this.key(uri));
    return o ? o.data.slice() : null;
  }

  async put(uri: string, data: Uint8Array | AsyncIterable<Uint8Array>, options: BlobPutOptions = {}): Promise<FileMetadata> {
    checkSignal(options.signal);
    let bytes: Uint8Array;
    if (data instanceof Uint8Array) bytes = data.slice();
    else {
      const chunks: Uint8Array[] = [];
      let n = 0;
      for await (const c of data) {
        checkSignal(options.signal);
        n += c.byteLength;
        if (this.bytes + n > this.maxBytes) throw tooBig();
        chunks.push(c);
      }
      bytes = new Uint8Array(Buffer.concat(chunks));
    }
    const key = this.key(uri);
    const old = this.objects.get(key);
    const total = this.bytes - (old?.data.byteLength ?? 0) + bytes.byteLength;
    if (total > this.maxBytes) throw tooBig();
    const meta: FileMetadata = { uri: key, size: bytes.byteLength, etag: createHash("md5").update(bytes).digest("hex") };
    if (options.metadata) meta.metadata = { ...options.metadata };
    this.objects.set(key, { data: bytes, meta });
    this.bytes = total;
    return { ...meta };
  }

  async exists(uri: string, options: BlobCallOptions = {}): Promise<boolean> {
    checkSignal(options.signal);
    return this.objects.has(this.key(uri));
  }

  async stat(uri: string, options: BlobCallOptions = {}): Promise<FileMetadata | null> {
    checkSignal(options.signal);
    const o = this.objects.get(this.key(uri));
    return o ? { ...o.meta } : null;
  }

  async delete(uri: string, options: BlobCallOptions = {}): Promise<void> {
    checkSignal(options.signal);
    const key = this.key(uri);
    const o = this.objects.get(key);
    if (o) {
      this.bytes -= o.data.byteLength;
      this.objects.delete(key);
    }
  }

  async *list(prefixUri: string, options: BlobListOptions = {}): AsyncIterable<string> {
    const prefix = this.key(prefixUri);
    let n = 0;
    for (const key of [...this.objects.keys()].sort()) {
      checkSignal(options.signal);
      if (!key.startsWith(prefix)) continue;
      if (options.limit !== undefined && n >= options.limit) return;
      n++;
      yield key;
    }
  }
}

function tooBig(): RxonError {
  return new RxonError("blob store is full", { code: ErrorCode.RESOURCE_EXHAUSTED_ERROR });
}
