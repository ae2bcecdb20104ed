import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as THREE from 'three';

import { EXPRESSION_TARGETS, VISEME_TARGETS, buildDefaultHead } from '../src/avatar/default-head.js';
import { createRig } from '../src/avatar/rig.js';

const head = buildDefaultHead();
const meshes = head.userData.meshes;

/** Positions of `mesh` with the named targets at the given weights (in the mesh's space). */
function morphed(mesh, weights = {}) {
  const geometry = mesh.geometry;
  const pos = geometry.getAttribute('position');
  const out = Float32Array.from(pos.array);
  for (const [name, w] of Object.entries(weights)) {
    const delta = geometry.morphAttributes.position[mesh.morphTargetDictionary[name]].array;
    for (let i = 0; i < out.length; i++) out[i] += w * delta[i];
  }
  return out;
}

const lipsRest = meshes.Lips.geometry.getAttribute('position').array;
/** Lower-lip vertices are those the jaw carries down. */
const jawDrop = morphed(meshes.Lips, { jawOpen: 1 });
const isLower = (i) => jawDrop[i + 1] - lipsRest[i + 1] < -0.005;

/** Simple measures of the lips (metres, mouth space) under some targets. */
function lips(weights = {}) {
  const p = morphed(meshes.Lips, weights);
  const rest = lipsRest;
  let upperLow = Infinity;
  let lowerHigh = -Infinity;
  let width = 0;
  let front = -Infinity;
  let lowerFront = -Infinity;
  let cornerY = 0;
  for (let i = 0; i < p.length; i += 3) {
    const [x, y, z] = [p[i], p[i + 1], p[i + 2]];
    if (Math.abs(rest[i]) < 0.003) {
      if (!isLower(i)) upperLow = Math.min(upperLow, y);
      else {
        lowerHigh = Math.max(lowerHigh, y);
        lowerFront = Math.max(lowerFront, z);
      }
    }
    if (Math.abs(x) > width) {
      width = Math.abs(x);
      cornerY = y;
    }
    front = Math.max(front, z);
  }
  return { gap: upperLow - lowerHigh, width, front, lowerFront, cornerY };
}

test('the head has a pivot, two eyes and the named parts', () => {
  assert.ok(head instanceof THREE.Group);
  assert.ok(head.userData.headPivot instanceof THREE.Object3D);
  assert.ok(head.userData.eyes.left instanceof THREE.Object3D);
  assert.ok(head.userData.eyes.right instanceof THREE.Object3D);
  assert.ok(head.userData.eyes.left.position.x > 0, 'the avatar\'s left is +x');
  for (const part of ['Head', 'Hair', 'Nose', 'Lips', 'MouthInterior', 'Teeth', 'Tongue', 'Brows',
    'LidsLeft', 'LidsRight', 'EyeLeftBall', 'EyeRightBall', 'Neck', 'Torso', 'EarLeft', 'EarRight']) {
    assert.ok(meshes[part]?.isMesh, part);
  }
  let hasPivot = false;
  head.traverse((o) => { if (o === head.userData.headPivot) hasPivot = true; });
  assert.ok(hasPivot, 'the pivot is inside the group');
});

test('every viseme and expression target exists, and the mouth meshes share them', () => {
  const names = new Set();
  head.traverse((o) => { if (o.morphTargetDictionary) Object.keys(o.morphTargetDictionary).forEach((n) => names.add(n)); });
  for (const name of [...VISEME_TARGETS, ...EXPRESSION_TARGETS]) assert.ok(names.has(name), name);
  assert.equal(VISEME_TARGETS.length, 15);
  for (const part of ['Head', 'Lips', 'Teeth', 'Tongue', 'MouthInterior']) {
    for (const name of [...VISEME_TARGETS, 'jawOpen', 'mouthSmile']) {
      assert.ok(name in meshes[part].morphTargetDictionary, `${part} ${name}`);
    }
    assert.equal(meshes[part].morphTargetInfluences.length, Object.keys(meshes[part].morphTargetDictionary).length);
  }
  assert.ok('eyeBlinkLeft' in meshes.LidsLeft.morphTargetDictionary);
  assert.ok(!('eyeBlinkLeft' in meshes.LidsRight.morphTargetDictionary));
  assert.ok('browInnerUp' in meshes.Brows.morphTargetDictionary);
});

test('viseme_aa moves vertices: the jaw drops and the lips part', () => {
  const rest = meshes.Lips.geometry.getAttribute('position').array;
  const open = morphed(meshes.Lips, { viseme_aa: 1 });
  let moved = 0;
  for (let i = 0; i < rest.length; i++) moved = Math.max(moved, Math.abs(open[i] - rest[i]));
  assert.ok(moved > 0.01, `lips moved ${moved} m`);
  assert.ok(lips().gap < 0.001, 'closed at rest');
  assert.ok(lips({ viseme_aa: 1 }).gap > 0.012, `aa opens ${lips({ viseme_aa: 1 }).gap}`);
  assert.ok(lips({ jawOpen: 1 }).gap > 0.012);
  // The lower teeth and the chin go with the jaw.
  const teeth = meshes.Teeth;
  const teethRest = teeth.geometry.getAttribute('position').array;
  const teethOpen = morphed(teeth, { viseme_aa: 1 });
  let lowest = 0;
  for (let i = 1; i < teethRest.length; i += 3) lowest = Math.min(lowest, teethOpen[i] - teethRest[i]);
  assert.ok(lowest < -0.015, `lower teeth dropped ${lowest}`);
  const skin = morphed(meshes.Head, { viseme_aa: 1 });
  const skinRest = meshes.Head.geometry.getAttribute('position').array;
  let chin = 0;
  for (let i = 1; i < skin.length; i += 3) chin = Math.min(chin, skin[i] - skinRest[i]);
  assert.ok(chin < -0.015, `chin dropped ${chin}`);
});

