/**
 * The admin page's controller: calls the admin API, dispatches what it answered into the state
 * (state.js) and has the view (view.js) render it. The token lives in sessionStorage only.
 *
 * Guards against losing work: switching persona, signing out, rolling back and reloading after a
 * conflict ask first when the editor has unsaved changes, and so does leaving the page
 * (beforeunload). Ctrl/Cmd+S saves.
 */

import { AdminClient, describeError, isAuthError } from './api.js';
import { confirmDialog } from './dom.js';
import { plural } from './format.js';
import {
  baseVersion,
  initialState,
  isDirty,
  previewHistory,
  reduce,
  saveBlocker,
} from './state.js';
import { AdminView } from './view.js';

export const TOKEN_KEY = 'avatar-admin-token';

export class AdminApp {
  /**
   * @param {HTMLElement} host
   * @param {{storage?: Storage, fetch?: typeof fetch, base?: string,
   *          persona?: string|null}} options
   */
  constructor(host, { storage = sessionStorage, fetch, base = '', persona = null } = {}) {
    this.storage = storage;
    this.fetch = fetch;
    this.base = base;
    this.wanted = persona;
    this.state = initialState;
    this.client = null;
    this.view = new AdminView(host, {
      onSignIn: (token) => this.signIn(token),
      onSignOut: () => this.signOut(),
      onOpen: (id) => this.open(id),
      onEdit: (text) => this.dispatch({ type: 'draft-edited', text }),
      onValidate: () => this.validate(),
      onSave: () => this.save(),
      onReload: () => this.reloadAfterConflict(),
      onDismissConflict: () => this.dispatch({ type: 'conflict-dismissed' }),
      onAsk: (text) => this.preview(text),
      onResetPreview: () => this.dispatch({ type: 'preview-reset' }),
      onRollback: (version) => this.rollback(version),
      onRefreshHistory: () => this.loadHistory(),
      onTab: (name) => {
        // Called while the view is built too, before there is any state.
        if (name === 'history' && this.state?.doc && this.state.changes === null) {
          this.loadHistory();
        }
      },
    });
    window.addEventListener('beforeunload', (event) => {
      if (!isDirty(this.state)) return;
      event.preventDefault();
      event.returnValue = '';
    });
    window.addEventListener('keydown', (event) => {
      if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === 's') {
        if (this.state.auth !== 'signed-in') return;
        event.preventDefault();
        this.save();
      }
    });
  }

  dispatch(action) {
    this.state = reduce(this.state, action);
    this.view.render(this.state);
  }

  /** Sign in with the token this tab remembered, if any. */
  async start() {
    const token = this.storage.getItem(TOKEN_KEY);
    this.view.render(this.state);
    if (token) await this.signIn(token, { remembered: true });
    else this.view.tokenInput.focus();
  }

  async signIn(token, { remembered = false } = {}) {
    this.dispatch({ type: 'sign-in-started' });
    this.view.showError(null);
    const client = new AdminClient({ token, base: this.base, fetch: this.fetch });
    let personas;
    try {
      personas = await client.listPersonas();
    } catch (error) {
      if (isAuthError(error)) this.storage.removeItem(TOKEN_KEY);
      const message =
        remembered && isAuthError(error)
          ? 'The token this tab remembered is no longer valid. Sign in again.'
          : describeError(error);
      this.dispatch({ type: 'signed-out', message });
      this.view.tokenInput.select();
      this.view.tokenInput.focus();
      return;
    }
    this.client = client;
    this.storage.setItem(TOKEN_KEY, token);
    this.view.tokenInput.value = '';
    this.dispatch({ type: 'signed-in', personas });
    this.view.say(`Signed in · ${plural(personas.length, 'persona')}`, 'ok');
    this.loadKnowledge();
    const first =
      personas.find((p) => p.id === this.wanted) ??
      personas.find((p) => p.id === 'default') ??
      personas[0];
    if (first) await this.open(first.id, { force: true });
  }

  async signOut({ message = 'Signed out.', ask = true } = {}) {
    if (ask && isDirty(this.state)) {
      const ok = await confirmDialog(this.view.root, {
        title: 'Sign out with unsaved changes?',
        body: 'Your edits to this persona are not saved and will be lost.',
        confirm: 'Sign out',
        danger: true,
      });
      if (!ok) return;
    }
    this.storage.removeItem(TOKEN_KEY);
    this.client = null;
    this.view.showError(null);
    this.view.say('');
    this.dispatch({ type: 'signed-out', message });
    this.view.tokenInput.focus();
  }

  /**
   * Run one API call with `task` marked busy. A 401 signs out (the token was revoked or
   * rotated); other errors go to the error banner unless `handle(error)` returns true.
   */
  async call(task, fn, handle = () => false) {
    if (!this.client) return undefined;
    if (task !== 'knowledge') this.view.showError(null); // a new action: the old error is moot
    this.dispatch({ type: 'busy', task, on: true });
    try {
      return await fn(this.client);
    } catch (error) {
      if (isAuthError(error)) {
        const message = 'The server no longer accepts this admin token. Sign in again.';
        await this.signOut({ message, ask: false });
      } else if (!handle(error)) {
        this.view.showError(describeError(error));
        this.view.say('');
      }
      return undefined;
    } finally {
      if (this.client) this.dispatch({ type: 'busy', task, on: false });
    }
  }

  /** The knowledge bases' stats; asked again every 5 s (up to 2 min) while one is loading. */
  async loadKnowledge(tries = 24) {
    const client = this.client;
    const knowledge = await this.call('knowledge', (c) => c.knowledge(), () => true);
    if (this.client !== client) return; // signed out meanwhile
    this.dispatch({ type: 'knowledge-loaded', knowledge: knowledge ?? [] });
    if (tries > 1 && knowledge?.some((kb) => kb.state === 'loading')) {
      setTimeout(() => this.client === client && this.loadKnowledge(tries - 1), 5000);
    }
  }

  async refreshList() {
    const personas = await this.call('list', (c) => c.listPersonas());
    if (personas) this.dispatch({ type: 'personas-loaded', personas });
  }

  async open(id, { force = false } = {}) {
    if (!force && id === this.state.selectedId) return;
    if (!force && isDirty(this.state)) {
      const ok = await confirmDialog(this.view.root, {
        title: 'Discard unsaved changes?',
        body: `Your edits to ${this.state.doc.name} are not saved. Open ${id} and lose them?`,
        confirm: 'Discard and open',
        danger: true,
      });
      if (!ok) return;
    }
    this.view.say(`Opening ${id}…`, 'busy');
    const persona = await this.call('load', (c) => c.getPersona(id));
    if (!persona) return;
    this.dispatch({ type: 'persona-opened', persona });
    this.view.say(`Opened ${persona.name ?? id} (version ${baseVersion(persona)})`, 'ok');
    if (this.view.currentTab === 'history') await this.loadHistory();
  }

  async validate() {
    const { doc, draft } = this.state;
    if (!doc) return;
    this.view.say('Validating…', 'busy');
    const result = await this.call('validate', (c) => c.validate(doc.id, draft));
    if (!result) return;
    this.dispatch({ type: 'validated', source: draft, result });
    if (result.valid) this.view.say('Valid: no problems found.', 'ok');
    else this.view.say(`${plural(result.problems?.length ?? 0, 'problem')} found.`);
  }

  async save() {
    const message = this.view.message.value.trim();
    const blocker = saveBlocker(this.state, message);
    if (blocker) {
      this.view.say(blocker);
      if (this.state.doc && isDirty(this.state) && !message) this.view.message.focus();
      return;
    }
    const { doc, draft } = this.state;
    this.view.say('Saving…', 'busy');
    const change = await this.call(
      'save',
      (c) => c.save(doc.id, { source: draft, expectedVersion: baseVersion(doc), message }),
      (error) => {
        if (error.code === 'version_conflict') {
          this.dispatch({ type: 'save-conflict', message: error.message });
          this.view.say('Not saved: someone else saved first.');
          this.refreshList(); // shows their version in the list
          return true;
        }
        if (error.code === 'persona_invalid') {
          this.dispatch({ type: 'save-invalid', problems: error.problems, source: draft });
          this.view.say(`Not saved. ${describeError(error)}`);
          return true;
        }
        return false;
      },
    );
    if (!change) return;
    this.dispatch({ type: 'saved', change, source: draft });
    this.view.message.value = '';
    const label = change.label ? ` (${change.label})` : '';
    this.view.say(`Saved version ${change.version}${label}.`, 'ok');
    this.view.showError(null);
    await Promise.all([this.refreshList(), this.loadHistory()]);
  }

  async reloadAfterConflict() {
    await this.open(this.state.selectedId, { force: true });
  }

  async preview(text) {
    const { doc, draft, turns } = this.state;
    if (!doc || this.state.busy.preview) return;
    const history = previewHistory(turns);
    this.dispatch({ type: 'preview-asked', text });
    this.view.preview.clearInput();
    this.view.say('Previewing a reply…', 'busy');
    let failure = null;
    const result = await this.call(
      'preview',
      (c) => c.preview(doc.id, { message: text, source: draft, history }),
      (error) => {
        failure = describeError(error);
        if (error.code === 'persona_invalid') {
          this.dispatch({ type: 'save-invalid', problems: error.problems, source: draft });
        }
        return true;
      },
    );
    if (result) {
      this.dispatch({ type: 'preview-answered', result });
      this.view.say(`Reply in ${Math.round(result.timings?.total_ms ?? 0)} ms.`, 'ok');
    } else if (failure) {
      this.dispatch({ type: 'preview-failed', message: failure });
      this.view.say('The preview failed.');
    }
  }

  async loadHistory() {
    const id = this.state.selectedId;
    if (!id) return;
    const changes = await this.call('history', (c) => c.history(id));
    if (changes) this.dispatch({ type: 'history-loaded', id, changes });
  }

  async rollback(version) {
    const { doc } = this.state;
    if (!doc) return;
    const unsaved = isDirty(this.state) ? ' Your unsaved edits in the editor will be lost.' : '';
    const ok = await confirmDialog(this.view.root, {
      title: `Roll back ${doc.name} to version ${version}?`,
      body:
        'The persona file goes back to that version for every new conversation. This is ' +
        `recorded as a new change, so it can be undone.${unsaved}`,
      confirm: 'Roll back',
      danger: true,
    });
    if (!ok) return;
    this.view.say(`Rolling back to ${version}…`, 'busy');
    const change = await this.call('rollback', (c) =>
      c.rollback(doc.id, { version, message: `Roll back to ${version}` }),
    );
    if (!change) return;
    await this.open(doc.id, { force: true });
    this.view.say(`Rolled back: now at version ${change.version}.`, 'ok');
    await Promise.all([this.refreshList(), this.loadHistory()]);
  }
}
