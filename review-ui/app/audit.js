// The audit log for auditors: every state change and human action, newest first, and the signed heads to copy elsewhere.
import { element, formatMoment, withVisibleControls } from './dom.js';
import { openPage, showRefusal } from './page.js';
import { api } from './session.js';

const status = document.getElementById('status');
const view = document.getElementById('audit-view');
const entriesBody = document.querySelector('#entries tbody');
const headsBody = document.querySelector('#heads tbody');
const filter = document.getElementById('filter');
const older = document.getElementById('older');
let nextBeforeSeq = null;

function query(beforeSeq) {
  const params = new URLSearchParams();
  for (const name of ['subjectId', 'actor', 'action']) {
    const value = filter.elements[name].value.trim();
    if (value) params.set(name, value);
  }
  if (beforeSeq) params.set('beforeSeq', String(beforeSeq));
  return params;
}

function entryRow(entry) {
  return element(
    'tr',
    {},
    element('td', {}, String(entry.seq)),
    element('td', {}, formatMoment(entry.recordedAt)),
    element('td', { class: 'user-text' }, ...withVisibleControls(entry.actor)),
    element('td', { class: 'user-text' }, ...withVisibleControls(entry.action)),
    element('td', { class: 'user-text' }, ...withVisibleControls(`${entry.subjectType} ${entry.subjectId}`)),
    element('td', { class: 'user-text' }, element('code', { class: 'details' }, ...withVisibleControls(JSON.stringify(entry.details)))),
  );
}

async function loadEntries(append) {
  const { entries, nextBeforeSeq: next } = await api(`/api/audit/entries?${query(append ? nextBeforeSeq : null)}`);
  const rows = entries.map(entryRow);
  if (append) entriesBody.append(...rows);
  else entriesBody.replaceChildren(...rows);
  nextBeforeSeq = next;
  older.hidden = next === null;
  status.textContent = entries.length === 0 && !append ? 'no entries match' : '';
}

async function loadHeads() {
  const { keyFingerprint, checkpoints } = await api('/api/audit/checkpoints');
  document.getElementById('key-fingerprint').textContent = keyFingerprint;
  headsBody.replaceChildren(
    ...(checkpoints.length === 0
      ? [element('tr', {}, element('td', { colspan: '3' }, 'No head signed yet: the workers sign one every AUDIT_SIGN_INTERVAL_MS.'))]
      : checkpoints.map((head) =>
          element(
            'tr',
            {},
            element('td', {}, String(head.seq)),
            element('td', {}, formatMoment(head.signedAt)),
            element('td', {}, element('code', {}, head.hash)),
          ),
        )),
  );
}

try {
  await openPage();
  await Promise.all([loadEntries(false), loadHeads()]);
  view.hidden = false;
} catch (error) {
  if (error.status === 403) showRefusal(error);
  else status.textContent = `could not load the audit log: ${error.message}`;
}

filter.addEventListener('submit', (event) => {
  event.preventDefault();
  loadEntries(false).catch((error) => (status.textContent = `could not filter: ${error.message}`));
});
older.addEventListener('click', () => {
  loadEntries(true).catch((error) => (status.textContent = `could not load older entries: ${error.message}`));
});
