// The login form: on success, back to the page that sent the person here, or to the one their work starts on.

const form = document.getElementById('login-form');
const username = document.getElementById('username');
const password = document.getElementById('password');
const errorLine = document.getElementById('login-error');
const submit = document.getElementById('login-submit');

/** Where each kind of work starts, first match wins; everyone else lands on the capture list. */
const LANDINGS = [
  { anyOf: ['review.decide', 'review.prescreen'], page: '/review.html' },
  { anyOf: ['devices.manage'], page: '/devices.html' },
  { anyOf: ['people.manage'], page: '/people.html' },
  { anyOf: ['analytics.read'], page: '/analytics.html' },
];

function landingFor(person) {
  return LANDINGS.find(({ anyOf }) => anyOf.some((permission) => person.permissions.includes(permission)))?.page ?? '/';
}

/** `?next=` only when it names a page of this server, so a crafted link cannot send someone elsewhere after they log in. */
function requestedPage() {
  const next = new URLSearchParams(location.search).get('next');
  if (!next?.startsWith('/')) return undefined;
  const url = new URL(next, location.origin);
  if (url.origin !== location.origin || url.pathname === '/login.html') return undefined;
  return `${url.pathname}${url.search}${url.hash}`;
}

function refusal(response) {
  if (response.status === 401) return 'Wrong username or password.';
  if (response.status === 429) {
    const seconds = Number(response.headers.get('retry-after'));
    const minutes = Math.ceil(seconds / 60);
    const wait = seconds > 90 ? `in ${minutes} minutes` : seconds > 0 ? `in ${seconds} second${seconds === 1 ? '' : 's'}` : 'in a minute';
    return `Too many login attempts from this computer. Try again ${wait}.`;
  }
  return `The server could not log you in (${response.status} ${response.statusText}). Try again in a moment.`;
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  submit.disabled = true;
  errorLine.textContent = '';
  for (const input of [username, password]) input.removeAttribute('aria-invalid');
  try {
    const response = await fetch('/api/session', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: username.value.trim(), password: password.value }),
    });
    if (response.ok) {
      const { person } = await response.json();
      location.replace(requestedPage() ?? landingFor(person));
      return;
    }
    errorLine.textContent = refusal(response);
    if (response.status === 401) for (const input of [username, password]) input.setAttribute('aria-invalid', 'true');
    password.value = '';
    password.focus();
  } catch {
    errorLine.textContent = 'The server cannot be reached. Check the connection and try again.';
  } finally {
    submit.disabled = false;
  }
});
