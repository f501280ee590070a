// The remediation case of one hotspot: open it with a suspected cause, record what was done and
// when, read whether the drop is more than regression to the mean would give, and close it as
// fixed or dismiss it with a reason.
import { drawBeforeAfter } from './analytics-charts.js';
import { change, dayLabel, placeOf } from './analytics-format.js';
import { element, formatDate, words } from './dom.js';
import { api } from './session.js';

const CAUSES = ['signage', 'road_design', 'signal_timing', 'device_placement', 'enforcement_gap', 'other'];

/** Why a case has no before/after numbers yet, by `beforeAfter.status`. */
const NOT_YET = {
  no_action: 'Before/after rates appear once the action taken and its date are recorded.',
  after_period_too_short: 'The action is too recent: before/after rates appear once enough settled days have passed after it.',
  no_run: 'No screening run has finished yet, so there is nothing to compare with.',
};

const dialog = document.getElementById('case-dialog');
const dialogForm = document.getElementById('case-form');

function localToday() {
  const now = new Date();
  return new Date(now.getTime() - now.getTimezoneOffset() * 60_000).toISOString().slice(0, 10);
}

function field(id, labelText, control, hint) {
  control.id = id;
  if (hint) control.setAttribute('aria-describedby', `${id}-hint`);
  return element(
    'div',
    { class: 'field' },
    element('label', { for: id }, labelText),
    control,
    hint ? element('small', { id: `${id}-hint`, class: 'muted' }, hint) : '',
  );
}

function textArea(name, { minLength, maxLength }) {
  const area = element('textarea', { name, rows: '3', maxlength: String(maxLength) });
  if (minLength) {
    area.required = true;
    area.minLength = minLength;
  }
  return area;
}

function causeSelect(current) {
  const select = element(
    'select',
    { name: 'suspectedCause', required: '' },
    ...CAUSES.map((cause) => element('option', { value: cause }, words(cause))),
  );
  if (current) select.value = current;
  return select;
}

/**
 * Shows a form in the case dialog; it stays open, showing the server's refusal, until `submit(data)` succeeds.
 */
function ask({ title, explain, fields, submitLabel, danger = false, submit }) {
  const error = element('p', { class: 'error', role: 'alert' });
  const send = element('button', { type: 'submit', class: danger ? 'danger' : '' }, submitLabel);
  const cancel = element('button', { type: 'button', class: 'quiet' }, 'Cancel');
  cancel.addEventListener('click', () => dialog.close());
  dialogForm.replaceChildren(
    element('h2', { id: 'case-dialog-title' }, title),
    explain ? element('p', { class: 'muted' }, explain) : '',
    ...fields,
    error,
    element('div', { class: 'actions' }, cancel, send),
  );
  dialogForm.onsubmit = async (event) => {
    event.preventDefault();
    send.disabled = true;
    error.textContent = '';
    try {
      await submit(new FormData(dialogForm));
      dialog.close();
    } catch (failure) {
      error.textContent = failure.message;
    } finally {
      send.disabled = false;
    }
  };
  dialog.showModal();
}

function evaluation(beforeAfter, canvas) {
  if (!beforeAfter || beforeAfter.status !== 'ok') {
    return element(
      'p',
      { class: 'muted evaluation' },
      NOT_YET[beforeAfter?.status ?? 'no_action'] ?? `No before/after result (${beforeAfter.status}).`,
    );
  }
  const [low, high] = beforeAfter.interval;
  const verdict = beforeAfter.significantDrop
    ? element('p', { class: 'verdict ok' }, `Significant drop: ${change(beforeAfter.theta)} than expected without the fix.`)
    : element('p', { class: 'verdict wait' }, `No significant drop: ${change(beforeAfter.theta)} than expected, within chance.`);
  return element(
    'div',
    { class: 'evaluation' },
    verdict,
    element(
      'p',
      { class: 'muted' },
      `Empirical Bayes before/after, corrected for regression to the mean and for the trend at ${beforeAfter.comparison.sites} comparison sites: ` +
        `after ÷ expected = ${beforeAfter.theta.toFixed(2)} (95% interval ${low.toFixed(2)}–${high.toFixed(2)}). ` +
        `A naive before/after comparison would say ${change(beforeAfter.naiveRatio)}.`,
    ),
    element(
      'figure',
      { class: 'chart' },
      element('figcaption', {}, `Events a day: before (${beforeAfter.before.days} days) and after (${beforeAfter.after.days} days)`),
      element('div', { class: 'chart-box short' }, canvas),
    ),
  );
}

