// The operator's device registry: fleet standing, certificates about to lapse or awaiting a second
// person, and every change a device administrator makes (each one audited by the server).
import { openDialog, replaceDialog, wireDialogs } from './dialog-focus.js';
import { element, formatDate, formatMoment, fromLocalInput, toLocalInput, words } from './dom.js';
import { clearErrors, showErrors } from './form-errors.js';
import { mayUse, openPage, showRefusal } from './page.js';
import { api } from './session.js';

const EXPIRY_DAYS = 30;

const ACTIONS = [
  { name: 'Enable', status: 'enabled', allowedFrom: ['disabled'] },
  { name: 'Disable', status: 'disabled', allowedFrom: ['enabled'] },
  { name: 'Revoke', status: 'revoked', allowedFrom: ['enabled', 'disabled'], final: true },
];

const byId = (id) => document.getElementById(id);
const status = byId('status');
const fleetBody = document.querySelector('#fleet tbody');
const expiringTable = byId('expiring');
const pendingTable = byId('pending');

const person = await openPage();
// Analysts, auditors and system administrators may look at the registry; only device administrators change it.
const mayManage = mayUse(person, 'devices.manage');
for (const id of ['actions-heading', 'expiring-actions-heading', 'pending-actions-heading']) byId(id).hidden = !mayManage;
byId('enrol').hidden = !mayManage;
wireDialogs();

/** Where focus goes back to after a change to a device: the button that started it, else its row. */
function rowTargets(deviceId, action) {
  const row = `#fleet tr[data-device-id="${CSS.escape(deviceId)}"]`;
  return [`${row} button[data-action="${action}"]`, `${row} button`, `${row} th`];
}

function button(label, name, action, onClick, className = '') {
  const node = element('button', { type: 'button', class: className, 'aria-label': name, 'data-action': action }, label);
  node.addEventListener('click', onClick);
  return node;
}

function certifiedCell(device) {
  if (device.certifiedNow)
    return element('td', {}, element('span', { class: 'ok' }, element('span', { 'aria-hidden': 'true' }, '✓ '), 'certified'));
  return element(
    'td',
    {},
    element('span', { class: 'bad' }, element('span', { 'aria-hidden': 'true' }, '✗ '), 'not certified'),
    element(
      'ul',
      { class: 'gaps' },
      ...device.certificationGaps.map((gap) => element('li', {}, `${words(gap.kind)}: ${words(gap.problem)}`)),
    ),
  );
}

function actionsCell(device) {
  if (device.status === 'revoked') return element('td', { class: 'muted' }, 'none: revocation is final');
  const buttons = ACTIONS.filter((action) => action.allowedFrom.includes(device.status)).map((action) =>
    button(action.name, `${action.name} ${device.id}`, 'status', () => openStatus(device, action), action.final ? 'danger' : ''),
  );
  buttons.push(
    button('Record certification', `Record certification for ${device.id}`, 'certify', () => openCertify(device.id)),
    button('Rotate key', `Rotate key of ${device.id}`, 'key', () => openKey(device.id)),
  );
  // Ids starting verity- are the services' own broker accounts, never a device's.
  if (!device.id.startsWith('verity-')) {
    buttons.push(button('New broker password', `New broker password for ${device.id}`, 'broker', () => openBroker(device.id), 'quiet'));
  }
  return element('td', {}, element('div', { class: 'actions' }, ...buttons));
}

function renderFleet(devices) {
  fleetBody.replaceChildren(
    ...devices.map((device) =>
      element(
        'tr',
        { 'data-device-id': device.id },
        element('th', { scope: 'row', tabindex: '-1' }, device.id),
        element('td', { class: 'nowrap' }, words(device.kind)),
        element('td', {}, `${device.road}, ${device.direction}`),
        element('td', {}, element('span', { class: `badge ${device.status}` }, device.status)),
        certifiedCell(device),
        element('td', {}, element('code', { title: `SHA-256 ${device.keyFingerprint}` }, `${device.keyFingerprint.slice(0, 12)}…`)),
        ...(mayManage ? [actionsCell(device)] : []),
      ),
    ),
  );
  byId('fleet-empty').hidden = devices.length > 0;
}

