// The public list of devices in service and where they stand; needs no login.
import { element, formatDate, words } from './dom.js';

const body = document.querySelector('#devices tbody');
const caption = document.getElementById('devices-caption');
const empty = document.getElementById('empty');
const status = document.getElementById('status');

/** Degrees with a hemisphere letter, to five decimals (about a metre): how a map search box accepts them. */
function coordinates(latitude, longitude) {
  const part = (value, positive, negative) => `${Math.abs(value).toFixed(5)}° ${value >= 0 ? positive : negative}`;
  return `${part(latitude, 'N', 'S')}, ${part(longitude, 'E', 'W')}`;
}

// The column names, repeated on each cell so a phone can stack a row as a card of labelled values.
const LABELS = [...document.querySelectorAll('#devices thead th')].map((th) => th.textContent);

function cell(index, attributes, ...content) {
  return element('td', { ...attributes, 'data-label': LABELS[index] }, ...content);
}

async function load() {
  try {
    const response = await fetch('/api/public/devices');
    if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
    const { devices, asOf } = await response.json();
    body.replaceChildren(
      ...devices.map((device) =>
        element(
          'tr',
          { 'data-device-id': device.id },
          cell(0, {}, device.road),
          cell(1, {}, device.direction),
          cell(2, { class: 'nowrap' }, words(device.kind)),
          cell(3, { class: 'nowrap' }, coordinates(device.latitude, device.longitude)),
          cell(4, { class: 'nowrap' }, formatDate(device.publishedSince)),
          cell(5, {}, element('code', {}, device.id)),
          cell(6, {}, device.agency),
        ),
      ),
    );
    caption.textContent = `${devices.length} ${devices.length === 1 ? 'device' : 'devices'} as of ${new Date(asOf).toLocaleString()}`;
    empty.hidden = devices.length > 0;
  } catch (error) {
    status.textContent = `could not load the device list: ${error.message}`;
  }
}

void load();
