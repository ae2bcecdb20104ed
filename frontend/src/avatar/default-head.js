/**
 * The built-in avatar: a friendly, stylised head and shoulders made in code, with procedural
 * morph targets named like Ready Player Me's (Oculus `viseme_*` plus ARKit-style expressions),
 * so the same rig drives it and an RPM model.
 *
 * Shapes and mouth fields live in `face-shapes.js` (head space, metres); this module turns
 * them into meshes. Morph targets are relative (`morphTargetsRelative`), one per name, on
 * every mesh the shape moves: head skin, lips, mouth interior, teeth and tongue carry the
 * visemes and mouth expressions; eyelids the blinks; brows the brow shapes.
 */

import * as THREE from 'three';
import { VISEME_NAMES } from './lipsync.js';
import {
  JAW_MAX, MOUTH, MOUTH_SHAPES, carveFeatures, headSurface, interiorPoint, lipDisplacement,
  lipPoint, rotateJaw, skinDisplacement, smooth01,
} from './face-shapes.js';
import {
  addMorphTargets, gridGeometry, mergeGeometries, paint, plain, weldSeams,
} from './geometry-utils.js';
import {
  PALETTE, browGeometry, earGeometries, eyeCentre, eyeballGeometry, hairGeometry, lidGeometry,
  noseGeometry, torsoGeometry,
} from './head-parts.js';

export const VISEME_TARGETS = Object.freeze(VISEME_NAMES.map((name) => `viseme_${name}`));
export const EXPRESSION_TARGETS = Object.freeze([
  'mouthSmile', 'mouthFrown', 'browInnerUp', 'browDownLeft', 'browDownRight', 'eyeBlinkLeft',
  'eyeBlinkRight', 'eyeWideLeft', 'eyeWideRight', 'jawOpen', 'cheekPuff',
]);
/** Targets of the meshes the mouth moves. */
const MOUTH_TARGETS = [...VISEME_TARGETS, 'mouthSmile', 'mouthFrown', 'jawOpen', 'cheekPuff'];

/** Head centre relative to the head pivot (the top of the neck). */
const HEAD_OFFSET = new THREE.Vector3(0, 0.094, 0.012);
/** The head is drawn a little larger than life: friendlier, and easier to read at a distance. */
const HEAD_SCALE = 1.12;
/** Head pivot in the group (the group's origin is mid-chest). */
const PIVOT_POSITION = new THREE.Vector3(0, 0.175, -0.01);

/**
 * Build the default head and shoulders.
 * @returns {THREE.Group} with `userData.headPivot` (rotate it to move the head),
 *   `userData.eyes` ({left, right} groups; rotate them for gaze, +y yaw, −x pitch up),
 *   `userData.face` (its origin is the head's centre) and `userData.meshes` (by name)
 */
