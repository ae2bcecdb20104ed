/**
 * The default head's shape and its mouth as math (pure: plain arrays, no three.js).
 *
 * Units are metres in head space: origin at the head's centre, +y up, +z out of the face,
 * +x towards the avatar's left. `default-head.js` builds meshes from these functions.
 *
 * The mouth is described by a handful of **mouth parameters** (jaw, wide, round, press, ...);
 * every viseme and mouth expression is one parameter set (`MOUTH_SHAPES`). A morph target is
 * the displacement that set causes, computed per vertex by the fields below, so lips, skin,
 * teeth, tongue and the mouth's dark interior all move together:
 *
 * - the lips are a tube around a closed ring (`lipPoint(u, v)`: u around the mouth, v around
 *   the tube); at rest the upper and lower lip meet on the mouth line;
 * - the jaw is a rotation about a hinge behind the mouth (`rotateJaw`), applied to the lower
 *   lip, lower teeth, tongue and the chin's skin;
 * - the skin near the lips follows the nearest point of the lips (`skinDisplacement`);
 * - the interior is a deep sheet spanning the inner edges of the two lips (`interiorPoint`),
 *   with teeth and tongue between it and the lips; the skin is cut open behind the lips
 *   (default-head.js) and split along the mouth line (`jawWeight`), so an open mouth shows the
 *   dark interior, never skin.
 */

/** Head half-extents (m). */
export const HEAD = Object.freeze({ rx: 0.076, ryTop: 0.1, ryBottom: 0.097, rzFront: 0.086,
  rzBack: 0.094 });
export const MOUTH_Y = -0.05;
export const EYE_X = 0.031;
export const EYE_Y = 0.006;
export const EYE_RADIUS = 0.013;
/** Mouth half-width and the lips' half-thickness (upper, lower) at the centre. */
export const LIP_W = 0.024;
const LIP_UPPER = 0.0042;
const LIP_LOWER = 0.0055;
/** Jaw hinge relative to the mouth centre, and the jaw angle of `jaw: 1` (radians). */
export const JAW_HINGE = Object.freeze([0, 0.022, -0.075]);
export const JAW_MAX = 0.28;

/**
 * Mouth parameter sets of the mouth morph targets (missing parameters are 0).
 * jaw (open), wide (stretch; negative narrows), round (pucker/funnel), press (lips pressed),
 * tuck (lower lip under the upper teeth), upperUp, lowerDown, smile, frown, puff (cheeks),
 * tongueUp (tip to the ridge behind the teeth), tongueOut (tip between the teeth).
 * @type {Readonly<Record<string, Readonly<Record<string, number>>>>}
 */
export const MOUTH_SHAPES = Object.freeze({
  viseme_sil: {},
  viseme_PP: { press: 1, round: 0.1 },
  viseme_FF: { tuck: 1, jaw: 0.1, upperUp: 0.55 },
  viseme_TH: { jaw: 0.22, tongueOut: 1, upperUp: 0.2, wide: 0.1 },
  viseme_DD: { jaw: 0.25, tongueUp: 0.8, wide: 0.15, upperUp: 0.15 },
  viseme_kk: { jaw: 0.35, wide: 0.2, lowerDown: 0.1 },
  viseme_CH: { jaw: 0.15, round: 0.55, upperUp: 0.5, lowerDown: 0.4 },
  viseme_SS: { jaw: 0.06, wide: 0.45, upperUp: 0.4, lowerDown: 0.4, smile: 0.15 },
  viseme_nn: { jaw: 0.2, tongueUp: 1, wide: 0.1 },
  viseme_RR: { jaw: 0.2, round: 0.45, upperUp: 0.2 },
  viseme_aa: { jaw: 1, lowerDown: 0.3, upperUp: 0.25, wide: 0.05 },
  viseme_E: { jaw: 0.45, wide: 0.45, upperUp: 0.3, lowerDown: 0.25, smile: 0.1 },
  viseme_I: { jaw: 0.25, wide: 0.65, upperUp: 0.35, lowerDown: 0.2, smile: 0.2 },
  viseme_O: { jaw: 0.55, round: 0.75, upperUp: 0.2, lowerDown: 0.1 },
  viseme_U: { jaw: 0.2, round: 1, upperUp: 0.05 },
  mouthSmile: { smile: 1 },
  mouthFrown: { frown: 1 },
  jawOpen: { jaw: 1 },
  cheekPuff: { puff: 1 },
});

