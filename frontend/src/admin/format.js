/** How values from the admin API read on the page. Pure: no DOM. */

/**
 * An ISO timestamp (or epoch seconds) as local date and time, e.g. "21 Nov 2025, 14:03:12";
 * `locale` and `timeZone` are for tests (default: the browser's).
 */
export function localTime(value, { locale, timeZone } = {}) {
  if (value === null || value === undefined || value === '') return '—';
  const date = typeof value === 'number' ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return new Intl.DateTimeFormat(locale, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    timeZone,
  }).format(date);
}

/** Milliseconds as "420 ms" or "1.8 s"; "—" when unknown. */
export function duration(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '—';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** A similarity in [0, 1] as a percentage with no decimals, clamped. */
export function percent(similarity) {
  if (typeof similarity !== 'number' || !Number.isFinite(similarity)) return '—';
  return `${Math.round(Math.max(0, Math.min(1, similarity)) * 100)}%`;
}

/** "1 document", "3 chunks". */
export function plural(n, word) {
  const count = typeof n === 'number' ? n : 0;
  return `${count.toLocaleString('en')} ${word}${count === 1 ? '' : 's'}`;
}

/**
 * A knowledge base's status (GET /v1/admin/knowledge) as one short line:
 * "acme · 12 documents · 41 chunks", or its state when it is not ready ("acme · loading").
 */
export function knowledgeLine(kb) {
  const parts = [String(kb.name ?? 'knowledge base')];
  if (kb.state && kb.state !== 'ready') {
    parts.push(kb.error ? `${kb.state}: ${kb.error}` : kb.state);
    return parts.join(' · ');
  }
  if (kb.documents !== undefined) parts.push(plural(kb.documents, 'document'));
  if (kb.chunks !== undefined) parts.push(plural(kb.chunks, 'chunk'));
  return parts.join(' · ');
}
