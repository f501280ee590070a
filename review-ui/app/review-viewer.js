// The capture's pictures: one frame at a time on a zoomable stage, and the strip to pick frames.
// Frames are fetched and decoded before they are shown, so showing one costs a paint, not a download.
import { element } from './dom.js';

const stage = document.getElementById('stage');
const target = document.getElementById('zoom-target');
const video = document.getElementById('video');
const empty = document.getElementById('stage-empty');
const zoomLabel = document.getElementById('zoom-label');
const strip = document.getElementById('frames');
const sideBySide = document.getElementById('side-by-side');
const lens = document.getElementById('lens');

/** Brightness and contrast as CSS filter factors: a night capture's plate is often only readable lifted. */
const LOOK_STEP = 0.2;
const LOOK_RANGE = [0.4, 3];
let look = { brightness: 1, contrast: 1 };
let comparing = false;
/** At most this many pictures side by side: more would be too small to compare. */
const SIDE_BY_SIDE_MAX = 4;

// From /vendor/panzoom/panzoom.min.js, loaded by a classic script before this module.
const panzoom = window.Panzoom(target, { minScale: 1, maxScale: 12, step: 0.35, contain: 'outside', cursor: 'grab' });
stage.addEventListener('wheel', (event) => {
  if (frame()?.kind === 'image') panzoom.zoomWithWheel(event);
});
// A plate in a corner is inspected by zooming at it, not at the centre and then dragging.
stage.addEventListener('dblclick', (event) => {
  if (frame()?.kind === 'image') panzoom.zoomToPoint(Math.min(panzoom.getScale() * 2, 12), event, { animate: false });
});
target.addEventListener('panzoomchange', (event) => {
  // Past "fit", the review copy's pixels run out: bring the original in.
  if (event.detail.scale > 1.01) void fullResolution();
  describe();
  paintLens();
});

/** Where one file of a capture is served; the server checks that the file belongs to the capture. */
export function mediaUrl(captureId, sha256) {
  return `/api/review/captures/${captureId}/media/${sha256}`;
}

/**
 * What the stage can show, in strip order: each image (its review copy first, the original on
 * zoom; the original alone while no worker has made a copy), each video, then its key frames.
 */
function framesOf(detail) {
  const frames = [];
  for (const item of detail.media) {
    const size = item.width && item.height ? `${item.width}×${item.height}` : undefined;
    if (item.contentType.startsWith('image/')) {
      frames.push({
        kind: 'image',
        label: item.name,
        view: item.reviewSha256 ?? item.sha256,
        full: item.sha256,
        thumb: item.thumbnailSha256 ?? item.reviewSha256 ?? item.sha256,
        size,
      });
    } else if (item.contentType.startsWith('video/')) {
      frames.push({
        kind: 'video',
        label: item.name,
        full: item.sha256,
        poster: item.posterSha256,
        thumb: item.thumbnailSha256 ?? item.posterSha256,
      });
      item.keyframeSha256s.forEach((sha256, index) =>
        frames.push({ kind: 'image', label: `${item.name}, key frame ${index + 1}`, view: sha256, full: sha256, thumb: sha256 }),
      );
    }
  }
  return frames;
}

function decoded(url) {
  const image = new Image();
  image.decoding = 'async';
  image.alt = '';
  image.src = url;
  return image.decode().then(() => image);
}

/**
 * One capture's frames, with every picture it will show requested at once and decoded in the
 * background; resolves when the first frame is ready to paint. Used for the capture on screen
 * and for the one prefetched behind it.
 */
export async function prepareFrames(detail) {
  const captureId = detail.capture.id;
  const frames = framesOf(detail);
  const images = new Map();
  const image = (sha256) => {
    if (!images.has(sha256)) images.set(sha256, decoded(mediaUrl(captureId, sha256)));
    return images.get(sha256);
  };
  const prepared = { captureId, frames, image, selected: 0, fullShown: new Set() };
  for (const entry of frames) {
    if (entry.thumb) new Image().src = mediaUrl(captureId, entry.thumb);
    if (entry.kind === 'image') image(entry.view).catch(() => {});
  }
  const first = frames.find((entry) => entry.kind === 'image');
  if (first) await image(first.view).catch(() => {});
  return prepared;
}