/** @param {number} x @returns {number} */
export function smooth01(x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  return x * x * (3 - 2 * x);
}

/**
 * Point of the head's base surface in unit direction (dx, dy, dz), before features.
 * @returns {number[]} [x, y, z]
 */
export function headSurface(dx, dy, dz) {
  const low = smooth01((-dy - 0.05) / 0.9); // 0 above the eyes, 1 under the chin
  const rx = HEAD.rx * (1 - 0.2 * low * low) * (1 + 0.03 * Math.max(0, dy));
  const ry = dy > 0 ? HEAD.ryTop : HEAD.ryBottom;
  let z;
  if (dz > 0) {
    // A fuller, flatter face than a sphere's, receding a little under the mouth.
    const f = dz + 0.6 * dz * dz * (1 - dz);
    z = f * HEAD.rzFront * (1 - 0.03 * low);
  } else {
    z = dz * HEAD.rzBack;
  }
  let x = dx * rx;
  const y = dy * ry;
  // Round cheeks.
  for (const side of [-1, 1]) {
    const g = Math.exp(-(((x - side * 0.042) / 0.022) ** 2) - (((y + 0.028) / 0.024) ** 2));
    if (dz > 0) {
      z += 0.004 * g * dz;
      x += side * 0.003 * g;
    }
  }
  // Chin.
  if (dz > 0) z += 0.011 * Math.exp(-((x / 0.02) ** 2) - (((y + 0.08) / 0.014) ** 2)) * dz;
  return [x, y, z];
}

/**
 * z of the base surface in front at (x, y) (fixed-point search over directions).
 * @param {number} x
 * @param {number} y
 * @returns {number}
 */
export function surfaceZ(x, y) {
  let dx = x / HEAD.rx;
  let dy = y / HEAD.ryTop;
  let p = [x, y, 0];
  for (let i = 0; i < 40; i++) {
    const dz = Math.sqrt(Math.max(0, 1 - dx * dx - dy * dy));
    p = headSurface(dx, dy, dz);
    dx += (x - p[0]) / HEAD.rx * 0.8;
    dy += (y - p[1]) / HEAD.ryTop * 0.8;
  }
  return p[2];
}

/** Mouth centre in head space. */
export const MOUTH = Object.freeze([0, MOUTH_Y, surfaceZ(0, MOUTH_Y) - 0.0005]);

/**
 * Features carved into the base surface: the eye sockets.
 * @param {number[]} p a base surface point (changed in place)
 * @returns {number[]} p
 */
export function carveFeatures(p) {
  const [x, y] = p;
  for (const side of [-1, 1]) {
    p[2] -= 0.006 * Math.exp(-(((x - side * EYE_X) ** 2 + (y - EYE_Y) ** 2) / 0.018 ** 2));
  }
  return p;
}

/** @param {number} u */
function lowerness(u) {
  return smooth01((0.35 - Math.sin(u)) / 0.7);
}

/** Lip half-thickness at u, before shape changes. */
function lipThickness(u) {
  const L = lowerness(u);
  const c = Math.abs(Math.cos(u));
  return (LIP_UPPER * (1 - L) + LIP_LOWER * L) * (1 - 0.72 * c ** 2.5);
}

function lipCentre(u) {
  const x = LIP_W * Math.cos(u);
  const L = lowerness(u);
  const y = 0.95 * lipThickness(u) * Math.sin(u);
  const z = -7.5 * x * x + 0.0008 * (1 - L);
  return [x, y, z];
}

/**
 * A point of the lips' tube, relative to the mouth centre, with its frame.
 * @param {number} u around the mouth: 0 the +x corner, π/2 the top of the upper lip's ring
 * @param {number} v around the tube: 0 outer edge, π/2 front, π inner edge, 3π/2 back
 * @returns {{pos: number[], centre: number[], normal: number[], a: number}}
 */
