/**
 * Idle life of the avatar: blinks, breathing, head drift, gaze, mode poses, expressions, nods
 * (pure: no three.js, no DOM, time passed in).
 *
 * `update(nowMs)` is called once per animation frame with a monotonic clock and returns the
 * pose to apply. Everything random comes from a seeded generator and is drawn at scheduled
 * times, so the same seed and the same calls give the same output.
 *
 * Conventions of the output (radians, metres; the avatar faces +z, +x is the avatar's left):
 * - `head.pitch` > 0 tips the chin down, `head.yaw` > 0 turns towards the avatar's left
 *   (+x), `head.roll` > 0 tilts the top of the head towards −x; `head.y` is a vertical offset.
 * - `gaze.x` > 0 turns the eyes towards +x, `gaze.y` > 0 looks up.
 * - every expression channel is 0..1.
 *
 * Nothing jumps: mode poses and expressions move through exponential smoothing, nods and
 * blinks follow their own continuous profiles, and saccades are fast but smoothed.
 */

/** @typedef {'idle'|'listening'|'thinking'|'speaking'} Mode */
/** @typedef {{smile: number, sad: number, surprised: number, browUp: number, browDown: number,
 *   blinkLeft: number, blinkRight: number, eyeWide: number}} ExpressionWeights */
/** @typedef {{head: {pitch: number, yaw: number, roll: number, y: number},
 *   gaze: {x: number, y: number}, expressions: ExpressionWeights}} BehaviourFrame */

export const MODES = Object.freeze(['idle', 'listening', 'thinking', 'speaking']);
export const EXPRESSIONS = Object.freeze([
  'smile', 'sad', 'surprised', 'laugh', 'wink', 'thinking', 'neutral',
]);

export const BLINK_MIN_MS = 2000;
export const BLINK_MAX_MS = 6000;
export const DOUBLE_BLINK_CHANCE = 0.15;
const DOUBLE_BLINK_GAP_MS = 240;
/** Blink profile: closing, closed, opening (ms). */
const BLINK_CLOSE_MS = 70;
const BLINK_HOLD_MS = 40;
const BLINK_OPEN_MS = 130;
const BLINK_MS = BLINK_CLOSE_MS + BLINK_HOLD_MS + BLINK_OPEN_MS;

const POSE_TAU_MS = 450; // mode pose smoothing
const RISE_TAU_MS = 140; // expression onset
const FALL_TAU_MS = 280; // expression release
const SACCADE_TAU_MS = 40;
const MAX_DT_MS = 250;
const BREATH_PERIOD_S = 4.6;

/**
 * Target pose of each mode. `side` (±1) is drawn on entering the mode.
 * @type {Record<Mode, (side: number) => Record<string, number>>}
 */
const MODE_POSES = {
  idle: () => ({ pitch: 0, yaw: 0, roll: 0, gazeX: 0, gazeY: 0, browUp: 0, browDown: 0,
    smile: 0.08, drift: 1, lively: 0, wander: 1 }),
  listening: (side) => ({ pitch: 0.05, yaw: 0.02 * side, roll: 0.055 * side, gazeX: 0, gazeY: 0,
    browUp: 0.2, browDown: 0, smile: 0.12, drift: 0.55, lively: 0, wander: 0.3 }),
  thinking: (side) => thinkingPose(side),
  speaking: () => ({ pitch: 0, yaw: 0, roll: 0, gazeX: 0, gazeY: 0, browUp: 0.06, browDown: 0,
    smile: 0.1, drift: 1.3, lively: 1, wander: 0.45 }),
};

/** @param {number} side */
function thinkingPose(side) {
  return { pitch: -0.06, yaw: 0.1 * side, roll: -0.04 * side, gazeX: 0.3 * side, gazeY: 0.26,
    browUp: 0.12, browDown: 0.35, smile: 0, drift: 0.45, lively: 0, wander: 0.15 };
}

const POSE_KEYS = Object.keys(MODE_POSES.idle(1));
const CHANNELS = ['smile', 'sad', 'surprised', 'browUp', 'browDown', 'eyeWide', 'squint',
  'laugh', 'think'];

/**
 * Seeded uniform generator in [0, 1) (mulberry32).
 * @param {number} seed
 * @returns {() => number}
 */
