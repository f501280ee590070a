// The audit log for auditors: every state change and human action, newest first, checked in this
// browser against its hashes and the signed heads; a capture's or incident's chain of custody;
// and ranges exported as files the offline verifier checks.
import { checkEntries, headSignatureVerifies, importVerifyKey, keyFingerprint, recomputedHash } from './audit-check.js';
import { element, formatMoment, withVisibleControls } from './dom.js';
import { openPage, showRefusal } from './page.js';
import { api } from './session.js';

const status = document.getElementById('status');
const view = document.getElementById('audit-view');
const entriesBody = document.querySelector('#entries tbody');
const entriesSummary = document.getElementById('entries-summary');
const headsBody = document.querySelector('#heads tbody');
const headsSummary = document.getElementById('heads-summary');
const filter = document.getElementById('filter');
const older = document.getElementById('older');
const custodyForm = document.getElementById('custody-form');
const custodyTable = document.getElementById('custody');
const custodySummary = document.getElementById('custody-summary');
const exportForm = document.getElementById('export-form');
const exportSummary = document.getElementById('export-summary');
const TEXT_FILTERS = ['text', 'actor', 'action', 'subjectId'];
let nextBeforeSeq = null;
let shownEntries = [];
let publicKeyPem = '';

const ENTRY_CHECKS = {
  intact: { text: 'intact', className: 'ok' },
  altered: { text: 'altered: its content no longer gives its hash', className: 'bad' },
  unlinked: { text: 'link broken: entries before it were removed or rewritten', className: 'bad' },
};

/** A datetime-local value, read in this browser's time zone, as the ISO moment the API takes. */
function moment(value) {
  return value ? new Date(value).toISOString() : null;
}

function rangeParams(form) {
  const params = new URLSearchParams();
  for (const name of ['from', 'until']) {
    const value = moment(form.elements[name].value);
    if (value) params.set(name, value);
  }
  return params;
}

function entryQuery(beforeSeq) {
  const params = rangeParams(filter);
  for (const name of TEXT_FILTERS) {
    const value = filter.elements[name].value.trim();
    if (value) params.set(name, value);
  }
  if (beforeSeq) params.set('beforeSeq', String(beforeSeq));
  return params;
}

const isFiltered = () => [...entryQuery(null).keys()].length > 0;

function entryRow(entry) {
  return element(
    'tr',
    { 'data-seq': String(entry.seq) },
    element('td', {}, String(entry.seq)),
    element('td', {}, formatMoment(entry.recordedAt)),
    element('td', { class: 'user-text' }, ...withVisibleControls(entry.actor)),
    element('td', { class: 'user-text' }, ...withVisibleControls(entry.action)),
    element('td', { class: 'user-text' }, ...withVisibleControls(`${entry.subjectType} ${entry.subjectId}`)),
    element('td', { class: 'user-text' }, element('code', { class: 'details' }, ...withVisibleControls(JSON.stringify(entry.details)))),
    element('td', { class: 'entry-check' }, 'checking…'),
  );
}

/** Marks each row with what this browser found, and says how many of the rows shown hold. */
async function markChecks(body, entries, contiguous, summary) {
  const results = await checkEntries(entries, { contiguous });
  let broken = 0;
  for (const row of body.rows) {
    const result = results.get(Number(row.dataset.seq));
    if (!result) continue;
    const { text, className } = ENTRY_CHECKS[result];
    if (result !== 'intact') broken++;
    row.querySelector('.entry-check').replaceChildren(element('span', { class: className }, text));
  }
  const shown = entries.length === 1 ? '1 entry shown' : `${entries.length} entries shown`;
  const failing = broken === 1 ? 'does not match its hash or link' : 'do not match their hashes or links';
  summary.textContent =
    entries.length === 0
      ? ''
      : broken === 0
        ? `${shown}, each checked in this browser against its hash${contiguous ? ' and the entry before it' : ''}: all intact.`
        : `${shown}: ${broken} ${failing}. The log was changed outside Verity; run the offline verifier.`;
  summary.className = broken === 0 ? '' : 'bad';
}

async function loadEntries(append) {
  const { entries, nextBeforeSeq: next } = await api(`/api/audit/entries?${entryQuery(append ? nextBeforeSeq : null)}`);
  shownEntries = append ? [...shownEntries, ...entries] : entries;
  const rows = entries.map(entryRow);
  if (append) entriesBody.append(...rows);
  else entriesBody.replaceChildren(...rows);
  nextBeforeSeq = next;
  older.hidden = next === null;
  status.textContent = shownEntries.length === 0 ? 'no entries match' : '';
  await markChecks(entriesBody, shownEntries, !isFiltered(), entriesSummary);
}

/** The entry a head signed, as the log holds it now, or null when it is gone. */
async function entryAt(seq) {
  const { entries } = await api(`/api/audit/entries?beforeSeq=${seq + 1}&limit=1`);
  return entries[0]?.seq === seq ? entries[0] : null;
}

/** Whether the head vouches for the log: its signature, and the entry it signed still holding that hash. */
async function checkHead(key, head) {
  if (!(await headSignatureVerifies(key, head))) return { ok: false, text: 'signature does not verify: forged or altered' };
  const entry = await entryAt(head.seq);
  if (!entry) return { ok: false, text: `signature valid, but entry ${head.seq} is gone` };
  if (entry.hash !== head.hash) return { ok: false, text: `signature valid, but entry ${head.seq} was rewritten since` };
  if ((await recomputedHash(entry)) !== entry.hash) return { ok: false, text: `signature valid, but entry ${head.seq} was altered` };
  return { ok: true, text: `signature valid, entry ${head.seq} unchanged` };
}