export function buildDefaultHead() {
  const mat = materials();
  const group = new THREE.Group();
  group.name = 'DefaultHead';

  const add = (parent, geometry, material, name) => {
    const mesh = new THREE.Mesh(geometry, material);
    mesh.name = name;
    parent.add(mesh);
    return mesh;
  };
  add(group, torsoGeometry(), mat.shirt, 'Torso');
  const collar = add(group, new THREE.TorusGeometry(0.053, 0.009, 8, 32), mat.collar, 'Collar');
  collar.rotation.x = Math.PI / 2;
  collar.scale.set(1, 0.78, 1);
  collar.position.set(0, 0.126, -0.004);
  const neckGeometry = new THREE.CylinderGeometry(0.046, 0.052, 0.13, 28, 1, true);
  add(group, plain(neckGeometry, PALETTE.skin), mat.skin, 'Neck').position.set(0, 0.135, -0.008);

  const headPivot = new THREE.Group();
  headPivot.name = 'HeadPivot';
  headPivot.position.copy(PIVOT_POSITION);
  group.add(headPivot);
  const face = new THREE.Group();
  face.name = 'Face';
  face.position.copy(HEAD_OFFSET);
  face.scale.setScalar(HEAD_SCALE);
  headPivot.add(face);

  add(face, headGeometry(), mat.skin, 'Head');
  add(face, hairGeometry(), mat.hair, 'Hair');
  add(face, plain(noseGeometry(), PALETTE.skin), mat.skin, 'Nose');
  for (const side of [-1, 1]) {
    const [outer, inner] = earGeometries(side);
    const name = side > 0 ? 'Left' : 'Right';
    add(face, plain(outer, PALETTE.skin), mat.skin, `Ear${name}`);
    add(face, inner, mat.earInner, `EarInner${name}`);
  }

  const mouth = new THREE.Group();
  mouth.name = 'Mouth';
  mouth.position.fromArray(MOUTH);
  face.add(mouth);
  add(mouth, interiorGeometry(), mat.mouth, 'MouthInterior');
  add(mouth, teethGeometry(), mat.teeth, 'Teeth');
  add(mouth, tongueGeometry(), mat.tongue, 'Tongue');
  add(mouth, lipsGeometry(), mat.lips, 'Lips');

  const eyes = {};
  for (const side of [1, -1]) {
    const centre = eyeCentre(side);
    const eye = new THREE.Group();
    eye.name = side > 0 ? 'EyeLeft' : 'EyeRight';
    eye.position.fromArray(centre);
    add(eye, eyeballGeometry(), mat.eye, `${eye.name}Ball`);
    face.add(eye);
    eyes[side > 0 ? 'left' : 'right'] = eye;
    // The lids stay with the head when the eyes turn.
    const lids = add(face, lidGeometry(side), mat.lids, side > 0 ? 'LidsLeft' : 'LidsRight');
    lids.position.fromArray(centre);
  }
  add(face, browGeometry(), mat.brows, 'Brows');

  group.userData.headPivot = headPivot;
  group.userData.eyes = eyes;
  group.userData.face = face; // its origin is the head's centre
  group.userData.meshes = {};
  group.traverse((obj) => { if (obj.isMesh) group.userData.meshes[obj.name] = obj; });
  return group;
}

function materials() {
  const c = (hex) => new THREE.Color(hex);
  return {
    skin: new THREE.MeshPhysicalMaterial({ color: 0xffffff, vertexColors: true, roughness: 0.58,
      sheen: 0.35, sheenColor: c('#ffd9c4'), sheenRoughness: 0.6 }),
    lids: new THREE.MeshPhysicalMaterial({ color: 0xffffff, vertexColors: true, roughness: 0.58,
      sheen: 0.35, sheenColor: c('#ffd9c4'), side: THREE.DoubleSide, polygonOffset: true,
      polygonOffsetFactor: -1, polygonOffsetUnits: -2 }),
    lips: new THREE.MeshStandardMaterial({ color: c(PALETTE.lips), roughness: 0.42 }),
    mouth: new THREE.MeshStandardMaterial({ color: 0xffffff, vertexColors: true, roughness: 1,
      side: THREE.DoubleSide }),
    teeth: new THREE.MeshStandardMaterial({ color: c(PALETTE.teeth), roughness: 0.3 }),
    tongue: new THREE.MeshStandardMaterial({ color: c(PALETTE.tongue), roughness: 0.55 }),
    hair: new THREE.MeshStandardMaterial({ color: 0xffffff, vertexColors: true, roughness: 0.62 }),
    brows: new THREE.MeshStandardMaterial({ color: c(PALETTE.brows), roughness: 0.85 }),
    eye: new THREE.MeshPhysicalMaterial({ color: 0xffffff, vertexColors: true, roughness: 0.2,
      clearcoat: 1, clearcoatRoughness: 0.08 }),
    shirt: new THREE.MeshStandardMaterial({ color: c(PALETTE.shirt), roughness: 0.88 }),
    collar: new THREE.MeshStandardMaterial({ color: c(PALETTE.collar), roughness: 0.8 }),
    earInner: new THREE.MeshStandardMaterial({ color: c(PALETTE.earInner), roughness: 0.7 }),
  };
}

