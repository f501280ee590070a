// The questions the page asks before acting: a reason to reject (picked by its number), why to
// escalate, why an approval comes after the deadline, a pre-screen note, why to open evidence one does not hold. Each resolves with the
// answer, or null when the reviewer closes it (Esc, Cancel).
import { element } from './dom.js';

const rejectDialog = document.getElementById('reject-dialog');
const rejectReasons = document.getElementById('reject-reasons');
const rejectNote = document.getElementById('reject-note');
const rejectError = document.getElementById('reject-error');
const escalateDialog = document.getElementById('escalate-dialog');
const escalateNote = document.getElementById('escalate-note');
const lateDialog = document.getElementById('late-dialog');
const lateReason = document.getElementById('late-reason');
const annotateDialog = document.getElementById('annotate-dialog');
const annotateTitle = document.getElementById('annotate-title');
const annotateNote = document.getElementById('annotate-note');
const reasonDialog = document.getElementById('reason-dialog');
const reasonContext = document.getElementById('reason-context');
const viewReason = document.getElementById('view-reason');
const shortcutsDialog = document.getElementById('shortcuts-dialog');
const shortcutsTable = document.getElementById('shortcuts');

for (const button of document.querySelectorAll('dialog [data-close]')) {
  button.addEventListener('click', () => button.closest('dialog').close());
}

/** Opens `dialog` modally; resolves with `read()` when its form is submitted and read() gives a value. */
function ask(dialog, read, focus) {
  const form = dialog.querySelector('form');
  return new Promise((resolve) => {
    const onSubmit = (event) => {
      event.preventDefault();
      const answer = read();
      if (answer === undefined) return;
      resolve(answer);
      dialog.close();
    };
    form.addEventListener('submit', onSubmit);
    dialog.addEventListener(
      'close',
      () => {
        form.removeEventListener('submit', onSubmit);
        resolve(null);
      },
      { once: true },
    );
    dialog.showModal();
    focus.focus();
  });
}

/** Fills the reject dialog with the maintained list, numbered so a digit picks a reason. */
export function setRejectReasons(reasons) {
  rejectReasons.replaceChildren(
    ...reasons.map((reason, index) =>
      element(
        'label',
        { class: 'check reason' },
        element('input', { type: 'radio', name: 'reasonCode', value: reason.code, 'data-key': String(index + 1) }),
        element('kbd', {}, index < 9 ? String(index + 1) : ''),
        element('span', {}, reason.label),
        reason.statutory ? element('small', { class: 'muted' }, 'statutory') : '',
      ),
    ),
  );
}

rejectDialog.addEventListener('keydown', (event) => {
  if (event.target === rejectNote) return;
  const radio = /^[1-9]$/.test(event.key) ? rejectReasons.querySelector(`input[data-key="${event.key}"]`) : null;
  if (radio) {
    event.preventDefault();
    radio.checked = true;
    radio.focus();
    rejectError.textContent = '';
  } else if (event.key === 'Enter' && event.target.type === 'radio') {
    // Enter in a radio group does not submit a form by itself.
    event.preventDefault();
    rejectDialog.querySelector('form').requestSubmit();
  }
});

/** Asks which reason from the list, and an optional note: { reasonCode, note } or null. */
export function askRejection() {
  for (const radio of rejectReasons.querySelectorAll('input')) radio.checked = false;
  rejectNote.value = '';
  rejectError.textContent = '';
  const first = rejectReasons.querySelector('input');
  return ask(
    rejectDialog,
    () => {
      const chosen = rejectReasons.querySelector('input:checked');
      if (!chosen) {
        rejectError.textContent = 'Pick a reason first: press its number, or click it.';
        return undefined;
      }
      return { reasonCode: chosen.value, note: rejectNote.value.trim() || undefined };
    },
    first ?? rejectNote,
  );
}

/** Asks why the capture goes to a legal reviewer: { note } or null. */
export function askEscalation() {
  escalateNote.value = '';
  return ask(escalateDialog, () => ({ note: escalateNote.value.trim() }), escalateNote);
}

/** Asks why an approval comes after the statutory deadline: { lateReason } or null. */
export function askLateReason() {
  lateReason.value = '';
  return ask(lateDialog, () => ({ lateReason: lateReason.value.trim() }), lateReason);
}

const ANNOTATIONS = {
  looks_valid: { title: 'Looks valid', note: 'Looks valid: nothing wrong seen.' },
  has_problem: { title: 'Has a problem', note: '' },
  note: { title: 'Note for the reviewer', note: '' },
};

/** Asks for an auxiliary's pre-screen note of the given kind: { note } or null. */
export function askAnnotation(kind) {
  annotateTitle.textContent = ANNOTATIONS[kind].title;
  annotateNote.value = ANNOTATIONS[kind].note;
  return ask(annotateDialog, () => ({ note: annotateNote.value.trim() }), annotateNote);
}

let lastViewReason = '';

/** Asks why the person opens evidence they do not hold (the server logs it): the reason, or null. */
export function askViewReason(context, suggestion = '') {
  reasonContext.textContent = context;
  viewReason.value = lastViewReason || suggestion;
  return ask(
    reasonDialog,
    () => {
      lastViewReason = viewReason.value.trim();
      return lastViewReason;
    },
    viewReason,
  );
}

/** Shows the keyboard sheet: [{ keys: ['A'], label }]. */
export function showShortcuts(shortcuts) {
  shortcutsTable.replaceChildren(
    element(
      'tbody',
      {},
      ...shortcuts.map(({ keys, label }) =>
        element(
          'tr',
          {},
          element(
            'th',
            { scope: 'row' },
            ...keys.flatMap((key, index) => (index === 0 ? [element('kbd', {}, key)] : [' or ', element('kbd', {}, key)])),
          ),
          element('td', {}, label),
        ),
      ),
    ),
  );
  shortcutsDialog.showModal();
  shortcutsDialog.querySelector('[data-close]').focus();
}
