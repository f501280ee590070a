/** When a device key was valid: from its registration until the next key replaced it (null: still current). */
export interface KeyPeriod {
  validFrom: Date;
  validTo: Date | null;
}

/**
 * The key a device had at `at`, from its key history. Periods follow each other without gaps,
 * and the enrolment key also covers moments before enrolment, when a device may already have
 * stored captures; their certifications are checked on their own.
 */
export function keyValidAt<K extends KeyPeriod>(keys: readonly K[], at: Date): K | undefined {
  const ordered = [...keys].sort((a, b) => a.validFrom.getTime() - b.validFrom.getTime());
  let found = ordered[0];
  for (const key of ordered) if (key.validFrom <= at) found = key;
  if (!found || (found.validTo !== null && at >= found.validTo)) return undefined;
  return found;
}

/**
 * Why a retired key no longer counts for a message received at `receivedAt`, or undefined
 * when it does: a replaced key still verifies captures taken while it was current for
 * `overlapMs` after its replacement, so store-and-forward captures survive a rotation, but
 * not forever, since a retired key may leak and nothing else stops a backdated capture.
 */
export function retiredKeyProblem(key: KeyPeriod, receivedAt: Date, overlapMs: number): string | undefined {
  if (key.validTo === null) return undefined;
  const overlapEnd = new Date(key.validTo.getTime() + overlapMs);
  if (receivedAt <= overlapEnd) return undefined;
  return `signed with the key replaced at ${key.validTo.toISOString()}; its overlap of ${overlapMs / 3_600_000} h ended at ${overlapEnd.toISOString()}`;
}

/**
 * The key a capture was signed with: the one valid at capture time or, when the device rotated
 * between capture and receipt, the one valid at receipt, which the gateway verified with. The
 * signature decides between them; with neither verifying, the capture-time key is the one to
 * blame.
 */
export function signingKeyOf<K extends KeyPeriod>(
  keys: readonly K[],
  moments: { capturedAt: Date; receivedAt: Date },
  verifies: (key: K) => boolean,
): K | undefined {
  const candidates = [keyValidAt(keys, moments.capturedAt), keyValidAt(keys, moments.receivedAt)].filter((key) => key !== undefined);
  return candidates.find(verifies) ?? candidates[0];
}
