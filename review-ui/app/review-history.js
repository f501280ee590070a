// The reviewer's own latest decisions beside the queue: "did I just reject the right one?" gets
// an answer on the page, with where each capture stands now.
import { element, formatMoment, words } from './dom.js';
import { api } from './session.js';

const panel = document.getElementById('my-decisions');
const list = document.getElementById('my-decisions-list');
const SHOWN = 10;

/** Offers the list to someone who decides; it loads when opened, and again after each decision while open. */
export function offerMyDecisions() {
  panel.hidden = false;
  panel.addEventListener('toggle', () => {
    if (panel.open) void refreshMyDecisions();
  });
}

/** Opens the list (or closes it) from the keyboard, moving focus to it. */
export function toggleMyDecisions() {
  panel.open = !panel.open;
  panel.querySelector('summary').focus();
}

export async function refreshMyDecisions() {
  if (panel.hidden || !panel.open) return;
  try {
    const { decisions } = await api(`/api/review/my-decisions?limit=${SHOWN}`);
    list.replaceChildren(
      ...(decisions.length > 0 ? decisions.map(entry) : [element('li', { class: 'muted' }, 'No decision of yours yet.')]),
    );
  } catch (error) {
    list.replaceChildren(element('li', { class: 'error' }, `Your decisions could not be loaded: ${error.message}`));
  }
}

function entry(decision) {
  const outcome =
    decision.outcome === 'approved' && decision.stateNow === 'awaiting_second_review' ? 'approved, first of two' : decision.outcome;
  const facts = [decision.reasonCode && words(decision.reasonCode), `now ${words(decision.stateNow)}`].filter(Boolean);
  return element(
    'li',
    { class: `decision ${decision.outcome}`, 'data-capture-id': decision.captureId },
    element('strong', {}, outcome),
    ` ${words(decision.violationType ?? 'capture')} · ${decision.road ?? decision.deviceId ?? 'unknown device'}`,
    element('span', { class: 'muted decision-facts' }, formatMoment(decision.decidedAt), ` · ${facts.join(' · ')}`),
  );
}
