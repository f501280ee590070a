import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Immutable, content-addressed storage for originals and derivatives. */
export interface MediaStore {
  /** Stores bytes under their SHA-256; storing the same bytes again is a no-op. Returns the hash. */
  put(bytes: Buffer): Promise<string>;
  get(sha256: string): Promise<Buffer>;
  has(sha256: string): Promise<boolean>;
  /** Removes the bytes for good (retention and erasure only, docs/party.md); removing absent bytes is a no-op. */
  delete(sha256: string): Promise<void>;
}

export function sha256Hex(bytes: Buffer | Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export type VerifiedRead = { ok: true; bytes: Buffer } | { ok: false; problem: string };

/**
 * Reads a file and proves it is still the file its hash names. Storage can be edited behind
 * the database's back; a swapped file must be refused, not shown as evidence.
 */
export async function readVerified(store: MediaStore, sha256: string): Promise<VerifiedRead> {
  let bytes: Buffer;
  try {
    bytes = await store.get(sha256);
  } catch (error) {
    return {
      ok: false,
      problem: `the stored file ${sha256} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}): it is missing from storage`,
    };
  }
  const actual = sha256Hex(bytes);
  if (actual !== sha256) {
    return { ok: false, problem: `the stored file ${sha256} was changed: its bytes now hash to ${actual}, so it is not served` };
  }
  return { ok: true, bytes };
}

/** Local-filesystem store: `root/ab/cd/abcd…`, written to a temporary name and renamed so readers never see half a file. */
export class FilesystemMediaStore implements MediaStore {
  constructor(private readonly root: string) {}

  private pathOf(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`not a SHA-256: ${sha256}`);
    return path.join(this.root, sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  }

  async put(bytes: Buffer): Promise<string> {
    const sha256 = sha256Hex(bytes);
    const target = this.pathOf(sha256);
    if (await this.has(sha256)) return sha256;
    await mkdir(path.dirname(target), { recursive: true });
    const temporary = `${target}.${randomUUID()}.partial`;
    await writeFile(temporary, bytes, { mode: 0o444 });
    await rename(temporary, target);
    return sha256;
  }

  get(sha256: string): Promise<Buffer> {
    return readFile(this.pathOf(sha256));
  }

  async has(sha256: string): Promise<boolean> {
    try {
      await stat(this.pathOf(sha256));
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
  }

  async delete(sha256: string): Promise<void> {
    try {
      await unlink(this.pathOf(sha256));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}
