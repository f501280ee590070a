// The review workspace: the queue, the capture under review with everything needed to decide,
// and a keyboard shortcut for every action. While the reviewer looks at one capture the next is
// already claimed, fetched and decoded behind it, so a decision puts it on screen without a wait.
import { mayUse, openPage, showRefusal } from './page.js';
import { api, ApiError, RequestTimeout } from './session.js';
import * as claims from './review-claims.js';
import {
  askAnnotation,
  askEscalation,
  askLateReason,
  askRejection,
  askViewReason,
  setRejectReasons,
  showShortcuts,
} from './review-dialogs.js';
import { focusFactsSection, showFacts, tickDeadline } from './review-facts.js';
import { currentFilter, refreshQueue, watchFilters } from './review-queue.js';
import { offerMyDecisions, refreshMyDecisions, toggleMyDecisions } from './review-history.js';
import {
  adjustLook,
  clearFrames,
  fullResolution,
  moveLens,
  pan,
  prepareFrames,
  selectFrame,
  showFrames,
  toggleLens,
  toggleSideBySide,
  zoom,
} from './review-viewer.js';

/** A decision key pressed this soon after a capture appears is ignored: nobody has looked at it yet. */
const SETTLE_MS = 300;
const QUEUE_REFRESH_MS = 20_000;
/** The API passes over at most 20 captures; the current one takes a place. */
const SKIPPED_REMEMBERED = 19;

const pane = document.getElementById('capture-pane');
const status = document.getElementById('status');
const banner = document.getElementById('banner');
const decideActions = document.getElementById('decide-actions');
const prescreenActions = document.getElementById('prescreen-actions');
const approveButton = document.getElementById('approve');
const nextButton = document.getElementById('next');
const modeNote = document.getElementById('mode-note');

const me = await openPage();
const decides = mayUse(me, 'review.decide');
const prescreens = !decides && mayUse(me, 'review.prescreen');
// Escalated captures are a legal reviewer's: for anyone else the choice would only ever show an empty queue.
if (!mayUse(me, 'review.decide_escalated')) document.querySelector('#filter-state option[value="escalated"]')?.remove();
// Turned off only to measure what prefetching buys (bench/review-keypress.ts).
const prefetching = new URLSearchParams(location.search).get('prefetch') !== 'off';

/** The capture on screen: { detail, frames, claimed, readOnlyWhy }. */
let open;
/** The next capture, claimed and being prepared behind the open one: { promise, entry, settled }. */
let upcoming;
/** Captures the reviewer skipped, so "next" does not hand them straight back. */
const skipped = [];
/** What the page is busy with ('sending your approval'), empty when idle; a key pressed meanwhile is refused, not queued. */
let busy = '';
let shownAt = 0;
let refused = false;

function say(message) {
  status.textContent = message;
}

function warn(message) {
  banner.textContent = message;
  banner.hidden = !message;
}

/**
 * A decision is never queued behind another: the capture it would land on has not been seen yet
 * (see SETTLE_MS). So a key pressed while busy is refused out loud, and aria-busy tells tests and
 * assistive technology when the page is ready again.
 */
function setBusy(what) {
  busy = what;
  pane.setAttribute('aria-busy', String(Boolean(what)));
}

function refuseWhileBusy() {
  say(`Still ${busy}: this key press was not used. Press it again once that is done.`);
}

function openId() {
  return open?.detail.capture.id;
}

function fail(error) {
  if (error instanceof ApiError && error.status === 403 && !open) {
    refused = true;
    showRefusal(error);
  } else {
    say(`Something went wrong: ${error.message}`);
  }
}

async function prepared(detail, claimed, readOnlyWhy) {
  return { detail, frames: await prepareFrames(detail), claimed, readOnlyWhy };
}

async function fetchNext() {
  const answer = await claims.claimNext(currentFilter(), [openId(), ...skipped].filter(Boolean));
  return answer ? prepared(answer.detail, true) : null;
}

/** Claims and prepares the capture after the open one, unless a prefetch is already under way. */
function prefetch() {
  if (!decides || !prefetching || upcoming) return;
  pane.dataset.upcoming = 'loading';
  const slot = { settled: false };
  slot.promise = fetchNext()
    .catch((error) => {
      say(`Could not get the next capture ready: ${error.message}`);
      return null;
    })
    .then((entry) => {
      slot.entry = entry;
      slot.settled = true;
      if (upcoming === slot) pane.dataset.upcoming = entry ? 'ready' : 'none';
      return entry;
    });
  upcoming = slot;
}

