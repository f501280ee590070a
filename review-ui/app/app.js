// The capture list: polls the API and re-renders; plain DOM so the page works offline with no build step.
import { element } from './dom.js';
import { mayUse, openPage, showRefusal } from './page.js';
import { api } from './session.js';

const STATES = ['all', 'awaiting_review', 'verified', 'excluded', 'quarantined', 'received'];
const REFRESH_MS = 3000;
let selectedState = new URLSearchParams(location.search).get('state') ?? 'all';

const list = document.getElementById('captures');
const empty = document.getElementById('empty');
const status = document.getElementById('status');
const filter = document.getElementById('state-filter');

const person = await openPage();
// Listing captures and seeing their images are separate permissions: a device administrator may do the first only.
const mayViewImages = mayUse(person, 'evidence.view');
let timer;

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

function renderFrame(capture, item) {
  if (!mayViewImages) return element('div', { class: 'placeholder' }, 'your role may not view images');
  if (!item.thumbnailSha256) return element('div', { class: 'placeholder' }, 'thumbnail pending…');
  return element('img', { src: `/api/thumbnails/${item.thumbnailSha256}`, alt: `${item.name} from ${capture.deviceId}`, loading: 'lazy' });
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
  const thumbs = element('div', { class: 'thumbs' }, ...frames.map((item) => renderFrame(capture, item)));
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
    const [{ captures, counts }, reconciliation] = await Promise.all([
      api(`/api/captures?limit=60${query}`),
      // The tally is a nicety: the list is still worth showing without it.
      api('/api/ingest/reconciliation').catch(() => ({})),
    ]);
    const { received, accepted, quarantined, inFlight } = reconciliation;
    renderFilter(counts);
    list.replaceChildren(...captures.map(renderCapture));
    empty.hidden = captures.length > 0;
    const tally =
      received === undefined ? '' : `${received} received = ${accepted} accepted + ${quarantined} quarantined + ${inFlight} in flight · `;
    status.textContent = `${tally}updated ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    if (error.status === 403) {
      clearInterval(timer);
      showRefusal(error);
    } else {
      status.textContent = `could not load captures: ${error.message}`;
    }
  }
}

timer = setInterval(() => void refresh(), REFRESH_MS);
await refresh();
