// The hotspot map. Most deployments are offline, so it must read on a plain background: sites
// coloured by excess, flagged ones outlined and numbered, devices, road names, a graticule, a
// scale bar and a legend. A configured tile source is only a backdrop under the same layers.
import * as L from 'leaflet';
import { element, words } from './dom.js';
import { placeOf } from './analytics-format.js';

const BELOW_EXPECTED = '#cbd5e1';
const EXCESS_COLOURS = ['#fde68a', '#fbbf24', '#f97316', '#c2410c', '#7f1d1d'];
const FLAGGED_OUTLINE = '#111827';
const SELECTED_OUTLINE = '#2563eb';
// A device site has a position, not a polygon; drawn as a disc about the size of a small H3 cell.
const DEVICE_SITE_RADIUS_M = 180;

/** A round number at or above `value`, so class limits read like 20 or 150, not 37. */
function roundUp(value) {
  if (value <= 10) return Math.max(1, Math.ceil(value));
  const half = 10 ** Math.floor(Math.log10(value)) / 2;
  return Math.ceil(value / half) * half;
}

/**
 * Colour classes for excess, from the data: excess counts grow with the period and the network,
 * so fixed limits would paint everything one colour. Sites at or below what comparable sites
 * predict share one pale class.
 */
function excessClasses(sites) {
  const step = roundUp(Math.max(1, ...sites.map((site) => site.excess)) / EXCESS_COLOURS.length);
  return [
    { upTo: 0, colour: BELOW_EXPECTED, label: 'at or below prediction' },
    ...EXCESS_COLOURS.map((colour, index) => {
      const last = index === EXCESS_COLOURS.length - 1;
      return {
        upTo: last ? Infinity : step * (index + 1),
        colour,
        label: last ? `more than +${step * index}` : `+${index === 0 ? 1 : step * index + 1} to +${step * (index + 1)}`,
      };
    }),
  ];
}

function colourOf(classes, excess) {
  return (classes.find((entry) => excess <= entry.upTo) ?? classes.at(-1)).colour;
}

/** Graticule spacing in degrees giving three to eight lines across the view. */
function graticuleStep(span) {
  return [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5].find((step) => span / step <= 8) ?? 10;
}

function degrees(value, step, positive, negative) {
  return `${Math.abs(value).toFixed(Math.max(0, -Math.floor(Math.log10(step))))}°${value >= 0 ? positive : negative}`;
}

/** Leaflet writes a string tooltip or icon as HTML; road names come from the device registry, so they go in as text. */
function text(content) {
  return element('span', {}, content);
}

function label(latLng, className, content, layer) {
  const icon = L.divIcon({ className, html: text(content), iconSize: null });
  L.marker(latLng, { interactive: false, keyboard: false, icon }).addTo(layer);
}

/**
 * One site on the map per site id: with all violation types listed, a cell has a row per type,
 * and the map shows its worst (highest-ranked) row.
 */
function sitesOf(hotspots, keyOf) {
  const sites = new Map();
  for (const hotspot of hotspots.toSorted((a, b) => a.rank - b.rank)) {
    const site = sites.get(hotspot.siteId);
    if (site) site.keys.push(keyOf(hotspot));
    else sites.set(hotspot.siteId, { ...hotspot, keys: [keyOf(hotspot)] });
  }
  return [...sites.values()];
}

/**
 * Draws the map into `container`; `tiles` ({ urlTemplate, attribution } or null) is the basemap.
 * `onSelect(key)` runs when a person picks a site. Returns `show`, `showDevices` and `select`.
 */
