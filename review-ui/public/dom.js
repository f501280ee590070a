// Small helpers shared by the pages; plain DOM, so the pages need no build step.

export function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
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
