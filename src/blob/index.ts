/** Blob helpers: `s3://` URI parsing, the storage configuration hash and the provider interface. */
export { blobConfigHash, formatBlobUri, parseBlobUri, type BlobLocation, type ParseBlobUriOptions } from "./uri.js";
export type { BlobCallOptions, BlobListOptions, BlobProvider, BlobPutOptions } from "./provider.js";
export { MemoryBlobProvider } from "./memory.js";
