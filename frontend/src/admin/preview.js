/**
 * The preview panel: a short conversation with the persona as drafted in the editor. Each reply
 * shows its text (as the model wrote it, expression and source tags included), whether the
 * persona refused, the sources it cited, the passages retrieval found with their similarity,
 * the timings, and the system prompt as rendered for that turn.
 */

import { el, uid } from './dom.js';
import { duration, percent } from './format.js';

export class PreviewPanel {
  /** @param {{onAsk: (text: string) => void, onReset: () => void}} handlers */
  constructor({ onAsk, onReset }) {
    this.log = el('ol', {
      class: 'adm-log',
      'aria-label': 'Preview conversation',
      'aria-live': 'polite',
      'data-testid': 'preview-log',
    });
    const inputId = uid('preview-input');
    this.input = el('textarea', {
      id: inputId,
      rows: '2',
      maxlength: '2000',
      placeholder: 'Ask something a visitor might ask…',
      'data-testid': 'preview-input',
    });
    this.send = el('button', {
      type: 'submit',
      class: 'aa-primary',
      text: 'Preview reply',
      'data-testid': 'preview-send',
    });
    this.reset = el('button', {
      type: 'button',
      class: 'adm-small',
      text: 'Reset conversation',
      'data-testid': 'preview-reset',
      onclick: () => onReset(),
    });
    this.note = el('span', { class: 'adm-note', text: 'Enter to send' });
    this.form = el(
      'form',
      { class: 'adm-ask', 'aria-label': 'Preview a reply' },
      [
        el('label', { for: inputId, class: 'adm-sr', text: 'Message to preview' }),
        this.input,
        el('div', { class: 'adm-row' }, [
          this.reset,
          el('span', { class: 'adm-spacer' }),
          this.note,
          this.send,
        ]),
      ],
    );
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      const text = this.input.value.trim();
      if (text) onAsk(text);
    });
    // Enter sends, Shift+Enter starts a new line.
    this.input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.form.requestSubmit();
      }
    });
    this.root = el('div', { class: 'adm-tabpanel' }, [this.log, this.form]);
    this.rendered = null;
    this.pending = null;
  }

  /** Show `turns` (state.turns); `pending` while a reply is on its way. */
  render(turns, pending, enabled) {
    this.send.disabled = pending || !enabled;
    this.input.disabled = !enabled;
    this.reset.disabled = pending || turns.length === 0;
    if (turns === this.rendered && pending === this.pending) return;
    this.rendered = turns;
    this.pending = pending;
    const items = turns.map((turn, i) =>
      turn.role === 'user'
        ? el('li', { class: 'adm-turn-user', 'data-testid': 'preview-question', text: turn.text })
        : reply(turn, i === turns.length - 1),
    );
    if (pending) {
      items.push(
        el('li', { class: 'adm-turn-bot', 'aria-busy': 'true' }, [
          el('div', { class: 'adm-bubble adm-note', text: 'Thinking…' }),
        ]),
      );
    }
    if (!items.length) {
      items.push(
        el('li', {
          class: 'adm-hint',
          text:
            'Try the persona before saving: each question is answered by the text in the ' +
            'editor, saved or not, with the conversation so far.',
        }),
      );
    }
    this.log.replaceChildren(...items);
    // Show the latest question at the top, so its reply reads from its first line.
    const question = [...this.log.querySelectorAll('.adm-turn-user')].at(-1);
    this.log.scrollTop = question ? question.offsetTop - 12 : 0;
  }

  clearInput() {
    this.input.value = '';
  }
}

function reply(turn, latest) {
  if (turn.error) {
    return el('li', { class: 'adm-turn-bot', 'data-testid': 'preview-reply' }, [
      el('div', {
        class: 'adm-bubble adm-failed',
        'data-testid': 'preview-error',
        text: turn.error,
      }),
    ]);
  }
  const result = turn.result ?? {};
  const failed = result.status === 'failed';
  const facts = [
    result.refused
      ? el('span', {
          class: 'adm-badge adm-invalid',
          'data-testid': 'preview-refused',
          text: 'Refused',
        })
      : el('span', { class: 'adm-badge adm-valid', text: 'Answered' }),
    result.status && result.status !== 'completed'
      ? el('span', { class: 'adm-badge adm-plain', text: result.status })
      : null,
    el('span', {
      'data-testid': 'preview-timing',
      text:
        `first token ${duration(result.timings?.first_token_ms)} · ` +
        `total ${duration(result.timings?.total_ms)}`,
    }),
    result.persona?.version
      ? el('span', {
          class: 'adm-badge adm-plain adm-mono',
          title: 'The version previewed (of the draft)',
          text: `v ${result.persona.version}`,
        })
      : null,
  ];
  const citations = result.citations ?? [];
  const passages = result.passages ?? [];
  return el('li', { class: 'adm-turn-bot', 'data-testid': 'preview-reply' }, [
    el('div', {
      class: `adm-bubble${failed ? ' adm-failed' : ''}`,
      'data-testid': 'preview-text',
      text: result.text || (failed ? `The reply failed: ${result.error ?? '?'}` : '(no text)'),
    }),
    el('div', { class: 'adm-facts' }, facts),
    citations.length
      ? el('div', {}, [
          el('div', { class: 'adm-note', text: 'Cited' }),
          el(
            'ul',
            { class: 'adm-sources', 'data-testid': 'preview-citations' },
            citations.map((c) =>
              el('li', {}, [
                el('span', { class: 'adm-sid', text: c.id }),
                el('span', { text: c.title || c.source }),
                el('span', { class: 'adm-note', text: c.title ? c.source : '' }),
                c.snippet
                  ? el('span', {
                      class: 'adm-snip adm-clamp',
                      title: c.snippet,
                      text: `“${c.snippet}”`,
                    })
                  : null,
              ]),
            ),
          ),
        ])
      : null,
    passages.length
      ? el('details', { open: latest, 'data-testid': 'preview-passages' }, [
          el('summary', { text: `Retrieved passages (${passages.length})` }),
          el(
            'ul',
            { class: 'adm-sources' },
            passages.map((p) =>
              el('li', {}, [
                el('span', { class: 'adm-sid', text: p.id }),
                el('span', { text: p.title || p.source, title: p.chunk_id ?? '' }),
                el('span', { class: 'adm-sim' }, [
                  el('meter', {
                    min: '0',
                    max: '1',
                    value: String(p.similarity ?? 0),
                    'aria-label': 'similarity',
                  }),
                  percent(p.similarity),
                ]),
                p.title ? el('span', { class: 'adm-snip', text: p.source }) : null,
              ]),
            ),
          ),
        ])
      : null,
    el('details', { 'data-testid': 'preview-prompt' }, [
      el('summary', { text: 'System prompt as rendered' }),
      el('pre', { text: result.system_prompt ?? '' }),
    ]),
  ]);
}