/** Gives back the prefetched capture, e.g. when the filters change and it may no longer fit them. */
async function dropUpcoming() {
  const slot = upcoming;
  upcoming = undefined;
  pane.dataset.upcoming = 'none';
  const entry = await slot?.promise;
  if (entry) await claims.release(entry.detail.capture.id);
}

function renderMode() {
  const capture = open?.detail.capture;
  decideActions.hidden = !(decides && open?.claimed);
  prescreenActions.hidden = !(prescreens && open);
  nextButton.hidden = !decides;
  approveButton.firstChild.textContent =
    capture?.state === 'awaiting_second_review' ? 'Confirm approval ' : capture?.twoPersonRule ? 'Approve (first of two) ' : 'Approve ';
  if (open && prescreens) modeNote.textContent = 'Pre-screening: reviewers decide.';
  else if (open && !open.claimed) modeNote.textContent = `Read only: ${open.readOnlyWhy}`;
  else modeNote.textContent = '';
}

async function show(entry, { measured = false } = {}) {
  open = entry;
  shownAt = Infinity;
  pane.dataset.captureId = entry.detail.capture.id;
  showFacts(entry.detail, me);
  const { integrity, evidence } = entry.detail;
  warn(
    !integrity.intact
      ? 'Integrity check failed: the signature or a file does not match what the device signed. Do not approve this capture.'
      : evidence.eligible
        ? ''
        : `This capture cannot become evidence: ${evidence.reasons.join('; ')}.`,
  );
  renderMode();
  await showFrames(entry.frames);
  shownAt = performance.now();
  if (measured) {
    // User Timing marks: visible in the browser's performance panel, and read by the benchmark.
    performance.mark('review:next-shown');
    performance.measure('review:key-to-next', 'review:key', 'review:next-shown');
  }
}

function showNothing(message) {
  open = undefined;
  delete pane.dataset.captureId;
  showFacts(undefined, me);
  warn('');
  renderMode();
  clearFrames(message);
}

/** Shows the prefetched capture (claiming one now if none is ready), then prefetches the one after. */
async function advance(options) {
  const slot = upcoming;
  upcoming = undefined;
  if (!slot?.settled) say('Getting the next capture…');
  let next = (await slot?.promise) ?? null;
  // Nothing was left when the prefetch asked; new captures may have arrived since.
  next ??= await fetchNext();
  if (next) {
    await show(next, options);
    if (status.textContent === 'Getting the next capture…') say('');
    prefetch();
  } else {
    showNothing('Nothing left to review with these filters. New captures show up in the queue; press N to look again.');
  }
}

async function refresh() {
  if (refused) return;
  try {
    await refreshQueue({ openId: openId(), upcomingId: upcoming?.entry?.detail.capture.id, onOpen: (item) => void openFromQueue(item.id) });
  } catch (error) {
    fail(error);
  }
}

/** Refreshes the queue once the capture after the open one is known, so its row can say it is up next. */
function refreshSoon() {
  void Promise.resolve(upcoming?.promise).then(refresh);
}

const DONE = {
  approved: 'approved',
  awaiting_second_review: 'approved as the first of two: a second reviewer must confirm',
  rejected: 'rejected',
  escalated: 'escalated to a legal reviewer',
};

function lost(message) {
  if (!open) return;
  open.claimed = false;
  open.readOnlyWhy = 'you no longer hold this capture';
  warn(`${message}. Your decision would not count: press N for the next capture.`);
  renderMode();
}

const SENDING = { approved: 'sending your approval', rejected: 'sending your rejection', escalated: 'sending your escalation' };

async function decide(outcome, extra = {}) {
  if (busy) return refuseWhileBusy();
  performance.mark('review:key');
  setBusy(SENDING[outcome]);
  const captureId = openId();
  // Not renewed meanwhile: a renewal racing the decision would find the capture decided and report the claim lost.
  claims.forget(captureId);
  try {
    const result = await api(`/api/review/captures/${captureId}/decision`, { method: 'POST', body: { outcome, ...extra } });
    performance.measure('review:decision', 'review:key');
    say(`${open.detail.capture.manifest?.readings?.plate ?? 'Capture'} ${DONE[result.state] ?? result.state}.`);
    void refreshMyDecisions();
  } catch (error) {
    setBusy('');
    if (error instanceof ApiError && error.status === 409) return lost(error.message);
    // Refused or unsent, the claim still stands: keep renewing it.
    claims.claim(captureId).catch((renewal) => renewal instanceof ApiError && lost(renewal.message));
    if (error instanceof RequestTimeout)
      say(`${error.message}: your decision may not have been recorded. Press the key again to send it again.`);
    else if (error instanceof ApiError) warn(`The server refused this decision: ${error.message}.`);
    else say(`The decision could not be sent: ${error.message}. Try again.`);
    return;
  }
  setBusy('getting the next capture');
  try {
    await advance({ measured: true });
  } catch (error) {
    fail(error);
  } finally {
    setBusy('');
  }
  refreshSoon();
}

