import assert from 'node:assert/strict';
import { test } from 'node:test';

import { BLINK_MAX_MS, BLINK_MIN_MS, Behaviour, blinkProfile } from '../src/avatar/behaviour.js';

const FRAME_MS = 1000 / 60;
const CHANNELS = ['smile', 'sad', 'surprised', 'browUp', 'browDown', 'blinkLeft', 'blinkRight', 'eyeWide'];

/** Run `b` from `from` ms for `ms` at 60 fps; `each(frame, t)` sees every frame. */
function run(b, from, ms, each = () => {}) {
  let t = from;
  const end = from + ms;
  let frame = null;
  for (; t < end; t += FRAME_MS) {
    frame = b.update(t);
    each(frame, t);
  }
  return { frame, t };
}

function flat(frame) {
  return [frame.head.pitch, frame.head.yaw, frame.head.roll, frame.head.y, frame.gaze.x, frame.gaze.y,
    ...CHANNELS.map((k) => frame.expressions[k])];
}

test('the same seed and calls give the same frames; another seed differs', () => {
  const script = (b) => {
    const out = [];
    for (let i = 0; i < 1200; i++) {
      const t = 5000 + i * FRAME_MS;
      if (i === 100) b.setMode('listening');
      if (i === 400) b.express('smile', { intensity: 0.8 });
      if (i === 500) b.nod();
      if (i === 700) b.setMode('thinking');
      if (i === 900) b.setMode('speaking');
      out.push(flat(b.update(t)));
    }
    return out;
  };
  assert.deepEqual(script(new Behaviour({ seed: 7 })), script(new Behaviour({ seed: 7 })));
  assert.notDeepEqual(script(new Behaviour({ seed: 7 })), script(new Behaviour({ seed: 8 })));
});

test('blinks come every 2 to 6 seconds, with an occasional double blink', () => {
  const b = new Behaviour({ seed: 3 });
  const onsets = [];
  let closed = false;
  const minutes = 10;
  run(b, 0, minutes * 60000, (frame, t) => {
    const now = frame.expressions.blinkRight > 0.5;
    if (now && !closed) onsets.push(t);
    closed = now;
  });
  const perMinute = onsets.length / minutes;
  assert.ok(perMinute >= 60000 / BLINK_MAX_MS && perMinute <= 1.3 * (60000 / BLINK_MIN_MS),
    `${perMinute} blinks a minute`);
  const gaps = onsets.slice(1).map((t, i) => t - onsets[i]);
  const doubles = gaps.filter((g) => g < 500);
  assert.ok(doubles.length >= 1, 'some double blinks');
  assert.ok(doubles.length < gaps.length * 0.3, 'double blinks are occasional');
  // Apart from the second blink of a double, no gap is shorter than the minimum.
  assert.ok(gaps.every((g) => g < 500 || g >= BLINK_MIN_MS - 300), `gaps ${gaps.filter((g) => g >= 500).sort((x, y) => x - y)[0]}`);
  assert.ok(gaps.every((g) => g <= BLINK_MAX_MS + 100));
  // Both eyes blink together.
  const b2 = new Behaviour({ seed: 3 });
  run(b2, 0, 20000, ({ expressions: e }) => assert.ok(Math.abs(e.blinkLeft - e.blinkRight) < 1e-9));
});

test('a blink closes the eyes fully and is short', () => {
  assert.equal(blinkProfile(-1), 0);
  assert.equal(blinkProfile(80), 1);
  assert.equal(blinkProfile(400), 0);
  let peak = 0;
  for (let t = 0; t < 300; t++) peak = Math.max(peak, blinkProfile(t));
  assert.equal(peak, 1);
});

test('the avatar breathes and its head drifts slowly when idle', () => {
  const b = new Behaviour({ seed: 5 });
  const ys = [];
  const yaws = [];
  run(b, 0, 20000, (f) => { ys.push(f.head.y); yaws.push(f.head.yaw); });
  const range = (xs) => Math.max(...xs) - Math.min(...xs);
  assert.ok(range(ys) > 0.003 && range(ys) < 0.01, `breathing ${range(ys)} m`);
  assert.ok(range(yaws) > 0.02 && range(yaws) < 0.2, `drift ${range(yaws)} rad`);
});

test('switching modes and expressions never makes the pose jump', () => {
  const b = new Behaviour({ seed: 11 });
  const modes = ['listening', 'thinking', 'speaking', 'idle'];
  const names = ['smile', 'sad', 'surprised', 'laugh', 'thinking', 'neutral'];
  let previous = null;
  let worstHead = 0;
  let worstFace = 0;
  let worstGaze = 0;
  let i = 0;
  run(b, 1000, 90000, (frame) => {
    i += 1;
    if (i % 97 === 0) b.setMode(modes[(i / 97) % modes.length]);
    if (i % 151 === 0) b.express(names[(i / 151) % names.length], { intensity: 1, durationMs: 1200 });
    if (i % 263 === 0) b.nod();
    if (previous) {
      for (const k of ['pitch', 'yaw', 'roll']) {
        worstHead = Math.max(worstHead, Math.abs(frame.head[k] - previous.head[k]));
      }
      for (const k of ['x', 'y']) worstGaze = Math.max(worstGaze, Math.abs(frame.gaze[k] - previous.gaze[k]));
      for (const k of ['smile', 'sad', 'surprised', 'browUp', 'browDown', 'eyeWide']) {
        worstFace = Math.max(worstFace, Math.abs(frame.expressions[k] - previous.expressions[k]));
      }
    }
    for (const k of CHANNELS) {
      assert.ok(frame.expressions[k] >= 0 && frame.expressions[k] <= 1, `${k} ${frame.expressions[k]}`);
    }
    previous = frame;
  });
  assert.ok(worstHead < 0.03, `head moved ${worstHead} rad in one frame`);
  assert.ok(worstFace < 0.15, `an expression moved ${worstFace} in one frame`);
  assert.ok(worstGaze < 0.12, `the eyes moved ${worstGaze} rad in one frame`);
});

