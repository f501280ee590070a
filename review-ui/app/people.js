// People administration: who may log in, with which roles, certificates and devices.
import { element, formatDate, words } from './dom.js';
import { openPage, showRefusal } from './page.js';
import { api } from './session.js';

const DAY_MS = 24 * 3600 * 1000;
const EXPIRY_WARNING_DAYS = 30;

// Words for people; which roles exist and which need a certificate comes from GET /api/roles.
const ROLE_WORDING = {
  reviewer: { label: 'Reviewer', hint: 'decides on captures' },
  legal_reviewer: { label: 'Legal reviewer', hint: 'also decides escalated captures' },
  auxiliary: { label: 'Auxiliary staff', hint: 'pre-screens captures, never decides' },
  auditor: { label: 'Auditor', hint: 'reads the audit log and evidence' },
  analyst: { label: 'Analyst', hint: 'aggregates only, no images' },
  device_admin: { label: 'Device administrator', hint: 'enrols devices, records malfunction windows' },
  system_admin: { label: 'System administrator', hint: 'manages people' },
};
let roleChoices = [];
let certifiedRoles = [];

const status = document.getElementById('status');
const view = document.getElementById('people-view');
const peopleBody = document.querySelector('#people tbody');
const createForm = document.getElementById('create-form');
const createError = document.getElementById('create-error');
const createSubmit = document.getElementById('create-submit');
const editDialog = document.getElementById('edit-dialog');
const editForm = document.getElementById('edit-form');
const editTitle = document.getElementById('edit-title');
const editName = document.getElementById('edit-name');
const editError = document.getElementById('edit-error');
const editSubmit = document.getElementById('edit-submit');
const passwordDialog = document.getElementById('password-dialog');
const passwordForm = document.getElementById('password-form');
const passwordTitle = document.getElementById('password-title');
const passwordInput = document.getElementById('new-password');
const passwordError = document.getElementById('password-error');
const passwordSubmit = document.getElementById('password-submit');
const loginDialog = document.getElementById('login-dialog');
const loginForm = document.getElementById('login-form');
const loginTitle = document.getElementById('login-title');
const loginConsequence = document.getElementById('login-consequence');
const loginReason = document.getElementById('login-reason');
const loginError = document.getElementById('login-error');
const loginSubmit = document.getElementById('login-submit');

const me = await openPage();
let people = [];
let editing;
let confirming;
let createFields;
let editFields;

// <input type="date"> speaks the browser's calendar day; a certificate is valid to the end of that day there.
function endOfLocalDay(value) {
  return new Date(`${value}T23:59:59.999`).toISOString();
}

function localDay(iso) {
  const date = new Date(iso);
  return new Date(date.getTime() - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 10);
}

function expiryBadge(expiresAt) {
  const daysLeft = Math.ceil((new Date(expiresAt).getTime() - Date.now()) / DAY_MS);
  if (daysLeft <= 0) return element('span', { class: 'badge expired' }, 'expired');
  const tone = daysLeft <= EXPIRY_WARNING_DAYS ? 'expiring' : 'valid';
  return element('span', { class: `badge ${tone}` }, `expires in ${daysLeft} day${daysLeft === 1 ? '' : 's'}`);
}

function certificateCell(certificate) {
  if (!certificate) return element('td', { class: 'muted' }, 'none');
  return element(
    'td',
    {},
    element('code', {}, certificate.number),
    element('div', { class: 'cert-expiry' }, formatDate(certificate.expiresAt), ' ', expiryBadge(certificate.expiresAt)),
  );
}

// Locks last minutes, not days: the time of day says it, on the 24-hour clock people read in logs.
const clock = (iso) => new Date(iso).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });

const addressCount = (count) => `${count} address${count === 1 ? '' : 'es'}`;