/** Whether a decision may be taken now; says why not otherwise. */
function mayDecideNow() {
  if (!open && busy) say('No capture is open yet: one is on its way. Press the key again once it is shown.');
  else if (busy) refuseWhileBusy();
  else if (!open) say('No capture is open: press N to get the next one.');
  else if (!open.claimed) say('You do not hold this capture, so you cannot decide on it: press N for the next one.');
  else if (performance.now() - shownAt < SETTLE_MS) say('That was quick: look at the capture first.');
  else return true;
  return false;
}

async function approve() {
  if (!mayDecideNow()) return;
  if (!open.detail.integrity.intact)
    return say('This capture failed its integrity check, so it cannot be approved: reject or escalate it.');
  if (!open.detail.evidence.eligible)
    return say(`This capture cannot become evidence, so it cannot be approved: ${open.detail.evidence.reasons.join('; ')}.`);
  // Past the statutory deadline the server wants the reason, which the evidence package shows.
  if (new Date(open.detail.capture.deadline).getTime() < Date.now()) {
    const answer = await askLateReason();
    if (answer) await decide('approved', answer);
    return;
  }
  await decide('approved');
}

async function reject() {
  if (!mayDecideNow()) return;
  const answer = await askRejection();
  if (answer) await decide('rejected', answer);
}

async function escalate() {
  if (!mayDecideNow()) return;
  const answer = await askEscalation();
  if (answer) await decide('escalated', answer);
}

async function skip() {
  if (!decides) return;
  if (busy) return refuseWhileBusy();
  setBusy('getting the next capture');
  const captureId = openId();
  try {
    if (captureId) {
      skipped.unshift(captureId);
      skipped.length = Math.min(skipped.length, SKIPPED_REMEMBERED);
      if (open.claimed) await claims.release(captureId);
      say('Skipped; it went back to the queue.');
    }
    await advance();
  } catch (error) {
    fail(error);
  } finally {
    setBusy('');
  }
  refreshSoon();
}

async function annotate(kind) {
  if (!prescreens || !open) return;
  const answer = await askAnnotation(kind);
  if (!answer) return;
  try {
    await api(`/api/review/captures/${openId()}/annotations`, { method: 'POST', body: { kind, note: answer.note } });
    open.detail.annotations.push({ kind, note: answer.note, by: me.displayName, at: new Date().toISOString() });
    showFacts(open.detail, me);
    say('Pre-screen note saved for the reviewer.');
  } catch (error) {
    say(`The note was not saved: ${error.message}`);
  }
}

/** Opens a capture without claiming it; the server wants to know why, and logs it. */
async function look(captureId, context) {
  let reason;
  // Someone the server will refuse anyway is not asked for a reason first.
  if (mayUse(me, 'evidence.view')) {
    reason = await askViewReason(context, prescreens ? 'pre-screening before review' : '');
    if (!reason) return;
  }
  const query = reason ? `?${new URLSearchParams({ reason })}` : '';
  const detail = await api(`/api/review/captures/${captureId}${query}`);
  await show(await prepared(detail, false, context));
}

/** Opens the capture a reviewer picked: claimed when they may take it, read only otherwise. */
async function openCapture(captureId) {
  if (captureId === openId()) return;
  if (!decides) return look(captureId, 'You are opening this capture to pre-screen it.');
  if (captureId === upcoming?.entry?.detail.capture.id) return skip();
  const previous = open;
  try {
    await claims.claim(captureId);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 409)) throw error;
    return look(captureId, `${error.message}. You can look at it without deciding.`);
  }
  await show(await prepared(await api(`/api/review/captures/${captureId}`), true));
  if (previous?.claimed) await claims.release(previous.detail.capture.id);
  prefetch();
}

async function openFromQueue(captureId) {
  try {
    await openCapture(captureId);
  } catch (error) {
    fail(error);
  }
  refreshSoon();
}