export function createHotspotMap(container, { tiles, fleetBounds, keyOf, onSelect }) {
  // A view from the start: Leaflet creates a layer's element only once the map has one. Where the
  // fleet is, so a map with no result on it yet does not open on the whole world.
  const map = L.map(container, { zoomSnap: 0.25, zoomControl: false, attributionControl: Boolean(tiles) });
  if (fleetBounds) map.fitBounds(fleetBounds, { padding: [28, 28], maxZoom: 14 });
  else map.setView([0, 0], 2);
  // Top right: the graticule's labels run down the left edge and along the top.
  L.control.zoom({ position: 'topright' }).addTo(map);
  if (tiles) L.tileLayer(tiles.urlTemplate, { attribution: tiles.attribution, maxZoom: 19 }).addTo(map);
  else container.classList.add('no-tiles');
  L.control.scale({ imperial: false, maxWidth: 160 }).addTo(map);
  // Devices in a pane of their own above the cells: cells are redrawn on every filter change and would cover them.
  map.createPane('devices').style.zIndex = '450';

  const graticule = L.layerGroup().addTo(map);
  const siteLayer = L.featureGroup().addTo(map);
  const roadLayer = L.layerGroup().addTo(map);
  const deviceLayer = L.featureGroup().addTo(map);
  const badgeLayer = L.layerGroup().addTo(map);
  const legend = L.control({ position: 'bottomright' });
  legend.onAdd = () => element('div', { class: 'map-legend' });
  legend.addTo(map);

  const shapes = new Map();
  let selected;
  let fitted = false;

  function drawGraticule() {
    graticule.clearLayers();
    const bounds = map.getBounds();
    const step = graticuleStep(Math.max(bounds.getNorth() - bounds.getSouth(), bounds.getEast() - bounds.getWest()));
    const style = { color: '#64748b', weight: 1, opacity: 0.25, interactive: false };
    // Labels stay clear of the corner where the two rows of labels meet.
    for (let lat = Math.ceil(bounds.getSouth() / step) * step; lat < bounds.getNorth() - step / 4; lat += step) {
      L.polyline([L.latLng(lat, bounds.getWest()), L.latLng(lat, bounds.getEast())], style).addTo(graticule);
      label([lat, bounds.getWest()], 'graticule-label lat', degrees(lat, step, 'N', 'S'), graticule);
    }
    for (let lng = Math.ceil((bounds.getWest() + step / 4) / step) * step; lng < bounds.getEast(); lng += step) {
      L.polyline([L.latLng(bounds.getSouth(), lng), L.latLng(bounds.getNorth(), lng)], style).addTo(graticule);
      label([bounds.getNorth(), lng], 'graticule-label lng', degrees(lng, step, 'E', 'W'), graticule);
    }
  }
  // Without a basemap the lines give the eye a frame of reference; over one they are clutter.
  if (!tiles) {
    map.on('moveend', drawGraticule);
    // The first view came before the listener: a map with nothing to fit to yet still gets its frame.
    drawGraticule();
  }

  function drawLegend(classes, scope) {
    legend.getContainer().replaceChildren(
      element('strong', {}, 'Events above prediction'),
      element(
        'div',
        { class: 'legend-ramp' },
        ...classes.map((entry) => {
          const step = element('span', { class: 'ramp-step', title: entry.label });
          // Through the CSSOM: the Content-Security-Policy refuses style attributes (style-src 'self').
          step.style.background = entry.colour;
          return step;
        }),
      ),
      // Each limit sits under the edge between the two colours it separates.
      element(
        'div',
        { class: 'legend-ramp-labels', 'aria-hidden': 'true' },
        ...classes.map((_, index) => element('span', {}, index === 0 ? '' : String(classes[index - 1].upTo))),
      ),
      element(
        'div',
        { class: 'legend-row' },
        element('span', { class: 'swatch rank-swatch' }, '1'),
        `flagged ${scope === 'cell' ? 'cell' : 'device'}, by rank`,
      ),
      element(
        'div',
        { class: 'legend-row' },
        element('span', { class: 'swatch device-swatch' }),
        'device',
        element('span', { class: 'swatch device-swatch anomaly' }),
        'rate anomaly',
      ),
    );
  }

  function fit() {
    const bounds = L.latLngBounds([]);
    if (siteLayer.getLayers().length > 0) bounds.extend(siteLayer.getBounds());
    if (deviceLayer.getLayers().length > 0) bounds.extend(deviceLayer.getBounds());
    if (!bounds.isValid()) return;
    map.fitBounds(bounds, { padding: [28, 28] });
    fitted = true;
  }

  /** Devices (the anomaly report's list) as markers, with each road's name once where its devices are. */
  function showDevices(devices) {
    deviceLayer.clearLayers();
    roadLayer.clearLayers();
    for (const device of devices) {
      L.circleMarker([device.latitude, device.longitude], {
        radius: device.flagged ? 6 : 4,
        color: device.flagged ? '#7c3aed' : '#0f172a',
        weight: 2,
        fillColor: device.flagged ? '#ede9fe' : '#fff',
        fillOpacity: 1,
        className: device.flagged ? 'device-marker anomaly' : 'device-marker',
        pane: 'devices',
      })
        .bindTooltip(text(`${device.deviceId} · ${device.road} ${device.direction}${device.flagged ? ' · rate anomaly' : ''}`), {
          direction: 'top',
        })
        .addTo(deviceLayer);
    }
    // The registry has no road geometry, only devices on roads: a road's name goes at its devices' middle.
    for (const [road, onRoad] of Map.groupBy(devices, (device) => device.road)) {
      const middle = [
        onRoad.reduce((sum, device) => sum + device.latitude, 0) / onRoad.length,
        onRoad.reduce((sum, device) => sum + device.longitude, 0) / onRoad.length,
      ];
      label(middle, 'road-label', road, roadLayer);
    }
    if (!fitted) fit();
  }

  function styleOf(site, colour) {
    return {
      color: site.flagged ? FLAGGED_OUTLINE : '#475569',
      weight: site.flagged ? 2.5 : 0.75,
      fillColor: colour,
      fillOpacity: 0.8,
    };
  }

  /** Draws the ranked rows, one shape per site, numbered badges on the flagged ones. */
  function show(hotspots, scope) {
    siteLayer.clearLayers();
    badgeLayer.clearLayers();
    shapes.clear();
    const sites = sitesOf(hotspots, keyOf);
    const classes = excessClasses(sites);
    drawLegend(classes, scope);
    // Least excess first, so the worst sites are drawn over their neighbours.
    for (const site of sites.toSorted((a, b) => a.excess - b.excess)) {
      const style = styleOf(site, colourOf(classes, site.excess));
      const centre = [site.centre.latitude, site.centre.longitude];
      const options = { ...style, className: site.flagged ? 'hotspot-site flagged' : 'hotspot-site' };
      const shape = site.boundary ? L.polygon(site.boundary, options) : L.circle(centre, { ...options, radius: DEVICE_SITE_RADIUS_M });
      shape
        .bindTooltip(
          text(
            `#${site.rank} ${placeOf(site)} · ${words(site.violationType)}: ${site.observed} observed, ${Math.round(site.predicted)} predicted`,
          ),
          {
            sticky: true,
          },
        )
        .on('click', () => onSelect(site.keys[0]))
        .addTo(siteLayer);
      shape.getElement().dataset.siteId = site.siteId;
      for (const key of site.keys) shapes.set(key, { shape, style });
      // A badge is a marker, so the keyboard reaches flagged sites on the map too (Tab, then Enter).
      if (site.flagged) {
        const badge = L.marker(centre, {
          title: `Hotspot ${site.rank}: ${placeOf(site)}`,
          alt: `Hotspot ${site.rank}`,
          // Beside the centre, up and to the right, so the badge leaves the cell's colour in view.
          icon: L.divIcon({ className: 'rank-badge', html: String(site.rank), iconSize: [22, 22], iconAnchor: [-3, 25] }),
        })
          .on('click', () => onSelect(site.keys[0]))
          // Leaflet gives a marker focus but no click from the keyboard; a badge acts as a button.
          .on('keypress', ({ originalEvent }) => {
            if (originalEvent.key !== 'Enter' && originalEvent.key !== ' ') return;
            originalEvent.preventDefault();
            onSelect(site.keys[0]);
          })
          .addTo(badgeLayer);
        badge.getElement().setAttribute('role', 'button');
        badge.getElement().setAttribute('aria-label', `Hotspot ${site.rank}: ${placeOf(site)}`);
      }
    }
    fit();
    if (selected) select(selected);
  }

  function select(key) {
    for (const { shape, style } of shapes.values()) {
      shape.setStyle(style);
      shape.getElement().classList.remove('selected');
    }
    selected = key;
    const chosen = shapes.get(key);
    if (!chosen) return;
    chosen.shape.setStyle({ color: SELECTED_OUTLINE, weight: 4 }).bringToFront();
    chosen.shape.getElement().classList.add('selected');
    const bounds = chosen.shape.getBounds();
    if (!map.getBounds().contains(bounds)) map.panTo(bounds.getCenter());
  }

  return { show, showDevices, select, resize: () => map.invalidateSize() };
}
