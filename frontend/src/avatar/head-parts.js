/**
 * The default head's parts other than skin and mouth: eyes and eyelids, brows, nose, ears, hair,
 * and the shoulders. Head space, metres (see face-shapes.js).
 */

import * as THREE from 'three';
import { EYE_RADIUS, EYE_X, EYE_Y, HEAD, headSurface, smooth01, surfaceZ } from './face-shapes.js';
import {
  addMorphTargets, gridGeometry, lathedSphere, mergeGeometries, paint, sphereNormals,
} from './geometry-utils.js';

/** Colours of the default head (sRGB). */
export const PALETTE = Object.freeze({
  skin: '#f2c4a4', blush: '#e8998a', lips: '#c86f6c', mouth: '#5e1f26', throat: '#1c0709',
  teeth: '#f6f2ea', tongue: '#cc6670', hair: '#4a2f22', hairLight: '#6b4631', brows: '#3b261c',
  lash: '#2a1a14', iris: '#4f7f5a', irisDark: '#2c4a34', sclera: '#f7f4ef', pupil: '#0d0b0a',
  shirt: '#3f7fa0', collar: '#f1ece2', earInner: '#dba087',
});

/**
 * Centre of an eye in head space, a little behind the face so the lids sit on it.
 * @param {1|-1} side 1 for the avatar's left (+x)
 * @returns {number[]}
 */
export function eyeCentre(side) {
  const x = side * EYE_X;
  return [x, EYE_Y, surfaceZ(x, EYE_Y) - 0.0095];
}

/** An eyeball looking along +z: sclera, iris and pupil as vertex colours on crisp rings. */
export function eyeballGeometry() {
  const rings = [0, 6, 11, 12.5, 18, 24, 28.5, 30, 31.5, 40, 60, 90, 120, 150, 180];
  const geometry = lathedSphere(EYE_RADIUS, rings, 24);
  geometry.rotateX(Math.PI / 2); // pole (+y) → forward (+z)
  sphereNormals(geometry);
  const pos = geometry.getAttribute('position');
  const c = (hex) => new THREE.Color(hex);
  const [pupil, iris, irisDark, sclera] = [c(PALETTE.pupil), c(PALETTE.iris), c(PALETTE.irisDark),
    c(PALETTE.sclera)];
  paint(geometry, (k, color) => {
    const angle = (Math.acos(Math.min(1, pos.getZ(k) / EYE_RADIUS)) * 180) / Math.PI;
    if (angle < 12) color.copy(pupil);
    else if (angle < 29) color.copy(iris).lerp(irisDark, angle < 18 ? 0.5 : (angle - 18) / 14);
    else if (angle < 31) color.copy(irisDark);
    else color.copy(sclera);
  });
  return geometry;
}

/**
 * Eyelids of one eye, centred on it: an upper lid (blinks, widens) and a lower lid (rises with a
 * smile). A lid vertex moves along its own sphere, so the lid slides over the eyeball; it is a
 * little larger than the eye so the straight path of a morph stays outside it.
 * @param {1|-1} side 1 for the avatar's left
 */
