/**
 * The admin page's state and the one function that changes it (`reduce(state, action)`), plus
 * selectors that answer questions about it. Pure: no DOM, no fetch; the controller (app.js)
 * dispatches what the API answered and the view renders the result.
 *
 * The open persona is `doc` (as loaded or last saved: `source`, `version`, `file_version`,
 * `label`) and the editor's text is `draft`; they differ exactly when there are unsaved changes.
 * `loadSeq` grows whenever the editor's text must be replaced from outside (open, reload,
 * rollback), so typing never resets the caret.
 */

/** At most this many turns go back to the server with a preview (PreviewBody.history). */
export const PREVIEW_HISTORY_TURNS = 20;
/** The longest text of one turn the server accepts (Turn.text). */
export const PREVIEW_TURN_CHARS = 4000;

export const initialState = Object.freeze({
  auth: 'signed-out', // 'signed-out' | 'checking' | 'signed-in'
  authMessage: null, // why the sign-in form is showing, e.g. after a 401
  personas: [],
  knowledge: null, // null until loaded
  selectedId: null,
  doc: null, // {id, name, version, label, valid, source, ...}
  draft: '',
  loadSeq: 0,
  problems: [],
  checked: null, // {valid, source}: the text the problems are about
  conflict: null, // {message} after a 409 on save
  busy: Object.freeze({}), // task name → true while it runs
  turns: Object.freeze([]), // the preview conversation
  changes: null, // the open persona's history, newest first; null until loaded
});

/** The next state after `action`; unknown actions leave the state as it is. */
export function reduce(state, action) {
  switch (action.type) {
    case 'sign-in-started':
      return { ...state, auth: 'checking', authMessage: null };
    case 'signed-in':
      return { ...state, auth: 'signed-in', authMessage: null, personas: action.personas };
    case 'signed-out':
      return { ...initialState, authMessage: action.message ?? null, loadSeq: state.loadSeq + 1 };
    case 'personas-loaded':
      return { ...state, personas: action.personas };
    case 'knowledge-loaded':
      return { ...state, knowledge: action.knowledge };
    case 'busy':
      return { ...state, busy: { ...state.busy, [action.task]: Boolean(action.on) } };
    case 'persona-opened':
      return opened(state, action.persona);
    case 'draft-edited':
      return { ...state, draft: action.text };
    case 'validated':
      return {
        ...state,
        problems: action.result.problems ?? [],
        checked: { valid: Boolean(action.result.valid), source: action.source },
      };
    case 'saved':
      return saved(state, action.change, action.source);
    case 'save-conflict':
      return { ...state, conflict: { message: action.message } };
    case 'save-invalid':
      return {
        ...state,
        problems: action.problems,
        checked: { valid: false, source: action.source },
      };
    case 'conflict-dismissed':
      return { ...state, conflict: null };
    case 'preview-asked':
      return { ...state, turns: [...state.turns, { role: 'user', text: action.text }] };
    case 'preview-answered': {
      const turn = { role: 'assistant', text: action.result.text ?? '', result: action.result };
      return { ...state, turns: [...state.turns, turn] };
    }
    case 'preview-failed':
      return {
        ...state,
        turns: [...state.turns, { role: 'assistant', text: '', error: action.message }],
      };
    case 'preview-reset':
      return { ...state, turns: [] };
    case 'history-loaded':
      return action.id === state.selectedId ? { ...state, changes: action.changes } : state;
    default:
      return state;
  }
}

function opened(state, persona) {
  const { source, ...entry } = persona;
  const same = persona.id === state.selectedId;
  const problems = Array.isArray(entry.problems) ? entry.problems : [];
  return {
    ...state,
    selectedId: persona.id,
    doc: { ...entry, source },
    draft: source,
    loadSeq: state.loadSeq + 1,
    problems,
    checked: entry.valid === false ? { valid: false, source } : null,
    conflict: null,
    turns: same ? state.turns : [],
    changes: same ? state.changes : null,
    personas: state.personas.map((p) => (p.id === persona.id ? { ...p, ...entry } : p)),
  };
}

function saved(state, change, source) {
  const update = {
    version: change.version,
    file_version: change.version,
    label: change.label ?? null,
    valid: true,
    problems: [],
  };
  return {
    ...state,
    doc: { ...state.doc, ...update, source },
    problems: [],
    checked: { valid: true, source },
    conflict: null,
    personas: state.personas.map((p) => (p.id === change.persona ? { ...p, ...update } : p)),
  };
}

// ── selectors ────────────────────────────────────────────────────────────────

/**
 * The version of the file the editor started from, sent as `expected_version` on save: the
 * file on disk (`file_version`), which differs from `version` (the last good one, served to
 * sessions) while the file is invalid.
 */
export function baseVersion(doc) {
  return doc ? (doc.file_version ?? doc.version ?? null) : null;
}

/** Whether the editor holds changes that are not saved. */
export function isDirty(state) {
  return state.doc !== null && state.draft !== state.doc.source;
}

/**
 * Whether the problems shown are about the text in the editor: `unchecked` (never validated),
 * `valid`, `invalid`, or `stale` (the text changed since).
 */
export function validationState(state) {
  if (!state.checked) return 'unchecked';
  if (state.checked.source !== state.draft) return 'stale';
  return state.checked.valid ? 'valid' : 'invalid';
}

/**
 * Why Save cannot run now (a sentence), or null when it can. `message` is the change message
 * typed so far.
 */
export function saveBlocker(state, message) {
  if (!state.doc) return 'Open a persona first.';
  if (state.busy.save) return 'Saving…';
  if (!isDirty(state)) return 'There are no changes to save.';
  if (!message || !message.trim()) return 'Write a short change message first.';
  return null;
}

/**
 * The conversation so far as the preview API takes it: completed turns only (a question whose
 * reply failed is left out with it), the last `PREVIEW_HISTORY_TURNS`, each cut to the longest
 * text the server accepts.
 */
export function previewHistory(turns) {
  const out = [];
  for (let i = 0; i < turns.length; i++) {
    const turn = turns[i];
    const next = turns[i + 1];
    if (turn.role === 'user') {
      if (!next || next.role !== 'assistant' || next.error || !next.text) continue;
      out.push({ role: 'user', text: turn.text.slice(0, PREVIEW_TURN_CHARS) });
    } else if (!turn.error && turn.text) {
      out.push({ role: 'assistant', text: turn.text.slice(0, PREVIEW_TURN_CHARS) });
    }
  }
  return out.slice(-PREVIEW_HISTORY_TURNS);
}

/**
 * The versions the history offers to roll back to, newest first: each change's resulting
 * version, then the version before the oldest change (the file as it was before any recorded
 * edit) when no change produced it. `current` marks the version on disk now.
 * @returns {Array<{version: string, label: string|null, change: object|null, current: boolean}>}
 */
export function rollbackTargets(changes, currentVersion) {
  const seen = new Set();
  const out = [];
  for (const change of changes ?? []) {
    out.push({
      version: change.version,
      label: change.label ?? null,
      change,
      current: change.version === currentVersion && !seen.has(change.version),
    });
    seen.add(change.version);
  }
  const oldest = changes?.at(-1);
  if (oldest?.previous_version && !seen.has(oldest.previous_version)) {
    out.push({
      version: oldest.previous_version,
      label: null,
      change: null,
      current: oldest.previous_version === currentVersion,
    });
  }
  return out;
}
