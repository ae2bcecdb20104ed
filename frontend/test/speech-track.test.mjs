import assert from 'node:assert/strict';
import test from 'node:test';

import { SpeechTrack } from '../src/speech-track.js';
import { displayText } from '../src/ui/view.js';

const segment = (id, pts, words, expressions = []) => ({
  type: 'response.audio.segment',
  response_id: 'resp_1',
  segment_id: id,
  stream: 5,
  pts,
  sample_rate: 22050,
  samples: 22050,
  text: words.map((w) => w.text).join(' '),
  words,
  visemes: [],
  expressions,
});

test('the playhead finds the segment and the word being spoken', () => {
  const track = new SpeechTrack();
  track.add(segment(0, 0, [{ text: 'Hello', start_ms: 50, duration_ms: 300 }, { text: 'there.', start_ms: 400, duration_ms: 300 }]));
  track.add(segment(1, 22050, [{ text: 'Bye.', start_ms: 20, duration_ms: 300 }], [{ name: 'smile', word_index: 0, start_ms: 20 }]));
  assert.equal(track.at(5, 10).wordIndex, -1);
  assert.equal(track.at(5, 420).wordIndex, 1);
  const second = track.at(5, 1030);
  assert.equal(second.segment.segment_id, 1);
  assert.equal(Math.round(second.t), 30);
  assert.equal(second.wordIndex, 0);
  assert.equal(track.at(9, 10), null);
  assert.equal(track.responseOf(5), 'resp_1');
  assert.equal(track.streamOf('resp_1'), 5);
  assert.deepEqual(track.expressionsBetween(5, 0, 1000).map((e) => e.name), []);
  assert.deepEqual(track.expressionsBetween(5, 1000, 1025).map((e) => e.name), ['smile']);
  track.drop(5);
  assert.equal(track.at(5, 420), null);
});

test('expression tags are not shown to the reader', () => {
  assert.equal(displayText('[smile] Hello <sad> there'), 'Hello there');
});
