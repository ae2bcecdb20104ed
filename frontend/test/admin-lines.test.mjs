import assert from 'node:assert/strict';
import test from 'node:test';

import {
  countLines,
  lineAt,
  lineRange,
  lineStart,
  problemLabel,
  problemsByLine,
  problemText,
  scrollToShow,
  sortProblems,
  splitLines,
} from '../src/admin/lines.js';

const TEXT = '---\nname: Ada\n---\nYou are Ada.';

test('lines are counted as the gutter numbers them', () => {
  assert.equal(countLines(''), 1);
  assert.equal(countLines('a'), 1);
  assert.equal(countLines('a\n'), 2);
  assert.equal(countLines(TEXT), 4);
  assert.deepEqual(splitLines('a\n\nb'), ['a', '', 'b']);
});

test('a line number gives its offsets, clamped to the text', () => {
  assert.equal(lineStart(TEXT, 1), 0);
  assert.equal(lineStart(TEXT, 2), 4);
  assert.equal(lineStart(TEXT, 4), 18);
  assert.equal(lineStart(TEXT, 99), 18);
  assert.equal(lineStart(TEXT, 0), 0);
  assert.deepEqual(lineRange(TEXT, 2), [4, 13]);
  assert.equal(TEXT.slice(...lineRange(TEXT, 2)), 'name: Ada');
  assert.equal(TEXT.slice(...lineRange(TEXT, 4)), 'You are Ada.');
  assert.deepEqual(lineRange(TEXT, -3), [0, 3]);
  assert.deepEqual(lineRange('a\n', 2), [2, 2]);
});

test('an offset gives its line', () => {
  assert.equal(lineAt(TEXT, 0), 1);
  assert.equal(lineAt(TEXT, 3), 1); // on the newline itself
  assert.equal(lineAt(TEXT, 4), 2);
  assert.equal(lineAt(TEXT, TEXT.length), 4);
  assert.equal(lineAt(TEXT, 1e9), 4);
  assert.equal(lineAt(TEXT, -5), 1);
  for (let n = 1; n <= 4; n++) assert.equal(lineAt(TEXT, lineStart(TEXT, n)), n);
});

test('problems are listed by line, file-wide ones first, ties in server order', () => {
  const problems = [
    { line: 7, field: 'b', message: 'second on 7' },
    { line: null, field: null, message: 'whole file' },
    { line: 2, field: 'name', message: 'on 2' },
    { line: 7, field: 'a', message: 'first on 7?' },
  ];
  assert.deepEqual(
    sortProblems(problems).map((p) => p.message),
    ['whole file', 'on 2', 'second on 7', 'first on 7?'],
  );
  assert.deepEqual(problems[0].message, 'second on 7'); // not sorted in place
});

test('problems are grouped by line for the gutter, with their field', () => {
  const lines = problemsByLine([
    { line: 3, field: 'turn_taking.silence_ms', message: 'must be ≥ 200' },
    { line: 3, field: null, message: 'also this' },
    { line: null, message: 'no line' },
    { line: 0, message: 'bad line' },
  ]);
  assert.deepEqual([...lines], [[3, ['turn_taking.silence_ms: must be ≥ 200', 'also this']]]);
});

test('a problem reads as where and what', () => {
  assert.equal(problemText({ line: 4, field: 'name', message: 'empty' }), 'name: empty');
  assert.equal(problemText({ line: 4, field: null, message: 'bad' }), 'bad');
  assert.equal(problemLabel({ line: 4, field: 'name', message: 'empty' }), 'line 4 · name: empty');
  assert.equal(problemLabel({ line: null, field: null, message: 'bad' }), 'whole file · bad');
});

test('a line is scrolled to a third of the way down, within the scroll range', () => {
  assert.equal(scrollToShow(600, 300, 1000), 500);
  assert.equal(scrollToShow(50, 300, 1000), 0);
  assert.equal(scrollToShow(2000, 300, 1000), 1000);
  assert.equal(scrollToShow(500, 300, -5), 0);
});
