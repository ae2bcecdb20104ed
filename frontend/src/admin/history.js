/**
 * The history panel: the open persona's changes, newest first (message, who, when in local
 * time, version and label), each expanding to its coloured unified diff and a button to roll
 * back to the version it produced. The version before the oldest recorded change is offered
 * too, so the very first edit can be undone.
 */

import { el } from './dom.js';
import { diffStats, parseDiff } from './diff.js';
import { localTime, plural } from './format.js';
import { rollbackTargets } from './state.js';

export class HistoryPanel {
  /** @param {{onRollback: (version: string) => void, onRefresh: () => void}} handlers */
  constructor({ onRollback, onRefresh }) {
    this.onRollback = onRollback;
    this.list = el('ol', {
      class: 'adm-history',
      'aria-label': 'Changes, newest first',
      'data-testid': 'history-list',
    });
    this.refresh = el('button', {
      type: 'button',
      class: 'adm-small',
      text: 'Refresh',
      'data-testid': 'history-refresh',
      onclick: () => onRefresh(),
    });
    this.count = el('span', { class: 'adm-note', 'aria-live': 'polite' });
    this.root = el('div', { class: 'adm-tabpanel' }, [
      el('div', { class: 'adm-histbar' }, [this.count, this.refresh]),
      this.list,
    ]);
    this.rendered = undefined;
  }

  /** Show `changes` (null while loading) for the version now on disk, `current`. */
  render(changes, current, busy) {
    for (const button of this.list.querySelectorAll('[data-testid=rollback]')) {
      button.disabled = busy;
    }
    const key = `${current}`;
    if (changes === this.rendered && key === this.renderedKey) return;
    this.rendered = changes;
    this.renderedKey = key;
    const open = new Set(
      [...this.list.querySelectorAll('details[open]')].map((d) => d.dataset.key),
    );
    if (changes === null) {
      this.count.textContent = '';
      this.list.replaceChildren(el('li', { class: 'adm-hint adm-note', text: 'Loading history…' }));
      return;
    }
    const targets = rollbackTargets(changes, current);
    this.count.textContent = `${plural(changes.length, 'change')}, newest first`;
    if (!targets.length) {
      this.list.replaceChildren(
        el('li', {
          class: 'adm-note',
          text: 'No changes recorded yet. Saving here records who changed what, and why.',
        }),
      );
      return;
    }
    this.list.replaceChildren(
      ...targets.map((target) => this.item(target, open, busy)),
    );
  }

  /** One entry; it stays expanded across re-renders if it was (`open`: keys of those). */
  item(target, open, busy) {
    const { change, version, label, current } = target;
    const key = change ? `${change.version}@${change.at}` : `before@${version}`;
    const rollback = current
      ? el('span', { class: 'adm-badge adm-valid', text: 'Current version' })
      : el('button', {
          type: 'button',
          class: 'adm-small',
          'data-testid': 'rollback',
          'data-version': version,
          disabled: busy,
          text: 'Roll back to this version',
          onclick: () => this.onRollback(version),
        });
    const versionBadge = el('span', {
      class: 'adm-badge adm-plain adm-mono',
      text: `v ${version}`,
    });
    if (!change) {
      return el('li', { 'data-testid': 'change', 'data-version': version }, [
        el('details', { class: 'adm-change', 'data-key': key, open: open.has(key) }, [
          el('summary', {}, [
            el('span', { class: 'adm-caret', 'aria-hidden': 'true' }),
            el('span', { class: 'adm-msg', text: 'Before the recorded changes' }),
            el('span', {}),
            el('span', { class: 'adm-by' }, [versionBadge]),
          ]),
          el('div', { class: 'adm-body' }, [
            el('span', {
              class: 'adm-note',
              text: 'The file as it was before the first change saved here.',
            }),
            el('div', {}, [rollback]),
          ]),
        ]),
      ]);
    }
    const parsed = parseDiff(change.diff ?? '');
    const { added, removed } = diffStats(parsed);
    return el('li', { 'data-testid': 'change', 'data-version': version }, [
      el('details', { class: 'adm-change', 'data-key': key, open: open.has(key) }, [
        el('summary', {}, [
          el('span', { class: 'adm-caret', 'aria-hidden': 'true' }),
          el('span', {
            class: 'adm-msg',
            'data-testid': 'change-text',
            text: change.message || '(no message)',
          }),
          el('span', { class: 'adm-stats', title: `${added} lines added, ${removed} removed` }, [
            el('span', { class: 'adm-plus', text: `+${added}` }),
            ' ',
            el('span', { class: 'adm-minus', text: `−${removed}` }),
          ]),
          el('span', { class: 'adm-by' }, [
            el('strong', { 'data-testid': 'change-who', text: change.who ?? 'unknown' }),
            el('span', { text: localTime(change.at) }),
            versionBadge,
            label ? el('span', { class: 'adm-badge adm-plain', text: label }) : null,
          ]),
        ]),
        el('div', { class: 'adm-body' }, [
          parsed.length
            ? el(
                'pre',
                {
                  class: 'adm-diff',
                  'data-testid': 'diff',
                  tabindex: '0',
                  'aria-label': 'Changes to the file',
                },
                parsed.map((line) =>
                  el('span', {
                    class: `adm-d-${line.kind}`,
                    'data-kind': line.kind,
                    text: line.text || ' ',
                  }),
                ),
              )
            : el('span', { class: 'adm-note', text: 'No textual change.' }),
          el('div', {}, [rollback]),
        ]),
      ]),
    ]);
  }
}
