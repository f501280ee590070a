// Modal dialogs that give keyboard focus back to where the person was working when they close,
// however they close (a button, Escape, a successful submit).

// Selectors, not elements: the page rebuilds its rows after every change, so the button that
// opened a dialog is usually gone by the time it closes; its replacement is found again.
const returnTo = new Map();

/** Opens `dialog` modally with focus on `first`; on closing, focus goes to the first of `selectors` that matches. */
export function openDialog(dialog, selectors, first) {
  returnTo.set(dialog, selectors);
  dialog.showModal();
  first.focus();
}

/** Closes `from` and opens `to` in its place, which then returns focus where `from` would have. */
export function replaceDialog(from, to, first) {
  const selectors = returnTo.get(from) ?? [];
  returnTo.delete(from);
  from.close();
  openDialog(to, selectors, first);
}

/** Wires every dialog on the page: its [data-close] buttons close it, and closing returns focus. */
export function wireDialogs() {
  for (const dialog of document.querySelectorAll('dialog')) {
    for (const button of dialog.querySelectorAll('[data-close]')) button.addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => {
      const selectors = returnTo.get(dialog) ?? [];
      returnTo.delete(dialog);
      for (const selector of selectors) {
        const target = document.querySelector(selector);
        if (target) {
          target.focus();
          return;
        }
      }
    });
  }
}