function renderExpiring(certifications) {
  expiringTable.tBodies[0].replaceChildren(
    ...certifications.map((certification) =>
      element(
        'tr',
        { 'data-certification-id': certification.certificationId },
        element('th', { scope: 'row' }, certification.deviceId),
        element('td', {}, words(certification.kind)),
        element('td', {}, certification.reference),
        element('td', { class: 'nowrap' }, formatDate(certification.validTo)),
        element('td', { class: certification.daysLeft <= 7 ? 'bad' : '' }, String(certification.daysLeft)),
        ...(mayManage
          ? [
              element(
                'td',
                {},
                button('Renew', `Renew ${words(certification.kind)} of ${certification.deviceId}`, 'renew', () =>
                  openCertify(certification.deviceId, certification),
                ),
              ),
            ]
          : []),
      ),
    ),
  );
  expiringTable.hidden = certifications.length === 0;
  byId('expiring-empty').hidden = certifications.length > 0;
}

/** Back-dated records nobody has confirmed yet: until a second person does, they count only from their recording. */
function awaitingConfirmation(devices) {
  return devices.flatMap((device) =>
    device.certifications
      .filter((certification) => !certification.confirmedAt && Date.parse(certification.validFrom) < Date.parse(certification.recordedAt))
      .map((certification) => ({ ...certification, deviceId: device.id })),
  );
}

function renderPending(certifications) {
  pendingTable.tBodies[0].replaceChildren(
    ...certifications.map((certification) =>
      element(
        'tr',
        { 'data-certification-id': certification.id },
        element('th', { scope: 'row' }, certification.deviceId),
        element('td', {}, words(certification.kind)),
        element('td', {}, certification.reference),
        element('td', {}, formatMoment(certification.validFrom)),
        element('td', { class: 'nowrap' }, formatDate(certification.validTo)),
        element('td', {}, `${certification.recordedBy ?? 'unknown'}, `, formatMoment(certification.recordedAt)),
        ...(mayManage
          ? [
              element(
                'td',
                {},
                button('Confirm', `Confirm ${certification.reference} of ${certification.deviceId}`, 'confirm', () =>
                  openConfirm(certification),
                ),
              ),
            ]
          : []),
      ),
    ),
  );
  pendingTable.hidden = certifications.length === 0;
  byId('pending-empty').hidden = certifications.length > 0;
}

async function load() {
  try {
    const [fleet, expiring] = await Promise.all([api('/api/devices'), api(`/api/certifications/expiring?days=${EXPIRY_DAYS}`)]);
    byId('registry').hidden = false;
    renderFleet(fleet.devices);
    renderExpiring(expiring.certifications);
    renderPending(awaitingConfirmation(fleet.devices));
    status.textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    if (error.status === 403) showRefusal(error);
    else status.textContent = `could not load the registry: ${error.message}`;
  }
}

/**
 * Sends a form's change with its submit button disabled meanwhile; on success reloads the registry
 * and lets `done` close the dialog and say what happened, otherwise shows the refusal in the form.
 */
function onSubmit(form, prefix, send, done) {
  const submit = form.querySelector('button[type="submit"]');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(prefix, form);
    submit.disabled = true;
    let answer;
    try {
      answer = await send();
    } catch (error) {
      submit.disabled = false;
      showErrors(prefix, error);
      // A button loses focus while disabled; keep the keyboard in the form rather than at the page's start.
      if (!form.contains(document.activeElement)) submit.focus();
      return;
    }
    submit.disabled = false;
    await load();
    done(answer);
  });
}

const actionDialog = byId('action-dialog');
const actionReason = byId('action-reason');
const actionConfirmCheck = byId('action-confirm-check');
let statusChange;

function openStatus(device, action) {
  statusChange = { device, action };
  byId('action-title').textContent = `${action.name} ${device.id}`;
  byId('action-warning').hidden = !action.final;
  byId('action-confirm-label').hidden = !action.final;
  actionConfirmCheck.required = Boolean(action.final);
  actionConfirmCheck.checked = false;
  const submit = byId('action-submit');
  submit.textContent = action.final ? 'Revoke permanently' : action.name;
  submit.className = action.final ? 'danger' : '';
  actionReason.value = '';
  byId('action-error').textContent = '';
  openDialog(actionDialog, rowTargets(device.id, 'status'), actionReason);
}

