/**
 * Canonical face controls → whatever the model has: Oculus `viseme_*` morph targets (Ready
 * Player Me, TalkingHead avatars, our default head), ARKit blendshapes, or VRM expressions.
 *
 * Controls are 15 viseme weights plus a few expression weights, all 0..1. Each model target is
 * a weighted sum of controls, clamped to [0, 1], so an expression and a viseme that move the
 * same shape (a smile and the wide "E") add up without overshooting. The bindings are resolved
 * once, when the rig is made; `apply` is a tight loop over them.
 */

import { VISEME_COUNT, VISEME_NAMES, VISEME_OPENNESS } from './lipsync.js';

/** Expression controls, after the 15 visemes in the control vector. */
export const EXPRESSION_CONTROLS = Object.freeze([
  'smile', 'sad', 'surprised', 'browUp', 'browDown', 'blinkLeft', 'blinkRight', 'eyeWide',
  'jawOpen',
]);
const CONTROL_COUNT = VISEME_COUNT + EXPRESSION_CONTROLS.length;
const CONTROL = Object.fromEntries([
  ...VISEME_NAMES.map((name, i) => [name, i]),
  ...EXPRESSION_CONTROLS.map((name, i) => [name, VISEME_COUNT + i]),
]);

/**
 * Each viseme as a mix of ARKit blendshapes (used for meshes without `viseme_*` targets).
 * @type {Readonly<Record<string, Readonly<Record<string, number>>>>}
 */
export const ARKIT_VISEME_MAP = Object.freeze({
  sil: {},
  PP: { mouthPressLeft: 0.6, mouthPressRight: 0.6, mouthRollLower: 0.35, mouthRollUpper: 0.25,
    mouthClose: 0.08, jawOpen: 0.08 },
  FF: { mouthRollLower: 0.7, mouthUpperUpLeft: 0.25, mouthUpperUpRight: 0.25, jawOpen: 0.1,
    mouthPressLeft: 0.15, mouthPressRight: 0.15 },
  TH: { jawOpen: 0.18, tongueOut: 0.6, mouthUpperUpLeft: 0.15, mouthUpperUpRight: 0.15,
    mouthLowerDownLeft: 0.1, mouthLowerDownRight: 0.1 },
  DD: { jawOpen: 0.22, mouthStretchLeft: 0.2, mouthStretchRight: 0.2,
    mouthLowerDownLeft: 0.2, mouthLowerDownRight: 0.2, mouthUpperUpLeft: 0.1,
    mouthUpperUpRight: 0.1 },
  kk: { jawOpen: 0.3, mouthStretchLeft: 0.25, mouthStretchRight: 0.25,
    mouthLowerDownLeft: 0.15, mouthLowerDownRight: 0.15 },
  CH: { jawOpen: 0.15, mouthFunnel: 0.5, mouthPucker: 0.3, mouthUpperUpLeft: 0.2,
    mouthUpperUpRight: 0.2, mouthLowerDownLeft: 0.2, mouthLowerDownRight: 0.2 },
  SS: { jawOpen: 0.08, mouthStretchLeft: 0.4, mouthStretchRight: 0.4, mouthSmileLeft: 0.15,
    mouthSmileRight: 0.15, mouthUpperUpLeft: 0.15, mouthUpperUpRight: 0.15,
    mouthLowerDownLeft: 0.15, mouthLowerDownRight: 0.15 },
  nn: { jawOpen: 0.15, mouthStretchLeft: 0.15, mouthStretchRight: 0.15,
    mouthLowerDownLeft: 0.1, mouthLowerDownRight: 0.1 },
  RR: { jawOpen: 0.15, mouthFunnel: 0.35, mouthPucker: 0.3 },
  aa: { jawOpen: 0.7, mouthLowerDownLeft: 0.3, mouthLowerDownRight: 0.3,
    mouthUpperUpLeft: 0.1, mouthUpperUpRight: 0.1 },
  E: { jawOpen: 0.35, mouthStretchLeft: 0.45, mouthStretchRight: 0.45, mouthSmileLeft: 0.2,
    mouthSmileRight: 0.2, mouthLowerDownLeft: 0.2, mouthLowerDownRight: 0.2 },
  I: { jawOpen: 0.2, mouthStretchLeft: 0.55, mouthStretchRight: 0.55, mouthSmileLeft: 0.3,
    mouthSmileRight: 0.3, mouthUpperUpLeft: 0.15, mouthUpperUpRight: 0.15 },
  O: { jawOpen: 0.45, mouthFunnel: 0.7, mouthPucker: 0.25 },
  U: { jawOpen: 0.15, mouthPucker: 0.85, mouthFunnel: 0.35 },
});

