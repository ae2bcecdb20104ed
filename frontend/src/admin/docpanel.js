/**
 * The middle column: the open persona's header (name, id, version, label, unsaved and validity
 * indicators), the source editor, the conflict notice after a refused save, the problems list
 * (each a button to the line) and the save bar (Validate, change message, Save).
 */

import { el, uid } from './dom.js';
import { SourceEditor } from './editor.js';
import { problemText, sortProblems } from './lines.js';
import { baseVersion, isDirty, validationState } from './state.js';

const MAC = typeof navigator !== 'undefined' && /Mac|iPhone|iPad/.test(navigator.platform ?? '');
const CONFLICT_TEXT =
  'Someone else saved this persona after you opened it. Reload their version (your edits here ' +
  'are replaced), or keep editing and copy your changes over after reloading.';

export class DocPanel {
  /** @param {{onEdit, onValidate, onSave, onReload, onDismissConflict}} on */
  constructor(on) {
    this.name = el('h2', { 'data-testid': 'doc-name' });
    this.id = el('code', { class: 'adm-note', 'data-testid': 'doc-id' });
    this.version = el('span', {
      class: 'adm-badge adm-plain adm-mono',
      'data-testid': 'doc-version',
      title: 'Version of the file: the first 12 hex digits of its SHA-256',
    });
    this.label = el('span', {
      class: 'adm-badge adm-plain',
      'data-testid': 'doc-label',
      title: 'Label (front matter)',
    });
    this.serving = el('span', { class: 'adm-badge adm-invalid', 'data-testid': 'doc-serving' });
    this.dirty = el('span', {
      class: 'adm-badge adm-dirty',
      'data-testid': 'dirty',
      title: 'Unsaved changes: the text differs from the saved file',
      text: '● Unsaved',
    });
    this.checked = el('span', { class: 'adm-checked', 'data-testid': 'checked' });
    const bar = el('div', { class: 'adm-docbar' }, [
      this.name,
      this.id,
      this.version,
      this.label,
      this.serving,
      this.dirty,
      el('span', { class: 'adm-spacer' }),
      this.checked,
    ]);

    this.editor = new SourceEditor({
      label: 'Persona file: YAML front matter and system prompt template',
      onInput: on.onEdit,
    });
    this.conflict = el('div', { class: 'adm-conflict', role: 'alert', 'data-testid': 'conflict' }, [
      el('p', { text: CONFLICT_TEXT }),
      el('button', {
        type: 'button',
        class: 'adm-small',
        text: 'Reload their version',
        'data-testid': 'reload',
        onclick: () => on.onReload(),
      }),
      el('button', {
        type: 'button',
        class: 'adm-small',
        text: 'Keep editing',
        onclick: () => on.onDismissConflict(),
      }),
    ]);
    this.problemsId = uid('problems');
    this.problems = el('ul', {
      id: this.problemsId,
      class: 'adm-problems',
      'aria-label': 'Problems',
      'data-testid': 'problems',
    });

    this.validate = el('button', {
      type: 'button',
      text: 'Validate',
      title: 'Check the file without saving it',
      'data-testid': 'validate',
      onclick: () => on.onValidate(),
    });
    const messageId = uid('message');
    this.message = el('input', {
      id: messageId,
      type: 'text',
      maxlength: '500',
      'aria-required': 'true',
      placeholder: 'What changed, and why? (required)',
      'data-testid': 'change-message',
    });
    this.save = el('button', { type: 'submit', class: 'aa-primary', 'data-testid': 'save' });
    const saveBar = el('form', { class: 'adm-savebar', novalidate: true, 'aria-label': 'Save' }, [
      this.validate,
      el('label', { for: messageId, class: 'adm-sr', text: 'Change message' }),
      this.message,
      el('span', { class: 'adm-kbd', 'aria-hidden': 'true', text: MAC ? '⌘S' : 'Ctrl+S' }),
      this.save,
    ]);
    saveBar.addEventListener('submit', (event) => {
      event.preventDefault();
      on.onSave();
    });

    this.empty = el('p', { class: 'adm-empty', text: 'Pick a persona on the left to edit it.' });
    this.parts = [bar, this.editor.root, this.conflict, this.problems, saveBar];
    this.root = el('section', { class: 'adm-panel adm-editor', 'aria-label': 'Editor' }, [
      this.empty,
      ...this.parts,
    ]);
    this.loadSeq = -1;
    this.renderedProblems = null;
  }

  render(state) {
    const doc = state.doc;
    this.empty.hidden = doc !== null;
    for (const part of this.parts) part.hidden = doc === null;
    if (!doc) return;
    if (state.loadSeq !== this.loadSeq) {
      this.loadSeq = state.loadSeq;
      this.editor.setText(state.draft);
    }
    const fileVersion = baseVersion(doc);
    const serving = doc.version && doc.version !== fileVersion ? doc.version : null;
    this.name.textContent = doc.name ?? doc.id;
    this.id.textContent = doc.id;
    this.version.textContent = `v ${fileVersion}`;
    this.label.textContent = doc.label ?? '';
    this.label.hidden = !doc.label;
    this.serving.hidden = !serving;
    this.serving.textContent = serving ? `serving v ${serving}` : '';
    this.serving.title = serving ? 'The file is invalid: sessions get its last good version' : '';
    this.dirty.hidden = !isDirty(state);

    const check = validationState(state);
    const n = state.problems.length;
    this.checked.dataset.state = check;
    this.checked.textContent = {
      unchecked: '',
      valid: '✓ Valid',
      invalid: `✗ ${n} problem${n === 1 ? '' : 's'}`,
      stale: 'Edited since the last check',
    }[check];
    this.problems.dataset.stale = String(check === 'stale');
    this.editor.root.dataset.stale = String(check === 'stale');
    this.validate.disabled = Boolean(state.busy.validate);
    this.validate.textContent = state.busy.validate ? 'Validating…' : 'Validate';
    this.save.disabled = Boolean(state.busy.save) || !isDirty(state);
    this.save.textContent = state.busy.save ? 'Saving…' : 'Save';
    this.editor.setDisabled(Boolean(state.busy.rollback));
    this.conflict.hidden = !state.conflict;
    this.renderProblems(state.problems);
  }

  renderProblems(problems) {
    this.problems.hidden = problems.length === 0;
    if (problems === this.renderedProblems) return;
    this.renderedProblems = problems;
    this.editor.setProblems(problems, problems.length ? this.problemsId : null);
    this.problems.replaceChildren(...sortProblems(problems).map((p) => this.problem(p)));
  }

  problem(problem) {
    const line = Number.isInteger(problem.line) ? problem.line : null;
    const button = el(
      'button',
      {
        type: 'button',
        'data-testid': 'problem',
        'data-line': line === null ? '' : String(line),
        title: line === null ? 'About the whole file' : `Go to line ${line}`,
        onclick: () => line !== null && this.editor.goToLine(line),
      },
      [
        el('span', { class: 'adm-where', text: line === null ? 'file' : `line ${line}` }),
        el('span', { text: problemText(problem) }),
      ],
    );
    return el('li', {}, [button]);
  }
}
