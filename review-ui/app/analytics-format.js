// How the analyst pages write numbers, places and days, shared so the table, map, charts and
// case view say the same thing the same way.

/** `0.00002` → `< 0.001`: more digits would claim a precision the model does not have. */
export function formatP(p) {
  return p < 0.001 ? '< 0.001' : p.toFixed(3);
}

/** `+12`, `0`, `-3`: an excess always says which way it goes. */
export function signed(value) {
  const rounded = Math.round(value);
  return rounded > 0 ? `+${rounded}` : String(rounded);
}

/** A hotspot's place for people: its road, or the site id when no road is known. */
export function placeOf(hotspot) {
  return hotspot.road ?? hotspot.siteId;
}

/** `2026-06-01` → `1 Jun` (or `1 Jun 2026`): a calendar day, the same wherever the browser is. */
export function dayLabel(day, withYear = false) {
  return new Date(`${day}T00:00:00Z`).toLocaleDateString(undefined, {
    day: 'numeric',
    month: 'short',
    year: withYear ? 'numeric' : undefined,
    timeZone: 'UTC',
  });
}

/** A percentage change from a ratio: 0.5 → `50% fewer`, 1.2 → `20% more`. */
export function change(ratio) {
  const percent = Math.round(Math.abs(1 - ratio) * 100);
  return ratio <= 1 ? `${percent}% fewer` : `${percent}% more`;
}