export function lidGeometry(side) {
  const upperEdge = 62;
  const upper = lathedSphere(EYE_RADIUS * 1.14, [0, 15, 30, 42, 52, 58, upperEdge], 24);
  const lowerEdge = 122;
  const lower = lathedSphere(EYE_RADIUS * 1.1, [lowerEdge, 128, 140, 155, 170, 180], 24);
  const upperCount = upper.getAttribute('position').count;
  const geometry = mergeGeometries([upper, lower]);
  sphereNormals(geometry);
  const pos = geometry.getAttribute('position');
  const v = new THREE.Vector3();
  const skin = new THREE.Color(PALETTE.skin);
  const lash = new THREE.Color(PALETTE.lash);
  const polar = (k) => {
    const cos = pos.getY(k) / v.fromBufferAttribute(pos, k).length();
    return Math.acos(Math.max(-1, Math.min(1, cos)));
  };
  paint(geometry, (k, color) => {
    const deg = (polar(k) * 180) / Math.PI;
    color.copy(skin);
    if (k < upperCount && deg > upperEdge - 2) color.lerp(lash, 0.9);
    else if (k >= upperCount && deg < lowerEdge + 2) color.lerp(lash, 0.35);
  });
  /** Move vertex k to polar angle f(θ) on its own sphere. */
  const remap = (k, f) => {
    const p = v.fromBufferAttribute(pos, k);
    const r = p.length();
    const theta = polar(k);
    const phi = Math.atan2(p.x, p.z);
    const t = f(theta);
    const ring = r * Math.sin(t);
    return [ring * Math.sin(phi) - p.x, r * Math.cos(t) - p.y, ring * Math.cos(phi) - p.z];
  };
  const rad = Math.PI / 180;
  const mine = side > 0 ? 'Left' : 'Right';
  const names = [`eyeBlink${mine}`, `eyeWide${mine}`, 'mouthSmile'];
  addMorphTargets(geometry, names, (k, name) => {
    const isUpper = k < upperCount;
    if (name === `eyeBlink${mine}` && isUpper) {
      return remap(k, (t) => t + (118 - upperEdge) * rad * (t / (upperEdge * rad)) ** 2);
    }
    if (name === `eyeWide${mine}` && isUpper) {
      return remap(k, (t) => t - 12 * rad * (t / (upperEdge * rad)) ** 2);
    }
    if (name === 'mouthSmile' && !isUpper) {
      return remap(k, (t) => t - 10 * rad * ((Math.PI - t) / (Math.PI - lowerEdge * rad)) ** 2);
    }
    return [0, 0, 0];
  });
  return geometry;
}

/** Both eyebrows: bent, tapered ellipsoids hugging the forehead. */
export function browGeometry() {
  const half = 0.0165;
  const parts = [1, -1].map((side) => {
    const g = new THREE.SphereGeometry(1, 16, 8);
    const pos = g.getAttribute('position');
    for (let k = 0; k < pos.count; k++) {
      const lx = pos.getX(k) * half; // along the brow
      const inner = (1 - (side * lx) / half) / 2; // 1 at the inner end
      const thick = 0.0026 * (0.7 + 0.6 * inner);
      const x = side * (0.034 + lx * side);
      const y = 0.03 + 0.0035 * (1 - (lx / half) ** 2) - 0.002 * inner + pos.getY(k) * thick;
      const z = surfaceZ(x, y) + 0.0022 + pos.getZ(k) * 0.0022;
      pos.setXYZ(k, x, y, z);
    }
    g.computeVertexNormals();
    return g;
  });
  const geometry = mergeGeometries(parts);
  const pos = geometry.getAttribute('position');
  addMorphTargets(geometry, ['browInnerUp', 'browDownLeft', 'browDownRight'], (k, name) => {
    const x = pos.getX(k);
    const inner = smooth01((0.05 - Math.abs(x)) / 0.035); // 1 near the nose
    if (name === 'browInnerUp') return [0, 0.006 * inner + 0.0015, 0.0005];
    const side = name === 'browDownLeft' ? 1 : -1;
    if (Math.sign(x) !== side) return [0, 0, 0];
    return [-side * 0.0018 * inner, -0.0025 - 0.0025 * inner, 0.0008];
  });
  return geometry;
}

/** A small rounded nose whose bridge narrows into the face. */
export function noseGeometry() {
  const g = new THREE.SphereGeometry(1, 16, 12);
  const pos = g.getAttribute('position');
  const tipY = -0.021;
  const base = surfaceZ(0, tipY);
  for (let k = 0; k < pos.count; k++) {
    const sx = pos.getX(k);
    const sy = pos.getY(k);
    const sz = pos.getZ(k);
    const up = Math.max(0, sy); // the bridge narrows and sinks into the face
    const wing = Math.max(0, -sy) * Math.max(0, -sz + 0.3);
    const x = sx * 0.012 * (1 - 0.4 * up) * (1 + 0.3 * wing);
    const y = tipY + sy * 0.0145;
    const z = base - 0.004 + sz * 0.0115 * (1 - 0.5 * up) + 0.0015 * (1 - up);
    pos.setXYZ(k, x, y, z);
  }
  g.computeVertexNormals();
  return g;
}