test('visemes look distinct: open, rounded, wide, pressed, tucked', () => {
  const rest = lips();
  const m = (name) => lips({ [name]: 1 });
  assert.ok(m('viseme_O').width < rest.width - 0.004 && m('viseme_O').front > rest.front + 0.003, 'O rounds');
  assert.ok(m('viseme_U').width < rest.width - 0.006 && m('viseme_U').front > rest.front + 0.004, 'U puckers');
  assert.ok(m('viseme_O').gap > m('viseme_U').gap + 0.003, 'O is more open than U');
  for (const name of ['viseme_E', 'viseme_I', 'viseme_SS']) {
    assert.ok(m(name).width > rest.width + 0.003, `${name} is wide`);
  }
  assert.ok(m('viseme_aa').gap > m('viseme_E').gap && m('viseme_E').gap > m('viseme_I').gap, 'aa > E > I');
  assert.ok(m('viseme_PP').gap < 0.001, 'PP keeps the lips together');
  assert.ok(m('viseme_FF').lowerFront < rest.lowerFront - 0.002, 'FF tucks the lower lip back');
  assert.ok(m('mouthSmile').cornerY > rest.cornerY + 0.003, 'smile lifts the corners');
  assert.ok(m('mouthFrown').cornerY < rest.cornerY - 0.003, 'frown lowers them');

  // Every pair of visemes differs somewhere in the mouth's meshes.
  const parts = ['Lips', 'Teeth', 'Tongue', 'MouthInterior', 'Head'];
  const vector = (name) => parts.flatMap((p) => Array.from(
    meshes[p].geometry.morphAttributes.position[meshes[p].morphTargetDictionary[name]].array));
  const vectors = VISEME_TARGETS.map(vector);
  for (let a = 0; a < vectors.length; a++) {
    for (let b = a + 1; b < vectors.length; b++) {
      let sum = 0;
      for (let i = 0; i < vectors[a].length; i++) sum += (vectors[a][i] - vectors[b][i]) ** 2;
      const rms = Math.sqrt(sum / (vectors[a].length / 3));
      assert.ok(rms > 0.0003, `${VISEME_TARGETS[a]} and ${VISEME_TARGETS[b]} differ by ${rms}`);
    }
  }
});

test('blinks close the lids, brows move, and nothing is NaN', () => {
  const lid = meshes.LidsLeft;
  const restLid = lid.geometry.getAttribute('position').array;
  const shut = morphed(lid, { eyeBlinkLeft: 1 });
  let lowest = Infinity;
  let restLowest = Infinity;
  for (let i = 1; i < shut.length; i += 3) {
    if (restLid[i + 1] > 0 && restLid[i] > 0) { // upper lid, front half
      lowest = Math.min(lowest, shut[i]);
      restLowest = Math.min(restLowest, restLid[i]);
    }
  }
  assert.ok(lowest < restLowest - 0.008, `the upper lid came down ${restLowest - lowest} m`);

  const brows = meshes.Brows;
  const up = morphed(brows, { browInnerUp: 1 });
  const restBrows = brows.geometry.getAttribute('position').array;
  assert.ok(up.some((v, i) => i % 3 === 1 && v - restBrows[i] > 0.004));

  head.traverse((o) => {
    if (!o.isMesh) return;
    assert.ok(o.geometry.getAttribute('position').array.every(Number.isFinite), o.name);
    for (const a of o.geometry.morphAttributes.position ?? []) assert.ok(a.array.every(Number.isFinite), `${o.name} ${a.name}`);
  });
});

test('the default head stays cheap', () => {
  let triangles = 0;
  head.traverse((o) => {
    if (o.isMesh) triangles += (o.geometry.index ? o.geometry.index.count : o.geometry.getAttribute('position').count) / 3;
  });
  assert.ok(triangles < 14000, `${triangles} triangles`);
});

test('the rig drives the default head as an Oculus model', () => {
  const fresh = buildDefaultHead();
  const rig = createRig(fresh);
  assert.equal(rig.format, 'oculus');
  const visemes = new Float32Array(15);
  visemes[10] = 0.8;
  rig.apply({ visemes, expressions: { blinkLeft: 1, smile: 0.5 } });
  const { Lips, Teeth, LidsLeft, LidsRight } = fresh.userData.meshes;
  for (const mesh of [Lips, Teeth]) {
    assert.ok(Math.abs(mesh.morphTargetInfluences[mesh.morphTargetDictionary.viseme_aa] - 0.8) < 1e-6);
  }
  assert.equal(LidsLeft.morphTargetInfluences[LidsLeft.morphTargetDictionary.eyeBlinkLeft], 1);
  assert.equal(LidsRight.morphTargetInfluences[LidsRight.morphTargetDictionary.eyeBlinkRight], 0);
  assert.ok(rig.mouthOpenness() > 0.7);
  rig.apply({});
  assert.equal(rig.mouthOpenness(), 0);
});
