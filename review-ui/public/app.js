// The capture list: polls the API and re-renders; plain DOM so the page works offline with no build step.
const STATES = ['all', 'awaiting_review', 'verified', 'excluded', 'quarantined', 'received'];
const REFRESH_MS = 3000;
let selectedState = new URLSearchParams(location.search).get('state') ?? 'all';

const list = document.getElementById('captures');
const empty = document.getElementById('empty');
const status = document.getElementById('status');
const filter = document.getElementById('state-filter');

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

function formatTime(iso) {
  return iso ? new Date(iso).toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' }) : '—';
}

function renderFilter(counts) {
  const total = Object.values(counts).reduce((sum, count) => sum + count, 0);
  filter.replaceChildren(
    ...STATES.map((state) => {
      const count = state === 'all' ? total : (counts[state] ?? 0);
      const button = element(
        'button',
        { type: 'button', 'aria-pressed': String(state === selectedState) },
        `${state.replace('_', ' ')} (${count})`,
      );
      button.addEventListener('click', () => {
        selectedState = state;
        history.replaceState(null, '', state === 'all' ? location.pathname : `?state=${state}`);
        void refresh();
      });
      return button;
    }),
  );
}

function renderFrames(capture) {
  const frames = capture.media.filter((item) => item.contentType.startsWith('image/'));
  if (frames.length === 0) {
    return element(
      'div',
      { class: 'thumbs' },
      element('div', { class: 'placeholder wide' }, capture.state === 'quarantined' ? 'no media accepted' : 'media arriving…'),
    );
  }
  const thumbs = element(
    'div',
    { class: 'thumbs' },
    ...frames.map((item) =>
      item.thumbnailSha256
        ? element('img', { src: `/api/thumbnails/${item.thumbnailSha256}`, alt: `${item.name} from ${capture.deviceId}`, loading: 'lazy' })
        : element('div', { class: 'placeholder' }, 'thumbnail pending…'),
    ),
  );
  thumbs.style.gridTemplateColumns = `repeat(${frames.length}, minmax(0, 1fr))`;
  return thumbs;
}

function renderCapture(capture) {
  const thumbs = renderFrames(capture);
  const body = element(
    'div',
    { class: 'body' },
    element(
      'div',
      { class: 'line' },
      element('strong', {}, capture.deviceId ?? 'unknown device'),
      element('span', { class: `state ${capture.state}` }, capture.state.replace('_', ' ')),
    ),
    element(
      'div',
      { class: 'line muted' },
      element('span', {}, capture.violationType ?? '—'),
      element('time', { datetime: capture.capturedAt ?? '' }, formatTime(capture.capturedAt)),
    ),
  );
  if (capture.exclusions.length > 0) {
    body.append(
      element(
        'ul',
        { class: 'reasons' },
        ...capture.exclusions.map((window) => element('li', {}, `excluded: ${window.source.replace(/_/g, ' ')}: ${window.reason}`)),
      ),
    );
  }
  if (capture.quarantineReasons.length > 0) {
    body.append(
      element(
        'ul',
        { class: 'reasons' },
        ...capture.quarantineReasons.map((reason) => element('li', { title: reason.detail }, `${reason.code}: ${reason.detail}`)),
      ),
    );
  }
  return element('li', { class: 'capture', 'data-capture-id': capture.id }, thumbs, body);
}

async function refresh() {
  const query = selectedState === 'all' ? '' : `&state=${selectedState}`;
  try {
    const [response, reconciliation] = await Promise.all([fetch(`/api/captures?limit=60${query}`), fetch('/api/ingest/reconciliation')]);
    if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
    const { captures, counts } = await response.json();
    const { received, accepted, quarantined, inFlight } = reconciliation.ok ? await reconciliation.json() : {};
    renderFilter(counts);
    list.replaceChildren(...captures.map(renderCapture));
    empty.hidden = captures.length > 0;
    const tally =
      received === undefined ? '' : `${received} received = ${accepted} accepted + ${quarantined} quarantined + ${inFlight} in flight · `;
    status.textContent = `${tally}updated ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    status.textContent = `could not load captures: ${error.message}`;
  }
}

void refresh();
setInterval(() => void refresh(), REFRESH_MS);