/** Wrong passwords used up a login's attempts somewhere: the admin sees it before the person phones. */
function lockNote(lock) {
  if (!lock) return [];
  return [
    element(
      'div',
      { class: 'lock-note' },
      element('span', { class: 'badge locked' }, 'Locked until ', element('time', { datetime: lock.until }, clock(lock.until))),
      element('small', { class: 'muted' }, `at ${addressCount(lock.addresses)}`),
    ),
  ];
}

function rowActions(person) {
  const edit = element('button', { type: 'button', class: 'quiet', 'aria-label': `Edit ${person.username}` }, 'Edit');
  edit.addEventListener('click', () => openEdit(person));
  const password = element(
    'button',
    { type: 'button', class: 'quiet', 'aria-label': `Set password for ${person.username}` },
    'Set password',
  );
  password.addEventListener('click', () => openPassword(person));
  const buttons = [edit, password];
  if (person.loginLock) {
    const unlock = element('button', { type: 'button', 'aria-label': `Clear lock of ${person.username}` }, 'Clear lock');
    unlock.addEventListener('click', () => openConfirmation(person, clearingLock(person)));
    buttons.push(unlock);
  }
  // Disabling yourself would lock you out of this page mid-task.
  if (person.username !== me.username) {
    const verb = person.disabledAt ? 'Enable' : 'Disable';
    const toggle = element(
      'button',
      { type: 'button', class: person.disabledAt ? '' : 'quiet', 'aria-label': `${verb} ${person.username}` },
      verb,
    );
    toggle.addEventListener('click', () => openConfirmation(person, changingLogin(person)));
    buttons.push(toggle);
  }
  return element('td', {}, element('div', { class: 'actions' }, ...buttons));
}

function renderPeople() {
  peopleBody.replaceChildren(
    ...people.map((person) =>
      element(
        'tr',
        { 'data-username': person.username, class: person.disabledAt ? 'disabled-row' : '' },
        element('th', { scope: 'row' }, person.username),
        element('td', {}, person.displayName),
        element(
          'td',
          {},
          element('ul', { class: 'role-list' }, ...person.roles.map((role) => element('li', {}, ROLE_WORDING[role]?.label ?? words(role)))),
        ),
        certificateCell(person.certificate),
        element(
          'td',
          person.administeredDeviceIds.length ? {} : { class: 'muted' },
          person.administeredDeviceIds.length ? person.administeredDeviceIds.join(', ') : 'none',
        ),
        element(
          'td',
          {},
          person.disabledAt
            ? element('span', { class: 'badge revoked' }, 'disabled')
            : element('span', { class: 'badge enabled' }, 'active'),
          ...lockNote(person.loginLock),
        ),
        rowActions(person),
      ),
    ),
  );
}

/**
 * Roles, certificate and devices administered, shared by the create form and the edit dialog.
 * The certificate fields appear, and become required, only for roles that decide on evidence.
 */
