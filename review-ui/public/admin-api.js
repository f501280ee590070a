// The admin pages' one way to call the API: the token kept for this browser tab, and a
// refused token sending the user back to the token form instead of failing silently.

export const TOKEN_KEY = 'verity.adminToken';

export class TokenRefused extends Error {}

/** An `api(path, options)` and `post(path, body)` pair that calls `onRefused(message)` on a 401. */
export function adminApi(onRefused) {
  async function api(path, options = {}) {
    const response = await fetch(path, {
      ...options,
      headers: { ...options.headers, authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY)}` },
    });
    if (response.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      onRefused('That admin token was refused. Enter it again.');
      throw new TokenRefused();
    }
    const body = await response.json();
    if (!response.ok) throw new Error(body.error ?? body.message ?? `${response.status} ${response.statusText}`);
    return body;
  }
  const post = (path, body) => api(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { api, post };
}

/** Wires a page's token form and "forget token" button; `showForm` puts the form in front of the page. */
export function wireTokenForm({ form, input, forgetButton, showForm, load }) {
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    input.value = '';
    void load();
  });
  forgetButton.addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    showForm();
  });
}
