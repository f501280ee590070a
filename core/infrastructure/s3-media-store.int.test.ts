import { HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { sha256Hex } from './media-store.js';
import { S3MediaStore, createS3MediaStore } from './s3-media-store.js';

// s3rver ships no type declarations; this is the slice of its API the test uses.
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverConstructor = new (options: {
  address: string;
  port: number;
  directory: string;
  silent: boolean;
  configureBuckets: { name: string }[];
}) => S3rverInstance;
const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor;

const bucket = 'verity-test';
const prefix = 'media/';
// s3rver's built-in account.
const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

let directory: string;
let server: S3rverInstance | undefined;
let endpoint: string;
let client: S3Client;
let store: S3MediaStore;

function keyOf(sha256: string): string {
  return `${prefix}${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`;
}

beforeAll(async () => {
  directory = await mkdtemp(path.join(os.tmpdir(), 'verity-s3rver-'));
  // 127.0.0.1 rather than localhost so server and client cannot disagree about IPv4 versus IPv6.
  server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true, configureBuckets: [{ name: bucket }] });
  const { port } = await server.run();
  endpoint = `http://127.0.0.1:${port}`;
  client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials });
  store = new S3MediaStore({ client, bucket, prefix });
});

afterAll(async () => {
  client?.destroy();
  await server?.close();
  if (directory) await rm(directory, { recursive: true, force: true });
});

describe('S3MediaStore against s3rver', () => {
  it('deletes an object for good, and deleting it again is no error (retention, docs/party.md)', async () => {
    const sha256 = await store.put(randomBytes(512));
    await store.delete(sha256);
    expect(await store.has(sha256)).toBe(false);
    await expect(store.delete(sha256)).resolves.toBeUndefined();
  });

  it('returns the same bytes and hash from get as were put', async () => {
    const bytes = randomBytes(1024);
    const sha256 = await store.put(bytes);
    expect(sha256).toBe(sha256Hex(bytes));
    const back = await store.get(sha256);
    expect(Buffer.isBuffer(back)).toBe(true);
    expect(back.equals(bytes)).toBe(true);
  });

  it('stores the same bytes once, however often they are put', async () => {
    const bytes = randomBytes(2048);
    const first = await store.put(bytes);
    const second = await store.put(bytes);
    expect(second).toBe(first);
    const listing = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: keyOf(first) }));
    expect(listing.Contents?.map((object) => object.Key)).toEqual([keyOf(first)]);
  });

  it('reports has false before put and true after', async () => {
    const bytes = randomBytes(512);
    const sha256 = sha256Hex(bytes);
    expect(await store.has(sha256)).toBe(false);
    await store.put(bytes);
    expect(await store.has(sha256)).toBe(true);
  });

  it('rejects get of a hash that was never stored', async () => {
    await expect(store.get(sha256Hex(randomBytes(64)))).rejects.toThrow();
  });

  it('refuses keys that are not SHA-256 hashes', async () => {
    await expect(store.get('../../etc/passwd')).rejects.toThrow(/not a SHA-256/);
  });

  it('throws, naming the hash, when the stored object no longer matches its hash', async () => {
    const sha256 = await store.put(randomBytes(4096));
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: keyOf(sha256), Body: randomBytes(4096) }));
    await expect(store.get(sha256)).rejects.toThrow(sha256);
  });

  it('round-trips a 5 MB buffer', async () => {
    const bytes = randomBytes(5 * 1024 * 1024);
    const sha256 = await store.put(bytes);
    expect(sha256).toBe(sha256Hex(bytes));
    expect((await store.get(sha256)).equals(bytes)).toBe(true);
  });

  it('builds a working store from plain options', async () => {
    const built = createS3MediaStore({ endpoint, region: 'us-east-1', bucket, forcePathStyle: true, prefix, ...credentials });
    const bytes = randomBytes(256);
    const sha256 = await built.put(bytes);
    expect(await store.has(sha256)).toBe(true);
    expect((await built.get(sha256)).equals(bytes)).toBe(true);
  });
});

// s3rver ignores If-None-Match on PUT, so the lost-race and error paths are driven by a client that answers as real S3 would.
describe('S3MediaStore status handling s3rver cannot produce', () => {
  function failing(name: string, httpStatusCode: number): Error {
    return Object.assign(new Error(name), { name, $metadata: { httpStatusCode } });
  }
  function storeAnswering(head: Error, put?: Error): S3MediaStore {
    const fake = {
      send: async (command: unknown) => {
        if (command instanceof HeadObjectCommand) throw head;
        if (command instanceof PutObjectCommand && put) throw put;
        return {};
      },
    };
    return new S3MediaStore({ client: fake as unknown as S3Client, bucket });
  }

  it('treats 412 PreconditionFailed on put as already stored', async () => {
    const bytes = randomBytes(32);
    const racing = storeAnswering(failing('NotFound', 404), failing('PreconditionFailed', 412));
    expect(await racing.put(bytes)).toBe(sha256Hex(bytes));
  });

  it('rethrows other put failures', async () => {
    const denied = storeAnswering(failing('NotFound', 404), failing('AccessDenied', 403));
    await expect(denied.put(randomBytes(32))).rejects.toThrow('AccessDenied');
  });

  it('rethrows has failures other than 404', async () => {
    const denied = storeAnswering(failing('Forbidden', 403));
    await expect(denied.has(sha256Hex(randomBytes(32)))).rejects.toThrow('Forbidden');
  });
});
