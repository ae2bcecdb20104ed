import assert from 'node:assert/strict';
import test from 'node:test';

import {
  baseVersion,
  initialState,
  isDirty,
  PREVIEW_HISTORY_TURNS,
  PREVIEW_TURN_CHARS,
  previewHistory,
  reduce,
  rollbackTargets,
  saveBlocker,
  validationState,
} from '../src/admin/state.js';

const ENTRY = { id: 'default', name: 'Ada', version: 'v1', label: 'v1 label', valid: true, problems: [] };
const SOURCE = '---\nname: Ada\n---\nYou are Ada.';

function run(...actions) {
  return actions.reduce(reduce, initialState);
}

function signedInAndOpen(...more) {
  return run(
    { type: 'sign-in-started' },
    { type: 'signed-in', personas: [ENTRY, { id: 'other', name: 'Bo', version: 'o1' }] },
    { type: 'persona-opened', persona: { ...ENTRY, source: SOURCE } },
    ...more,
  );
}

test('signing in checks the token, then lists the personas', () => {
  const checking = run({ type: 'sign-in-started' });
  assert.equal(checking.auth, 'checking');
  const state = reduce(checking, { type: 'signed-in', personas: [ENTRY] });
  assert.equal(state.auth, 'signed-in');
  assert.deepEqual(state.personas, [ENTRY]);
  assert.equal(reduce(state, { type: 'no-such-action' }), state);
});

test('signing out forgets everything but says why', () => {
  const state = signedInAndOpen({ type: 'draft-edited', text: 'x' });
  const out = reduce(state, { type: 'signed-out', message: 'token expired' });
  assert.equal(out.auth, 'signed-out');
  assert.equal(out.authMessage, 'token expired');
  assert.equal(out.doc, null);
  assert.deepEqual(out.personas, []);
  assert.ok(out.loadSeq > state.loadSeq, 'the editor is cleared');
  assert.equal(reduce(state, { type: 'signed-out' }).authMessage, null);
});

test('opening a persona fills the editor; edits make it dirty until they are undone', () => {
  const state = signedInAndOpen();
  assert.equal(state.selectedId, 'default');
  assert.equal(state.draft, SOURCE);
  assert.equal(state.doc.version, 'v1');
  assert.equal(state.doc.source, SOURCE);
  assert.equal(state.loadSeq, 1);
  assert.equal(isDirty(state), false);
  const edited = reduce(state, { type: 'draft-edited', text: `${SOURCE}!` });
  assert.equal(isDirty(edited), true);
  assert.equal(edited.loadSeq, 1, 'typing does not reload the editor');
  assert.equal(isDirty(reduce(edited, { type: 'draft-edited', text: SOURCE })), false);
  assert.equal(isDirty(initialState), false);
});

test('an invalid persona opens with its problems shown', () => {
  const problems = [{ line: 2, field: 'name', message: 'empty' }];
  const state = run({ type: 'persona-opened', persona: { ...ENTRY, valid: false, problems, source: SOURCE } });
  assert.deepEqual(state.problems, problems);
  assert.equal(validationState(state), 'invalid');
  assert.equal(validationState(reduce(state, { type: 'draft-edited', text: 'y' })), 'stale');
});

test('validation results apply to the text that was validated', () => {
  const state = signedInAndOpen({ type: 'draft-edited', text: 'bad' });
  assert.equal(validationState(state), 'unchecked');
  const problems = [{ line: 1, field: null, message: 'no' }];
  const invalid = reduce(state, { type: 'validated', source: 'bad', result: { valid: false, problems } });
  assert.equal(validationState(invalid), 'invalid');
  assert.deepEqual(invalid.problems, problems);
  const typedOn = reduce(invalid, { type: 'draft-edited', text: 'bad!' });
  assert.equal(validationState(typedOn), 'stale');
  const valid = reduce(typedOn, { type: 'validated', source: 'bad!', result: { valid: true } });
  assert.equal(validationState(valid), 'valid');
  assert.deepEqual(valid.problems, []);
});