/**
 * Each viseme as a mix of the five VRM vowel presets.
 * @type {Readonly<Record<string, Readonly<Record<string, number>>>>}
 */
export const VRM_VISEME_MAP = Object.freeze({
  sil: {},
  PP: {}, // closed lips: no vowel (lipsync already suppresses the neighbours)
  FF: { ih: 0.2 },
  TH: { aa: 0.15, ih: 0.2 },
  DD: { ih: 0.3, aa: 0.15 },
  kk: { aa: 0.3, ih: 0.15 },
  CH: { ou: 0.4, ih: 0.2 },
  SS: { ih: 0.45 },
  nn: { aa: 0.15, ih: 0.25 },
  RR: { ou: 0.35, oh: 0.15 },
  aa: { aa: 1 },
  E: { ee: 0.85, aa: 0.15 },
  I: { ih: 0.9 },
  O: { oh: 0.9 },
  U: { ou: 0.9 },
});

/**
 * Expression controls → VRM expression presets (plus the vowels for `jawOpen`).
 * @type {Readonly<Record<string, ReadonlyArray<[string, number]>>>}
 */
export const VRM_EXPRESSION_MAP = Object.freeze({
  happy: [['smile', 0.65]],
  relaxed: [['smile', 0.35]],
  sad: [['sad', 1]],
  surprised: [['surprised', 1]],
  blinkLeft: [['blinkLeft', 1]],
  blinkRight: [['blinkRight', 1]],
  aa: [['jawOpen', 1]],
});

/** How open each VRM vowel holds the mouth, for `mouthOpenness`. */
const VRM_OPENNESS = Object.freeze({ aa: 1, oh: 0.6, ee: 0.5, ih: 0.3, ou: 0.25 });

/**
 * Morph targets driven by the expression controls, on any mesh that has them. A `*Left/Right`
 * pair is used only on a mesh without the single-name target beside it (`mouthSmile`).
 * @type {Readonly<Record<string, ReadonlyArray<[string, number]>>>}
 */
const EXPRESSION_TARGETS = Object.freeze({
  mouthSmile: [['smile', 1]],
  mouthSmileLeft: [['smile', 1]],
  mouthSmileRight: [['smile', 1]],
  mouthFrown: [['sad', 0.7]],
  mouthFrownLeft: [['sad', 0.7]],
  mouthFrownRight: [['sad', 0.7]],
  cheekSquintLeft: [['smile', 0.3]],
  cheekSquintRight: [['smile', 0.3]],
  browInnerUp: [['browUp', 1], ['sad', 0.5], ['surprised', 0.6]],
  browOuterUpLeft: [['browUp', 0.5], ['surprised', 0.6]],
  browOuterUpRight: [['browUp', 0.5], ['surprised', 0.6]],
  browDownLeft: [['browDown', 1]],
  browDownRight: [['browDown', 1]],
  eyeBlinkLeft: [['blinkLeft', 1]],
  eyeBlinkRight: [['blinkRight', 1]],
  eyeWideLeft: [['eyeWide', 1], ['surprised', 0.5]],
  eyeWideRight: [['eyeWide', 1], ['surprised', 0.5]],
  jawOpen: [['jawOpen', 1]],
});
const PAIRED = { mouthSmileLeft: 'mouthSmile', mouthSmileRight: 'mouthSmile',
  mouthFrownLeft: 'mouthFrown', mouthFrownRight: 'mouthFrown' };

const ARKIT_MOUTH = ['jawOpen', 'mouthClose', 'mouthFunnel', 'mouthPucker', 'mouthStretchLeft',
  'mouthRollLower', 'mouthPressLeft', 'mouthLowerDownLeft', 'mouthUpperUpLeft'];