/**
 * One ear: the outer ear and a darker inner bowl.
 * @param {1|-1} side
 * @returns {THREE.BufferGeometry[]} [outer, inner]
 */
export function earGeometries(side) {
  const place = (g) => {
    g.rotateY(-side * 0.35); // the back edge stands out
    g.translate(side * 0.074, -0.004, -0.008);
    return g;
  };
  const outer = new THREE.SphereGeometry(1, 14, 10);
  outer.scale(0.006, 0.026, 0.016);
  const inner = new THREE.SphereGeometry(1, 12, 8);
  inner.scale(0.003, 0.016, 0.009);
  inner.translate(side * 0.0035, -0.001, 0.001);
  return [place(outer), place(inner)];
}

/** Hairline polar angle (degrees from the crown) in direction phi. */
function hairline(phi) {
  const a = Math.abs(phi);
  const base = a < 0.9
    ? 44 + 30 * smooth01(a / 0.9) // forehead to temples
    : 74 + 44 * smooth01((a - 0.9) / (Math.PI - 0.9)); // over the ears to the nape
  const fringe = 14 * Math.exp(-(((phi + 0.32) / 0.3) ** 2)); // swept over the right brow
  return base + fringe + 2.5 * Math.sin(phi * 15);
}

/**
 * Hair: a cap over the skull down to the hairline, thick on top and thinning to the skin at its
 * edge, with a fringe swept to one side and strands painted in.
 */
export function hairGeometry() {
  const nu = 52;
  const nv = 12;
  const at = (i, j) => [-Math.PI + (2 * Math.PI * i) / nu, j / nv]; // [phi, t]
  const geometry = gridGeometry(nu, nv, (i, j) => {
    const [phi, t] = at(i, j);
    const theta = ((t * hairline(phi)) * Math.PI) / 180;
    const d = [Math.sin(theta) * Math.sin(phi), Math.cos(theta), Math.sin(theta) * Math.cos(phi)];
    const p = headSurface(...d);
    const volume = 0.0015 + 0.012 * (1 - t ** 2.2) + 0.003 * Math.sin(phi * 5 + t * 3) * (1 - t)
      + 0.004 * Math.exp(-(((phi + 0.32) / 0.35) ** 2)) * t * (1 - t) * 4;
    // Offset along the head ellipsoid's normal.
    const n = [p[0] / HEAD.rx ** 2, p[1] / HEAD.ryTop ** 2, p[2] / HEAD.rzFront ** 2];
    const len = Math.hypot(...n);
    const k = volume / len;
    return [p[0] + n[0] * k, p[1] + n[1] * k, p[2] + n[2] * k];
  }, { closeU: true });
  const dark = new THREE.Color(PALETTE.hair);
  const light = new THREE.Color(PALETTE.hairLight);
  paint(geometry, (k, color) => {
    const [phi, t] = at(k % (nu + 1), Math.floor(k / (nu + 1)));
    const strand = 0.5 + 0.5 * Math.sin(phi * 38 + t * 4);
    color.copy(dark).lerp(light, 0.45 * strand * (1 - 0.6 * t));
  });
  return geometry;
}

/** Shoulders and chest in a plain top, origin mid-chest. */
export function torsoGeometry() {
  // Sloping trapezius from the neck to round shoulders, then straight down.
  const profile = [[0.05, 0.138], [0.075, 0.13], [0.11, 0.112], [0.145, 0.09], [0.172, 0.066],
    [0.188, 0.038], [0.195, 0.0], [0.198, -0.08], [0.195, -0.3]]
    .reverse().map(([r, y]) => new THREE.Vector2(r * 0.95, y));
  const g = new THREE.LatheGeometry(profile, 40, Math.PI, 2 * Math.PI);
  g.scale(1, 1, 0.55);
  g.computeVertexNormals();
  return g;
}
