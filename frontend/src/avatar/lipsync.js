/**
 * Viseme track → per-frame mouth weights (pure: no three.js, no DOM).
 *
 * A track is what the server sends per spoken segment: `[{id, start_ms, duration_ms}]`, Oculus
 * viseme ids 0..14 (`VISEME_NAMES`), sorted by start and not overlapping (the server's visemes
 * tile the segment), times in ms from the segment's first audio sample.
 *
 * Coarticulation is an envelope per viseme entry, so neighbours blend instead of snapping:
 *
 *          attack          hold            release
 *   0 ─────╱‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾╲────── 0
 *     start−a        start         end        end+RELEASE_MS
 *
 * with `a = clamp(duration, MIN_ATTACK_MS, ATTACK_MS)` and smoothstep ramps. The envelope is
 * scaled by the viseme's peak (`VISEME_PEAK`); short open-mouth visemes undershoot a little
 * (fast speech does not flap the jaw), closures never do. Then:
 *
 * - **closures dominate**: while PP (lips pressed) or FF (lower lip under the teeth) is on, the
 *   other visemes are suppressed, so the lips really close between "a-ba";
 * - **open shapes share**: when the open visemes add up to more than 1 they are scaled to sum 1,
 *   a convex blend of neighbouring shapes rather than an exaggerated sum.
 *
 * `sil` never contributes: silence is the mouth at rest (all weights 0).
 */

/** Oculus / OVR LipSync viseme names, indexed by viseme id. */
export const VISEME_NAMES = Object.freeze([
  'sil', 'PP', 'FF', 'TH', 'DD', 'kk', 'CH', 'SS', 'nn', 'RR', 'aa', 'E', 'I', 'O', 'U',
]);
export const VISEME_COUNT = 15;

export const SIL = 0;
export const PP = 1;
export const FF = 2;

/** Longest lead of a viseme's attack before its start (ms). */
export const ATTACK_MS = 50;
/** Shortest attack, so that even a 5 ms viseme does not snap in within one frame. */
export const MIN_ATTACK_MS = 20;
/** Ease-out after a viseme's end (ms). */
export const RELEASE_MS = 80;
/** Below this duration an open viseme undershoots its peak (see `peakFor`). */
export const FULL_PEAK_MS = 60;
/** How much a closure (PP, FF) at full weight suppresses the other visemes. */
export const CLOSURE_SUPPRESSION = 0.85;

/**
 * Peak weight of each viseme (indexed by id): how far the mouth goes into the shape.
 * Closures are at (near) full so the lips meet; tongue-only consonants are mild.
 */
export const VISEME_PEAK = Object.freeze([
  0, // sil: rest
  1.0, // PP
  0.95, // FF
  0.7, // TH
  0.55, // DD
  0.6, // kk
  0.8, // CH
  0.7, // SS
  0.55, // nn
  0.7, // RR
  1.0, // aa
  0.85, // E
  0.8, // I
  0.95, // O
  0.95, // U
]);

/**
 * How open the jaw is in each viseme's shape (0 closed .. 1 the aa shape), for a one-number
 * summary of a weight vector (`mouthOpennessOf`).
 */
export const VISEME_OPENNESS = Object.freeze([
  0, 0, 0.1, 0.2, 0.25, 0.35, 0.2, 0.1, 0.2, 0.2, 1.0, 0.5, 0.3, 0.6, 0.25,
]);

/** @typedef {{id: number, start_ms: number, duration_ms: number}} VisemeEntry */

/**
 * Peak weight of one entry: the viseme's peak, a little less for a short open viseme.
 * @param {number} id
 * @param {number} durationMs
 * @returns {number}
 */
export function peakFor(id, durationMs) {
  const peak = VISEME_PEAK[id];
  if (id === PP || id === FF || durationMs >= FULL_PEAK_MS) return peak;
  return peak * (0.7 + (0.3 * Math.max(0, durationMs)) / FULL_PEAK_MS);
}