test('expressions show and fade; neutral clears them', () => {
  const b = new Behaviour({ seed: 2 });
  let { t } = run(b, 0, 1000);
  b.express('smile', { durationMs: 1500 });
  let peak = 0;
  ({ t } = run(b, t, 1200, (f) => { peak = Math.max(peak, f.expressions.smile); }));
  assert.ok(peak > 0.85, `smile ${peak}`);
  let { frame } = run(b, t, 2500);
  assert.ok(frame.expressions.smile < 0.2, `smile after its duration ${frame.expressions.smile}`);
  ({ t } = run(b, t + 2500, 10));

  const most = (keys) => {
    const best = Object.fromEntries(keys.map((k) => [k, 0]));
    return [best, (f) => { for (const k of keys) best[k] = Math.max(best[k], f.expressions[k]); }];
  };
  b.express('surprised');
  let [best, track] = most(['surprised', 'eyeWide', 'browUp']);
  ({ t } = run(b, t, 800, track));
  assert.ok(best.surprised > 0.8 && best.eyeWide > 0.5 && best.browUp > 0.5, JSON.stringify(best));
  b.express('neutral');
  ({ frame, t } = run(b, t, 1500));
  assert.ok(frame.expressions.surprised < 0.05 && frame.expressions.eyeWide < 0.05, 'neutral cleared it');

  b.express('sad');
  [best, track] = most(['sad', 'browUp']);
  ({ t } = run(b, t, 800, track));
  assert.ok(best.sad > 0.8 && best.browUp > 0.3, JSON.stringify(best));

  b.express('not-an-expression');
  b.setMode('dancing');
  assert.equal(b.mode, 'idle');
});

test('a wink closes one eye', () => {
  const b = new Behaviour({ seed: 9 });
  let { t } = run(b, 0, 100);
  b.express('wink');
  let best = null;
  run(b, t, 800, (f) => {
    if (!best || f.expressions.blinkLeft > best.blinkLeft) best = { ...f.expressions };
  });
  assert.ok(best.blinkLeft > 0.9, `left ${best.blinkLeft}`);
  assert.ok(best.blinkRight < 0.4, `right ${best.blinkRight}`);
});

test('laughing smiles broadly and bobs the head', () => {
  const b = new Behaviour({ seed: 4 });
  const calm = [];
  let { t } = run(b, 0, 2000, (f) => calm.push(f.head.pitch));
  b.express('laugh', { durationMs: 2500 });
  const pitches = [];
  let smile = 0;
  run(b, t + 500, 1500, (f) => { pitches.push(f.head.pitch); smile = Math.max(smile, f.expressions.smile); });
  const wiggle = (xs) => xs.slice(1).reduce((s, x, i) => s + Math.abs(x - xs[i]), 0) / xs.length;
  assert.ok(smile > 0.9);
  assert.ok(wiggle(pitches) > 2 * wiggle(calm), 'the head bobs');
});

test('thinking looks up and aside with lowered brows; listening raises the brows', () => {
  const b = new Behaviour({ seed: 6 });
  b.setMode('thinking');
  let { frame, t } = run(b, 0, 2500);
  assert.ok(frame.gaze.y > 0.15, `gaze up ${frame.gaze.y}`);
  assert.ok(Math.abs(frame.gaze.x) > 0.15, `gaze aside ${frame.gaze.x}`);
  assert.ok(frame.expressions.browDown > 0.2);
  b.setMode('listening');
  ({ frame, t } = run(b, t, 2500));
  assert.ok(frame.expressions.browUp > 0.12);
  assert.ok(Math.abs(frame.gaze.y) < 0.1, 'eye contact again');

  // The thinking expression borrows the thinking pose for a while.
  const c = new Behaviour({ seed: 6 });
  ({ t } = run(c, 0, 500));
  c.express('thinking', { durationMs: 3000 });
  ({ frame } = run(c, t, 2000));
  assert.ok(frame.gaze.y > 0.12, `thinking expression gaze ${frame.gaze.y}`);
});

test('listening nods now and then; nod() nods at once', () => {
  const b = new Behaviour({ seed: 12 });
  b.setMode('listening');
  const pitches = [];
  run(b, 0, 30000, (f) => pitches.push(f.head.pitch));
  // A nod is a bump of a few hundredths of a radian in well under a second.
  let bumps = 0;
  for (let i = 30; i < pitches.length; i += 30) {
    if (pitches[i] - Math.min(pitches[i - 30], pitches[Math.min(pitches.length - 1, i + 30)]) > 0.025) bumps++;
  }
  assert.ok(bumps >= 2, `${bumps} nods in 30 s of listening`);

  const c = new Behaviour({ seed: 1 });
  let { frame, t } = run(c, 0, 1000);
  const before = frame.head.pitch;
  c.nod();
  ({ frame } = run(c, t, 280));
  assert.ok(frame.head.pitch - before > 0.06, `nod dipped ${frame.head.pitch - before}`);
});

test('speaking moves the head more than listening', () => {
  const activity = (mode) => {
    const b = new Behaviour({ seed: 21 });
    b.setMode(mode);
    const yaws = [];
    const pitches = [];
    run(b, 0, 20000, (f) => { yaws.push(f.head.yaw); pitches.push(f.head.pitch); });
    const speed = (xs) => xs.slice(1).reduce((s, x, i) => s + Math.abs(x - xs[i]), 0);
    return speed(yaws) + speed(pitches);
  };
  assert.ok(activity('speaking') > 1.5 * activity('listening'));
});
