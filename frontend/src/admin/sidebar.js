/** The left column: the persona list (name, id, version, label, valid/invalid badge) and, at
 * its foot, the knowledge bases with their document and chunk counts. */

import { el } from './dom.js';
import { knowledgeLine } from './format.js';

export class Sidebar {
  /** @param {{onOpen: (id: string) => void}} handlers */
  constructor({ onOpen }) {
    this.onOpen = onOpen;
    this.count = el('span', { class: 'adm-badge adm-plain' });
    this.list = el('ul', {
      class: 'adm-personas',
      'aria-label': 'Personas',
      'data-testid': 'persona-list',
    });
    this.knowledge = el('div', { class: 'adm-kb', 'data-testid': 'knowledge' });
    this.root = el('nav', { class: 'adm-panel adm-side', 'aria-label': 'Personas' }, [
      el('header', {}, [el('h2', { text: 'Personas' }), this.count]),
      this.list,
      this.knowledge,
    ]);
    this.renderedPersonas = null;
    this.renderedSelected = null;
    this.renderedKnowledge = undefined;
  }

  render(state) {
    this.renderPersonas(state.personas, state.selectedId);
    this.renderKnowledge(state.knowledge);
  }

  renderPersonas(personas, selectedId) {
    if (personas === this.renderedPersonas && selectedId === this.renderedSelected) return;
    this.renderedPersonas = personas;
    this.renderedSelected = selectedId;
    this.count.textContent = String(personas.length);
    const focused = document.activeElement?.closest?.('[data-testid=persona-item]')?.dataset.id;
    this.list.replaceChildren(...personas.map((p) => el('li', {}, [this.item(p, selectedId)])));
    if (focused) this.list.querySelector(`[data-id="${CSS.escape(focused)}"]`)?.focus();
  }

  item(persona, selectedId) {
    const badge =
      persona.valid === false
        ? el('span', {
            class: 'adm-badge adm-invalid',
            'data-testid': 'persona-invalid',
            title: 'The file has problems; sessions get its last good version',
            text: 'invalid',
          })
        : el('span', { class: 'adm-badge adm-valid', text: 'valid' });
    const version = persona.version ? `v ${persona.version}` : 'no valid version';
    return el(
      'button',
      {
        type: 'button',
        'data-testid': 'persona-item',
        'data-id': persona.id,
        'aria-current': persona.id === selectedId ? 'true' : 'false',
        onclick: () => this.onOpen(persona.id),
      },
      [
        el('span', { class: 'adm-pname' }, [
          el('span', { text: persona.name ?? persona.id }),
          badge,
        ]),
        el('span', { class: 'adm-pmeta', text: persona.id }),
        el('span', {
          class: 'adm-pmeta',
          text: [version, persona.label].filter(Boolean).join(' · '),
        }),
      ],
    );
  }

  renderKnowledge(knowledge) {
    if (knowledge === this.renderedKnowledge) return;
    this.renderedKnowledge = knowledge;
    if (knowledge === null) {
      this.knowledge.replaceChildren(el('span', { text: 'Knowledge bases: loading…' }));
      return;
    }
    this.knowledge.replaceChildren(
      el('h2', { text: 'Knowledge bases' }),
      knowledge.length
        ? el('ul', {}, knowledge.map((kb) => el('li', { text: knowledgeLine(kb) })))
        : el('div', { text: 'None configured.' }),
    );
  }
}
