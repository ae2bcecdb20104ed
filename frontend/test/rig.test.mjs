import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as THREE from 'three';

import { VISEME_NAMES } from '../src/avatar/lipsync.js';
import { ARKIT_VISEME_MAP, VRM_VISEME_MAP, createRig } from '../src/avatar/rig.js';

const ID = Object.fromEntries(VISEME_NAMES.map((name, id) => [name, id]));
const OCULUS = VISEME_NAMES.map((n) => `viseme_${n}`);
const ARKIT = ['jawOpen', 'mouthClose', 'mouthFunnel', 'mouthPucker', 'mouthStretchLeft',
  'mouthStretchRight', 'mouthSmileLeft', 'mouthSmileRight', 'mouthFrownLeft', 'mouthFrownRight',
  'mouthRollLower', 'mouthRollUpper', 'mouthPressLeft', 'mouthPressRight', 'mouthLowerDownLeft',
  'mouthLowerDownRight', 'mouthUpperUpLeft', 'mouthUpperUpRight', 'tongueOut', 'eyeBlinkLeft',
  'eyeBlinkRight', 'browInnerUp', 'browDownLeft', 'browDownRight', 'eyeWideLeft', 'eyeWideRight',
  'cheekPuff', 'cheekSquintLeft', 'cheekSquintRight'];

/** A mesh whose geometry has (empty) morph targets with these names. */
function morphMesh(names, name = 'mesh') {
  const geometry = new THREE.BufferGeometry();
  geometry.setAttribute('position', new THREE.Float32BufferAttribute([0, 0, 0, 1, 0, 0, 0, 1, 0], 3));
  geometry.morphAttributes.position = names.map((n) => {
    const attribute = new THREE.Float32BufferAttribute(new Float32Array(9), 3);
    attribute.name = n;
    return attribute;
  });
  const mesh = new THREE.Mesh(geometry);
  mesh.name = name;
  return mesh;
}

function weights(map) {
  const w = new Float32Array(15);
  for (const [name, value] of Object.entries(map)) w[ID[name]] = value;
  return w;
}

const influence = (mesh, name) => mesh.morphTargetInfluences[mesh.morphTargetDictionary[name]];
const close = (a, b, eps = 1e-6) => Math.abs(a - b) < eps;

test('Oculus viseme targets are driven directly, on every mesh that has them', () => {
  const root = new THREE.Group();
  const head = morphMesh([...OCULUS, 'mouthSmile', 'eyeBlinkLeft', 'eyeBlinkRight', 'browInnerUp'], 'head');
  const teeth = morphMesh(OCULUS, 'teeth');
  root.add(head, teeth, new THREE.Mesh(new THREE.BoxGeometry()));
  const rig = createRig(root);
  assert.equal(rig.format, 'oculus');

  rig.apply({ visemes: weights({ aa: 0.7, E: 0.2 }), expressions: { smile: 0.5, blinkLeft: 1 } });
  for (const mesh of [head, teeth]) {
    assert.ok(close(influence(mesh, 'viseme_aa'), 0.7));
    assert.ok(close(influence(mesh, 'viseme_E'), 0.2));
    assert.equal(influence(mesh, 'viseme_O'), 0);
  }
  assert.ok(close(influence(head, 'mouthSmile'), 0.5));
  assert.equal(influence(head, 'eyeBlinkLeft'), 1);
  assert.equal(influence(head, 'eyeBlinkRight'), 0);
  assert.ok(close(rig.visemeInfluences()[ID.aa], 0.7));
  assert.ok(rig.mouthOpenness() > 0.7, `open ${rig.mouthOpenness()}`);

  rig.apply({ visemes: null, expressions: {} });
  assert.equal(influence(head, 'viseme_aa'), 0);
  assert.equal(rig.mouthOpenness(), 0);
  assert.deepEqual(rig.visemeInfluences(), new Array(15).fill(0));
});

test('a model with both Oculus and ARKit names opens its jaw through the visemes only', () => {
  const head = morphMesh([...OCULUS, ...ARKIT]);
  const rig = createRig(head);
  assert.equal(rig.format, 'oculus');
  rig.apply({ visemes: weights({ aa: 1 }) });
  assert.equal(influence(head, 'viseme_aa'), 1);
  assert.equal(influence(head, 'jawOpen'), 0, 'the viseme shape already opens the jaw');
  rig.apply({ visemes: weights({ aa: 1 }), expressions: { jawOpen: 0.3, smile: 1 } });
  assert.ok(close(influence(head, 'jawOpen'), 0.3));
  assert.equal(influence(head, 'mouthSmileLeft'), 1, 'ARKit expression targets are used too');
});