/** Unit direction of the head grid: more columns at the face, more rows from brow to chin. */
function headDirection(i, j, nu, nv) {
  const s = -1 + (2 * i) / nu;
  const phi = Math.PI * (s - (0.6 * Math.sin(Math.PI * s)) / Math.PI);
  const t = j / nv;
  const knots = [[0, 0], [0.22, 55], [0.8, 140], [1, 180]];
  let theta = 180;
  for (let k = 1; k < knots.length; k++) {
    if (t <= knots[k][0]) {
      const [t0, a0] = knots[k - 1];
      const [t1, a1] = knots[k];
      theta = a0 + ((a1 - a0) * (t - t0)) / (t1 - t0);
      break;
    }
  }
  theta *= Math.PI / 180;
  return [Math.sin(theta) * Math.sin(phi), Math.cos(theta), Math.sin(theta) * Math.cos(phi)];
}

function headGeometry() {
  const nu = 48;
  const nv = 36;
  const at = (i, j) => carveFeatures(headSurface(...headDirection(i, j, nu, nv)));
  const geometry = gridGeometry(nu, nv, at, { closeU: true });
  cutMouthOpening(geometry);
  const pos = geometry.getAttribute('position');
  const skin = new THREE.Color(PALETTE.skin);
  const blush = new THREE.Color(PALETTE.blush);
  paint(geometry, (i, color) => {
    const x = pos.getX(i);
    const y = pos.getY(i);
    const z = pos.getZ(i);
    let k = 0;
    for (const side of [-1, 1]) {
      k += 0.32 * Math.exp(-(((x - side * 0.043) / 0.017) ** 2) - (((y + 0.026) / 0.014) ** 2));
    }
    k *= smooth01(z / 0.04);
    color.copy(skin).lerp(blush, k);
  });
  addMorphTargets(geometry, MOUTH_TARGETS, (i, name) => {
    const q = [pos.getX(i) - MOUTH[0], pos.getY(i) - MOUTH[1], pos.getZ(i) - MOUTH[2]];
    return skinDisplacement(q, MOUTH_SHAPES[name]);
  });
  return geometry;
}

/**
 * Remove the skin triangles behind the lips' inner edges, so an open mouth shows its interior
 * (the lips cover the cut's edge at every opening).
 */
function cutMouthOpening(geometry) {
  const pos = geometry.getAttribute('position');
  const index = geometry.getIndex().array;
  const behindLips = (k) => {
    const x = pos.getX(k);
    const dy = pos.getY(k) - MOUTH[1];
    return pos.getZ(k) > 0 && (x / 0.022) ** 2 + (dy / (dy > 0 ? 0.0055 : 0.0075)) ** 2 < 1;
  };
  const kept = [];
  for (let t = 0; t < index.length; t += 3) {
    const corners = [index[t], index[t + 1], index[t + 2]];
    const above = corners.some((k) => pos.getY(k) > MOUTH[1]);
    const below = corners.some((k) => pos.getY(k) <= MOUTH[1]);
    // Inside the lips' cover, or straddling the mouth line (its halves part with the jaw).
    const cut = corners.every(behindLips)
      || (above && below && corners.every((k) => Math.abs(pos.getX(k)) < 0.023 && pos.getZ(k) > 0
        && Math.abs(pos.getY(k) - MOUTH[1]) < 0.009));
    if (!cut) kept.push(...corners);
  }
  geometry.setIndex(kept);
}

/** The lips: a tube around the mouth ring; u around the mouth, v around the tube. */
function lipsGeometry() {
  const nu = 56;
  const nv = 10;
  const uv = (i, j) => [(2 * Math.PI * i) / nu, (2 * Math.PI * j) / nv];
  const geometry = gridGeometry(nv, nu, (j, i) => lipPoint(...uv(i, j)).pos);
  weldSeams(geometry, nv, nu);
  addMorphTargets(geometry, MOUTH_TARGETS, (k, name) => {
    const i = Math.floor(k / (nv + 1));
    const j = k % (nv + 1);
    return lipDisplacement(...uv(i, j), MOUTH_SHAPES[name]);
  });
  return geometry;
}

