import assert from 'node:assert/strict';
import test from 'node:test';

import { decodeFrame, encodeFrame, HEADER_BYTES, KIND_INPUT_AUDIO } from '../src/protocol.js';

test('a frame round-trips through encode and decode', () => {
  const pcm = Int16Array.from([0, 1, -1, 32767, -32768]);
  const buffer = encodeFrame({ kind: KIND_INPUT_AUDIO, stream: 3, seq: 7, pts: 2 ** 40, sampleRate: 48000, pcm });
  assert.equal(buffer.byteLength, HEADER_BYTES + 10);
  const frame = decodeFrame(buffer);
  assert.deepEqual(
    { ...frame, pcm: Array.from(frame.pcm) },
    { kind: 1, stream: 3, seq: 7, pts: 2 ** 40, sampleRate: 48000, pcm: Array.from(pcm) },
  );
});

test('the header layout matches the server (little-endian <BBHIQI)', () => {
  const buffer = encodeFrame({ kind: 2, stream: 0x0102, seq: 0x03040506, pts: 9, sampleRate: 22050, pcm: new Int16Array(0) });
  const bytes = Array.from(new Uint8Array(buffer));
  assert.deepEqual(bytes.slice(0, 8), [1, 2, 0x02, 0x01, 0x06, 0x05, 0x04, 0x03]);
  assert.deepEqual(bytes.slice(8, 16), [9, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(bytes.slice(16, 20), [0x22, 0x56, 0, 0]);
});

test('bad frames are refused with a reason', () => {
  assert.throws(() => decodeFrame(new ArrayBuffer(5)), /frame of 5 bytes/);
  const wrongVersion = encodeFrame({ kind: 2, stream: 0, seq: 0, pts: 0, sampleRate: 16000, pcm: new Int16Array(1) });
  new DataView(wrongVersion).setUint8(0, 9);
  assert.throws(() => decodeFrame(wrongVersion), /version 9/);
  const odd = new ArrayBuffer(HEADER_BYTES + 1);
  new DataView(odd).setUint8(0, 1);
  assert.throws(() => decodeFrame(odd), /odd/);
});
