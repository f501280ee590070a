// Claims: the lease that makes a capture one reviewer's at a time. The claims this page holds are
// renewed while the reviewer works, left to lapse when they walk away, and given back when they
// leave the page, so a colleague can take those captures at once.
import { api, ApiError, sendWhileLeaving } from './session.js';

const RENEW_CHECK_MS = 5_000;
/** Never renew more often than this, even if the server's clock makes the lease look short. */
const SHORTEST_LEASE_MS = 15_000;

/** captureId → { leaseMs, renewedAt } (renewedAt on performance.now(), which the wall clock cannot move). */
const held = new Map();
let lastActivity = performance.now();
for (const type of ['keydown', 'pointerdown', 'pointermove', 'wheel']) {
  addEventListener(type, () => (lastActivity = performance.now()), { capture: true, passive: true });
}

function note(captureId, expiresAt) {
  const leaseMs = Math.max(SHORTEST_LEASE_MS, new Date(expiresAt).getTime() - Date.now());
  held.set(captureId, { leaseMs, renewedAt: performance.now() });
}

/** Claims the most urgent capture left under `filter`, passing over `skip`; null when nothing is left. */
export async function claimNext(filter, skip) {
  const answer = await api('/api/review/next', { method: 'POST', body: { filter, skip } });
  if (answer) note(answer.claim.captureId, answer.claim.expiresAt);
  return answer;
}

/** Claims (or renews) one capture; throws the server's 409 when someone else holds it or it is not the reviewer's to take. */
export async function claim(captureId) {
  const answer = await api(`/api/review/captures/${captureId}/claim`, { method: 'POST' });
  note(captureId, answer.expiresAt);
  return answer;
}

/** Stops renewing a claim the server has ended itself, e.g. by recording a decision. */
export function forget(captureId) {
  held.delete(captureId);
}

/** Gives a claim back; a claim that has already gone is no error. */
export async function release(captureId) {
  held.delete(captureId);
  try {
    await api(`/api/review/captures/${captureId}/claim`, { method: 'DELETE' });
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) throw error;
  }
}

/**
 * Renews each held claim once a third of its lease has passed, as long as the reviewer touched
 * the keyboard or mouse within one lease. `onLost(captureId, message)` runs for a claim the server
 * gave to someone else, or that lapsed while the reviewer was away.
 */
export function keepClaims(onLost) {
  setInterval(() => {
    const now = performance.now();
    for (const [captureId, { leaseMs, renewedAt }] of held) {
      if (now - renewedAt < leaseMs / 3) continue;
      if (now - lastActivity > leaseMs) {
        if (now - renewedAt >= leaseMs) {
          held.delete(captureId);
          onLost(captureId, 'You were away, so your claim on this capture lapsed and it went back to the queue');
        }
        continue;
      }
      claim(captureId).catch((error) => {
        if (!(error instanceof ApiError)) return;
        held.delete(captureId);
        onLost(captureId, `Your claim on this capture was lost: ${error.message}`);
      });
    }
  }, RENEW_CHECK_MS);
}

addEventListener('pagehide', () => {
  for (const captureId of held.keys()) sendWhileLeaving(`/api/review/captures/${captureId}/claim`, 'DELETE');
  held.clear();
});
// Coming back through the back button restores a page whose claims were given back on the way out.
addEventListener('pageshow', (event) => {
  if (event.persisted) location.reload();
});