export function seededRandom(seed) {
  let a = (seed >>> 0) || 0x9e3779b9;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** @param {number} x @returns {number} */
function smoothstep(x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  return x * x * (3 - 2 * x);
}

/**
 * Eyelid closure of one blink `t` ms after it began (0 open .. 1 closed).
 * @param {number} t
 * @param {number} [scale] stretches the profile in time (a wink is slower)
 * @returns {number}
 */
export function blinkProfile(t, scale = 1) {
  const close = BLINK_CLOSE_MS * scale;
  const hold = BLINK_HOLD_MS * scale;
  const open = BLINK_OPEN_MS * scale;
  if (t <= 0 || t >= close + hold + open) return 0;
  if (t < close) return smoothstep(t / close);
  if (t < close + hold) return 1;
  return 1 - smoothstep((t - close - hold) / open);
}

/** A nod: chin down and back up once, smooth at both ends. */
function nodProfile(p) {
  return p <= 0 || p >= 1 ? 0 : (1 - Math.cos(2 * Math.PI * p)) / 2;
}

export class Behaviour {
  /**
   * @param {{seed?: number, mode?: Mode}} [options]
   */
  constructor({ seed = 1, mode = 'idle' } = {}) {
    this._rand = seededRandom(seed);
    /** @type {Mode} */
    this.mode = MODES.includes(mode) ? mode : 'idle';
    this._side = this._rand() < 0.5 ? -1 : 1;
    this._target = MODE_POSES[this.mode](this._side);
    this._pose = { ...this._target };
    // Incommensurate drift phases, so the motion never visibly repeats.
    this._phases = Array.from({ length: 12 }, () => this._rand() * 2 * Math.PI);
    this._channels = Object.fromEntries(CHANNELS.map((k) => [k, 0]));
    /** @type {Map<string, {intensity: number, durationMs: number, start: number|null}>} */
    this._active = new Map();
    this._wink = null; // {start, intensity, scale}
    this._pendingNods = []; // amplitudes requested by nod()
    this._nods = []; // {start, durationMs, amplitude}
    this._blinks = []; // blink start times
    this._nextBlink = null;
    this._nextSaccade = null;
    this._nextGesture = null;
    this._saccadeTarget = { x: 0, y: 0 };
    this._saccade = { x: 0, y: 0 };
    this._emphasis = -Infinity; // time of the last speaking emphasis
    this._now = null;
  }

  /**
   * Switch the attitude: idle, listening (attentive), thinking (gaze up-aside), speaking
   * (livelier). The pose blends over ~0.5 s; an unknown mode is ignored.
   * @param {Mode} mode
   */
  setMode(mode) {
    if (!MODES.includes(mode) || mode === this.mode) return;
    this.mode = mode;
    this._side = this._rand() < 0.5 ? -1 : 1;
    this._target = MODE_POSES[mode](this._side);
    this._nextGesture = null; // rescheduled for the new mode
  }

  /**
   * Show an expression for a while. A new expression replaces the previous one (a wink layers
   * on top, and one in progress is not restarted); `neutral` fades them all out. Unknown names
   * are ignored.
   * @param {string} name smile | sad | surprised | laugh | wink | thinking | neutral
   * @param {{intensity?: number, durationMs?: number}} [options]
   */
  express(name, { intensity = 1, durationMs = 1800 } = {}) {
    const level = Math.min(1, Math.max(0, Number(intensity) || 0));
    if (name === 'neutral') {
      this._active.clear();
      return;
    }
    if (name === 'wink') {
      if (this._wink) return;
      // A wink is a slow blink of one eye: ~0.5 s for the default duration, at most ~0.6 s.
      const scale = Math.min(2.5, Math.max(1, durationMs / 900));
      this._wink = { start: null, intensity: level, scale };
      return;
    }
    if (!EXPRESSIONS.includes(name)) return;
    this._active.clear();
    this._active.set(name, { intensity: level, durationMs: Math.max(0, durationMs), start: null });
  }

  /**
   * One nod (chin down and up, ~0.55 s).
   * @param {{amplitude?: number}} [options] radians of the dip
   */
  nod({ amplitude = 0.1 } = {}) {
    this._pendingNods.push(amplitude);
  }

  /**
   * Advance to `nowMs` and return the pose for this frame (a new object each call).
   * @param {number} nowMs monotonic milliseconds (performance.now())
   * @returns {BehaviourFrame}
   */
  update(nowMs) {
    const dt = this._now === null ? 0 : Math.min(MAX_DT_MS, Math.max(0, nowMs - this._now));
    this._now = nowMs;
    this._schedule(nowMs);

    // Mode pose, blended towards the thinking pose while a "thinking" expression is on.
    const think = this._channels.think;
    const thinking = thinkingPose(this._side);
    const kPose = 1 - Math.exp(-dt / POSE_TAU_MS);
    for (const key of POSE_KEYS) {
      const target = this._target[key] + (thinking[key] - this._target[key]) * think;
      this._pose[key] += (target - this._pose[key]) * kPose;
    }
    this._updateChannels(nowMs, dt);

    const pose = this._pose;
    const ch = this._channels;
    const t = nowMs / 1000;
    const ph = this._phases;
    const tau = 2 * Math.PI;
    const driftYaw = pose.drift * (0.035 * Math.sin(tau * 0.071 * t + ph[0])
      + 0.018 * Math.sin(tau * 0.163 * t + ph[1]));
    const driftPitch = pose.drift * (0.02 * Math.sin(tau * 0.097 * t + ph[2])
      + 0.01 * Math.sin(tau * 0.21 * t + ph[3]));
    const driftRoll = pose.drift * 0.016 * Math.sin(tau * 0.058 * t + ph[4]);
    const livelyYaw = pose.lively * 0.03 * Math.sin(tau * 0.53 * t + ph[5]);
    const livelyPitch = pose.lively * (0.018 * Math.sin(tau * 0.83 * t + ph[6])
      + 0.01 * Math.sin(tau * 1.37 * t + ph[7]));
    const livelyRoll = pose.lively * 0.012 * Math.sin(tau * 0.41 * t + ph[8]);
    const breath = Math.sin((tau * t) / BREATH_PERIOD_S + ph[9]);
    const bob = Math.sin(tau * 4.2 * t + ph[10]);

    let nod = 0;
    for (const n of this._nods) nod += n.amplitude * nodProfile((nowMs - n.start) / n.durationMs);

    const head = {
      pitch: pose.pitch + driftPitch + livelyPitch + 0.006 * breath + nod
        - 0.05 * ch.laugh + 0.03 * ch.laugh * bob,
      yaw: pose.yaw + driftYaw + livelyYaw,
      roll: pose.roll + driftRoll + livelyRoll + 0.03 * ch.laugh,
      y: 0.0025 * breath + 0.002 * ch.laugh * bob,
    };
    // Eyes hold eye contact while the head drifts (a gentle vestibulo-ocular reflex).
    const gaze = {
      x: pose.gazeX + this._saccade.x - 0.5 * (driftYaw + livelyYaw),
      y: pose.gazeY + this._saccade.y + 0.4 * (driftPitch + livelyPitch),
    };

    let blink = 0;
    for (const start of this._blinks) blink = Math.max(blink, blinkProfile(nowMs - start));
    const wink = this._wink && this._wink.start !== null
      ? this._wink.intensity * blinkProfile(nowMs - this._wink.start, this._wink.scale) : 0;
    const squint = ch.squint;
    const clamp = (v) => Math.min(1, Math.max(0, v));
    const expressions = {
      smile: clamp(pose.smile + ch.smile + 0.35 * wink),
      sad: clamp(ch.sad),
      surprised: clamp(ch.surprised),
      browUp: clamp(pose.browUp + ch.browUp),
      browDown: clamp(pose.browDown + ch.browDown),
      blinkLeft: clamp(Math.max(blink, wink) + squint * (1 - blink)),
      blinkRight: clamp(blink + (squint + 0.15 * wink) * (1 - blink)),
      eyeWide: clamp(ch.eyeWide * (1 - blink)),
    };
    return { head, gaze, expressions };
  }

  /** Start what is due: requested expressions and nods, blinks, saccades, gestures. */
  _schedule(now) {
    for (const entry of this._active.values()) if (entry.start === null) entry.start = now;
    if (this._wink && this._wink.start === null) this._wink.start = now;
    if (this._wink && now - this._wink.start > BLINK_MS * this._wink.scale) this._wink = null;
    for (const amplitude of this._pendingNods) {
      this._nods.push({ start: now, durationMs: 550, amplitude });
    }
    this._pendingNods.length = 0;
    this._nods = this._nods.filter((n) => now - n.start < n.durationMs);

    if (this._nextBlink === null) this._nextBlink = now + this._between(BLINK_MIN_MS, BLINK_MAX_MS);
    while (now >= this._nextBlink) {
      const start = this._nextBlink;
      this._blinks.push(start);
      if (this._rand() < DOUBLE_BLINK_CHANCE) this._blinks.push(start + DOUBLE_BLINK_GAP_MS);
      this._nextBlink = start + this._between(BLINK_MIN_MS, BLINK_MAX_MS);
    }
    this._blinks = this._blinks.filter((s) => now - s < BLINK_MS);

    if (this._nextSaccade === null) this._nextSaccade = now + this._between(600, 2500);
    if (now >= this._nextSaccade) {
      const wander = this._pose.wander;
      // Mostly back to the centre of attention; sometimes a glance away.
      const away = this._rand() < 0.35 * wander;
      this._saccadeTarget.x = (this._rand() * 2 - 1) * (away ? 0.2 : 0.05) * (0.4 + wander);
      this._saccadeTarget.y = (this._rand() * 2 - 1) * (away ? 0.1 : 0.03) * (0.4 + wander);
      this._nextSaccade = now + this._between(away ? 500 : 900, away ? 1400 : 3200);
    }

    if (this._nextGesture === null) this._nextGesture = now + this._gestureGap();
    if (now >= this._nextGesture) {
      if (this.mode === 'listening') {
        this._nods.push({ start: now, durationMs: 700, amplitude: 0.04 + 0.02 * this._rand() });
      } else if (this.mode === 'speaking') {
        this._nods.push({ start: now, durationMs: 420, amplitude: 0.025 + 0.02 * this._rand() });
        this._emphasis = now;
      }
      this._nextGesture = now + this._gestureGap();
    }
  }

  _gestureGap() {
    if (this.mode === 'listening') return this._between(3500, 8000);
    if (this.mode === 'speaking') return this._between(1600, 4200);
    return this._between(4000, 9000);
  }

  /** Smooth the expression channels towards what the active expressions ask for. */
  _updateChannels(now, dt) {
    const target = Object.fromEntries(CHANNELS.map((k) => [k, 0]));
    for (const [name, entry] of this._active) {
      if (now - entry.start >= entry.durationMs) {
        this._active.delete(name);
        continue;
      }
      const level = entry.intensity;
      if (name === 'smile') target.smile += level;
      else if (name === 'laugh') {
        target.smile += level;
        target.laugh += level;
        target.squint += 0.35 * level;
        target.browUp += 0.15 * level;
      } else if (name === 'sad') {
        target.sad += level;
        target.browUp += 0.35 * level;
      } else if (name === 'surprised') {
        target.surprised += level;
        target.browUp += 0.7 * level;
        target.eyeWide += 0.8 * level;
      } else if (name === 'thinking') {
        target.think += level;
        target.browDown += 0.15 * level;
      }
    }
    // A short brow lift with each speaking emphasis.
    if (now - this._emphasis < 350) target.browUp += 0.2;
    const rise = 1 - Math.exp(-dt / RISE_TAU_MS);
    const fall = 1 - Math.exp(-dt / FALL_TAU_MS);
    for (const key of CHANNELS) {
      const goal = Math.min(1, target[key]);
      const current = this._channels[key];
      this._channels[key] += (goal - current) * (goal > current ? rise : fall);
    }

    const kSaccade = 1 - Math.exp(-dt / SACCADE_TAU_MS);
    this._saccade.x += (this._saccadeTarget.x - this._saccade.x) * kSaccade;
    this._saccade.y += (this._saccadeTarget.y - this._saccade.y) * kSaccade;
  }

  /** @returns {number} uniform in [lo, hi) */
  _between(lo, hi) {
    return lo + (hi - lo) * this._rand();
  }
}
