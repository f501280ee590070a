// The server checks every form (the browser's checks would be a second, differing set of rules);
// its refusal names the failing fields, and each message belongs beside its field.

// Fastify joins one "body/<field> <message>" (or "params/<field>") per failing field with ", ".
const FIELD_MESSAGE = /(?:^|, )(?:body|params)\/(\w+) /g;

/** Each field a validation refusal names, with its message; empty when the refusal names none. */
export function fieldMessages(message) {
  const marks = [...message.matchAll(FIELD_MESSAGE)];
  if (marks[0]?.index !== 0) return new Map();
  const messages = new Map();
  marks.forEach((mark, index) => {
    const end = marks[index + 1]?.index ?? message.length;
    if (!messages.has(mark[1])) messages.set(mark[1], message.slice(mark.index + mark[0].length, end));
  });
  return messages;
}

/**
 * Clears the errors of a form laid out by convention: field `name` is the control
 * `${prefix}-${name}` with its message in `${prefix}-${name}-error`, and `${prefix}-error` holds the rest.
 */
export function clearErrors(prefix, form) {
  for (const control of form.elements) {
    if (!control.name) continue;
    control.removeAttribute('aria-invalid');
    const slot = document.getElementById(`${control.id}-error`);
    if (slot) slot.textContent = '';
  }
  document.getElementById(`${prefix}-error`).textContent = '';
}

/** Shows a refusal: each named field marked invalid with its message beside it (the first one focused), anything else in the form's alert. */
export function showErrors(prefix, error) {
  const messages = fieldMessages(error.message);
  const elsewhere = [];
  let first;
  for (const [field, message] of messages) {
    const control = document.getElementById(`${prefix}-${field}`);
    const slot = document.getElementById(`${prefix}-${field}-error`);
    if (!control || !slot) {
      elsewhere.push(`${field}: ${message}`);
      continue;
    }
    control.setAttribute('aria-invalid', 'true');
    slot.textContent = message;
    first ??= control;
  }
  const summary = first ? [`Correct the marked field${messages.size - elsewhere.length > 1 ? 's' : ''}.`] : [];
  document.getElementById(`${prefix}-error`).textContent = messages.size === 0 ? error.message : [...summary, ...elsewhere].join(' ');
  first?.focus();
}
