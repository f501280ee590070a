// The operator's device registry: fleet standing, certificates about to lapse, and status changes.
import { element, formatDate, words } from './dom.js';
import { mayUse, openPage, showRefusal } from './page.js';
import { api } from './session.js';

const EXPIRY_DAYS = 30;

const ACTIONS = [
  { name: 'Enable', status: 'enabled', allowedFrom: ['disabled'] },
  { name: 'Disable', status: 'disabled', allowedFrom: ['enabled'] },
  { name: 'Revoke', status: 'revoked', allowedFrom: ['enabled', 'disabled'], final: true },
];

const status = document.getElementById('status');
const registry = document.getElementById('registry');
const fleetBody = document.querySelector('#fleet tbody');
const fleetEmpty = document.getElementById('fleet-empty');
const expiringTable = document.getElementById('expiring');
const expiringEmpty = document.getElementById('expiring-empty');
const dialog = document.getElementById('action-dialog');
const actionForm = document.getElementById('action-form');
const actionTitle = document.getElementById('action-title');
const actionWarning = document.getElementById('action-warning');
const actionReason = document.getElementById('action-reason');
const actionConfirmLabel = document.getElementById('action-confirm-label');
const actionConfirmCheck = document.getElementById('action-confirm-check');
const actionError = document.getElementById('action-error');
const actionSubmit = document.getElementById('action-submit');

let pending;

const person = await openPage();
// Analysts, auditors and system administrators may look at the registry; only device administrators change it.
const mayManage = mayUse(person, 'devices.manage');
document.getElementById('actions-heading').hidden = !mayManage;

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
  const allowed = ACTIONS.filter((action) => action.allowedFrom.includes(device.status));
  if (allowed.length === 0) return element('td', { class: 'muted' }, 'none: revocation is final');
  return element(
    'td',
    {},
    element(
      'div',
      { class: 'actions' },
      ...allowed.map((action) => {
        const button = element(
          'button',
          { type: 'button', class: action.final ? 'danger' : '', 'aria-label': `${action.name} ${device.id}` },
          action.name,
        );
        button.addEventListener('click', () => openAction(device, action));
        return button;
      }),
    ),
  );
}

function renderFleet(devices) {
  fleetBody.replaceChildren(
    ...devices.map((device) =>
      element(
        'tr',
        { 'data-device-id': device.id },
        element('th', { scope: 'row' }, device.id),
        element('td', { class: 'nowrap' }, words(device.kind)),
        element('td', {}, `${device.road}, ${device.direction}`),
        element('td', {}, element('span', { class: `badge ${device.status}` }, device.status)),
        certifiedCell(device),
        element('td', {}, element('code', { title: `SHA-256 ${device.keyFingerprint}` }, `${device.keyFingerprint.slice(0, 12)}…`)),
        ...(mayManage ? [actionsCell(device)] : []),
      ),
    ),
  );
  fleetEmpty.hidden = devices.length > 0;
}

function renderExpiring(certifications) {
  expiringTable.tBodies[0].replaceChildren(
    ...certifications.map((certification) =>
      element(
        'tr',
        {},
        element('th', { scope: 'row' }, certification.deviceId),
        element('td', {}, words(certification.kind)),
        element('td', {}, certification.reference),
        element('td', { class: 'nowrap' }, formatDate(certification.validTo)),
        element('td', { class: certification.daysLeft <= 7 ? 'bad' : '' }, String(certification.daysLeft)),
      ),
    ),
  );
  expiringTable.hidden = certifications.length === 0;
  expiringEmpty.hidden = certifications.length > 0;
}

async function load() {
  try {
    const [fleet, expiring] = await Promise.all([api('/api/devices'), api(`/api/certifications/expiring?days=${EXPIRY_DAYS}`)]);
    registry.hidden = false;
    renderFleet(fleet.devices);
    renderExpiring(expiring.certifications);
    status.textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    if (error.status === 403) showRefusal(error);
    else status.textContent = `could not load the registry: ${error.message}`;
  }
}

function openAction(device, action) {
  pending = { device, action };
  actionTitle.textContent = `${action.name} ${device.id}`;
  actionWarning.hidden = !action.final;
  actionConfirmLabel.hidden = !action.final;
  actionConfirmCheck.required = Boolean(action.final);
  actionConfirmCheck.checked = false;
  actionSubmit.textContent = action.final ? 'Revoke permanently' : action.name;
  actionSubmit.className = action.final ? 'danger' : '';
  actionReason.value = '';
  actionError.textContent = '';
  dialog.showModal();
  actionReason.focus();
}

actionForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const { device, action } = pending;
  actionSubmit.disabled = true;
  try {
    await api(`/api/devices/${encodeURIComponent(device.id)}/status`, {
      method: 'POST',
      body: { status: action.status, reason: actionReason.value },
    });
    dialog.close();
    await load();
    status.textContent = `${device.id} is now ${action.status}`;
    // The row was re-rendered, so put keyboard focus back where the operator was working.
    document.querySelector(`tr[data-device-id="${CSS.escape(device.id)}"] button`)?.focus();
  } catch (error) {
    actionError.textContent = error.message;
  } finally {
    actionSubmit.disabled = false;
  }
});

document.getElementById('action-cancel').addEventListener('click', () => dialog.close());

await load();
