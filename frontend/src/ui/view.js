/**
 * The DOM of the client: stage, status, captions, the user's words, controls and the
 * conversation log. Pure DOM building and updating; no sockets, no audio.
 */

const TAG = /\[(\w+)\]|<(\w+)>/g;

/** Reply text as the user should read it: expression tags such as [smile] removed. */
export function displayText(text) {
  return text.replace(TAG, '').replace(/\s{2,}/g, ' ').trim();
}

function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === 'text') node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

export class View {
  /** @param {HTMLElement | ShadowRoot} root */
  constructor(root, { title = 'Avatar', compact = false } = {}) {
    this.stage = el('div', { class: 'aa-stage', 'data-testid': 'stage' });
    this.status = el('div', { class: 'aa-status', role: 'status', 'data-testid': 'status' });
    this.statusText = el('span', { text: 'Connecting…' });
    this.status.append(el('span', { class: 'aa-dot', 'aria-hidden': 'true' }), this.statusText);
    this.notice = el('div', { class: 'aa-notice', role: 'alert', 'data-testid': 'notice' });
    this.captions = el('p', {
      class: 'aa-captions',
      'aria-live': 'polite',
      'aria-label': 'Captions',
      'data-testid': 'captions',
    });
    this.you = el('p', { class: 'aa-you', 'aria-live': 'polite', 'data-testid': 'transcript' });
    this.start = el('button', { type: 'button', class: 'aa-primary', 'data-testid': 'start' });
    this.start.textContent = 'Start voice';
    this.talk = el('button', {
      type: 'button',
      class: 'aa-talk',
      'data-testid': 'talk',
      'aria-pressed': 'false',
      title: 'Hold to talk (Space)',
      hidden: '',
    });
    this.talk.textContent = 'Hold to talk';
    this.mode = el('button', {
      type: 'button',
      'data-testid': 'mode',
      'aria-pressed': 'false',
      title: 'Switch between hands-free and push-to-talk',
    });
    this.mute = el('button', { type: 'button', 'data-testid': 'mute', 'aria-pressed': 'false' });
    this.mute.textContent = 'Mute';
    this.input = el('input', {
      type: 'text',
      'aria-label': 'Type a message',
      placeholder: 'Type a message…',
      'data-testid': 'text-input',
      autocomplete: 'off',
    });
    this.send = el('button', { type: 'submit', 'data-testid': 'send' });
    this.send.textContent = 'Send';
    this.form = el('form', { class: 'aa-form' }, [this.input, this.send]);
    this.log = el('ol', { class: 'aa-log', 'aria-label': 'Conversation', 'data-testid': 'log' });
    const controls = el('div', { class: 'aa-controls' }, [
      this.start,
      this.talk,
      this.mode,
      this.mute,
    ]);
    this.root = el(
      'div',
      { class: `aa-app${compact ? ' aa-compact' : ''}`, 'aria-label': title, role: 'region' },
      [
        el('div', { class: 'aa-top' }, [this.stage, this.status, this.captions]),
        this.notice,
        this.you,
        controls,
        this.form,
        this.log,
      ],
    );
    root.append(this.root);
    this.entries = new Map(); // item or response id → log <li>
    this.captionWords = [];
    this.captionKey = null;
  }

  setStatus(state, text) {
    this.root.dataset.state = state;
    this.statusText.textContent = text;
  }

  /** Show a problem; it fades after 8 s unless `sticky` (nothing the user can do fixes it). */
  showNotice(text, { sticky = false } = {}) {
    this.notice.textContent = text;
    clearTimeout(this.noticeTimer);
    if (!sticky) this.noticeTimer = setTimeout(() => (this.notice.textContent = ''), 8000);
  }

  setVoice({ started, mode, muted, talking }) {
    this.start.hidden = started;
    this.mode.textContent = mode === 'ptt' ? 'Push-to-talk' : 'Hands-free';
    this.mode.setAttribute('aria-pressed', String(mode === 'ptt'));
    this.talk.hidden = !started || mode !== 'ptt';
    this.talk.setAttribute('aria-pressed', String(talking));
    this.talk.textContent = talking ? 'Listening…' : 'Hold to talk';
    this.mute.hidden = !started || mode === 'ptt';
    this.mute.setAttribute('aria-pressed', String(muted));
    this.mute.textContent = muted ? 'Unmute' : 'Mute';
    this.root.dataset.mode = mode;
  }

  /** The user's words while they speak: settled words, then the guess still changing. */
  showPartial(stable, unstable) {
    this.you.replaceChildren(
      el('span', { class: 'aa-stable', text: stable }),
      el('span', { class: 'aa-unstable', text: unstable ? ` ${unstable}` : '' }),
    );
  }

  showFinal(text) {
    this.you.replaceChildren(el('span', { class: 'aa-stable', text }));
  }

  /** Add or replace a log entry for a user turn or an avatar reply. */
  entry(id, role, text) {
    let item = this.entries.get(id);
    if (!item) {
      item = el('li', { class: `aa-${role}`, 'data-role': role });
      this.entries.set(id, item);
      this.log.append(item);
      while (this.log.children.length > 50) {
        const first = this.log.firstElementChild;
        for (const [key, value] of this.entries) if (value === first) this.entries.delete(key);
        first.remove();
      }
    }
    item.textContent = role === 'assistant' ? displayText(text) : text;
    item.scrollIntoView?.({ block: 'nearest' });
    return item;
  }

  markInterrupted(id) {
    this.entries.get(id)?.classList.add('aa-interrupted');
  }

  /** Show a caption segment (once per segment) and highlight word `index`. */
  caption(key, words, index) {
    if (key !== this.captionKey) {
      this.captionKey = key;
      this.captionWords = words.map((w) => el('span', { class: 'aa-word', text: w.text }));
      const parts = [];
      this.captionWords.forEach((span, i) => parts.push(...(i ? [' ', span] : [span])));
      this.captions.replaceChildren(...parts);
    }
    this.captionWords.forEach((span, i) => {
      span.classList.toggle('aa-said', i < index);
      span.classList.toggle('aa-now', i === index);
    });
  }

  clearCaption() {
    this.captionKey = null;
    this.captionWords = [];
    this.captions.replaceChildren();
  }
}
