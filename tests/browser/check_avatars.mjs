/**
 * Load avatar files with three.js' GLTFLoader (+ three-vrm's VRMLoaderPlugin for .vrm) in node
 * and print what the app would see, as one JSON object on stdout:
 *
 *   {"<file>": {"meshes": [{"name", "vertices", "targets", "reach"}], "vrm": {...} | null},
 *    "warnings": [...]}
 *
 * Run from frontend/ (bare imports resolve against frontend/node_modules), script on stdin:
 *   cd frontend && node --input-type=module - a.glb b.vrm < ../tests/browser/check_avatars.mjs
 * tests/browser/test_avatar_fixtures.py does exactly that. Files with textures would need a DOM
 * (ImageBitmap); the generated avatars have none.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { GLTFLoader } from 'three/examples/jsm/loaders/GLTFLoader.js';
import { VRMLoaderPlugin } from '@pixiv/three-vrm';

const warnings = [];
const warn = console.warn;
console.warn = (...args) => {
  warnings.push(args.join(' '));
  warn(...args);
};

async function load(path) {
  const bytes = readFileSync(path);
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const loader = new GLTFLoader();
  loader.register((parser) => new VRMLoaderPlugin(parser));
  const gltf = await new Promise((resolve, reject) => loader.parse(buffer, '', resolve, reject));
  const meshes = [];
  gltf.scene.traverse((object) => {
    if (!object.isMesh) return;
    meshes.push({
      name: object.name,
      vertices: object.geometry.attributes.position.count,
      targets: Object.keys(object.morphTargetDictionary ?? {}),
      // Largest displacement each morph target makes (metres): 0 means it does nothing.
      reach: (object.geometry.morphAttributes.position ?? []).map((attribute) => {
        let max = 0;
        for (const v of attribute.array) max = Math.max(max, Math.abs(v));
        return Math.round(max * 1e4) / 1e4;
      }),
    });
  });
  const vrm = gltf.userData.vrm;
  let summary = null;
  if (vrm) {
    const face = [];
    gltf.scene.traverse((o) => o.isMesh && face.push(o));
    const influences = () => face.flatMap((m) => [...(m.morphTargetInfluences ?? [])]);
    // Each expression must move exactly its own morph target.
    const moves = {};
    for (const expression of vrm.expressionManager.expressions) {
      vrm.expressionManager.resetValues();
      vrm.expressionManager.setValue(expression.expressionName, 1);
      vrm.expressionManager.update();
      moves[expression.expressionName] = influences().flatMap((w, i) => (w > 0.99 ? [i] : []));
    }
    summary = {
      metaVersion: vrm.meta?.metaVersion,
      name: vrm.meta?.name,
      licenseUrl: vrm.meta?.licenseUrl,
      bones: Object.keys(vrm.humanoid.humanBones).sort(),
      expressions: vrm.expressionManager.expressions.map((e) => e.expressionName),
      moves,
    };
  }
  return { meshes, vrm: summary };
}

const out = {};
for (const path of process.argv.slice(2).filter((a) => a !== '-')) {
  out[basename(path)] = await load(path);
}
out.warnings = warnings;
console.log(JSON.stringify(out));