test('ARKit-only models get each viseme as a mix of blendshapes', () => {
  const face = morphMesh(ARKIT, 'face');
  const root = new THREE.Group().add(face);
  const rig = createRig(root);
  assert.equal(rig.format, 'arkit');

  rig.apply({ visemes: weights({ aa: 1 }) });
  assert.ok(close(influence(face, 'jawOpen'), ARKIT_VISEME_MAP.aa.jawOpen));
  assert.ok(rig.mouthOpenness() > 0.5);
  rig.apply({ visemes: weights({ U: 1 }) });
  assert.ok(close(influence(face, 'mouthPucker'), ARKIT_VISEME_MAP.U.mouthPucker));
  assert.ok(influence(face, 'jawOpen') < 0.3);
  rig.apply({ visemes: weights({ PP: 1 }) });
  assert.ok(influence(face, 'mouthPressLeft') > 0.5 && influence(face, 'mouthRollLower') > 0.2);

  // Expressions and visemes that share a shape add up, clamped to 1.
  rig.apply({ visemes: weights({ I: 1 }), expressions: { smile: 0.9 } });
  assert.equal(influence(face, 'mouthSmileLeft'), 1);
  rig.apply({ visemes: weights({ aa: 0.5 }), expressions: { jawOpen: 0.4, smile: 2, sad: -1 } });
  assert.ok(close(influence(face, 'jawOpen'), 0.4 + 0.35));
  assert.equal(influence(face, 'mouthSmileRight'), 1);
  assert.equal(influence(face, 'mouthFrownLeft'), 0);
  // Silence rests the mouth.
  rig.apply({});
  assert.equal(rig.mouthOpenness(), 0);
  assert.ok(ARKIT.every((n) => influence(face, n) === 0));
});

test('the ARKit and VRM tables cover all 15 visemes with weights in (0, 1]', () => {
  for (const table of [ARKIT_VISEME_MAP, VRM_VISEME_MAP]) {
    assert.deepEqual(Object.keys(table), [...VISEME_NAMES]);
    for (const mix of Object.values(table)) {
      for (const w of Object.values(mix)) assert.ok(w > 0 && w <= 1);
    }
  }
  for (const name of Object.keys(ARKIT_VISEME_MAP.aa)) assert.ok(ARKIT.includes(name), name);
  assert.deepEqual(Object.keys(VRM_VISEME_MAP.sil), []);
  for (const mix of Object.values(VRM_VISEME_MAP)) {
    for (const preset of Object.keys(mix)) assert.ok(['aa', 'ih', 'ou', 'ee', 'oh'].includes(preset));
  }
});

/** A stand-in for three-vrm's VRMExpressionManager. */
function fakeExpressionManager(presets) {
  const values = new Map();
  const calls = [];
  return {
    values,
    calls,
    getExpression: (name) => (presets.includes(name) ? { name } : null),
    setValue(name, value) {
      calls.push(name);
      values.set(name, value);
    },
    getValue: (name) => (presets.includes(name) ? values.get(name) ?? 0 : null),
  };
}

test('VRM models get vowels, emotions and blinks through the expression manager', () => {
  const em = fakeExpressionManager(['aa', 'ih', 'ou', 'ee', 'oh', 'happy', 'sad', 'surprised',
    'relaxed', 'blinkLeft', 'blinkRight']);
  const vrmScene = new THREE.Group().add(morphMesh(['Fcl_MTH_A', 'Fcl_EYE_Close']));
  const rig = createRig(vrmScene, { vrm: { expressionManager: em } });
  assert.equal(rig.format, 'vrm');

  rig.apply({ visemes: weights({ aa: 1 }), expressions: { blinkRight: 1 } });
  assert.equal(em.values.get('aa'), 1);
  assert.equal(em.values.get('oh'), 0);
  assert.equal(em.values.get('blinkRight'), 1);
  assert.equal(em.values.get('blinkLeft'), 0);
  assert.ok(rig.mouthOpenness() > 0.9);

  rig.apply({ visemes: weights({ O: 1 }), expressions: { smile: 1, sad: 0.5, surprised: 0.25 } });
  assert.ok(close(em.values.get('oh'), VRM_VISEME_MAP.O.oh));
  assert.ok(close(em.values.get('happy') + em.values.get('relaxed'), 1));
  assert.equal(em.values.get('sad'), 0.5);
  assert.equal(em.values.get('surprised'), 0.25);

  rig.apply({ visemes: weights({ U: 1 }) });
  assert.ok(close(em.values.get('ou'), VRM_VISEME_MAP.U.ou));
  assert.ok(close(rig.visemeInfluences()[ID.U], 1));

  rig.apply({});
  assert.equal(rig.mouthOpenness(), 0);
});

test('VRM presets the model lacks are left alone', () => {
  const em = fakeExpressionManager(['aa', 'happy', 'blinkLeft', 'blinkRight']);
  const rig = createRig(new THREE.Group(), { vrm: { expressionManager: em } });
  rig.apply({ visemes: weights({ I: 1, aa: 0.3 }), expressions: { smile: 1, sad: 1 } });
  assert.ok(!em.calls.includes('ih') && !em.calls.includes('sad') && !em.calls.includes('relaxed'));
  assert.ok(close(em.values.get('aa'), 0.3));
  assert.ok(close(em.values.get('happy'), 0.65));
});

test('a model without face shapes still takes frames and reports what it was given', () => {
  const rig = createRig(new THREE.Group().add(new THREE.Mesh(new THREE.BoxGeometry())));
  assert.equal(rig.format, 'none');
  rig.apply({ visemes: weights({ aa: 0.6 }), expressions: { smile: 1 } });
  assert.ok(close(rig.visemeInfluences()[ID.aa], 0.6));
  assert.ok(close(rig.mouthOpenness(), 0.6));
  rig.apply({ visemes: weights({ aa: 3 }) });
  assert.equal(rig.visemeInfluences()[ID.aa], 1, 'clamped');
});