async function filtersChanged() {
  // A decision racing the prefetched capture being given back could land on a claim just released.
  if (busy) await waitUntilIdle();
  setBusy('applying the filters');
  try {
    await dropUpcoming().catch(fail);
    if (decides && !open) await advance().catch(fail);
    else prefetch();
  } finally {
    setBusy('');
  }
  refreshSoon();
}

function waitUntilIdle() {
  return new Promise((resolve) => {
    const check = () => (busy ? setTimeout(check, 50) : resolve());
    check();
  });
}

function frameKey(event) {
  void selectFrame(Number(event.key) - 1).then((exists) => exists || say(`There is no frame ${event.key}.`));
}

function zoomKey(direction) {
  if (!zoom(direction)) say('Zoom works on pictures: pick a frame or key frame with 1–9.');
}

function lookKey(which, direction) {
  if (!adjustLook(which, direction)) say('Brightness and contrast work on pictures; this capture has none.');
}

function lensKey() {
  if (!toggleLens()) say('The magnifier works on one picture at a time; pick a frame with 1–9 first.');
}

function sideBySideKey() {
  if (!toggleSideBySide()) say('Side by side needs at least two pictures; this capture has fewer.');
}

async function fullKey() {
  if (!(await fullResolution())) say('This frame is already at full resolution.');
}

/** Arrow keys move a zoomed picture; at fit, → still skips to the next capture. */
function arrowKey(event) {
  const [dx, dy] = { arrowleft: [-1, 0], arrowright: [1, 0], arrowup: [0, -1], arrowdown: [0, 1] }[event.key.toLowerCase()];
  if (moveLens(dx, dy) || pan(dx, dy)) return;
  if (dx === 1 && decides && !event.repeat) void skip();
}

function focusFilters() {
  const first = document.getElementById('filter-device');
  first.focus();
  first.select();
}

/** Every action, the keys that run it (as KeyboardEvent.key, lower case) and how the shortcut sheet names them. */
const SHORTCUTS = [
  { match: ['a'], keys: ['A'], label: 'Approve (or confirm a first approval)', when: () => decides, run: approve, decision: true },
  {
    match: ['r'],
    keys: ['R'],
    label: 'Reject: pick a reason by its number, Enter confirms',
    when: () => decides,
    run: reject,
    decision: true,
  },
  {
    match: ['e'],
    keys: ['E'],
    label: 'Escalate to a legal reviewer (a note is required)',
    when: () => decides,
    run: escalate,
    decision: true,
  },
  {
    match: ['n'],
    keys: ['N', '→'],
    label: 'Skip to the next capture (gives this one back); → only while the picture is at fit',
    when: () => decides,
    run: skip,
    decision: true,
  },
  { match: ['v'], keys: ['V'], label: 'Pre-screen: looks valid', when: () => prescreens, run: () => annotate('looks_valid') },
  { match: ['p'], keys: ['P'], label: 'Pre-screen: has a problem', when: () => prescreens, run: () => annotate('has_problem') },
  { match: ['t'], keys: ['T'], label: 'Pre-screen: a note for the reviewer', when: () => prescreens, run: () => annotate('note') },
  { match: ['z', '+', '='], keys: ['Z', '+'], label: 'Zoom in (the original loads as you zoom)', run: () => zoomKey(1) },
  { match: ['-'], keys: ['−'], label: 'Zoom out', run: () => zoomKey(-1) },
  { match: ['0'], keys: ['0'], label: 'Fit the picture again', run: () => zoomKey(0) },
  {
    match: ['arrowleft', 'arrowright', 'arrowup', 'arrowdown'],
    keys: ['← → ↑ ↓'],
    label: 'Move the zoomed picture; zooming again zooms where you moved to (double-click zooms at a point)',
    run: arrowKey,
  },
  {
    match: ['i'],
    keys: ['I', 'Shift+I'],
    label: 'Next (previous) section of the facts: certification, health, quality… PageDown and the arrows scroll them',
    run: (event) => focusFactsSection(event.shiftKey),
  },
  { match: ['f'], keys: ['F'], label: 'Full resolution: the original instead of the review copy', run: fullKey },
  {
    match: ['s'],
    keys: ['S'],
    label: 'The pictures side by side (up to four), or one again; zooming or 1–9 also goes back to one',
    run: sideBySideKey,
  },
  {
    match: ['b'],
    keys: ['B', 'Shift+B'],
    label: 'Brighter (darker)',
    run: (event) => lookKey('brightness', event.shiftKey ? -1 : 1),
  },
  {
    match: ['c'],
    keys: ['C', 'Shift+C'],
    label: 'More (less) contrast',
    run: (event) => lookKey('contrast', event.shiftKey ? -1 : 1),
  },
  { match: ['x'], keys: ['X'], label: 'Brightness and contrast as taken', run: () => lookKey('brightness', 0) },
  {
    match: ['l'],
    keys: ['L'],
    label: 'Magnifier over one spot (a plate, say): the mouse or the arrow keys move it, L again hides it',
    run: lensKey,
  },
  { match: [...'123456789'], keys: ['1–9'], label: 'Show frame 1 to 9', run: frameKey },
  { match: ['/'], keys: ['/'], label: 'Filter the queue (Enter applies)', run: focusFilters },
  {
    match: ['h'],
    keys: ['H'],
    label: 'My recent decisions, and where each capture stands now',
    when: () => decides,
    run: toggleMyDecisions,
  },
  { match: ['?'], keys: ['?'], label: 'This list', run: () => sheet() },
  { match: [], keys: ['Esc'], label: 'Close a dialog, or leave a filter field' },
];
const SCROLLING_KEYS = new Set(['ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown', 'PageUp', 'PageDown', 'Home', 'End', ' ']);
const KEYS = new Map(SHORTCUTS.flatMap((shortcut) => shortcut.match.map((key) => [key, shortcut])));

