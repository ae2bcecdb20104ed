/** Small DOM helpers for the admin page. */

/**
 * `el('button', {class: 'x', text: 'Go', onclick: fn}, [children])`: attributes are set as
 * attributes except `text` (textContent) and `on*` functions (event listeners); `false`,
 * `null` and `undefined` attributes are left out, `true` sets an empty one.
 */
export function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key === 'text') node.textContent = value;
    else if (key.startsWith('on') && typeof value === 'function') {
      node.addEventListener(key.slice(2), value);
    } else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

let ids = 0;

/** A unique id for aria-labelledby / aria-controls pairs. */
export function uid(prefix) {
  ids += 1;
  return `${prefix}-${ids}`;
}

/**
 * Ask a yes/no question in a modal `<dialog>` inside `root`; resolves true on confirm. Escape,
 * Cancel and closing resolve false. Focus starts on Cancel (the safe choice) and returns to
 * where it was.
 */
export function confirmDialog(root, { title, body, confirm = 'OK', danger = false }) {
  return new Promise((resolve) => {
    const before = document.activeElement;
    const titleId = uid('dlg-title');
    const bodyId = uid('dlg-body');
    const cancelButton = el('button', {
      type: 'button',
      text: 'Cancel',
      'data-testid': 'dialog-cancel',
    });
    const okButton = el('button', {
      type: 'button',
      class: danger ? 'adm-danger' : 'aa-primary',
      text: confirm,
      'data-testid': 'dialog-confirm',
    });
    const dialog = el(
      'dialog',
      { 'aria-labelledby': titleId, 'aria-describedby': bodyId, 'data-testid': 'dialog' },
      [
        el('h3', { id: titleId, text: title }),
        el('p', { id: bodyId, text: body }),
        el('div', { class: 'adm-row' }, [cancelButton, okButton]),
      ],
    );
    let answer = false;
    cancelButton.addEventListener('click', () => dialog.close());
    okButton.addEventListener('click', () => {
      answer = true;
      dialog.close();
    });
    dialog.addEventListener('close', () => {
      dialog.remove();
      before?.focus?.();
      resolve(answer);
    });
    root.append(dialog);
    dialog.showModal();
    cancelButton.focus();
  });
}
