/**
 * Reading a unified diff (as the persona history records it) line by line, for colouring.
 * Pure: no DOM.
 *
 * Kinds: `file` (the `---`/`+++` header lines), `hunk` (`@@ -a,b +c,d @@`), `add`, `del`,
 * `context`, `note` (`\ No newline at end of file`). Inside a hunk the header's line counts
 * decide, so a deleted line that itself starts with `--` is still a deletion.
 */

const HUNK = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/;

/** The kind of one diff line seen on its own (outside any hunk bookkeeping). */
export function classifyDiffLine(line) {
  if (line.startsWith('@@')) return 'hunk';
  if (line.startsWith('--- ') || line.startsWith('+++ ') || line === '---' || line === '+++') {
    return 'file';
  }
  if (line.startsWith('+')) return 'add';
  if (line.startsWith('-')) return 'del';
  if (line.startsWith('\\')) return 'note';
  return 'context';
}

/**
 * Every line of `text` with its kind and, for hunk lines, its numbers in the old and the new
 * file (`oldLine` / `newLine`, null where the line is not in that side).
 * @returns {Array<{kind: string, text: string, oldLine: number|null, newLine: number|null}>}
 */
export function parseDiff(text) {
  if (!text) return [];
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  if (lines.at(-1) === '') lines.pop();
  const out = [];
  let oldLeft = 0;
  let newLeft = 0;
  let oldNo = 0;
  let newNo = 0;
  for (const line of lines) {
    const inHunk = oldLeft > 0 || newLeft > 0;
    const hunk = HUNK.exec(line);
    if (hunk && !inHunk) {
      oldNo = Number(hunk[1]);
      newNo = Number(hunk[3]);
      oldLeft = hunk[2] === undefined ? 1 : Number(hunk[2]);
      newLeft = hunk[4] === undefined ? 1 : Number(hunk[4]);
      out.push({ kind: 'hunk', text: line, oldLine: null, newLine: null });
      continue;
    }
    if (inHunk) {
      const first = line[0];
      if (first === '+' && newLeft > 0) {
        out.push({ kind: 'add', text: line, oldLine: null, newLine: newNo++ });
        newLeft--;
        continue;
      }
      if (first === '-' && oldLeft > 0) {
        out.push({ kind: 'del', text: line, oldLine: oldNo++, newLine: null });
        oldLeft--;
        continue;
      }
      if (first === '\\') {
        out.push({ kind: 'note', text: line, oldLine: null, newLine: null });
        continue;
      }
      if ((first === ' ' || line === '') && oldLeft > 0 && newLeft > 0) {
        out.push({ kind: 'context', text: line, oldLine: oldNo++, newLine: newNo++ });
        oldLeft--;
        newLeft--;
        continue;
      }
      // A malformed hunk: stop counting and read the rest line by line.
      oldLeft = 0;
      newLeft = 0;
    }
    out.push({ kind: classifyDiffLine(line), text: line, oldLine: null, newLine: null });
  }
  return out;
}

/** How many lines the diff adds and removes. */
export function diffStats(parsed) {
  let added = 0;
  let removed = 0;
  for (const line of parsed) {
    if (line.kind === 'add') added++;
    else if (line.kind === 'del') removed++;
  }
  return { added, removed };
}