let shown;

function frame() {
  return shown?.frames[shown.selected];
}

function describe() {
  const current = frame();
  stage.dataset.scale = panzoom.getScale().toFixed(2);
  if (!current) return void (zoomLabel.textContent = '');
  if (current.kind === 'video') return void (zoomLabel.textContent = `${current.label} · video`);
  const source =
    current.view === current.full || shown.fullShown.has(shown.selected)
      ? `original${current.size ? ` ${current.size}` : ''}`
      : 'review copy';
  const adjusted = [
    look.brightness === 1 ? '' : ` · brightness ${Math.round(look.brightness * 100)} %`,
    look.contrast === 1 ? '' : ` · contrast ${Math.round(look.contrast * 100)} %`,
  ].join('');
  if (comparing)
    return void (zoomLabel.textContent = `${imageFrames().length > SIDE_BY_SIDE_MAX ? `first ${SIDE_BY_SIDE_MAX} ` : ''}frames side by side${adjusted}`);
  const magnifier = lensAt ? ` · magnifier ${LENS_MAGNIFICATION}×` : '';
  zoomLabel.textContent = `${current.label} · ${Math.round(panzoom.getScale() * 100)} % · ${source}${adjusted}${magnifier}`;
}

function imageFrames() {
  return shown ? shown.frames.filter((entry) => entry.kind === 'image') : [];
}

function applyLook() {
  // CSSOM, not a style attribute: the Content-Security-Policy allows the one and refuses the other.
  const filter = look.brightness === 1 && look.contrast === 1 ? '' : `brightness(${look.brightness}) contrast(${look.contrast})`;
  target.style.filter = filter;
  sideBySide.style.filter = filter;
}

/**
 * Steps brightness or contrast (`which`) up (+1) or down (−1), or puts both back (direction 0);
 * false when no picture is showing.
 */
export function adjustLook(which, direction) {
  if (imageFrames().length === 0) return false;
  if (direction === 0) look = { brightness: 1, contrast: 1 };
  else {
    const next = Math.round((look[which] + direction * LOOK_STEP) * 10) / 10;
    look = { ...look, [which]: Math.min(LOOK_RANGE[1], Math.max(LOOK_RANGE[0], next)) };
  }
  applyLook();
  describe();
  paintLens();
  return true;
}

function paintSideBySide() {
  const frames = imageFrames().slice(0, SIDE_BY_SIDE_MAX);
  sideBySide.replaceChildren(
    ...frames.map((entry) =>
      element(
        'figure',
        {},
        element('img', { src: mediaUrl(shown.captureId, entry.view), alt: `${entry.label}, beside the other frames` }),
        element('figcaption', {}, entry.label),
      ),
    ),
  );
}

/** Shows the capture's pictures next to each other, or one again; false when it has fewer than two. */
export function toggleSideBySide() {
  if (!comparing && imageFrames().length < 2) return false;
  comparing = !comparing;
  showMode();
  return true;
}

/** Leaves side by side (to zoom, pan or pick one frame); true when it was on. */
function leaveSideBySide() {
  if (!comparing) return false;
  comparing = false;
  showMode();
  return true;
}

function showMode() {
  if (comparing) hideLens();
  sideBySide.hidden = !comparing;
  stage.classList.toggle('comparing', comparing);
  if (comparing) {
    panzoom.reset({ animate: false });
    paintSideBySide();
  } else sideBySide.replaceChildren();
  describe();
}

async function place(sha256) {
  const index = shown.selected;
  const capture = shown;
  let image;
  try {
    image = await capture.image(sha256);
  } catch {
    if (shown === capture && capture.selected === index) {
      target.replaceChildren(
        element('p', { class: 'stage-error' }, 'This picture could not be loaded. Reload the page; if it stays, tell an administrator.'),
      );
    }
    return;
  }
  // The reviewer may have moved on while it decoded.
  if (shown === capture && capture.selected === index) target.replaceChildren(image);
}