/** The dark inside of the mouth, spanning the inner edges of the lips. */
function interiorGeometry() {
  const nu = 28;
  const nv = 8;
  const ut = (i, j) => [(Math.PI * i) / nu, j / nv];
  const geometry = gridGeometry(nu, nv, (i, j) => interiorPoint(...ut(i, j), null));
  // At rest the sheet is almost flat; light it as if it faced out of the mouth.
  const normal = geometry.getAttribute('normal');
  for (let k = 0; k < normal.count; k++) normal.setXYZ(k, 0, 0, 1);
  const rim = new THREE.Color(PALETTE.mouth);
  const deep = new THREE.Color(PALETTE.throat);
  paint(geometry, (k, color) => {
    const [u, t] = ut(k % (nu + 1), Math.floor(k / (nu + 1)));
    color.copy(rim).lerp(deep, Math.sin(Math.PI * t) * Math.sin(u) ** 0.5 * 0.9);
  });
  const rest = geometry.getAttribute('position');
  addMorphTargets(geometry, MOUTH_TARGETS, (k, name) => {
    const p = interiorPoint(...ut(k % (nu + 1), Math.floor(k / (nu + 1))), MOUTH_SHAPES[name]);
    return [p[0] - rest.getX(k), p[1] - rest.getY(k), p[2] - rest.getZ(k)];
  });
  return geometry;
}

/**
 * One dental arch from a bent box: front face at z0, half-width w, depth of the curve; `edge` is
 * the biting edge's height (scalloped into teeth), `root` the hidden one.
 */
function archGeometry({ w, depth, z0, edge, root }) {
  const box = new THREE.BoxGeometry(1, 1, 1, 20, 2, 1);
  const pos = box.getAttribute('position');
  const upward = edge > root; // the lower arch: keep the box's orientation (no mirroring)
  for (let k = 0; k < pos.count; k++) {
    const a = pos.getX(k) * 2.3; // angle along the arch
    const inward = (0.5 - pos.getZ(k)) * 0.004; // thickness
    const top = pos.getY(k) > 0;
    const isEdge = top === upward;
    const tooth = 0.0003 * Math.abs(Math.sin(a * 4.6)) * (upward ? -1 : 1);
    const y = isEdge ? edge + tooth : root;
    pos.setXYZ(k, (w - inward) * Math.sin(a), y, z0 - inward - depth * (1 - Math.cos(a)));
  }
  box.computeVertexNormals();
  return box;
}

function teethGeometry() {
  const upper = archGeometry({ w: 0.019, depth: 0.014, z0: -0.0052, edge: -0.0016, root: 0.0055 });
  const lower = archGeometry({ w: 0.0172, depth: 0.013, z0: -0.0085, edge: 0.0003, root: -0.0078 });
  const count = upper.getAttribute('position').count;
  const geometry = mergeGeometries([upper, lower]);
  const pos = geometry.getAttribute('position');
  // Only the lower arch moves: with the jaw.
  addMorphTargets(geometry, MOUTH_TARGETS, (k, name) => {
    if (k < count) return [0, 0, 0];
    const q = [pos.getX(k), pos.getY(k), pos.getZ(k)];
    const r = rotateJaw(q, (MOUTH_SHAPES[name].jaw || 0) * JAW_MAX);
    return [r[0] - q[0], r[1] - q[1], r[2] - q[2]];
  });
  return geometry;
}

function tongueGeometry() {
  const geometry = new THREE.SphereGeometry(1, 20, 10);
  geometry.scale(0.0135, 0.0042, 0.016);
  geometry.translate(0, -0.004, -0.027);
  const pos = geometry.getAttribute('position');
  addMorphTargets(geometry, MOUTH_TARGETS, (k, name) => {
    const p = MOUTH_SHAPES[name];
    const q = [pos.getX(k), pos.getY(k), pos.getZ(k)];
    const tip = smooth01((q[2] + 0.027) / 0.016) ** 2; // 1 at the tip
    const moved = [q[0], q[1] + tip * (0.008 * (p.tongueUp || 0) + 0.007 * (p.tongueOut || 0)),
      q[2] + tip * (0.002 * (p.tongueUp || 0) + 0.01 * (p.tongueOut || 0))];
    const r = rotateJaw(moved, (p.jaw || 0) * JAW_MAX);
    return [r[0] - q[0], r[1] - q[1], r[2] - q[2]];
  });
  return geometry;
}
