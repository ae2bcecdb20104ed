import assert from 'node:assert/strict';
import test from 'node:test';

import { classifyDiffLine, diffStats, parseDiff } from '../src/admin/diff.js';

const DIFF = `--- a/default.md
+++ b/default.md
@@ -1,4 +1,5 @@
 ---
-name: Ada
+name: Ada Lovelace
+greeting: Hello!
 ---
 You are Ada.
\\ No newline at end of file
`;

test('single lines are classified by their first characters', () => {
  assert.equal(classifyDiffLine('--- a/x'), 'file');
  assert.equal(classifyDiffLine('+++ b/x'), 'file');
  assert.equal(classifyDiffLine('---'), 'file');
  assert.equal(classifyDiffLine('@@ -1 +1 @@'), 'hunk');
  assert.equal(classifyDiffLine('+added'), 'add');
  assert.equal(classifyDiffLine('-removed'), 'del');
  assert.equal(classifyDiffLine(' same'), 'context');
  assert.equal(classifyDiffLine(''), 'context');
  assert.equal(classifyDiffLine('\\ No newline at end of file'), 'note');
});

test('a unified diff is read with line numbers on each side', () => {
  const lines = parseDiff(DIFF);
  assert.deepEqual(
    lines.map((l) => [l.kind, l.oldLine, l.newLine]),
    [
      ['file', null, null],
      ['file', null, null],
      ['hunk', null, null],
      ['context', 1, 1],
      ['del', 2, null],
      ['add', null, 2],
      ['add', null, 3],
      ['context', 3, 4],
      ['context', 4, 5],
      ['note', null, null],
    ],
  );
  assert.equal(lines[4].text, '-name: Ada');
  assert.deepEqual(diffStats(lines), { added: 2, removed: 1 });
});

test('inside a hunk, lines that look like file headers are additions and deletions', () => {
  // The persona's front matter delimiters: removing "---" gives the line "----".
  const lines = parseDiff('@@ -1,2 +1,2 @@\n----\n+++++\n-x\n+y\n@@ -9 +9 @@\n-a\n+b\n');
  assert.deepEqual(
    lines.map((l) => l.kind),
    ['hunk', 'del', 'add', 'del', 'add', 'hunk', 'del', 'add'],
  );
  // ...and a hunk header without counts means one line on each side.
  assert.deepEqual([lines[6].oldLine, lines[7].newLine], [9, 9]);
});

test('blank context lines without their space and malformed hunks are read sensibly', () => {
  const lines = parseDiff('@@ -1,3 +1,3 @@\n a\n\n-b\n+c\n@@ -5,2 +5,2 @@\n?what\n+z\n');
  assert.deepEqual(
    lines.map((l) => l.kind),
    ['hunk', 'context', 'context', 'del', 'add', 'hunk', 'context', 'add'],
  );
  assert.equal(lines[2].oldLine, 2);
  assert.equal(lines[6].oldLine, null); // counting stopped at the line that fits no hunk
});

test('an empty diff has no lines and CRLF is accepted', () => {
  assert.deepEqual(parseDiff(''), []);
  assert.deepEqual(parseDiff(null), []);
  assert.deepEqual(
    parseDiff('@@ -1 +1 @@\r\n-a\r\n+b\r\n').map((l) => l.text),
    ['@@ -1 +1 @@', '-a', '+b'],
  );
});
