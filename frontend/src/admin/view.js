/**
 * The admin page's DOM: the header with its status line, the error banner, the sign-in card,
 * and the workspace (Sidebar, DocPanel, and the Preview/History tabs). `render(state)` brings it
 * in line with the state; the controller (app.js) owns the handlers in `on`.
 */

import { DocPanel } from './docpanel.js';
import { el, uid } from './dom.js';
import { HistoryPanel } from './history.js';
import { PreviewPanel } from './preview.js';
import { Sidebar } from './sidebar.js';
import { baseVersion, isDirty } from './state.js';

const TOKEN_HELP =
  'Use an admin token from the server’s AVATAR_ADMIN__TOKENS. It is kept in this browser tab ' +
  'only and forgotten when you close it or sign out.';
const TAB_KEYS = ['ArrowLeft', 'ArrowRight', 'Home', 'End'];

export class AdminView {
  /**
   * @param {HTMLElement} host
   * @param {{onSignIn, onSignOut, onOpen, onEdit, onValidate, onSave, onReload, onDismissConflict,
   *          onAsk, onResetPreview, onRollback, onRefreshHistory, onTab}} on
   */
  constructor(host, on) {
    this.on = on;
    this.status = el('div', {
      class: 'adm-status',
      role: 'status',
      'aria-live': 'polite',
      'data-testid': 'status',
    });
    this.signOut = el('button', {
      type: 'button',
      class: 'adm-small',
      text: 'Sign out',
      'data-testid': 'sign-out',
      onclick: () => on.onSignOut(),
    });
    const header = el('header', { class: 'adm-header' }, [
      el('span', { class: 'adm-logo', 'aria-hidden': 'true' }),
      el('div', {}, [
        el('h1', { text: 'Avatar admin' }),
        el('div', { class: 'adm-sub', text: 'Personas and their prompts' }),
      ]),
      this.status,
      this.signOut,
    ]);
    this.alertText = el('span', { class: 'adm-grow' });
    this.alert = el('div', { class: 'adm-alert', role: 'alert', 'data-testid': 'alert' });
    this.signin = this.buildSignIn();
    this.work = this.buildWorkspace();
    this.root = el('div', { class: 'aa-app aa-admin' }, [
      header,
      this.alert,
      this.signin,
      this.work,
    ]);
    host.append(this.root);
  }

  /** The change message the user typed for Save. */
  get message() {
    return this.doc.message;
  }

  buildSignIn() {
    const inputId = uid('token');
    const helpId = uid('token-help');
    this.tokenInput = el('input', {
      id: inputId,
      type: 'password',
      autocomplete: 'off',
      spellcheck: 'false',
      required: true,
      'aria-describedby': helpId,
      'data-testid': 'token-input',
    });
    this.signInError = el('div', {
      class: 'adm-error',
      role: 'alert',
      'data-testid': 'sign-in-error',
    });
    this.signInButton = el('button', {
      type: 'submit',
      class: 'aa-primary',
      text: 'Sign in',
      'data-testid': 'sign-in',
    });
    const form = el('form', { class: 'adm-card', 'aria-labelledby': 'adm-signin-title' }, [
      el('h2', { id: 'adm-signin-title', text: 'Sign in' }),
      el('p', { id: helpId, text: TOKEN_HELP }),
      el('label', { class: 'adm-field', for: inputId, text: 'Admin token' }),
      this.tokenInput,
      this.signInError,
      this.signInButton,
    ]);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const token = this.tokenInput.value.trim();
      if (token) this.on.onSignIn(token);
      else this.tokenInput.focus();
    });
    return el('main', { class: 'adm-signin', 'data-testid': 'sign-in-view' }, [form]);
  }

  buildWorkspace() {
    const on = this.on;
    this.sidebar = new Sidebar({ onOpen: on.onOpen });
    this.doc = new DocPanel(on);
    this.preview = new PreviewPanel({ onAsk: on.onAsk, onReset: on.onResetPreview });
    this.history = new HistoryPanel({ onRollback: on.onRollback, onRefresh: on.onRefreshHistory });
    this.tabs = [
      this.tab('preview', 'Preview', this.preview.root),
      this.tab('history', 'History', this.history.root),
    ];
    const tablist = el(
      'div',
      { class: 'adm-tabs', role: 'tablist', 'aria-label': 'Preview and history' },
      this.tabs.map((t) => t.button),
    );
    tablist.addEventListener('keydown', (event) => {
      const i = this.tabs.findIndex((t) => t.button === document.activeElement);
      if (i < 0 || !TAB_KEYS.includes(event.key)) return;
      event.preventDefault();
      const n = this.tabs.length;
      const next = { ArrowLeft: (i - 1 + n) % n, ArrowRight: (i + 1) % n, Home: 0, End: n - 1 };
      const tab = this.tabs[next[event.key]];
      this.selectTab(tab.name);
      tab.button.focus();
    });
    const right = el(
      'section',
      { class: 'adm-panel adm-right', 'aria-label': 'Preview and history' },
      [tablist, ...this.tabs.map((t) => t.panel)],
    );
    this.selectTab('preview');
    return el('div', { class: 'adm-work', 'data-testid': 'workspace' }, [
      this.sidebar.root,
      this.doc.root,
      right,
    ]);
  }

  tab(name, label, content) {
    const tabId = uid(`tab-${name}`);
    const panelId = uid(`panel-${name}`);
    const button = el('button', {
      type: 'button',
      role: 'tab',
      id: tabId,
      'aria-controls': panelId,
      'data-testid': `tab-${name}`,
      text: label,
      onclick: () => this.selectTab(name),
    });
    const panel = el(
      'div',
      { role: 'tabpanel', id: panelId, 'aria-labelledby': tabId, class: 'adm-tabpanel' },
      [content],
    );
    return { name, button, panel };
  }

  selectTab(name) {
    for (const tab of this.tabs) {
      const selected = tab.name === name;
      tab.button.setAttribute('aria-selected', String(selected));
      tab.button.tabIndex = selected ? 0 : -1;
      tab.panel.hidden = !selected;
    }
    this.currentTab = name;
    this.on.onTab?.(name);
  }

  /** A short message in the header's live region; `tone`: info | ok | busy. */
  say(text, tone = 'info') {
    this.status.textContent = text;
    this.status.dataset.tone = tone;
  }

  /** An error banner under the header (role=alert) until dismissed or replaced. */
  showError(text) {
    if (!text) {
      this.alert.replaceChildren();
      return;
    }
    this.alertText.textContent = text;
    const dismiss = el('button', {
      type: 'button',
      class: 'adm-small',
      text: 'Dismiss',
      onclick: () => this.showError(null),
    });
    this.alert.replaceChildren(this.alertText, dismiss);
  }

  render(state) {
    const signedIn = state.auth === 'signed-in';
    this.signin.hidden = signedIn;
    this.work.hidden = !signedIn;
    this.signOut.hidden = !signedIn;
    this.signInButton.disabled = state.auth === 'checking';
    this.signInButton.textContent = state.auth === 'checking' ? 'Checking…' : 'Sign in';
    this.signInError.textContent = state.authMessage ?? '';
    if (!signedIn) {
      document.title = 'Avatar admin';
      return;
    }
    this.sidebar.render(state);
    this.doc.render(state);
    this.preview.render(state.turns, Boolean(state.busy.preview), state.doc !== null);
    this.history.render(state.changes, baseVersion(state.doc), Boolean(state.busy.rollback));
    const name = state.doc ? `${state.doc.name ?? state.doc.id} – ` : '';
    document.title = `${isDirty(state) ? '• ' : ''}${name}Avatar admin`;
  }
}