function paintStrip() {
  strip.replaceChildren(
    ...shown.frames.map((entry, index) => {
      const button = element(
        'button',
        {
          type: 'button',
          class: 'frame',
          'aria-pressed': String(index === shown.selected),
          ...(index < 9 ? { 'aria-keyshortcuts': String(index + 1) } : {}),
        },
        entry.thumb
          ? element('img', { src: mediaUrl(shown.captureId, entry.thumb), alt: '', loading: 'eager' })
          : element('span', { class: 'no-thumb', 'aria-hidden': 'true' }, entry.kind),
        // The name is built from the visible text, so a voice user saying what they see hits the button (WCAG 2.5.3).
        element('span', { class: 'visually-hidden' }, `Frame ${index + 1}: `),
        element('span', { class: 'frame-key', 'aria-hidden': 'true' }, index < 9 ? String(index + 1) : ''),
        element('span', { class: 'frame-name' }, entry.label),
      );
      button.addEventListener('click', () => void selectFrame(index));
      return element('li', {}, button);
    }),
  );
}

/** Puts a prepared capture on the stage at "fit"; resolves once its first frame is painted. */
export async function showFrames(prepared) {
  hideLens();
  shown = prepared;
  prepared.selected = 0;
  panzoom.reset({ animate: false });
  // Each capture starts as the device took it; side by side stays on while it has frames to compare.
  look = { brightness: 1, contrast: 1 };
  applyLook();
  if (comparing && imageFrames().length < 2) comparing = false;
  showMode();
  empty.hidden = prepared.frames.length > 0;
  if (prepared.frames.length === 0) empty.textContent = 'This capture has no pictures or video.';
  paintStrip();
  await showSelected();
  await painted();
}

/** Empties the stage, saying why. */
export function clearFrames(message) {
  hideLens();
  shown = undefined;
  sideBySide.hidden = true;
  sideBySide.replaceChildren();
  target.replaceChildren();
  video.hidden = true;
  video.removeAttribute('src');
  strip.replaceChildren();
  empty.hidden = false;
  empty.textContent = message;
  describe();
}

async function showSelected() {
  const current = frame();
  for (const [index, button] of [...strip.querySelectorAll('button')].entries())
    button.setAttribute('aria-pressed', String(index === shown.selected));
  if (!current) return;
  if (current.kind === 'video') {
    hideLens();
    target.replaceChildren();
    target.hidden = true;
    video.hidden = false;
    if (current.poster) video.poster = mediaUrl(shown.captureId, current.poster);
    video.src = mediaUrl(shown.captureId, current.full);
  } else {
    video.pause();
    video.hidden = true;
    target.hidden = false;
    await place(shown.fullShown.has(shown.selected) ? current.full : current.view);
  }
  describe();
}

/** Picks frame `index` (0-based), keeping the zoom so the same spot can be compared across frames; false when there is no such frame. */
export async function selectFrame(index) {
  if (!shown || index >= shown.frames.length) return false;
  const wasComparing = leaveSideBySide();
  if (index !== shown.selected || wasComparing) {
    shown.selected = index;
    await showSelected();
  }
  return true;
}

/** Swaps the review copy of the frame on screen for its original; false when there is nothing to swap. */
export async function fullResolution() {
  const current = frame();
  if (current?.kind !== 'image' || current.view === current.full || shown.fullShown.has(shown.selected)) return false;
  shown.fullShown.add(shown.selected);
  await place(current.full);
  describe();
  return true;
}

/** Zooms the image on screen in (+1), out (−1) or back to fit (0); false when a video is showing. */
export function zoom(direction) {
  if (frame()?.kind !== 'image') return false;
  // Zoom is for one picture: the one selected comes back, to be zoomed.
  leaveSideBySide();
  // Without animation: panzoom fits by measuring the picture on screen, and a zoom still
  // animating when the next key comes (or in a browser that runs transitions slowly) made
  // "fit" measure a half-zoomed picture and stop at 130 % instead of 100 %.
  const instantly = { animate: false };
  if (direction > 0) panzoom.zoomIn(instantly);
  else if (direction < 0) panzoom.zoomOut(instantly);
  else panzoom.reset(instantly);
  return true;
}

/** The share of the visible picture one arrow key press moves it by. */
const PAN_STEP = 0.15;

/**
 * Moves a zoomed picture so the reviewer sees more of its left (dx −1), right (+1), top (dy −1)
 * or bottom (+1); false when nothing is zoomed in, so the key can keep its other meaning.
 * Zooming by key afterwards keeps the middle of the stage where it is, so panning then zooming
 * zooms at the spot the reviewer moved to.
 */