function personFields(container, prefix, devices) {
  const roleBoxes = roleChoices.map(({ role }) =>
    element('input', { type: 'checkbox', name: 'roles', value: role, id: `${prefix}-role-${role}` }),
  );
  const rolesFieldset = element(
    'fieldset',
    {},
    element('legend', {}, 'Roles'),
    element(
      'div',
      { class: 'choices' },
      ...roleChoices.map(({ role, label, hint }, index) =>
        element(
          'label',
          { class: 'check', for: `${prefix}-role-${role}` },
          roleBoxes[index],
          element('span', {}, label, element('small', { class: 'muted' }, hint)),
        ),
      ),
    ),
  );
  const number = element('input', { type: 'text', id: `${prefix}-cert-number`, minlength: '3', maxlength: '64', autocomplete: 'off' });
  const expires = element('input', { type: 'date', id: `${prefix}-cert-expires` });
  const certificateFieldset = element(
    'fieldset',
    {},
    element('legend', {}, 'Enforcement certificate'),
    element('p', { class: 'muted' }, 'Reviewers and legal reviewers may decide only while their certificate is valid.'),
    element(
      'div',
      { class: 'row-fields' },
      element('div', {}, element('label', { for: number.id }, 'Certificate number'), number),
      element('div', {}, element('label', { for: expires.id }, 'Valid until'), expires),
    ),
  );
  const deviceBoxes = devices.map((device) =>
    element('input', { type: 'checkbox', name: 'devices', value: device.id, id: `${prefix}-device-${device.id}` }),
  );
  const devicesFieldset = element(
    'fieldset',
    {},
    element('legend', {}, 'Devices administered'),
    element('p', { class: 'muted' }, 'They may not review captures from these devices.'),
    deviceBoxes.length
      ? element(
          'div',
          { class: 'choices devices' },
          ...deviceBoxes.map((box, index) =>
            element('label', { class: 'check', for: box.id }, box, element('code', {}, devices[index].id)),
          ),
        )
      : element('p', { class: 'muted' }, 'No device is enrolled yet.'),
  );
  container.replaceChildren(rolesFieldset, certificateFieldset, devicesFieldset);

  const ticked = (boxes) => boxes.filter((box) => box.checked).map((box) => box.value);
  const needsCertificate = () => ticked(roleBoxes).some((role) => certifiedRoles.includes(role));
  function sync() {
    const needed = needsCertificate();
    certificateFieldset.hidden = !needed;
    number.required = needed;
    expires.required = needed;
    roleBoxes[0].setCustomValidity(ticked(roleBoxes).length ? '' : 'Tick at least one role.');
  }
  for (const box of roleBoxes) box.addEventListener('change', sync);
  sync();

  return {
    set(person) {
      for (const box of roleBoxes) box.checked = person.roles.includes(box.value);
      for (const box of deviceBoxes) box.checked = person.administeredDeviceIds.includes(box.value);
      number.value = person.certificate?.number ?? '';
      expires.value = person.certificate ? localDay(person.certificate.expiresAt) : '';
      sync();
    },
    /** What the form says; `certificate` is undefined when its fields are hidden. */
    value() {
      return {
        roles: ticked(roleBoxes),
        certificate: needsCertificate() ? { number: number.value.trim(), expiresAt: endOfLocalDay(expires.value) } : undefined,
        administeredDeviceIds: ticked(deviceBoxes),
      };
    },
  };
}

async function loadPeople() {
  ({ people } = await api('/api/people'));
  renderPeople();
}

function changingLogin(person) {
  const disabling = !person.disabledAt;
  return {
    title: `${disabling ? 'Disable' : 'Enable'} ${person.username}?`,
    consequence: disabling
      ? `${person.displayName} can no longer log in, and every session they have open ends now.`
      : `${person.displayName} may log in again with their current password.`,
    confirm: disabling ? 'Disable login' : 'Enable login',
    danger: disabling,
    send: (reason) => api(`/api/people/${person.id}`, { method: 'PATCH', body: { disabled: disabling, reason } }),
    done: disabling ? `${person.username} is disabled and can no longer log in` : `${person.username} may log in again`,
    // The button that undoes it, where the one pressed was.
    focusAfter: `button[aria-label^="${disabling ? 'Enable' : 'Disable'}"]`,
  };
}

function clearingLock(person) {
  return {
    title: `Clear the login lock of ${person.username}?`,
    consequence:
      `Wrong passwords locked this login at ${addressCount(person.loginLock.addresses)} until ${clock(person.loginLock.until)}. ` +
      `Whoever is there may try again at once: clear it only when you know it was ${person.displayName}.`,
    confirm: 'Clear lock',
    danger: false,
    send: (reason) => api(`/api/people/${person.id}/login-lock/clear`, { method: 'POST', body: { reason } }),
    done: `${person.username} may log in again at once`,
    // The button pressed is gone with the lock: the row's first one stands in for it.
    focusAfter: 'button',
  };
}

/**
 * Disabling or enabling a login, or clearing its lock, asks first and takes a reason: one stray
 * keypress must not lock a colleague out, nor let a guesser back in.
 */
