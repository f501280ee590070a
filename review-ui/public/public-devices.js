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
          element('td', {}, device.road),
          element('td', {}, device.direction),
          element('td', { class: 'nowrap' }, words(device.kind)),
          element('td', { class: 'nowrap' }, coordinates(device.latitude, device.longitude)),
          element('td', { class: 'nowrap' }, formatDate(device.publishedSince)),
          element('td', {}, element('code', {}, device.id)),
          element('td', {}, device.agency),
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
