import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  ATTACK_MS, CLOSURE_SUPPRESSION, FF, PP, RELEASE_MS, SIL, VISEME_COUNT, VISEME_NAMES, envelope,
  mouthOpennessOf, peakFor, trackEndMs, visemeWeightsAt,
} from '../src/avatar/lipsync.js';

const ID = Object.fromEntries(VISEME_NAMES.map((name, id) => [name, id]));

/** A tiling track from [name, duration] pairs, starting at `start`. */
function track(pairs, start = 0) {
  const out = [];
  let t = start;
  for (const [name, duration] of pairs) {
    out.push({ id: ID[name], start_ms: t, duration_ms: duration });
    t += duration;
  }
  return out;
}

/** Seeded generator, so a failing random case can be replayed. */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomTrack(rand) {
  const pairs = [];
  const n = 1 + Math.floor(rand() * 40);
  for (let i = 0; i < n; i++) {
    // Real tracks: 1..250 ms visemes, with silences; consecutive equal ids merged by the server.
    let name = VISEME_NAMES[Math.floor(rand() * VISEME_COUNT)];
    if (pairs.length && pairs[pairs.length - 1][0] === name) name = 'sil';
    pairs.push([name, 1 + Math.floor(rand() * 250)]);
  }
  return track(pairs, Math.floor(rand() * 500));
}

/** The same weights by brute force over every entry (checks the binary search and the early exit). */
function reference(entries, t) {
  const out = new Array(VISEME_COUNT).fill(0);
  for (const e of entries) {
    if (e.id <= SIL || e.id >= VISEME_COUNT) continue;
    out[e.id] = Math.max(out[e.id], peakFor(e.id, e.duration_ms) * envelope(e.start_ms, e.duration_ms, t));
  }
  const keep = 1 - CLOSURE_SUPPRESSION * Math.max(out[PP], out[FF]);
  let open = 0;
  for (let id = FF + 1; id < VISEME_COUNT; id++) {
    out[id] *= keep;
    open += out[id];
  }
  if (open > 1) for (let id = FF + 1; id < VISEME_COUNT; id++) out[id] /= open;
  return out;
}

test('viseme names are the Oculus 15 in id order', () => {
  assert.deepEqual([...VISEME_NAMES],
    ['sil', 'PP', 'FF', 'TH', 'DD', 'kk', 'CH', 'SS', 'nn', 'RR', 'aa', 'E', 'I', 'O', 'U']);
});

test('an empty track, silence and a non-finite playhead leave the mouth at rest', () => {
  assert.deepEqual([...visemeWeightsAt([], 100)], new Array(15).fill(0));
  assert.deepEqual([...visemeWeightsAt(null, 100)], new Array(15).fill(0));
  const silent = track([['sil', 500]]);
  for (let t = -100; t < 700; t += 7) assert.deepEqual([...visemeWeightsAt(silent, t)], new Array(15).fill(0));
  assert.deepEqual([...visemeWeightsAt(track([['aa', 100]]), Number.NaN)], new Array(15).fill(0));
});

test('weights are zero before the first attack and after the last release', () => {
  const t = track([['sil', 40], ['aa', 120], ['O', 90], ['sil', 60]], 1000);
  const first = 1040;
  const lastEnd = 1250;
  for (let ms = 0; ms <= first - ATTACK_MS; ms += 5) {
    assert.ok(visemeWeightsAt(t, ms).every((w) => w === 0), `t=${ms}`);
  }
  for (let ms = lastEnd + RELEASE_MS; ms < lastEnd + 2000; ms += 5) {
    assert.ok(visemeWeightsAt(t, ms).every((w) => w === 0), `t=${ms}`);
  }
  assert.ok(visemeWeightsAt(t, first + 60)[ID.aa] > 0.9);
  assert.equal(trackEndMs(t), 1310 + RELEASE_MS);
  assert.equal(trackEndMs([]), 0);
});

test('the mouth rests in a pause between words', () => {
  const t = track([['aa', 100], ['sil', 400], ['E', 100]]);
  const mid = visemeWeightsAt(t, 300);
  assert.ok(mid.every((w) => w === 0));
  assert.equal(mouthOpennessOf(mid), 0);
});

