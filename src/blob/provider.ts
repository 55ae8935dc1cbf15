/**
 * The storage a worker downloads parameters from and uploads results to. rxon ships no S3 client;
 * applications plug one in through this interface (an S3 SDK, a local directory, memory in tests).
 */
import type { FileMetadata } from "../../generated/types.js";

/** Options shared by every blob operation. */
export interface BlobCallOptions {
  /** Aborts the operation; implementations must stop work and reject with `signal.reason`. */
  signal?: AbortSignal;
}

/** Options of {@link BlobProvider.put}. */
export interface BlobPutOptions extends BlobCallOptions {
  /** MIME type to store. */
  contentType?: string;
  /** Free-form metadata to store with the object. */
  metadata?: Readonly<Record<string, string>>;
}

/** Options of {@link BlobProvider.list}. */
export interface BlobListOptions extends BlobCallOptions {
  /** Stop after this many keys. */
  limit?: number;
}

/**
 * A blob store addressed by `s3://bucket/key` URIs (see `parseBlobUri`). Every method takes an
 * AbortSignal; missing objects are `null`/`false`, never a thrown "not found".
 */
export interface BlobProvider {
  /** The object's bytes, or `null` if it does not exist. */
  get(uri: string, options?: BlobCallOptions): Promise<Uint8Array | null>;
  /** The object's bytes as a stream, or `null` if it does not exist (for large objects). */
  getStream?(uri: string, options?: BlobCallOptions): Promise<AsyncIterable<Uint8Array> | null>;
  /** Stores bytes (or a stream of them) and describes what was stored. */
  put(uri: string, data: Uint8Array | AsyncIterable<Uint8Array>, options?: BlobPutOptions): Promise<FileMetadata>;
  /** Whether the object exists. */
  exists(uri: string, options?: BlobCallOptions): Promise<boolean>;
  /** Size, etag and metadata of the object, or `null` if it does not exist. */
  stat(uri: string, options?: BlobCallOptions): Promise<FileMetadata | null>;
  /** Deletes the object; deleting a missing object is not an error. */
  delete(uri: string, options?: BlobCallOptions): Promise<void>;
  /** URIs of the objects under a prefix URI (`s3://bucket/dir/`). */
  list(prefixUri: string, options?: BlobListOptions): AsyncIterable<string>;
  /** `capabilities.s3_config_hash` of this store (see `blobConfigHash`), if known. */
  readonly configHash?: string | null;
}
