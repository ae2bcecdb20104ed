import assert from 'node:assert/strict';
import test from 'node:test';

import { duration, knowledgeLine, localTime, percent, plural } from '../src/admin/format.js';

test('timestamps read as local date and time', () => {
  const opts = { locale: 'en-GB', timeZone: 'UTC' };
  assert.equal(localTime('2025-11-21T14:03:12Z', opts), '21 Nov 2025, 14:03:12');
  assert.equal(localTime(0, opts), '1 Jan 1970, 00:00:00');
  assert.equal(localTime('2025-11-21T14:03:12+02:00', opts), '21 Nov 2025, 12:03:12');
  assert.equal(localTime('not a date', opts), 'not a date');
  assert.equal(localTime(null), '—');
  assert.equal(localTime(''), '—');
});

test('durations, similarities and counts', () => {
  assert.equal(duration(420.4), '420 ms');
  assert.equal(duration(1830), '1.8 s');
  assert.equal(duration(null), '—');
  assert.equal(duration(Number.NaN), '—');
  assert.equal(percent(0.8234), '82%');
  assert.equal(percent(1.2), '100%');
  assert.equal(percent(-0.1), '0%');
  assert.equal(percent(undefined), '—');
  assert.equal(plural(1, 'chunk'), '1 chunk');
  assert.equal(plural(1200, 'chunk'), '1,200 chunks');
  assert.equal(plural(undefined, 'document'), '0 documents');
});

test('a knowledge base reads as name, documents and chunks, or its state when not ready', () => {
  const ready = { name: 'acme', state: 'ready', documents: 4, chunks: 37, model_id: 'm' };
  assert.equal(knowledgeLine(ready), 'acme · 4 documents · 37 chunks');
  assert.equal(knowledgeLine({ name: 'kb', documents: 1, chunks: 1 }), 'kb · 1 document · 1 chunk');
  assert.equal(knowledgeLine({ name: 'kb', state: 'loading' }), 'kb · loading');
  assert.equal(knowledgeLine({ name: 'kb', state: 'failed', error: 'disk full' }), 'kb · failed: disk full');
  assert.equal(knowledgeLine({}), 'knowledge base');
});