function openConfirmation(person, action) {
  editing = person;
  confirming = action;
  loginTitle.textContent = action.title;
  loginConsequence.textContent = action.consequence;
  loginSubmit.textContent = action.confirm;
  loginSubmit.className = action.danger ? 'danger' : '';
  loginReason.value = '';
  loginError.textContent = '';
  loginDialog.showModal();
  loginReason.focus();
}

function openEdit(person) {
  editing = person;
  editTitle.textContent = `Edit ${person.username}`;
  editName.value = person.displayName;
  editFields.set(person);
  editError.textContent = '';
  editDialog.showModal();
  editName.focus();
}

function openPassword(person) {
  editing = person;
  passwordTitle.textContent = `New password for ${person.username}`;
  passwordInput.value = '';
  passwordError.textContent = '';
  passwordDialog.showModal();
  passwordInput.focus();
}

/** Runs a form's request with its button disabled, showing the server's refusal in the form. */
async function submitting(button, errorLine, work) {
  button.disabled = true;
  errorLine.textContent = '';
  try {
    await work();
    return true;
  } catch (error) {
    errorLine.textContent = error.message;
    return false;
  } finally {
    button.disabled = false;
  }
}

function focusRow(username) {
  document.querySelector(`tr[data-username="${CSS.escape(username)}"] button`)?.focus();
}

try {
  // Only to offer devices to tick; people can be managed without the list.
  const { devices } = await api('/api/devices').catch(() => ({ devices: [] }));
  const { roles } = await api('/api/roles');
  roleChoices = roles.map(({ role }) => ({ role, label: ROLE_WORDING[role]?.label ?? words(role), hint: ROLE_WORDING[role]?.hint ?? '' }));
  certifiedRoles = roles.filter((entry) => entry.needsCertificate).map((entry) => entry.role);
  await loadPeople();
  createFields = personFields(document.getElementById('create-fields'), 'create', devices);
  editFields = personFields(document.getElementById('edit-fields'), 'edit', devices);
  view.hidden = false;
} catch (error) {
  if (error.status === 403) showRefusal(error);
  else status.textContent = `could not load people: ${error.message}`;
}

createForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const fields = createFields.value();
  const username = createForm.elements.username.value.trim();
  const done = await submitting(createSubmit, createError, () =>
    api('/api/people', {
      method: 'POST',
      body: {
        username,
        displayName: createForm.elements.displayName.value.trim(),
        password: createForm.elements.password.value,
        roles: fields.roles,
        certificate: fields.certificate ?? null,
        administeredDeviceIds: fields.administeredDeviceIds,
      },
    }),
  );
  if (!done) return;
  createForm.reset();
  createFields.set({ roles: [], administeredDeviceIds: [], certificate: null });
  await loadPeople();
  status.textContent = `${username} added; they can log in now`;
  focusRow(username);
});

editForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const person = editing;
  const done = await submitting(editSubmit, editError, () =>
    api(`/api/people/${person.id}`, { method: 'PATCH', body: { displayName: editName.value.trim(), ...editFields.value() } }),
  );
  if (!done) return;
  editDialog.close();
  await loadPeople();
  status.textContent = `${person.username} saved`;
  focusRow(person.username);
});

passwordForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const person = editing;
  const done = await submitting(passwordSubmit, passwordError, () =>
    api(`/api/people/${person.id}/password`, { method: 'POST', body: { password: passwordInput.value } }),
  );
  if (!done) return;
  passwordDialog.close();
  status.textContent = `new password set for ${person.username}; their open sessions have ended`;
  focusRow(person.username);
});

loginForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const person = editing;
  const action = confirming;
  const done = await submitting(loginSubmit, loginError, () => action.send(loginReason.value.trim()));
  if (!done) return;
  loginDialog.close();
  await loadPeople();
  status.textContent = action.done;
  document.querySelector(`tr[data-username="${CSS.escape(person.username)}"] ${action.focusAfter}`)?.focus();
});

for (const button of document.querySelectorAll('dialog [data-close]')) {
  button.addEventListener('click', () => button.closest('dialog').close());
}
