// Every page's one way to call the API. The session cookie travels by itself; a change also
// carries the session's CSRF token, which a forged cross-site form cannot know.

const SAFE_METHODS = new Set(['GET', 'HEAD']);

/** A refusal or failure from the server, carrying its explanation so the page can show it as is. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** A request the server did not answer in time. */
export class RequestTimeout extends Error {}

/** How long a request may take before the page stops waiting and says so, rather than hanging on a dead connection. */
export const REQUEST_TIMEOUT_MS = 15_000;

/** The login page, set to come back to `next` (by default this page) afterwards. */
export function loginPath(next = `${location.pathname}${location.search}`) {
  return `/login.html?next=${encodeURIComponent(next)}`;
}

// Never settles: the page is on its way to the login form, and no caller should report an error meanwhile.
function goToLogin() {
  location.assign(loginPath());
  return new Promise(() => {});
}

async function errorOf(response) {
  const body = await response.json().catch(() => null);
  // Our routes answer { error }; fastify's own errors (validation, rate limit) put the detail in `message`.
  return new ApiError(response.status, body?.message ?? body?.error ?? `${response.status} ${response.statusText}`);
}

let session;
// Kept as a plain value too, for requests sent while the page unloads, when nothing may be awaited.
let knownCsrfToken;

function readSession() {
  return fetch('/api/session', { credentials: 'same-origin' }).then(async (response) => {
    if (response.status === 401) return goToLogin();
    if (!response.ok) throw await errorOf(response);
    const body = await response.json();
    knownCsrfToken = body.csrfToken;
    return body;
  });
}

// One request per page load: the person and CSRF token do not change while the page is open.
function currentSession() {
  session ??= readSession().catch((error) => {
    session = undefined;
    throw error;
  });
  return session;
}

/** Who is logged in: { username, displayName, roles, permissions, certificate }. Sends them to log in if nobody is. */
export async function currentPerson() {
  return (await currentSession()).person;
}

/**
 * Calls the API with JSON in and out; a 401 sends the person to log in, any other refusal throws
 * an ApiError, and no answer within REQUEST_TIMEOUT_MS (body included) a RequestTimeout.
 */
export async function api(path, { method = 'GET', body } = {}) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (!SAFE_METHODS.has(method)) headers['x-csrf-token'] = (await currentSession()).csrfToken;
  const signal = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  try {
    const response = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
    if (response.status === 401) return await goToLogin();
    if (!response.ok) throw await errorOf(response);
    return response.status === 204 ? null : await response.json();
  } catch (error) {
    if (signal.aborted) throw new RequestTimeout(`The server did not answer within ${REQUEST_TIMEOUT_MS / 1000} s`);
    throw error;
  }
}

/**
 * A change sent as the page goes away (e.g. giving back a claim): a keepalive fetch outlives the
 * page, and it must not wait for anything, so it uses the CSRF token already read, if any.
 */
export function sendWhileLeaving(path, method) {
  if (!knownCsrfToken) return;
  void fetch(path, { method, keepalive: true, credentials: 'same-origin', headers: { 'x-csrf-token': knownCsrfToken } });
}

/** Ends the session on the server, then shows the login form. */
export async function logOut() {
  await api('/api/session', { method: 'DELETE' });
  location.assign('/login.html');
}
