import { createHash } from 'node:crypto';

/** One staged chunk as the gateway keeps it: the last copy received for its (count, index). */
export interface StagedChunk {
  chunkIndex: number;
  chunkCount: number;
  data: Buffer;
  receivedAt: Date;
}

export interface AssembledFile {
  bytes: Buffer;
  sha256: string;
}

/**
 * Picks the bytes of a file from its staged chunks. A device may send a file more than once,
 * in any chunk size, and repair a chunk by sending it again (the last copy of a chunk is kept),
 * so several complete chunk sets can exist: the one whose bytes hash to the signed SHA-256
 * wins. Without one, the file is still arriving (undefined) until `giveUp`, when the most
 * recently completed set is returned so the capture is quarantined with what really arrived.
 */
export function assembleStaged(chunks: readonly StagedChunk[], claimedSha256: string, giveUp: boolean): AssembledFile | undefined {
  const sets = new Map<number, StagedChunk[]>();
  for (const chunk of chunks) {
    const set = sets.get(chunk.chunkCount) ?? [];
    set.push(chunk);
    sets.set(chunk.chunkCount, set);
  }
  const complete: { file: AssembledFile; completedAt: number }[] = [];
  for (const [count, set] of sets) {
    const ordered = [...set].sort((a, b) => a.chunkIndex - b.chunkIndex);
    if (ordered.length !== count || ordered.some((chunk, index) => chunk.chunkIndex !== index)) continue;
    const bytes = Buffer.concat(ordered.map((chunk) => chunk.data));
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (sha256 === claimedSha256) return { bytes, sha256 };
    complete.push({ file: { bytes, sha256 }, completedAt: Math.max(...ordered.map((chunk) => chunk.receivedAt.getTime())) });
  }
  if (!giveUp || complete.length === 0) return undefined;
  complete.sort((a, b) => b.completedAt - a.completedAt);
  return complete[0]!.file;
}