function sheet() {
  showShortcuts(SHORTCUTS.filter((shortcut) => shortcut.when?.() ?? true));
}

document.addEventListener('keydown', (event) => {
  if (refused || event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
  if (document.querySelector('dialog[open]')) return;
  if (event.target.closest?.('select')) {
    if (event.key === 'Escape' || event.key === 'Enter') {
      // Enter would otherwise open the option list, where the next letter picks an option again.
      event.preventDefault();
      return void document.getElementById('stage').focus();
    }
    // A select takes no text: a letter would only pick the option it starts with, silently changing
    // the filter instead of, say, approving. Its own keys (arrows, Space, Home, End) stay its own.
    if (SCROLLING_KEYS.has(event.key)) return;
  } else if (event.target.closest?.('input, textarea, [contenteditable]')) {
    if (event.key === 'Escape') event.target.blur();
    return;
  }
  // In the facts column the scrolling keys scroll it, and Escape goes back to the picture.
  if (event.target.closest?.('#facts')) {
    if (event.key === 'Escape') return void document.getElementById('stage').focus();
    if (SCROLLING_KEYS.has(event.key)) return;
  }
  const shortcut = KEYS.get(event.key.toLowerCase());
  if (!shortcut || !(shortcut.when?.() ?? true)) return;
  event.preventDefault();
  // Holding a decision key down must not decide one capture after another.
  if (shortcut.decision && event.repeat) return;
  void shortcut.run(event);
});

const buttons = {
  approve,
  reject,
  escalate,
  next: skip,
  'looks-valid': () => annotate('looks_valid'),
  'has-problem': () => annotate('has_problem'),
  'add-note': () => annotate('note'),
  'zoom-in': () => zoomKey(1),
  'zoom-out': () => zoomKey(-1),
  'zoom-reset': () => zoomKey(0),
  'full-resolution': fullKey,
  'side-by-side-toggle': sideBySideKey,
  brighter: () => lookKey('brightness', 1),
  darker: () => lookKey('brightness', -1),
  'more-contrast': () => lookKey('contrast', 1),
  'reset-look': () => lookKey('brightness', 0),
  magnifier: lensKey,
  'show-shortcuts': sheet,
};
for (const [id, run] of Object.entries(buttons)) document.getElementById(id).addEventListener('click', () => void run());

claims.keepClaims((captureId, message) => {
  if (captureId === openId()) lost(message);
  // Not prefetched again at once: the claim usually lapsed because the reviewer is away.
  else if (captureId === upcoming?.entry?.detail.capture.id) {
    upcoming = undefined;
    pane.dataset.upcoming = 'none';
  }
});
setInterval(() => {
  tickDeadline(open?.detail);
  refreshSoon();
}, QUEUE_REFRESH_MS);

watchFilters(() => void filtersChanged());
if (decides) offerMyDecisions();
renderMode();
try {
  if (decides) setRejectReasons((await api('/api/reject-reasons')).reasons);
  const linked = new URLSearchParams(location.search).get('capture');
  if (linked) await openCapture(linked);
  else if (decides) {
    setBusy('getting a capture');
    await advance().finally(() => setBusy(''));
  } else showNothing(prescreens ? 'Pick a capture from the queue to pre-screen it.' : 'Nothing open.');
} catch (error) {
  fail(error);
}
refreshSoon();