onSubmit(
  byId('action-form'),
  'action',
  () =>
    api(`/api/devices/${encodeURIComponent(statusChange.device.id)}/status`, {
      method: 'POST',
      body: { status: statusChange.action.status, reason: actionReason.value },
    }),
  () => {
    actionDialog.close();
    status.textContent = `${statusChange.device.id} is now ${statusChange.action.status}`;
  },
);

const secretDialog = byId('secret-dialog');
const secretUsername = byId('secret-username');
const secretPassword = byId('secret-password');
const secretCopied = byId('secret-copied');

/** The one sight of a broker password: the server keeps only its hash, and the page forgets it on closing. */
function showSecret(broker, deviceId, from) {
  byId('secret-title').textContent = `Broker login for ${deviceId}`;
  secretUsername.value = broker.username;
  secretPassword.value = broker.password;
  secretCopied.textContent = '';
  if (from) replaceDialog(from, secretDialog, secretPassword);
  else openDialog(secretDialog, rowTargets(deviceId, 'certify'), secretPassword);
  secretPassword.select();
}

byId('secret-copy').addEventListener('click', async () => {
  try {
    await navigator.clipboard.writeText(secretPassword.value);
    secretCopied.textContent = 'Copied to the clipboard.';
  } catch {
    secretPassword.select();
    secretCopied.textContent = 'The browser refused to copy: the password is selected, press Ctrl+C.';
  }
});
secretDialog.addEventListener('close', () => {
  secretUsername.value = '';
  secretPassword.value = '';
  secretCopied.textContent = '';
});

const enrolForm = byId('enrol-form');
const enrolValue = (name) => byId(`enrol-${name}`).value;
const enrolNumber = (name) => (enrolValue(name) === '' ? null : Number(enrolValue(name)));

onSubmit(
  enrolForm,
  'enrol',
  async () => {
    const deviceId = enrolValue('deviceId').trim();
    const body = {
      kind: enrolValue('kind'),
      model: enrolValue('model').trim(),
      serial: enrolValue('serial').trim(),
      agency: enrolValue('agency').trim(),
      road: enrolValue('road').trim(),
      direction: enrolValue('direction').trim(),
      latitude: enrolNumber('latitude'),
      longitude: enrolNumber('longitude'),
      publicKeyPem: enrolValue('publicKeyPem').trim(),
    };
    // An empty id would address the collection instead; the route's own check says what an id may be.
    const answer = await api(`/api/devices/${encodeURIComponent(deviceId || ' ')}`, { method: 'PUT', body });
    return answer;
  },
  (answer) => {
    if (answer.outcome === 'unchanged') {
      status.textContent = `${answer.id} was already enrolled with these details; nothing changed, and no password was issued`;
      return;
    }
    enrolForm.reset();
    status.textContent = `${answer.id} enrolled`;
    if (answer.broker) showSecret(answer.broker, answer.id);
    else byId(`enrol-deviceId`).focus();
  },
);

const certifyDialog = byId('certify-dialog');
const certifyKind = byId('certify-kind');
const certifyReference = byId('certify-reference');
const certifyFrom = byId('certify-validFrom');
const certifyTo = byId('certify-validTo');
const certifyDocument = byId('certify-documentSha256');
let certifying;

/** Records a certification for the device; a renewal starts where the lapsing one ends and runs a year. */
function openCertify(deviceId, renewing) {
  certifying = deviceId;
  const form = byId('certify-form');
  form.reset();
  clearErrors('certify', form);
  if (renewing) {
    byId('certify-title').textContent = `Renew ${words(renewing.kind)} ${renewing.reference} of ${deviceId}`;
    certifyKind.value = renewing.kind;
    const from = new Date(renewing.validTo);
    const to = new Date(from);
    to.setFullYear(to.getFullYear() + 1);
    certifyFrom.value = toLocalInput(from);
    certifyTo.value = toLocalInput(to);
    const fromList = `#expiring tr[data-certification-id="${CSS.escape(renewing.certificationId)}"] button`;
    openDialog(certifyDialog, [fromList, ...rowTargets(deviceId, 'certify')], certifyReference);
  } else {
    byId('certify-title').textContent = `Record a certification for ${deviceId}`;
    openDialog(certifyDialog, rowTargets(deviceId, 'certify'), certifyKind);
  }
}

