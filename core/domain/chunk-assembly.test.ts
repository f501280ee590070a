import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assembleStaged, type StagedChunk } from './chunk-assembly.js';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** What the gateway keeps after a sequence of sends: the last copy per (count, index). */
function stage(sends: { chunkBytes: number; corrupt: number | undefined }[], file: Buffer): StagedChunk[] {
  const kept = new Map<string, StagedChunk>();
  sends.forEach(({ chunkBytes, corrupt }, attempt) => {
    const count = Math.ceil(file.length / chunkBytes);
    for (let index = 0; index < count; index++) {
      const data = Buffer.from(file.subarray(index * chunkBytes, (index + 1) * chunkBytes));
      if (corrupt === index) data[0]! ^= 0xff;
      kept.set(`${count}/${index}`, { chunkIndex: index, chunkCount: count, data, receivedAt: new Date(1000 * attempt + index) });
    }
  });
  return [...kept.values()];
}

const file = fc.uint8Array({ minLength: 1, maxLength: 2000 }).map((bytes) => Buffer.from(bytes));
const send = fc.record({ chunkBytes: fc.integer({ min: 1, max: 700 }), corrupt: fc.option(fc.nat({ max: 5 }), { nil: undefined }) });

describe('assembleStaged', () => {
  it('gives the signed bytes whenever the last send was whole and intact, whatever came before, in any chunk sizes', () => {
    fc.assert(
      fc.property(file, fc.array(send, { maxLength: 4 }), fc.integer({ min: 1, max: 700 }), (bytes, earlier, chunkBytes) => {
        const staged = stage([...earlier, { chunkBytes, corrupt: undefined }], bytes);
        expect(assembleStaged(staged, sha256(bytes), false)?.bytes.equals(bytes)).toBe(true);
      }),
    );
  });

  it('never gives bytes that do not hash to the claim before giving up, and gives the latest complete set after', () => {
    fc.assert(
      fc.property(file, fc.integer({ min: 1, max: 700 }), (bytes, chunkBytes) => {
        const staged = stage([{ chunkBytes, corrupt: 0 }], bytes);
        expect(assembleStaged(staged, sha256(bytes), false)).toBeUndefined();
        const given = assembleStaged(staged, sha256(bytes), true);
        expect(given?.sha256).not.toBe(sha256(bytes));
        expect(given?.sha256).toBe(sha256(given!.bytes));
      }),
    );
  });

  it('waits for a set with a gap even when giving up', () => {
    const bytes = Buffer.from('0123456789');
    const staged = stage([{ chunkBytes: 3, corrupt: undefined }], bytes).filter((chunk) => chunk.chunkIndex !== 2);
    expect(assembleStaged(staged, sha256(bytes), true)).toBeUndefined();
    expect(assembleStaged([], sha256(bytes), true)).toBeUndefined();
  });
});