test('saving moves the loaded version on and updates the list', () => {
  const draft = `${SOURCE}\nBe brief.`;
  const state = signedInAndOpen({ type: 'draft-edited', text: draft });
  const change = { persona: 'default', version: 'v2', previous_version: 'v1', label: 'v2 label' };
  const saved = reduce(state, { type: 'saved', change, source: draft });
  assert.equal(saved.doc.version, 'v2');
  assert.equal(saved.doc.label, 'v2 label');
  assert.equal(saved.doc.source, draft);
  assert.equal(isDirty(saved), false);
  assert.equal(validationState(saved), 'valid');
  assert.equal(saved.personas[0].version, 'v2');
  assert.equal(saved.personas[1].version, 'o1');
  // Text typed while the save was on its way stays unsaved.
  const typing = reduce(reduce(state, { type: 'draft-edited', text: `${draft}!` }), {
    type: 'saved',
    change,
    source: draft,
  });
  assert.equal(isDirty(typing), true);
  assert.equal(reduce(state, { type: 'saved', change: { ...change, label: undefined }, source: draft }).doc.label, null);
});

test('a conflicting save keeps the draft and says so until dismissed or reloaded', () => {
  const state = signedInAndOpen({ type: 'draft-edited', text: 'mine' }, { type: 'save-conflict', message: 'stale' });
  assert.deepEqual(state.conflict, { message: 'stale' });
  assert.equal(state.draft, 'mine');
  assert.equal(reduce(state, { type: 'conflict-dismissed' }).conflict, null);
  const reloaded = reduce(state, { type: 'persona-opened', persona: { ...ENTRY, version: 'v3', source: 'theirs' } });
  assert.equal(reloaded.conflict, null);
  assert.equal(reloaded.draft, 'theirs');
  assert.equal(reloaded.doc.version, 'v3');
  assert.equal(reloaded.personas[0].version, 'v3');
});

test('a refused save shows the problems of the text sent', () => {
  const problems = [{ line: 3, field: 'x', message: 'unknown field' }];
  const state = signedInAndOpen(
    { type: 'draft-edited', text: 'sent' },
    { type: 'save-invalid', problems, source: 'sent' },
  );
  assert.deepEqual(state.problems, problems);
  assert.equal(validationState(state), 'invalid');
});

test('Save says why it cannot run', () => {
  assert.match(saveBlocker(initialState, 'm'), /Open a persona/);
  const state = signedInAndOpen();
  assert.match(saveBlocker(state, 'm'), /no changes/);
  const edited = reduce(state, { type: 'draft-edited', text: 'x' });
  assert.match(saveBlocker(edited, '   '), /change message/);
  assert.match(saveBlocker(edited, undefined), /change message/);
  assert.equal(saveBlocker(edited, 'Shorter answers'), null);
  assert.match(saveBlocker(reduce(edited, { type: 'busy', task: 'save', on: true }), 'm'), /Saving/);
  assert.equal(reduce(edited, { type: 'busy', task: 'save', on: false }).busy.save, false);
});

test('the preview conversation grows turn by turn and resets', () => {
  const result = { text: 'Hello there.', refused: false };
  const state = signedInAndOpen(
    { type: 'preview-asked', text: 'Hi' },
    { type: 'preview-answered', result },
    { type: 'preview-asked', text: 'And?' },
    { type: 'preview-failed', message: 'timeout' },
  );
  assert.deepEqual(
    state.turns.map((t) => [t.role, t.text, t.error ?? null]),
    [
      ['user', 'Hi', null],
      ['assistant', 'Hello there.', null],
      ['user', 'And?', null],
      ['assistant', '', 'timeout'],
    ],
  );
  assert.equal(state.turns[1].result, result);
  assert.deepEqual(reduce(state, { type: 'preview-reset' }).turns, []);
  assert.equal(reduce(state, { type: 'preview-answered', result: {} }).turns.at(-1).text, '');
});

test('switching persona starts a new preview and history; reopening the same keeps them', () => {
  const state = signedInAndOpen(
    { type: 'preview-asked', text: 'Hi' },
    { type: 'history-loaded', id: 'default', changes: [{ version: 'v1' }] },
  );
  const same = reduce(state, { type: 'persona-opened', persona: { ...ENTRY, source: SOURCE } });
  assert.equal(same.turns.length, 1);
  assert.equal(same.changes.length, 1);
  const other = reduce(state, { type: 'persona-opened', persona: { id: 'other', name: 'Bo', version: 'o1', source: 'b' } });
  assert.deepEqual(other.turns, []);
  assert.equal(other.changes, null);
  assert.deepEqual(other.problems, []);
  // A history that arrives for a persona no longer open is ignored.
  assert.equal(reduce(other, { type: 'history-loaded', id: 'default', changes: [] }), other);
});

