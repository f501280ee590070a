// Small helpers shared by the pages; plain DOM, so the pages need no build step.

export function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

// Bidirectional formatting characters (LRM, RLM, ALM, the embeddings, overrides and isolates).
// Text a device or a person typed (a username, a subject id) can carry them so that it reads
// otherwise than it is stored, `txt.exe` shown as `exe.txt`; a record must read as stored.
const BIDI_CONTROLS = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;

/**
 * The text with each bidirectional control shown as a visible `U+202E` marker instead of
 * acting on its neighbours. Where the text is shown, `unicode-bidi: isolate` (admin.css)
 * keeps right-to-left text from reordering the cells around it.
 */
export function withVisibleControls(text) {
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(BIDI_CONTROLS)) {
    parts.push(text.slice(last, match.index));
    const code = `U+${match[0].codePointAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
    parts.push(element('span', { class: 'control-char', title: 'a bidirectional formatting character' }, code));
    last = match.index + match[0].length;
  }
  parts.push(text.slice(last));
  return parts.filter((part) => part !== '');
}

/** `traffic_camera` → `traffic camera`: enum values read as words. */
export function words(value) {
  return value.replaceAll('_', ' ');
}

export function formatDate(iso) {
  return element('time', { datetime: iso }, new Date(iso).toLocaleDateString(undefined, { dateStyle: 'medium' }));
}

/** Date and time to the second, for records where the order of events matters. */
export function formatMoment(iso) {
  return element('time', { datetime: iso }, new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' }));
}

// <input type="datetime-local"> speaks local wall-clock time without a zone; the API wants instants.
/** A moment as the value of a datetime-local input, in the browser's time zone. */
export function toLocalInput(date) {
  return new Date(date.getTime() - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

/** A datetime-local input's value as an ISO instant, or null when it is empty. */
export function fromLocalInput(value) {
  return value ? new Date(value).toISOString() : null;
}