test('PP closes the lips fully inside its interval, even between open vowels', () => {
  for (const duration of [15, 40, 70, 120]) {
    const t = track([['aa', 120], ['PP', duration], ['aa', 120]]);
    let best = 0;
    for (let ms = 120; ms <= 120 + duration; ms++) best = Math.max(best, visemeWeightsAt(t, ms)[ID.PP]);
    assert.ok(best >= 0.9, `PP of ${duration} ms peaks at ${best}`);
  }
  // While the lips are closed the open vowels around it are held back.
  const t = track([['aa', 120], ['PP', 80], ['aa', 120]]);
  const w = visemeWeightsAt(t, 160);
  assert.ok(w[ID.PP] >= 0.99);
  assert.ok(w[ID.aa] < 0.2, `aa ${w[ID.aa]} during PP`);
});

test('FF reaches near full weight too', () => {
  const t = track([['E', 100], ['FF', 30], ['O', 100]]);
  let best = 0;
  for (let ms = 100; ms <= 130; ms++) best = Math.max(best, visemeWeightsAt(t, ms)[ID.FF]);
  assert.ok(best >= 0.9, `FF peaks at ${best}`);
});

test('neighbouring visemes blend around their boundary', () => {
  const t = track([['aa', 150], ['O', 150]]);
  const before = visemeWeightsAt(t, 90);
  assert.ok(before[ID.aa] > 0.9 && before[ID.O] === 0, 'the next viseme has not begun yet');
  const at = visemeWeightsAt(t, 150);
  assert.ok(at[ID.aa] > 0.3 && at[ID.O] > 0.3, `both at the boundary: ${at[ID.aa]}, ${at[ID.O]}`);
  assert.ok(at[ID.aa] + at[ID.O] <= 1 + 1e-6, 'open shapes share rather than add up');
  const after = visemeWeightsAt(t, 190);
  assert.ok(after[ID.O] > after[ID.aa] && after[ID.aa] > 0, 'the previous one releases smoothly');
  assert.equal(visemeWeightsAt(t, 150 + RELEASE_MS + 1)[ID.aa], 0);
});

test('weights change by at most 0.1 per millisecond (no jumps)', () => {
  const rand = random(42);
  const out = new Float32Array(15);
  let worst = 0;
  for (let n = 0; n < 60; n++) {
    const t = randomTrack(rand);
    let previous = Array.from(visemeWeightsAt(t, t[0].start_ms - ATTACK_MS - 1, out));
    for (let ms = t[0].start_ms - ATTACK_MS; ms <= trackEndMs(t) + 1; ms++) {
      const now = visemeWeightsAt(t, ms, out);
      for (let id = 0; id < 15; id++) worst = Math.max(worst, Math.abs(now[id] - previous[id]));
      previous = Array.from(now);
    }
  }
  assert.ok(worst <= 0.1, `largest step ${worst}`);
});

test('random tracks keep every weight in [0, 1], sil at 0, and match a brute-force scan', () => {
  const rand = random(7);
  const out = new Float32Array(15);
  for (let n = 0; n < 300; n++) {
    const t = randomTrack(rand);
    const end = trackEndMs(t);
    for (let k = 0; k < 60; k++) {
      const ms = -100 + rand() * (end + 300);
      const w = visemeWeightsAt(t, ms, out);
      assert.equal(w, out, 'fills and returns the given array');
      assert.equal(w[SIL], 0);
      const expected = reference(t, ms);
      for (let id = 0; id < 15; id++) {
        assert.ok(w[id] >= 0 && w[id] <= 1, `weight ${w[id]}`);
        assert.ok(Math.abs(w[id] - expected[id]) < 1e-6, `id ${id} at ${ms}: ${w[id]} vs ${expected[id]}`);
      }
    }
  }
});

test('ids outside 1..14 are ignored', () => {
  const t = [{ id: 15, start_ms: 0, duration_ms: 100 }, { id: -1, start_ms: 100, duration_ms: 100 },
    { id: 10, start_ms: 200, duration_ms: 100 }];
  assert.ok(visemeWeightsAt(t, 50).every((w) => w === 0));
  assert.ok(visemeWeightsAt(t, 250)[10] > 0.9);
});

test('short open visemes undershoot; closures never do', () => {
  assert.ok(peakFor(ID.aa, 20) < peakFor(ID.aa, 100));
  assert.equal(peakFor(ID.PP, 5), 1);
  assert.ok(peakFor(ID.FF, 5) >= 0.9);
});

test('mouth openness summarises the weights', () => {
  const w = new Float32Array(15);
  assert.equal(mouthOpennessOf(w), 0);
  w[ID.aa] = 1;
  assert.equal(mouthOpennessOf(w), 1);
  w.fill(0);
  w[ID.PP] = 1;
  assert.equal(mouthOpennessOf(w), 0);
});