test('knowledge bases are remembered', () => {
  assert.deepEqual(run({ type: 'knowledge-loaded', knowledge: [{ name: 'acme' }] }).knowledge, [{ name: 'acme' }]);
  assert.deepEqual(run({ type: 'personas-loaded', personas: [ENTRY] }).personas, [ENTRY]);
});

test('the preview history holds answered turns only, the latest ones, each cut to size', () => {
  const turns = [
    { role: 'user', text: 'one' },
    { role: 'assistant', text: 'reply one' },
    { role: 'user', text: 'two' },
    { role: 'assistant', text: '', error: 'failed' },
    { role: 'user', text: 'three' },
    { role: 'assistant', text: '' },
    { role: 'user', text: 'x'.repeat(PREVIEW_TURN_CHARS + 10) },
    { role: 'assistant', text: 'long reply' },
    { role: 'user', text: 'pending' },
  ];
  const history = previewHistory(turns);
  assert.deepEqual(
    history.map((t) => [t.role, t.text.length > 20 ? t.text.length : t.text]),
    [
      ['user', 'one'],
      ['assistant', 'reply one'],
      ['user', PREVIEW_TURN_CHARS],
      ['assistant', 'long reply'],
    ],
  );
  const many = [];
  for (let i = 0; i < 30; i++) many.push({ role: 'user', text: `q${i}` }, { role: 'assistant', text: `a${i}` });
  const last = previewHistory(many);
  assert.equal(last.length, PREVIEW_HISTORY_TURNS);
  assert.deepEqual(last.at(-1), { role: 'assistant', text: 'a29' });
  assert.deepEqual(last[0], { role: 'user', text: 'q20' });
});

test('rollback targets: each change, the current one marked, and the version before them all', () => {
  const changes = [
    { version: 'v3', previous_version: 'v2', label: 'three' },
    { version: 'v2', previous_version: 'v1' },
    { version: 'v1', previous_version: 'v0' },
  ];
  assert.deepEqual(
    rollbackTargets(changes, 'v3').map((t) => [t.version, t.label, t.current, t.change !== null]),
    [
      ['v3', 'three', true, true],
      ['v2', null, false, true],
      ['v1', null, false, true],
      ['v0', null, false, false],
    ],
  );
  // A rollback to v1 records v1 again; only the newest entry is current and v0 is still offered.
  const rolled = [{ version: 'v1', previous_version: 'v3' }, ...changes];
  assert.deepEqual(
    rollbackTargets(rolled, 'v1').map((t) => [t.version, t.current]),
    [
      ['v1', true],
      ['v3', false],
      ['v2', false],
      ['v1', false],
      ['v0', false],
    ],
  );
  // The first version created by the admin API has no version before it.
  assert.deepEqual(rollbackTargets([{ version: 'v1', previous_version: null }], 'v1').length, 1);
  assert.deepEqual(rollbackTargets([{ version: 'v1', previous_version: 'v1' }], 'v1').length, 1);
  assert.deepEqual(rollbackTargets(null, 'v1'), []);
});

test('saves are based on the version of the file on disk, which an invalid file has apart', () => {
  assert.equal(baseVersion(null), null);
  assert.equal(baseVersion({ version: 'good', file_version: 'ondisk' }), 'ondisk');
  assert.equal(baseVersion({ version: 'good' }), 'good');
  const state = run(
    { type: 'persona-opened', persona: { ...ENTRY, version: 'good', file_version: 'bad1', valid: false, source: 'x' } },
    { type: 'draft-edited', text: 'fixed' },
    { type: 'saved', change: { persona: 'default', version: 'v9', label: null }, source: 'fixed' },
  );
  assert.equal(baseVersion(state.doc), 'v9');
  assert.equal(state.doc.version, 'v9');
  assert.equal(state.doc.valid, true);
});
