/**
 * The persona source editor: a plain `<textarea>` (so undo, selection, IME, spell-check off and
 * screen readers work as everywhere) with a line-number gutter and red bands behind the lines
 * that have problems.
 *
 * Lines wrap, so a gutter row is as tall as its line: a hidden mirror with the textarea's font,
 * width and padding holds one block per line and is measured after each change. Gutter and
 * bands follow the textarea's scroll with a transform.
 */

import { el, uid } from './dom.js';
import { lineAt, lineRange, problemsByLine, scrollToShow, splitLines } from './lines.js';

export class SourceEditor {
  /**
   * @param {{label: string, onInput: (text: string) => void}} options
   */
  constructor({ label, onInput }) {
    this.onInput = onInput;
    this.badLines = new Map();
    this.caretLine = 1;
    this.tops = [];
    this.heights = [];
    this.frame = 0;

    const id = uid('source');
    this.textarea = el('textarea', {
      id,
      spellcheck: 'false',
      autocomplete: 'off',
      autocapitalize: 'off',
      wrap: 'soft',
      'data-testid': 'editor',
    });
    this.label = el('label', { for: id, class: 'adm-sr', text: label });
    this.gutterInner = el('div', { class: 'adm-gutter-inner' });
    this.gutter = el(
      'div',
      { class: 'adm-gutter', 'aria-hidden': 'true', 'data-testid': 'gutter' },
      [this.gutterInner],
    );
    this.bands = el('div', { class: 'adm-backdrop-inner' });
    this.mirror = el('div', { class: 'adm-mirror', 'aria-hidden': 'true' });
    this.root = el('div', { class: 'adm-code' }, [
      this.gutter,
      el('div', { class: 'adm-area' }, [
        el('div', { class: 'adm-backdrop', 'aria-hidden': 'true' }, [this.bands]),
        this.label,
        this.textarea,
        this.mirror,
      ]),
    ]);

    this.textarea.addEventListener('input', () => {
      this.onInput(this.textarea.value);
      this.schedule();
    });
    this.textarea.addEventListener('scroll', () => this.followScroll());
    for (const type of ['keyup', 'mouseup', 'focus', 'select']) {
      this.textarea.addEventListener(type, () => this.updateCaretLine());
    }
    if (typeof ResizeObserver === 'function') {
      let lastWidth = 0;
      new ResizeObserver(() => {
        if (this.textarea.clientWidth !== lastWidth) {
          lastWidth = this.textarea.clientWidth;
          this.schedule();
        }
      }).observe(this.textarea);
    }
  }

  get text() {
    return this.textarea.value;
  }

  /** Replace the whole text (a persona opened or reloaded): caret and scroll to the top. */
  setText(text) {
    this.textarea.value = text;
    this.textarea.setSelectionRange(0, 0);
    this.textarea.scrollTop = 0;
    this.caretLine = 1;
    this.measure();
    this.followScroll();
  }

  setDisabled(disabled) {
    this.textarea.disabled = disabled;
  }

  /** Mark the lines the problems point at (gutter, bands, tooltips). */
  setProblems(problems, describedBy) {
    this.badLines = problemsByLine(problems);
    this.textarea.setAttribute('aria-invalid', String(problems.length > 0));
    if (describedBy) this.textarea.setAttribute('aria-describedby', describedBy);
    this.paint();
  }

  /** Put the caret at the start of `line`, scroll it into view and focus the editor. */
  goToLine(line) {
    const text = this.textarea.value;
    const [start] = lineRange(text, line);
    this.textarea.focus({ preventScroll: true });
    this.textarea.setSelectionRange(start, start);
    this.measure();
    const index = Math.min(Math.max(line, 1), this.tops.length) - 1;
    const top = this.tops[index] ?? 0;
    const max = this.textarea.scrollHeight - this.textarea.clientHeight;
    this.textarea.scrollTop = scrollToShow(top, this.textarea.clientHeight, max);
    this.updateCaretLine();
    this.followScroll();
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.measure();
      this.updateCaretLine();
    });
  }

  /** Lay the mirror out like the textarea and read each line's top and height. */
  measure() {
    const lines = splitLines(this.textarea.value);
    const rows = this.mirror.children;
    this.mirror.style.width = `${this.textarea.clientWidth}px`;
    while (rows.length > lines.length) rows[rows.length - 1].remove();
    for (let i = 0; i < lines.length; i++) {
      const text = lines[i] || '\u200b';
      if (i < rows.length) {
        if (rows[i].textContent !== text) rows[i].textContent = text;
      } else this.mirror.append(el('div', { text }));
    }
    this.tops = [];
    this.heights = [];
    for (const row of rows) {
      this.tops.push(row.offsetTop);
      this.heights.push(row.offsetHeight);
    }
    this.paint();
  }

  /** Gutter numbers and problem bands from the last measurement. */
  paint() {
    const count = this.tops.length;
    const numbers = this.gutterInner.children;
    while (numbers.length > count) numbers[numbers.length - 1].remove();
    while (numbers.length < count) {
      this.gutterInner.append(el('div', { class: 'adm-ln', text: String(numbers.length + 1) }));
    }
    const bands = [];
    for (let i = 0; i < count; i++) {
      const row = numbers[i];
      const line = i + 1;
      const height = `${this.heights[i] || 20}px`;
      if (row.style.height !== height) row.style.height = height;
      const messages = this.badLines.get(line);
      row.classList.toggle('adm-bad', Boolean(messages));
      row.classList.toggle('adm-cur', line === this.caretLine);
      if (messages) {
        row.title = messages.join('\n');
        row.dataset.problem = 'true';
        bands.push(
          el('div', {
            class: 'adm-band',
            style: `top:${this.tops[i]}px;height:${this.heights[i] || 20}px`,
          }),
        );
      } else if (row.title) {
        row.removeAttribute('title');
        delete row.dataset.problem;
      }
    }
    this.bands.replaceChildren(...bands);
  }

  followScroll() {
    const shift = `translateY(${-this.textarea.scrollTop}px)`;
    this.gutterInner.style.transform = shift;
    this.bands.style.transform = shift;
  }

  updateCaretLine() {
    const line = lineAt(this.textarea.value, this.textarea.selectionStart);
    this.textarea.dataset.caretLine = String(line);
    if (line === this.caretLine) return;
    const numbers = this.gutterInner.children;
    numbers[this.caretLine - 1]?.classList.remove('adm-cur');
    numbers[line - 1]?.classList.add('adm-cur');
    this.caretLine = line;
  }
}