function facts(remediation) {
  const rows = [
    ['Status', element('span', { class: `badge case-${remediation.status}` }, remediation.status)],
    ['Suspected cause', words(remediation.suspectedCause)],
    ['Opened', formatDate(remediation.openedAt), ` by ${remediation.openedBy}`],
  ];
  if (remediation.note) rows.push(['Note', remediation.note]);
  if (remediation.actionDate) rows.push(['Action taken', `${dayLabel(remediation.actionDate, true)}: ${remediation.actionTaken}`]);
  if (remediation.closedAt) {
    rows.push([
      remediation.status === 'fixed' ? 'Closed as fixed' : 'Dismissed',
      formatDate(remediation.closedAt),
      ` by ${remediation.closedBy}: ${remediation.closingReason}`,
    ]);
  }
  return element(
    'dl',
    { class: 'facts' },
    ...rows.flatMap(([term, ...description]) => [element('dt', {}, term), element('dd', {}, ...description)]),
  );
}

function button(text, className, onClick) {
  const node = element('button', { type: 'button', class: className }, text);
  node.addEventListener('click', onClick);
  return node;
}

/**
 * Draws the case of `hotspot` (`remediation`: the case with `beforeAfter`, or null) into
 * `container`; `onChange()` runs after each change the server accepted.
 */
export function renderCase(container, { hotspot, remediation, onChange }) {
  const post = async (path, body) => {
    await api(path, { method: 'POST', body });
    onChange();
  };

  if (!remediation) {
    const open = button('Open a case', '', () =>
      ask({
        title: `Open a case: ${placeOf(hotspot)}, ${words(hotspot.violationType)}`,
        explain: 'Record what you suspect causes the violations here, so the cause can be fixed rather than fined for ever.',
        fields: [
          field('case-cause', 'Suspected cause', causeSelect()),
          field('case-note', 'What points to it (optional)', textArea('note', { maxLength: 2000 })),
        ],
        submitLabel: 'Open case',
        submit: (data) =>
          post('/api/analytics/remediation-cases', {
            scope: hotspot.scope,
            siteId: hotspot.siteId,
            violationType: hotspot.violationType,
            suspectedCause: data.get('suspectedCause'),
            ...(data.get('note') ? { note: data.get('note') } : {}),
          }),
      }),
    );
    container.replaceChildren(
      element('p', { class: 'muted' }, 'No case on this site and violation type.'),
      element('div', { class: 'actions' }, open),
    );
    return;
  }

  const canvas = element('canvas', { id: 'before-after-chart' });
  const buttons = [];
  if (remediation.status === 'open') {
    const path = `/api/analytics/remediation-cases/${remediation.id}`;
    buttons.push(
      button(remediation.actionDate ? 'Change the action taken' : 'Record action taken', '', () =>
        ask({
          title: 'Record the action taken',
          explain: 'The before/after comparison splits the counts on this date.',
          fields: [
            field(
              'action-taken',
              'What was done (3–2000 characters)',
              textArea('actionTaken', { minLength: 3, maxLength: 2000 }),
              'e.g. dashed lane line and painted text added',
            ),
            field('action-date', 'Done on', element('input', { type: 'date', name: 'actionDate', required: '', max: localToday() })),
            field('action-cause', 'Suspected cause', causeSelect(remediation.suspectedCause)),
          ],
          submitLabel: 'Save action',
          submit: (data) =>
            post(`${path}/action`, {
              actionTaken: data.get('actionTaken'),
              actionDate: data.get('actionDate'),
              suspectedCause: data.get('suspectedCause'),
            }),
        }),
      ),
    );
    // Fixed means a recorded action worked; without one there is nothing to call fixed.
    if (remediation.actionDate) {
      buttons.push(
        button('Close as fixed', 'quiet', () =>
          ask({
            title: 'Close the case as fixed',
            fields: [
              field('fixed-reason', 'Why it counts as fixed (3–500 characters)', textArea('reason', { minLength: 3, maxLength: 500 })),
            ],
            submitLabel: 'Close as fixed',
            submit: (data) => post(`${path}/close`, { outcome: 'fixed', reason: data.get('reason') }),
          }),
        ),
      );
    }
    buttons.push(
      button('Dismiss', 'quiet', () =>
        ask({
          title: 'Dismiss the case',
          explain: 'For a case that needs no fix at the source, e.g. the count reflects a planned enforcement campaign.',
          fields: [field('dismiss-reason', 'Reason (3–500 characters)', textArea('reason', { minLength: 3, maxLength: 500 }))],
          submitLabel: 'Dismiss case',
          danger: true,
          submit: (data) => post(`${path}/close`, { outcome: 'dismissed', reason: data.get('reason') }),
        }),
      ),
    );
  }

  container.replaceChildren(
    element('div', { class: 'case-grid' }, facts(remediation), evaluation(remediation.beforeAfter, canvas)),
    buttons.length > 0 ? element('div', { class: 'actions' }, ...buttons) : '',
  );
  if (remediation.beforeAfter?.status === 'ok') drawBeforeAfter(canvas, remediation.beforeAfter);
}