function headRow(head) {
  return element(
    'tr',
    {},
    element('td', {}, String(head.seq)),
    element('td', {}, formatMoment(head.signedAt)),
    element('td', {}, element('code', {}, head.hash)),
    element('td', {}, element('code', {}, head.signature)),
    element('td', { class: 'head-check' }, 'checking…'),
  );
}

async function loadHeads() {
  const { keyFingerprint: fingerprint, publicKeyPem: pem, checkpoints } = await api('/api/audit/checkpoints');
  publicKeyPem = pem;
  document.getElementById('key-fingerprint').textContent = fingerprint;
  document.getElementById('public-key').textContent = pem;
  const keyCheck = document.getElementById('key-check');
  const keyMatches = (await keyFingerprint(pem)) === fingerprint;
  keyCheck.replaceChildren(
    keyMatches
      ? element('span', { class: 'ok' }, '(matches the public key below)')
      : element('span', { class: 'bad' }, '(does not match the public key below)'),
  );
  if (checkpoints.length === 0) {
    headsBody.replaceChildren(
      element('tr', {}, element('td', { colspan: '5' }, 'No head signed yet: the workers sign one every AUDIT_SIGN_INTERVAL_MS.')),
    );
    headsSummary.textContent = '';
    return;
  }
  const rows = checkpoints.map(headRow);
  headsBody.replaceChildren(...rows);
  const key = await importVerifyKey(pem);
  let failed = 0;
  for (const [index, head] of checkpoints.entries()) {
    const outcome = await checkHead(key, head);
    if (!outcome.ok) failed++;
    rows[index].querySelector('.head-check').replaceChildren(element('span', { class: outcome.ok ? 'ok' : 'bad' }, outcome.text));
  }
  headsSummary.textContent =
    failed === 0
      ? `All ${checkpoints.length} signed heads shown verify in this browser with the key above.`
      : `${failed} of ${checkpoints.length} signed heads shown do not vouch for the log as it is now.`;
  headsSummary.className = failed === 0 ? '' : 'bad';
}

async function loadCustody(kind, id) {
  const parameter = kind === 'incident' ? 'incidentId' : 'captureId';
  const { entries, truncated } = await api(`/api/audit/custody?${new URLSearchParams({ [parameter]: id })}`);
  const body = custodyTable.tBodies[0];
  body.replaceChildren(...entries.map(entryRow));
  custodyTable.hidden = entries.length === 0;
  if (entries.length === 0) {
    custodySummary.textContent = `Nothing is recorded about ${kind} ${id}.`;
    custodySummary.className = '';
    return;
  }
  await markChecks(body, entries, false, custodySummary);
  if (truncated) custodySummary.textContent += ' Only the oldest entries are listed: filter the entries above by date for the rest.';
}

function download(fileName, text, type) {
  const link = element('a', { href: URL.createObjectURL(new Blob([text], { type })), download: fileName });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

async function exportRange() {
  exportSummary.textContent = 'exporting…';
  const exported = await api(`/api/audit/export?${rangeParams(exportForm)}`);
  const { fromSeq, toSeq } = exported.range;
  const fileName = `verity-audit-${fromSeq}-${toSeq}.json`;
  download(fileName, JSON.stringify(exported, null, 2), 'application/json');
  exportSummary.textContent =
    `Saved ${fileName}: entries ${fromSeq} to ${toSeq} (${exported.entries.length}), ` +
    `${exported.checkpoints.length} signed ${exported.checkpoints.length === 1 ? 'head' : 'heads'} among them.`;
}

function showCustodyFromAddress() {
  const params = new URLSearchParams(location.search);
  for (const kind of ['capture', 'incident']) {
    const id = params.get(kind);
    if (!id) continue;
    custodyForm.elements.kind.value = kind;
    custodyForm.elements.id.value = id;
    return loadCustody(kind, id);
  }
  return undefined;
}

try {
  await openPage();
  await Promise.all([loadEntries(false), loadHeads(), showCustodyFromAddress()]);
  view.hidden = false;
} catch (error) {
  if (error.status === 403) showRefusal(error);
  else status.textContent = `could not load the audit log: ${error.message}`;
}

filter.addEventListener('submit', (event) => {
  event.preventDefault();
  loadEntries(false).catch((error) => (status.textContent = `could not filter: ${error.message}`));
});
filter.addEventListener('reset', () => {
  // The reset empties the fields after this event; the list follows once they are empty.
  setTimeout(() => loadEntries(false).catch((error) => (status.textContent = `could not load the entries: ${error.message}`)));
});
older.addEventListener('click', () => {
  loadEntries(true).catch((error) => (status.textContent = `could not load older entries: ${error.message}`));
});
custodyForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const kind = custodyForm.elements.kind.value;
  const id = custodyForm.elements.id.value.trim();
  history.replaceState(null, '', `?${new URLSearchParams({ [kind]: id })}`);
  loadCustody(kind, id).catch((error) => {
    custodySummary.textContent = `could not show the custody: ${error.message}`;
    custodySummary.className = 'bad';
  });
});
exportForm.addEventListener('submit', (event) => {
  event.preventDefault();
  exportRange().catch((error) => (exportSummary.textContent = `could not export: ${error.message}`));
});
document.getElementById('download-key').addEventListener('click', () => {
  download('verity-audit-key.pem', publicKeyPem, 'application/x-pem-file');
});