/**
 * Attack length of an entry (ms).
 * @param {number} durationMs
 * @returns {number}
 */
export function attackFor(durationMs) {
  return Math.min(ATTACK_MS, Math.max(MIN_ATTACK_MS, durationMs));
}

/** @param {number} x @returns {number} smoothstep of x clamped to [0, 1] */
function ease(x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  return x * x * (3 - 2 * x);
}

/**
 * The envelope (0..1, before the peak) of an entry starting at `start` lasting `duration`.
 * @param {number} start
 * @param {number} duration
 * @param {number} t
 * @returns {number}
 */
export function envelope(start, duration, t) {
  const attack = attackFor(duration);
  if (t < start) return ease((t - (start - attack)) / attack);
  const end = start + Math.max(0, duration);
  if (t <= end) return 1;
  return 1 - ease((t - end) / RELEASE_MS);
}

/**
 * Index of the last entry whose start is ≤ `t`, or -1 (binary search).
 * @param {ArrayLike<VisemeEntry>} track
 * @param {number} t
 * @returns {number}
 */
function lastStartingBy(track, t) {
  let lo = 0;
  let hi = track.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (track[mid].start_ms <= t) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

/**
 * Viseme weights (0..1, indexed by viseme id) at playhead `tMs` of a track.
 *
 * Allocation-free apart from the default `out`: call it every animation frame with a reused
 * array. Outside the track (before the first attack, after the last release) every weight is 0.
 * @param {ArrayLike<VisemeEntry>} track entries sorted by start_ms, not overlapping
 * @param {number} tMs playhead in ms from the segment's first audio sample
 * @param {Float32Array} [out] receives the 15 weights
 * @returns {Float32Array} `out`
 */
export function visemeWeightsAt(track, tMs, out = new Float32Array(VISEME_COUNT)) {
  out.fill(0);
  if (!track || track.length === 0 || !Number.isFinite(tMs)) return out;
  // Entries starting later than t + ATTACK_MS cannot have begun their attack.
  const last = lastStartingBy(track, tMs + ATTACK_MS);
  for (let i = last; i >= 0; i--) {
    const entry = track[i];
    const duration = Math.max(0, entry.duration_ms);
    // Ends are non-decreasing (entries do not overlap): once one is released, all before are.
    if (entry.start_ms + duration + RELEASE_MS <= tMs) break;
    const id = entry.id;
    if (!(id > SIL && id < VISEME_COUNT)) continue; // sil, or an id this table lacks
    const weight = peakFor(id, duration) * envelope(entry.start_ms, duration, tMs);
    if (weight > out[id]) out[id] = weight;
  }
  // Closures dominate; the open shapes share what is left.
  const closure = Math.max(out[PP], out[FF]);
  const keep = 1 - CLOSURE_SUPPRESSION * closure;
  let open = 0;
  for (let id = FF + 1; id < VISEME_COUNT; id++) {
    out[id] *= keep;
    open += out[id];
  }
  if (open > 1) {
    for (let id = FF + 1; id < VISEME_COUNT; id++) out[id] /= open;
  }
  return out;
}

/**
 * When a track's mouth motion is over (ms): the last entry's end plus the release.
 * @param {ArrayLike<VisemeEntry>} track
 * @returns {number} 0 for an empty track
 */
export function trackEndMs(track) {
  if (!track || track.length === 0) return 0;
  const last = track[track.length - 1];
  return last.start_ms + Math.max(0, last.duration_ms) + RELEASE_MS;
}

/**
 * One number for how open a weight vector makes the mouth (0..1).
 * @param {ArrayLike<number>} weights 15 viseme weights
 * @returns {number}
 */
export function mouthOpennessOf(weights) {
  let sum = 0;
  for (let id = 0; id < VISEME_COUNT; id++) sum += (weights[id] || 0) * VISEME_OPENNESS[id];
  return Math.min(1, Math.max(0, sum));
}