export function lipPoint(u, v) {
  const centre = lipCentre(u);
  const e = 1e-4;
  const c0 = lipCentre(u - e);
  const c1 = lipCentre(u + e);
  const tx = c1[0] - c0[0];
  const ty = c1[1] - c0[1];
  const len = Math.hypot(tx, ty) || 1;
  let nx = ty / len;
  let ny = -tx / len;
  if (nx * Math.cos(u) + ny * Math.sin(u) < 0) {
    nx = -nx;
    ny = -ny;
  }
  const L = lowerness(u);
  let a = lipThickness(u);
  // Cupid's bow on the upper lip's outer edge.
  const x = centre[0];
  const bow = Math.exp(-(((Math.abs(x) - 0.006) / 0.004) ** 2))
    - 0.5 * Math.exp(-((x / 0.0025) ** 2));
  a *= 1 + 0.25 * bow * (1 - L) * Math.max(0, Math.cos(v));
  const b = 0.75 * lipThickness(u) + 0.0008;
  const pos = [
    centre[0] + nx * a * Math.cos(v),
    centre[1] + ny * a * Math.cos(v),
    centre[2] + b * Math.sin(v),
  ];
  return { pos, centre, normal: [nx, ny, 0], a };
}

/**
 * Rotate `q` (relative to the mouth centre) about the jaw hinge by `angle`.
 * @param {number[]} q
 * @param {number} angle radians, > 0 opens
 * @returns {number[]} the rotated point
 */
export function rotateJaw(q, angle) {
  const y = q[1] - JAW_HINGE[1];
  const z = q[2] - JAW_HINGE[2];
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  return [q[0], JAW_HINGE[1] + y * c - z * s, JAW_HINGE[2] + y * s + z * c];
}

/**
 * Displacement of the lip point (u, v) under mouth parameters `p`.
 * @param {number} u
 * @param {number} v
 * @param {Record<string, number>} p
 * @param {{jaw?: boolean}} [options] jaw: false leaves the jaw rotation out (for the skin)
 * @returns {number[]}
 */
export function lipDisplacement(u, v, p, { jaw = true } = {}) {
  const { pos, centre, normal, a } = lipPoint(u, v);
  const s = Math.sin(u);
  const c = Math.cos(u);
  const L = lowerness(u);
  const K = c * c; // 1 at the corners
  const mid = 1 - K;
  const d = [0, 0, 0];
  const add = (x, y, z) => { d[0] += x; d[1] += y; d[2] += z; };
  const g = (k) => p[k] || 0;
  const radial = [pos[0] - centre[0], pos[1] - centre[1], pos[2] - centre[2]];

  if (jaw && g('jaw')) {
    const r = rotateJaw(pos, g('jaw') * JAW_MAX * L);
    add(r[0] - pos[0], r[1] - pos[1], r[2] - pos[2]);
  }
  add(0, g('upperUp') * 0.0045 * (1 - L) * (0.4 + 0.6 * mid), g('upperUp') * 0.001 * (1 - L));
  add(0, -g('lowerDown') * 0.005 * L * (0.4 + 0.6 * mid), 0);
  // Stretch: corners out and back, lips a little thinner.
  add(pos[0] * g('wide') * 0.28, 0, -Math.abs(c) * g('wide') * 0.004);
  // Round: corners in, lips forward and everted, a small round opening.
  const round = g('round');
  add(-pos[0] * round * 0.42, 0, round * 0.009 * (0.5 + 0.5 * mid));
  add(radial[0] * 0.35 * round, radial[1] * 0.35 * round, radial[2] * 0.35 * round);
  add(0, round * mid * (0.0025 * (1 - L) - 0.003 * L), 0);
  // Press: thinner lips (the inner edge stays), rolled in a little.
  const press = g('press') + 0.15 * g('puff');
  const thin = -a * press * 0.2 * (Math.cos(v) + 1);
  add(normal[0] * thin, normal[1] * thin, -press * 0.0012 * (1 + Math.sin(v)) / 2);
  // Tuck: lower lip up and back under the upper teeth.
  add(0, g('tuck') * 0.003 * L, -g('tuck') * 0.004 * L);
  // Smile and frown move the corners.
  const corner = Math.abs(c) ** 1.5;
  const smile = g('smile');
  add(Math.sign(c) * smile * 0.004 * corner, smile * (0.0055 * corner + 0.0008 * (1 - L) * mid),
    -smile * 0.004 * corner);
  const frown = g('frown');
  add(0, -frown * 0.005 * corner + frown * 0.0012 * L * mid, frown * 0.0015 * L * mid);
  add(0, 0, g('puff') * 0.002);
  return d;
}