/**
 * @typedef {{visemes?: ArrayLike<number>|null, expressions?: Partial<Record<string, number>>}}
 *   FaceFrame
 */
/**
 * @typedef {object} Rig
 * @property {'oculus'|'arkit'|'vrm'|'none'} format what the model offered
 * @property {(frame: FaceFrame) => void} apply write the model's weights for this frame
 * @property {() => number[]} visemeInfluences the 15 viseme weights the mouth shows
 * @property {() => number} mouthOpenness how open the written shapes hold the mouth (0..1)
 * @property {string[]} targetNames every morph target name found (for diagnostics)
 */

/** @param {number} v */
const clamp01 = (v) => (v > 1 ? 1 : v < 0 ? 0 : v);

/**
 * Make a rig for `root` (any Object3D; its meshes are searched once, now).
 * @param {import('three').Object3D} root
 * @param {{vrm?: any}} [options] a three-vrm `VRM` to drive through its expressionManager
 * @returns {Rig}
 */
export function createRig(root, { vrm = null } = {}) {
  const controls = new Float32Array(CONTROL_COUNT);
  const meshes = collectMorphMeshes(root);
  const targetNames = [...new Set(meshes.flatMap((m) => Object.keys(m.morphTargetDictionary)))];
  const em = vrm && vrm.expressionManager ? vrm.expressionManager : null;
  let format = 'none';
  if (em) format = 'vrm';
  else if (meshes.some(hasOculusVisemes)) format = 'oculus';
  else if (meshes.some((m) => ARKIT_MOUTH.some((n) => n in m.morphTargetDictionary))) {
    format = 'arkit';
  }
  const vrmBindings = em ? bindVrm(em) : [];
  const { bindings, probe } = em ? { bindings: [], probe: null } : bindMeshes(meshes);

  const applied = new Float32Array(VISEME_COUNT);
  const vrmValues = new Map();

  return {
    format,
    targetNames,
    apply({ visemes = null, expressions = {} } = {}) {
      controls.fill(0);
      if (visemes) for (let i = 0; i < VISEME_COUNT; i++) controls[i] = clamp01(visemes[i] || 0);
      if (expressions) {
        for (let i = 0; i < EXPRESSION_CONTROLS.length; i++) {
          controls[VISEME_COUNT + i] = clamp01(expressions[EXPRESSION_CONTROLS[i]] || 0);
        }
      }
      applied.set(controls.subarray(0, VISEME_COUNT));
      for (const b of bindings) b.influences[b.index] = weigh(b, controls);
      for (const b of vrmBindings) {
        const value = weigh(b, controls);
        vrmValues.set(b.name, value);
        em.setValue(b.name, value);
      }
    },
    visemeInfluences() {
      if (probe && format === 'oculus') {
        const infl = probe.mesh.morphTargetInfluences;
        return probe.visemeIndex.map((i, id) => (i >= 0 ? infl[i] : applied[id]));
      }
      return Array.from(applied);
    },
    mouthOpenness() {
      if (format === 'vrm') {
        let sum = 0;
        for (const [name, k] of Object.entries(VRM_OPENNESS)) {
          // Read back what the manager holds; a preset the model lacks counts as 0.
          sum += (em.getValue?.(name) ?? vrmValues.get(name) ?? 0) * k;
        }
        return clamp01(sum);
      }
      if (probe) {
        const infl = probe.mesh.morphTargetInfluences;
        let sum = probe.jawIndex >= 0 ? infl[probe.jawIndex] : 0;
        if (format === 'oculus') {
          probe.visemeIndex.forEach((i, id) => {
            if (i >= 0) sum += infl[i] * VISEME_OPENNESS[id];
          });
        }
        return clamp01(sum);
      }
      let sum = controls[CONTROL.jawOpen];
      for (let id = 0; id < VISEME_COUNT; id++) sum += applied[id] * VISEME_OPENNESS[id];
      return clamp01(sum);
    },
  };
}

/** @param {any} mesh */
function hasOculusVisemes(mesh) {
  return VISEME_NAMES.some((v) => `viseme_${v}` in mesh.morphTargetDictionary);
}