export function pan(dx, dy) {
  const scale = panzoom.getScale();
  if (comparing || frame()?.kind !== 'image' || scale <= 1.01) return false;
  // Panzoom's pan is in the picture's unscaled pixels: a step of the visible part is smaller the further in.
  const box = stage.getBoundingClientRect();
  panzoom.pan((-dx * box.width * PAN_STEP) / scale, (-dy * box.height * PAN_STEP) / scale, { relative: true });
  return true;
}

/**
 * The magnifier: a lens over one spot of the picture at LENS_MAGNIFICATION times what the stage
 * shows, drawn from the original, so a plate in a wide shot is read while the rest of the scene
 * stays in view. The mouse or the arrow keys move it.
 */
const LENS_MAGNIFICATION = 4;
/** The share of the stage one arrow key press moves the lens by. */
const LENS_STEP = 0.04;
let lensAt = null;

function pictureOnStage() {
  if (comparing || frame()?.kind !== 'image') return null;
  const image = target.querySelector('img');
  return image?.naturalWidth ? image : null;
}

function paintLens() {
  const image = lensAt && pictureOnStage();
  if (!image) return;
  const size = lens.clientWidth;
  const ratio = window.devicePixelRatio || 1;
  if (lens.width !== Math.round(size * ratio)) lens.width = lens.height = Math.round(size * ratio);
  // CSSOM, not a style attribute: the Content-Security-Policy refuses the one and allows the other.
  lens.style.left = `${lensAt.x - size / 2}px`;
  lens.style.top = `${lensAt.y - size / 2}px`;
  const picture = image.getBoundingClientRect();
  const box = stage.getBoundingClientRect();
  const shownPerPixel = picture.width / image.naturalWidth;
  const across = size / (shownPerPixel * LENS_MAGNIFICATION);
  const centreX = ((box.left + lensAt.x - picture.left) / picture.width) * image.naturalWidth;
  const centreY = ((box.top + lensAt.y - picture.top) / picture.height) * image.naturalHeight;
  const context = lens.getContext('2d');
  context.fillStyle = '#111';
  context.fillRect(0, 0, lens.width, lens.height);
  context.filter = target.style.filter || 'none';
  context.drawImage(image, centreX - across / 2, centreY - across / 2, across, across, 0, 0, lens.width, lens.height);
  context.filter = 'none';
  lens.setAttribute(
    'aria-label',
    `Magnifier, ${LENS_MAGNIFICATION}× at ${Math.round((100 * centreX) / image.naturalWidth)} % across, ${Math.round((100 * centreY) / image.naturalHeight)} % down`,
  );
}

/** Shows the magnifier at the middle of the stage, or hides it; false when no single picture is showing. */
export function toggleLens() {
  if (lensAt) {
    hideLens();
    return true;
  }
  if (!pictureOnStage()) return false;
  const box = stage.getBoundingClientRect();
  lensAt = { x: box.width / 2, y: box.height / 2 };
  lens.hidden = false;
  void fullResolution();
  paintLens();
  describe();
  return true;
}

function hideLens() {
  if (!lensAt) return;
  lensAt = null;
  lens.hidden = true;
  describe();
}

/** Moves the magnifier by a step (dx, dy of −1, 0 or 1); false while it is hidden, so the arrows pan instead. */
export function moveLens(dx, dy) {
  if (!lensAt) return false;
  const box = stage.getBoundingClientRect();
  lensAt = {
    x: Math.min(box.width, Math.max(0, lensAt.x + dx * box.width * LENS_STEP)),
    y: Math.min(box.height, Math.max(0, lensAt.y + dy * box.height * LENS_STEP)),
  };
  paintLens();
  return true;
}

stage.addEventListener('pointermove', (event) => {
  if (!lensAt || event.pointerType === 'touch') return;
  const box = stage.getBoundingClientRect();
  lensAt = { x: event.clientX - box.left, y: event.clientY - box.top };
  paintLens();
});
// The original replaces the review copy once it has decoded: the lens redraws from it.
new MutationObserver(() => paintLens()).observe(target, { childList: true });

/** Resolves after the browser has painted what is in the DOM now. */
function painted() {
  return new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
}