onSubmit(
  byId('certify-form'),
  'certify',
  () => {
    const documentSha256 = certifyDocument.value.trim();
    return api(`/api/devices/${encodeURIComponent(certifying)}/certifications`, {
      method: 'POST',
      body: {
        kind: certifyKind.value,
        reference: certifyReference.value.trim(),
        validFrom: fromLocalInput(certifyFrom.value),
        validTo: fromLocalInput(certifyTo.value),
        ...(documentSha256 ? { documentSha256 } : {}),
      },
    });
  },
  (answer) => {
    const reference = certifyReference.value.trim();
    certifyDialog.close();
    status.textContent = answer.needsConfirmation
      ? `${reference} recorded for ${certifying}: it is back-dated, so it awaits a second person's confirmation`
      : `${reference} recorded for ${certifying}`;
  },
);

const keyDialog = byId('key-dialog');
const keyPem = byId('key-publicKeyPem');
const keyReason = byId('key-reason');
let rotating;

function openKey(deviceId) {
  rotating = deviceId;
  const form = byId('key-form');
  form.reset();
  clearErrors('key', form);
  byId('key-title').textContent = `Rotate key of ${deviceId}`;
  openDialog(keyDialog, rowTargets(deviceId, 'key'), keyPem);
}

onSubmit(
  byId('key-form'),
  'key',
  () =>
    api(`/api/devices/${encodeURIComponent(rotating)}/keys`, {
      method: 'POST',
      body: { publicKeyPem: keyPem.value.trim(), reason: keyReason.value },
    }),
  () => {
    keyDialog.close();
    status.textContent = `${rotating} has a new key; captures it takes from now on must be signed with it`;
  },
);

const brokerDialog = byId('broker-dialog');
let issuingFor;

function openBroker(deviceId) {
  issuingFor = deviceId;
  byId('broker-title').textContent = `New broker password for ${deviceId}`;
  byId('broker-error').textContent = '';
  openDialog(brokerDialog, rowTargets(deviceId, 'broker'), byId('broker-submit'));
}

onSubmit(
  byId('broker-form'),
  'broker',
  () => api(`/api/devices/${encodeURIComponent(issuingFor)}/broker-password`, { method: 'POST' }),
  (answer) => {
    status.textContent = `${issuingFor} has a new broker password`;
    showSecret(answer.broker, issuingFor, brokerDialog);
  },
);

const confirmDialog = byId('confirm-dialog');
let confirming;

function openConfirm(certification) {
  confirming = certification;
  byId('confirm-title').textContent = `Confirm ${certification.reference} of ${certification.deviceId}`;
  byId('confirm-explain').textContent =
    `${words(certification.kind)} ${certification.reference}, valid from ${new Date(certification.validFrom).toLocaleString()}, ` +
    `was recorded later, by ${certification.recordedBy ?? 'someone unknown'} at ${new Date(certification.recordedAt).toLocaleString()}. ` +
    'Confirm it only if you have seen the certificate: it then counts from its start, and captures quarantined only for the lapse it covers are screened again.';
  byId('confirm-error').textContent = '';
  const row = `#pending tr[data-certification-id="${CSS.escape(certification.id)}"] button`;
  openDialog(confirmDialog, [row, ...rowTargets(certification.deviceId, 'certify')], byId('confirm-submit'));
}

onSubmit(
  byId('confirm-form'),
  'confirm',
  () => api(`/api/certifications/${encodeURIComponent(confirming.id)}/confirm`, { method: 'POST' }),
  (answer) => {
    confirmDialog.close();
    const readmitted = answer.readmitted.length;
    status.textContent = `${confirming.reference} of ${confirming.deviceId} confirmed; ${readmitted} quarantined capture${readmitted === 1 ? '' : 's'} re-admitted`;
  },
);

await load();
