/**
 * Lines, offsets and problems of the text in the editor. Pure: no DOM. Lines are 1-based like
 * the server's problem reports; offsets are UTF-16 indexes as textarea selections use.
 */

/** How many lines `text` has (an empty text has one, a trailing newline starts another). */
export function countLines(text) {
  let n = 1;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** The offset where line `line` starts, `line` clamped to the text's lines. */
export function lineStart(text, line) {
  let offset = 0;
  for (let n = 1; n < line; n++) {
    const next = text.indexOf('\n', offset);
    if (next === -1) return offset;
    offset = next + 1;
  }
  return offset;
}

/** `[start, end]` offsets of line `line` (clamped), `end` before its newline. */
export function lineRange(text, line) {
  const start = lineStart(text, Math.max(1, line));
  const newline = text.indexOf('\n', start);
  return [start, newline === -1 ? text.length : newline];
}

/** The 1-based line holding offset `offset`. */
export function lineAt(text, offset) {
  const end = Math.max(0, Math.min(offset, text.length));
  let n = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < end; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** `text` split into lines as the gutter numbers them. */
export function splitLines(text) {
  return text.split('\n');
}

/**
 * Problems in the order to show them: by line (those without one, about the whole file, first),
 * then as the server listed them.
 */
export function sortProblems(problems) {
  return problems
    .map((p, i) => ({ p, i }))
    .sort((a, b) => lineKey(a.p) - lineKey(b.p) || a.i - b.i)
    .map(({ p }) => p);
}

function lineKey(problem) {
  return Number.isInteger(problem.line) ? problem.line : 0;
}

/** Map of line number → the messages of the problems on it (problems without a line left out). */
export function problemsByLine(problems) {
  const lines = new Map();
  for (const problem of problems) {
    if (!Number.isInteger(problem.line) || problem.line < 1) continue;
    const text = problemText(problem);
    const list = lines.get(problem.line);
    if (list) list.push(text);
    else lines.set(problem.line, [text]);
  }
  return lines;
}

/** What a problem says, with its field: `turn_taking.silence_ms: must be ≥ 200`. */
export function problemText(problem) {
  return problem.field ? `${problem.field}: ${problem.message}` : problem.message;
}

/** One problem as a short line of text: `line 7 · turn_taking.silence_ms: must be ≥ 200`. */
export function problemLabel(problem) {
  const where = Number.isInteger(problem.line) ? `line ${problem.line}` : 'whole file';
  return `${where} · ${problemText(problem)}`;
}

/**
 * The scroll position that shows a line starting `top` px into the content a third of the way
 * down a viewport of `height` px, within `[0, maxScroll]`.
 */
export function scrollToShow(top, height, maxScroll) {
  return Math.max(0, Math.min(Math.round(top - height / 3), Math.max(0, maxScroll)));
}
