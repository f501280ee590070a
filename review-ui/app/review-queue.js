// The queue sidebar: filters (kept in the address, so a filtered queue can be bookmarked), the
// counts, and the most urgent captures with their statutory clocks and who holds each one.
import { element, words } from './dom.js';
import { api } from './session.js';
import { deadlineClock } from './review-format.js';

const FILTERS = ['deviceId', 'road', 'violationType', 'minAgeHours', 'state'];
const QUEUE_LIMIT = 50;

const form = document.getElementById('filters');
const list = document.getElementById('queue');
const counts = document.getElementById('queue-counts');
const known = {
  deviceId: { list: document.getElementById('known-devices'), values: new Set() },
  road: { list: document.getElementById('known-roads'), values: new Set() },
  violationType: { list: document.getElementById('known-violations'), values: new Set() },
};

/** The filters in the address bar, as the API takes them. */
export function currentFilter() {
  const params = new URLSearchParams(location.search);
  const filter = {};
  for (const name of FILTERS) {
    const value = params.get(name)?.trim();
    if (value) filter[name] = name === 'minAgeHours' ? Number(value) : value;
  }
  return filter;
}

function fillForm() {
  const filter = currentFilter();
  for (const name of FILTERS) form.elements[name].value = filter[name] ?? '';
}

/** Calls `onChange(filter)` whenever the reviewer applies or clears the filters. */
export function watchFilters(onChange) {
  fillForm();
  const apply = () => {
    const params = new URLSearchParams(location.search);
    for (const name of FILTERS) {
      const value = form.elements[name].value.trim();
      if (value) params.set(name, value);
      else params.delete(name);
    }
    params.delete('capture');
    history.replaceState(null, '', `${location.pathname}${params.toString() ? `?${params}` : ''}`);
    onChange(currentFilter());
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    // Applied: the keyboard goes back to the shortcuts.
    document.activeElement?.blur();
    apply();
  });
  form.addEventListener('reset', () => setTimeout(apply));
  // A choice applies at once, as the reviewer expects of a select; typed filters wait for Enter.
  for (const choice of form.querySelectorAll('select')) choice.addEventListener('change', apply);
}

function remember(items) {
  for (const item of items) {
    known.deviceId.values.add(item.deviceId);
    known.road.values.add(item.road);
    if (item.violationType) known.violationType.values.add(item.violationType);
  }
  for (const { list: datalist, values } of Object.values(known)) {
    datalist.replaceChildren(...[...values].sort().map((value) => element('option', { value })));
  }
}

function row(item, { openId, upcomingId, onOpen }) {
  const clock = deadlineClock(item.deadline);
  const holder = item.claim ? (item.claim.mine ? (item.id === upcomingId ? 'yours, up next' : 'yours') : `held by ${item.claim.by}`) : '';
  const button = element(
    'button',
    { type: 'button', class: 'queue-item', 'data-capture-id': item.id },
    element('span', { class: `clock${clock.overdue ? ' overdue' : item.dueSoon ? ' urgent' : ''}` }, clock.text),
    element(
      'span',
      { class: 'queue-what' },
      words(item.violationType ?? 'unspecified'),
      item.state === 'awaiting_review' ? '' : element('span', { class: 'badge queue-state' }, words(item.state)),
    ),
    element('span', { class: 'queue-where muted' }, `${item.deviceId} · ${item.road}`),
    holder ? element('span', { class: `queue-claim${item.claim.mine ? '' : ' taken'}` }, holder) : '',
  );
  if (item.id === openId) button.setAttribute('aria-current', 'true');
  button.addEventListener('click', () => onOpen(item));
  return element('li', {}, button);
}

/**
 * Reloads the queue with the current filters. `openId` marks the capture on screen, `upcomingId`
 * the one prefetched behind it; `onOpen(item)` runs when the reviewer picks a row. Throws the
 * server's refusal (e.g. a role that may not review).
 */
export async function refreshQueue({ openId, upcomingId, onOpen }) {
  const query = new URLSearchParams({ ...currentFilter(), limit: String(QUEUE_LIMIT) });
  const queue = await api(`/api/review/queue?${query}`);
  remember(queue.items);
  counts.replaceChildren(
    element('strong', {}, `${queue.total} in queue`),
    queue.overdue > 0 ? element('strong', { class: 'bad' }, ` · ${queue.overdue} overdue`) : ' · none overdue',
    queue.dueSoon > 0 ? element('strong', { class: 'due-soon' }, ` · ${queue.dueSoon} due soon`) : '',
    queue.total > queue.items.length ? element('small', { class: 'muted' }, ` (the ${queue.items.length} most urgent shown)`) : '',
  );
  list.replaceChildren(
    ...(queue.items.length > 0
      ? queue.items.map((item) => row(item, { openId, upcomingId, onOpen }))
      : [element('li', { class: 'muted queue-empty' }, 'Nothing waits for review with these filters.')]),
  );
  return queue;
}
