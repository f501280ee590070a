// The frame every logged-in page shares: who is logged in, the pages they may open, a way out,
// and the notice shown in place of a page the server refuses them.
import { element, words } from './dom.js';
import { currentPerson, logOut } from './session.js';

/**
 * Each page and the permissions that open it (any one will do). Hiding a link is a courtesy:
 * the server checks the permission again on every request.
 */
const PAGES = [
  { href: '/', label: 'Captures', anyOf: ['captures.list'] },
  { href: '/review.html', label: 'Review', anyOf: ['review.decide', 'review.prescreen'] },
  { href: '/devices.html', label: 'Devices', anyOf: ['devices.read', 'devices.manage'] },
  { href: '/health.html', label: 'Device health', anyOf: ['health.read', 'health.manage'] },
  { href: '/people.html', label: 'People', anyOf: ['people.manage'] },
  { href: '/analytics.html', label: 'Analytics', anyOf: ['analytics.read'] },
  { href: '/audit.html', label: 'Audit log', anyOf: ['audit.read'] },
  { href: '/admin/queues', label: 'Job queues', anyOf: ['queues.read'] },
  { href: '/public-devices.html', label: 'Public device list', anyOf: [] },
];

/** True when the person may use any of the permissions. */
export function mayUse(person, ...anyOf) {
  return anyOf.some((permission) => person.permissions.includes(permission));
}

/** Fills the header's `#pages` and `#who`, and resolves with the person logged in. */
export async function openPage() {
  const person = await currentPerson();
  const here = location.pathname === '/index.html' ? '/' : location.pathname;
  document
    .getElementById('pages')
    .replaceChildren(
      ...PAGES.filter((page) => page.anyOf.length === 0 || mayUse(person, ...page.anyOf)).map((page) =>
        element('a', page.href === here ? { href: page.href, 'aria-current': 'page' } : { href: page.href }, page.label),
      ),
    );
  const logOutButton = element('button', { type: 'button', class: 'quiet' }, 'Log out');
  logOutButton.addEventListener('click', () => {
    logOutButton.disabled = true;
    logOut().catch((error) => {
      logOutButton.disabled = false;
      document.getElementById('status').textContent = `could not log out: ${error.message}`;
    });
  });
  document
    .getElementById('who')
    .replaceChildren(
      element(
        'span',
        { class: 'who-name', title: `logged in as ${person.username}` },
        person.displayName,
        element('small', { class: 'muted' }, person.roles.map(words).join(', ')),
      ),
      logOutButton,
    );
  for (const table of document.querySelectorAll('table.stacks')) labelStackedCells(table);
  return person;
}

/**
 * On a phone a .stacks table shows each row as a card, every value after its column's heading
 * (admin.css reads the cell's data-label). Rows arrive after the page loads and are replaced on
 * every refresh, so the labels follow the table's changes instead of each page writing them.
 */
function labelStackedCells(table) {
  const label = () => {
    const headings = [...(table.tHead?.rows[0]?.cells ?? [])].map((cell) => cell.textContent.trim());
    for (const body of table.tBodies) {
      for (const row of body.rows) {
        let column = 0;
        for (const cell of row.cells) {
          if (!cell.hasAttribute('data-label')) cell.setAttribute('data-label', headings[column] ?? '');
          column += cell.colSpan;
        }
      }
    }
  };
  label();
  new MutationObserver(label).observe(table, { childList: true, subtree: true });
}

/** Puts the server's reason in place of the page's content, e.g. for a role that may not see captures. */
export function showRefusal(error) {
  const notice = element(
    'section',
    { class: 'panel narrow refusal', role: 'alert', 'aria-labelledby': 'refusal-heading' },
    element('h2', { id: 'refusal-heading' }, 'Not allowed'),
    element('p', {}, `The server refused: ${error.message}.`),
    element('p', { class: 'muted' }, 'Ask a system administrator if your work needs this page.'),
  );
  document.querySelector('main').replaceChildren(notice);
}
