import assert from 'node:assert/strict';
import test from 'node:test';

import { FrameAssembler } from '../src/audio/mic.worklet.js';
import { PlaybackQueue } from '../src/audio/player.worklet.js';

const QUANTUM = 128;

function run(queue, quanta, t0 = 0) {
  const out = new Float32Array(QUANTUM);
  const messages = [];
  const samples = [];
  for (let q = 0; q < quanta; q++) {
    messages.push(...queue.render(out, t0 + (q * QUANTUM) / queue.outRate));
    samples.push(...out);
  }
  return { messages, samples };
}

test('mic frames are 20 ms of PCM16 with a running pts; muted frames are silence', () => {
  const asm = new FrameAssembler(960);
  const input = new Float32Array(128).fill(0.5);
  const frames = [];
  for (let i = 0; i < 15; i++) frames.push(...asm.push(input, 128, i >= 8));
  assert.equal(frames.length, 2);
  assert.deepEqual(frames.map((f) => f.pts), [0, 960]);
  assert.equal(frames[0].pcm[0], 16383); // 0.5 × 32767, truncated as Int16Array stores it
  assert.ok(frames[1].pcm.slice(0, 64).every((x) => x !== 0));
  assert.ok(frames[1].pcm.slice(-100).every((x) => x === 0));
});

test('mic samples are clipped to the PCM16 range', () => {
  const asm = new FrameAssembler(4);
  const [frame] = asm.push(Float32Array.from([2, -2, 1, -1]), 4, false);
  assert.deepEqual(Array.from(frame.pcm), [32767, -32768, 32767, -32768]);
});

test('playback waits for the prebuffer, then plays the stream to its end', () => {
  const q = new PlaybackQueue(48000, { prebufferMs: 60 });
  q.push(1, new Int16Array(441).fill(16384), 22050); // 20 ms: below the prebuffer
  let { messages, samples } = run(q, 2);
  assert.deepEqual(messages, []);
  assert.ok(samples.every((x) => x === 0));
  q.push(1, new Int16Array(2205).fill(16384), 22050); // now 120 ms queued
  q.end(1);
  ({ messages, samples } = run(q, 60));
  const types = messages.map((m) => m.type);
  assert.equal(types[0], 'started');
  assert.equal(types.at(-1), 'ended');
  assert.equal(messages.at(-1).played, 2646);
  const loud = samples.filter((x) => Math.abs(x - 0.5) < 1e-6).length;
  assert.ok(Math.abs(loud - (2646 * 48000) / 22050) < 4, `${loud} output samples`);
  assert.equal(q.streams.length, 0);
});

test('a dry buffer before the end counts an underrun and rebuffers', () => {
  const q = new PlaybackQueue(48000, { prebufferMs: 10 });
  q.push(4, new Int16Array(441).fill(1000), 22050);
  const { messages } = run(q, 20);
  assert.deepEqual(
    messages.filter((m) => m.type !== 'position').map((m) => m.type),
    ['started', 'underrun'],
  );
  assert.equal(q.underruns, 1);
  q.push(4, new Int16Array(441).fill(1000), 22050);
  q.end(4);
  const after = run(q, 20).messages.filter((m) => m.type !== 'position');
  assert.deepEqual(after.map((m) => m.type), ['ended']);
  assert.equal(after[0].played, 882);
  assert.equal(after[0].underruns, 1);
});

test('flush stops at once and reports exactly what was played', () => {
  const q = new PlaybackQueue(48000, { prebufferMs: 0 });
  q.push(2, new Int16Array(22050).fill(3000), 22050);
  run(q, 10); // 1280 output samples = 588 source samples
  const flushed = q.flush();
  assert.equal(flushed.stream, 2);
  assert.equal(flushed.rate, 22050);
  assert.equal(flushed.played, Math.floor((1280 * 22050) / 48000));
  const { samples, messages } = run(q, 5);
  assert.ok(samples.every((x) => x === 0));
  assert.deepEqual(messages, []);
  assert.equal(q.flush(), null);
});

test('streams play one after the other with positions on each stream clock', () => {
  const q = new PlaybackQueue(22050, { prebufferMs: 0, positionEvery: 1 });
  q.push(1, new Int16Array(256).fill(1), 22050);
  q.end(1);
  q.push(2, new Int16Array(256).fill(2), 22050);
  q.end(2);
  const { messages } = run(q, 6);
  const important = messages.filter((m) => m.type !== 'position');
  assert.deepEqual(
    important.map((m) => [m.type, m.stream, m.played]),
    [['started', 1, 128], ['ended', 1, 256], ['started', 2, 128], ['ended', 2, 256]],
  );
  const positions = messages.filter((m) => m.type === 'position');
  assert.ok(positions.every((m, i) => i === 0 || m.time > positions[i - 1].time));
});