/**
 * @typedef {{controls: Int32Array, weights: Float32Array}} Terms a weighted sum of controls
 * @typedef {Terms & {influences: number[], index: number}} MorphBinding one morph target
 * @typedef {Terms & {name: string}} VrmBinding one VRM expression
 * @typedef {{mesh: any, visemeIndex: number[], jawIndex: number}} Probe where the mouth is read
 */

/**
 * Bindings for every morph target the controls drive, and the mesh to read the mouth back from.
 * A mesh with `viseme_*` targets takes the visemes directly; one without takes them through
 * `ARKIT_VISEME_MAP`. Expression targets are bound on every mesh that has them.
 * @param {any[]} meshes
 * @returns {{bindings: MorphBinding[], probe: Probe|null}}
 */
function bindMeshes(meshes) {
  const bindings = [];
  let probe = null;
  for (const mesh of meshes) {
    const dict = mesh.morphTargetDictionary;
    const oculus = hasOculusVisemes(mesh);
    const terms = new Map();
    for (const [name, list] of Object.entries(EXPRESSION_TARGETS)) {
      if (!(name in dict) || (PAIRED[name] && PAIRED[name] in dict)) continue;
      for (const [control, w] of list) addTerm(terms, name, CONTROL[control], w);
    }
    VISEME_NAMES.forEach((viseme, id) => {
      if (oculus) {
        if (`viseme_${viseme}` in dict) addTerm(terms, `viseme_${viseme}`, id, 1);
        return;
      }
      for (const [name, w] of Object.entries(ARKIT_VISEME_MAP[viseme])) {
        if (name in dict) addTerm(terms, name, id, w);
      }
    });
    for (const [name, list] of terms) {
      const influences = mesh.morphTargetInfluences;
      bindings.push({ influences, index: dict[name], ...packTerms(list) });
    }
    const visemeIndex = VISEME_NAMES.map((v) => (oculus ? dict[`viseme_${v}`] ?? -1 : -1));
    if (!probe || (oculus && probe.visemeIndex.every((i) => i < 0))) {
      if (oculus || 'jawOpen' in dict) probe = { mesh, visemeIndex, jawIndex: dict.jawOpen ?? -1 };
    }
  }
  return { bindings, probe };
}

/**
 * Bindings for the VRM presets the model has (`getExpression` says which).
 * @returns {VrmBinding[]}
 */
function bindVrm(em) {
  const has = (name) => typeof em.getExpression !== 'function' || em.getExpression(name) != null;
  const terms = new Map();
  VISEME_NAMES.forEach((viseme, id) => {
    for (const [preset, w] of Object.entries(VRM_VISEME_MAP[viseme])) addTerm(terms, preset, id, w);
  });
  for (const [preset, list] of Object.entries(VRM_EXPRESSION_MAP)) {
    for (const [control, w] of list) addTerm(terms, preset, CONTROL[control], w);
  }
  return [...terms].filter(([name]) => has(name))
    .map(([name, list]) => ({ name, ...packTerms(list) }));
}

/**
 * Meshes under `root` with named morph targets.
 * @param {import('three').Object3D} root
 */
function collectMorphMeshes(root) {
  const found = [];
  root.traverse((obj) => {
    const mesh = /** @type {any} */ (obj);
    if (mesh.morphTargetDictionary && mesh.morphTargetInfluences
      && Object.keys(mesh.morphTargetDictionary).length > 0) found.push(mesh);
  });
  return found;
}

function addTerm(terms, name, control, weight) {
  if (!terms.has(name)) terms.set(name, []);
  terms.get(name).push([control, weight]);
}

function packTerms(list) {
  return {
    controls: Int32Array.from(list.map(([c]) => c)),
    weights: Float32Array.from(list.map(([, w]) => w)),
  };
}

/** @param {Terms} b @param {Float32Array} controls @returns {number} the clamped sum */
function weigh(b, controls) {
  let sum = 0;
  for (let k = 0; k < b.controls.length; k++) sum += controls[b.controls[k]] * b.weights[k];
  return clamp01(sum);
}