/**
 * The mouth interior sheet at column `u` (0..π: upper edge at u, lower edge at −u) and row
 * `t` (0 at the lower lip, 1 at the upper), relative to the mouth centre.
 * @param {number} u
 * @param {number} t
 * @param {Record<string, number>|null} p mouth parameters, or null for the rest position
 * @returns {number[]} position (rest plus displacement)
 */
export function interiorPoint(u, t, p) {
  const v = 1.2 * Math.PI; // just behind the inner edge, hidden by the lips
  const up = lipPoint(u, v).pos.slice();
  const lo = lipPoint(-u, v).pos.slice();
  if (p) {
    const du = lipDisplacement(u, v, p);
    const dl = lipDisplacement(-u, v, p);
    for (let k = 0; k < 3; k++) {
      up[k] += du[k];
      lo[k] += dl[k];
    }
  }
  // A cave: steeply deep just inside the rim, so teeth and tongue are always in front of it.
  const gap = Math.max(0, up[1] - lo[1]);
  const depth = (0.01 + 0.012 * Math.sqrt(Math.sin(u)) + 0.4 * gap) * Math.sin(Math.PI * t) ** 0.35;
  return [
    lo[0] + (up[0] - lo[0]) * t,
    lo[1] + (up[1] - lo[1]) * t,
    lo[2] + (up[2] - lo[2]) * t - 0.002 - depth,
  ];
}

/**
 * How much of the jaw's rotation the skin at `q` (relative to the mouth centre) takes.
 * @param {number[]} q
 * @returns {number} 0..1
 */
export function jawWeight(q) {
  // A sharp split along the mouth line (the skin is cut open there), softer past the corners.
  const h = 0.0006 + 0.6 * Math.max(0, Math.abs(q[0]) - 0.023);
  const below = smooth01((h - q[1]) / (2 * h));
  const front = smooth01((q[2] + 0.085) / 0.045);
  return below * front;
}

/**
 * Displacement of a skin point `q` (relative to the mouth centre) under mouth parameters:
 * the jaw's rotation where the jaw is, and the nearest lip point's motion near the lips.
 * @param {number[]} q
 * @param {Record<string, number>} p
 * @returns {number[]}
 */
export function skinDisplacement(q, p) {
  const d = [0, 0, 0];
  const jaw = p.jaw || 0;
  if (jaw) {
    const r = rotateJaw(q, jaw * JAW_MAX * jawWeight(q));
    for (let k = 0; k < 3; k++) d[k] += r[k] - q[k];
  }
  const hs = 0.011;
  const e = Math.hypot(q[0] / LIP_W, q[1] / hs);
  const follow = (1 - smooth01((e - 1) / 1.6)) * smooth01((q[2] + 0.03) / 0.02);
  if (follow > 0) {
    const u = Math.atan2(q[1] / hs, q[0] / LIP_W);
    const lip = lipDisplacement(u, 0, p, { jaw: false });
    // Less depth than the lips: skin pulled back would uncover the teeth behind it.
    d[0] += lip[0] * follow;
    d[1] += lip[1] * follow;
    d[2] += lip[2] * follow * 0.25;
  }
  // Cheeks: raised by a smile, puffed out by cheekPuff.
  for (const side of [-1, 1]) {
    const g = Math.exp(-(((q[0] - side * 0.038) / 0.016) ** 2) - (((q[1] - 0.016) / 0.016) ** 2))
      * smooth01((q[2] + 0.03) / 0.02);
    d[1] += (p.smile || 0) * 0.004 * g;
    d[2] += (p.smile || 0) * 0.002 * g;
    // (kept off the lip corners, which it would otherwise swallow)
    const gp = Math.exp(-(((q[0] - side * 0.046) / 0.02) ** 2) - (((q[1] - 0.004) / 0.02) ** 2))
      * smooth01((q[2] + 0.04) / 0.02) * smooth01((Math.abs(q[0]) - 0.02) / 0.015);
    d[0] += side * (p.puff || 0) * 0.008 * gp;
    d[2] += (p.puff || 0) * 0.005 * gp;
  }
  return d;
}
