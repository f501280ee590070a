import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { sha256Hex, type MediaStore } from './media-store.js';

export interface S3MediaStoreOptions {
  client: S3Client;
  bucket: string;
  /** Key prefix, so the bucket can be shared with other data. Defaults to `media/`. */
  prefix?: string;
}

// Duck-typed rather than `instanceof S3ServiceException`: that check fails when npm installs two copies of the SDK.
function httpStatusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('$metadata' in error)) return undefined;
  return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

/** S3-compatible store: `prefix/ab/cd/abcd…`; objects are never overwritten and are re-hashed on every read. */
export class S3MediaStore implements MediaStore {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(options: S3MediaStoreOptions) {
    this.client = options.client;
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? 'media/';
  }

  private keyOf(sha256: string): string {
    // The hash becomes part of an object key; refusing anything else keeps callers from addressing arbitrary objects.
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`not a SHA-256: ${sha256}`);
    return `${this.prefix}${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`;
  }

  /** Uploads bytes under their SHA-256 unless already present; returns the hash. */
  async put(bytes: Buffer): Promise<string> {
    const sha256 = sha256Hex(bytes);
    const key = this.keyOf(sha256);
    if (await this.has(sha256)) return sha256;
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: bytes,
          ContentLength: bytes.length,
          // s3rver ignores both of these (it overwrites and never checks the checksum); real S3 and most compatibles honour them.
          IfNoneMatch: '*',
          ChecksumSHA256: createHash('sha256').update(bytes).digest('base64'),
        }),
      );
    } catch (error) {
      // Someone stored the same key between has() and here; same key means same hash, so same bytes.
      if (httpStatusOf(error) === 412) return sha256;
      throw error;
    }
    return sha256;
  }

  /** Downloads the object and checks it still hashes to its name, so a corrupted store cannot serve bad evidence. */
  async get(sha256: string): Promise<Buffer> {
    const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.keyOf(sha256) }));
    if (!response.Body) throw new Error(`media ${sha256}: S3 returned no body`);
    const array = await response.Body.transformToByteArray();
    const bytes = Buffer.from(array.buffer, array.byteOffset, array.byteLength);
    const actual = sha256Hex(bytes);
    if (actual !== sha256) throw new Error(`media ${sha256} is corrupted in the store: its content hashes to ${actual}`);
    return bytes;
  }

  /** Whether an object for this hash exists. */
  async has(sha256: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.keyOf(sha256) }));
      return true;
    } catch (error) {
      // HEAD responses have no body, so the SDK can only report the status; 404 is the one that means "absent".
      if (httpStatusOf(error) === 404 || (error instanceof Error && error.name === 'NotFound')) return false;
      throw error;
    }
  }

  /** Deletes the object; S3 answers a delete of an absent key with success, so a repeat is harmless. */
  async delete(sha256: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.keyOf(sha256) }));
  }
}

/** Builds an S3MediaStore with its own client; static credentials only when both keys are given, else the SDK's default chain. */
export function createS3MediaStore(options: {
  endpoint?: string;
  region: string;
  bucket: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  forcePathStyle?: boolean;
  prefix?: string;
}): S3MediaStore {
  const { endpoint, region, bucket, accessKeyId, secretAccessKey, forcePathStyle, prefix } = options;
  const client = new S3Client({
    region,
    ...(endpoint ? { endpoint } : {}),
    ...(forcePathStyle !== undefined ? { forcePathStyle } : {}),
    ...(accessKeyId && secretAccessKey ? { credentials: { accessKeyId, secretAccessKey } } : {}),
  });
  return new S3MediaStore({ client, bucket, ...(prefix !== undefined ? { prefix } : {}) });
}
