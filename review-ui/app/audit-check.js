// The audit log checked in the browser, with no trust in the server that sends it: each entry's
// hash recomputed and each signed head's Ed25519 signature verified with WebCrypto, over the
// same RFC 8785 bytes the server hashed and signed (core/domain/audit-hash.ts, db/audit-checkpoints.ts).
import canonicalize from '/vendor/canonicalize/canonicalize.js';

const encoder = new TextEncoder();

function hex(buffer) {
  return [...new Uint8Array(buffer)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}

async function sha256Hex(bytes) {
  return hex(await crypto.subtle.digest('SHA-256', bytes));
}

function pemBody(pem) {
  const base64 = pem.replace(/-----(BEGIN|END) PUBLIC KEY-----/g, '').replace(/\s+/g, '');
  return Uint8Array.from(atob(base64), (character) => character.charCodeAt(0));
}

/** The hash an entry's content gives: what `hash` must equal unless the row was edited after it was written. */
export async function recomputedHash(entry) {
  const body = canonicalize({
    previousHash: entry.previousHash,
    recordedAt: entry.recordedAt,
    actor: entry.actor,
    action: entry.action,
    subjectType: entry.subjectType,
    subjectId: entry.subjectId,
    details: entry.details,
  });
  return sha256Hex(encoder.encode(body));
}

/**
 * What the browser finds about each entry shown, by seq: `intact`, `altered` (its content no
 * longer gives its hash) or `unlinked` (it does not name the entry shown just before it, so
 * entries between were removed or rewritten). Links are only judged where the list is
 * unfiltered: a filter leaves gaps on purpose.
 */
export async function checkEntries(entries, { contiguous }) {
  const results = new Map();
  const bySeq = [...entries].sort((a, b) => a.seq - b.seq);
  for (const [index, entry] of bySeq.entries()) {
    const earlier = bySeq[index - 1];
    if ((await recomputedHash(entry)) !== entry.hash) results.set(entry.seq, 'altered');
    else if (contiguous && earlier && entry.previousHash !== earlier.hash) results.set(entry.seq, 'unlinked');
    else results.set(entry.seq, 'intact');
  }
  return results;
}

/** The key's fingerprint as the server computes it: SHA-256 of the key's DER (SPKI). */
export async function keyFingerprint(publicKeyPem) {
  return sha256Hex(pemBody(publicKeyPem));
}

export async function importVerifyKey(publicKeyPem) {
  return crypto.subtle.importKey('spki', pemBody(publicKeyPem), { name: 'Ed25519' }, false, ['verify']);
}

/** True when the head's signature verifies: it covers `{"hash","seq","signedAt"}` as canonical JSON. */
export async function headSignatureVerifies(key, head) {
  const bytes = encoder.encode(canonicalize({ seq: head.seq, hash: head.hash, signedAt: head.signedAt }));
  const signature = Uint8Array.from(atob(head.signature), (character) => character.charCodeAt(0));
  try {
    return await crypto.subtle.verify({ name: 'Ed25519' }, key, signature, bytes);
  } catch {
    return false;
  }
}
