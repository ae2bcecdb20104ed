/**
 * Load an avatar: the built-in head, a GLB (Ready Player Me, TalkingHead-style, any glTF with
 * morph targets) or a VRM (0.x or 1.0), with a rig and the joints the behaviour moves.
 *
 * A model that fails to load falls back to the built-in head; the reason is in `error`.
 * Every avatar faces +z inside `object3d` (VRM 0.x models are turned round).
 */

import * as THREE from 'three';
import { GLTFLoader } from 'three/examples/jsm/loaders/GLTFLoader.js';
import { VRMLoaderPlugin, VRMUtils } from '@pixiv/three-vrm';
import { buildDefaultHead } from './default-head.js';
import { createRig } from './rig.js';

/**
 * @typedef {object} Pose what `Behaviour.update` returns (head and gaze are used)
 * @property {{pitch: number, yaw: number, roll: number, y: number}} head
 * @property {{x: number, y: number}} gaze
 */
/**
 * @typedef {object} Avatar
 * @property {THREE.Object3D} object3d add this to the scene
 * @property {import('./rig.js').Rig} rig
 * @property {THREE.Object3D|null} headPivot the joint that turns the head
 * @property {{left: THREE.Object3D|null, right: THREE.Object3D|null}} eyes
 * @property {(pose: Pose) => void} applyPose turn head and eyes to a behaviour pose
 * @property {(dtSec: number) => void} update per-frame work of the model (VRM springs, expressions)
 * @property {() => THREE.Vector3} headPosition world position of the head's centre (framing)
 * @property {() => void} dispose free geometries, materials and textures
 * @property {'default'|'glb'|'vrm'} source
 * @property {string|null} error why the requested model was not loaded, or null
 */

/**
 * Load the avatar `spec` asks for.
 * @param {null|{url?: string, format?: 'glb'|'vrm'|'default'}} spec null for the built-in head;
 *   `format` defaults from the URL (`.vrm` → vrm, anything else → glb)
 * @returns {Promise<Avatar>} never rejects
 */
export async function loadAvatar(spec) {
  if (!spec || spec.format === 'default' || !spec.url) return defaultAvatar(null);
  const format = spec.format || (/\.vrm([?#].*)?$/i.test(spec.url) ? 'vrm' : 'glb');
  try {
    return format === 'vrm' ? await loadVrm(spec.url) : await loadGlb(spec.url);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return defaultAvatar(`could not load ${format.toUpperCase()} avatar ${spec.url}: ${message}`);
  }
}

/** @param {string|null} error */
function defaultAvatar(error) {
  const group = buildDefaultHead();
  const { headPivot, eyes } = group.userData;
  const restY = group.position.y;
  return {
    object3d: group,
    rig: createRig(group),
    headPivot,
    eyes,
    source: 'default',
    error,
    applyPose({ head, gaze }) {
      headPivot.rotation.set(head.pitch, head.yaw, head.roll, 'YXZ');
      group.position.y = restY + head.y;
      for (const eye of [eyes.left, eyes.right]) eye.rotation.set(-gaze.y, gaze.x, 0, 'YXZ');
    },
    update() {},
    headPosition: () => group.userData.face.getWorldPosition(new THREE.Vector3()),
    dispose: () => disposeTree(group),
  };
}

async function loadGlb(url) {
  const gltf = await new GLTFLoader().loadAsync(url);
  const root = wrap(gltf.scene);
  const bones = findBones(gltf.scene);
  relaxArms(root, bones.leftArm, bones.rightArm);
  return boneAvatar({ root, rig: createRig(gltf.scene), source: 'glb', bones, update() {} });
}

async function loadVrm(url) {
  const loader = new GLTFLoader();
  loader.register((parser) => new VRMLoaderPlugin(parser));
  const gltf = await loader.loadAsync(url);
  const vrm = gltf.userData.vrm;
  if (!vrm) throw new Error('the file has no VRM extension');
  VRMUtils.removeUnnecessaryVertices(gltf.scene);
  VRMUtils.combineSkeletons(gltf.scene);
  VRMUtils.rotateVRM0(vrm); // VRM 0.x faces −z; no-op for 1.0
  const root = wrap(vrm.scene);
  const bone = (name) => vrm.humanoid?.getNormalizedBoneNode(name) ?? null;
  const bones = { head: bone('head'), leftEye: null, rightEye: null,
    leftArm: bone('leftUpperArm'), rightArm: bone('rightUpperArm') };
  relaxArms(root, bones.leftArm, bones.rightArm);
  const avatar = boneAvatar({ root, rig: createRig(vrm.scene, { vrm }), source: 'vrm', bones,
    update: (dt) => vrm.update(dt) });
  avatar.eyes = { left: bone('leftEye'), right: bone('rightEye') };
  const applyHead = avatar.applyPose;
  avatar.applyPose = (pose) => {
    applyHead(pose);
    if (vrm.lookAt) {
      vrm.lookAt.yaw = THREE.MathUtils.radToDeg(pose.gaze.x);
      vrm.lookAt.pitch = -THREE.MathUtils.radToDeg(pose.gaze.y); // VRM: pitch > 0 looks down
    }
  };
  return avatar;
}

/** The loaded scene inside a group that faces +z, so poses are in avatar space. */
function wrap(scene) {
  const root = new THREE.Group();
  root.name = 'Avatar';
  root.add(scene);
  scene.traverse((obj) => {
    // Skinned and morphed meshes move outside their bind-pose bounds.
    if (obj.isMesh) obj.frustumCulled = false;
  });
  root.updateMatrixWorld(true);
  return root;
}

/** Head, eye and upper-arm bones by the usual names (RPM, Mixamo, VRoid, Blender). */
function findBones(scene) {
  const found = { head: null, leftEye: null, rightEye: null, leftArm: null, rightArm: null };
  const rules = {
    head: [/^(mixamorig:?|cc_base_|j_bip_c_)?head$/i, /head(?!.*(top|end|nub))/i],
    leftEye: [/^(mixamorig:?)?lefteye$/i, /(^|[_.:\s])eye[_.]?l(eft)?$|left[_.]?eye/i],
    rightEye: [/^(mixamorig:?)?righteye$/i, /(^|[_.:\s])eye[_.]?r(ight)?$|right[_.]?eye/i],
    leftArm: [/^(mixamorig:?)?leftarm$/i, /left[_.]?upper[_.]?arm|upperarm[_.]?l$/i],
    rightArm: [/^(mixamorig:?)?rightarm$/i, /right[_.]?upper[_.]?arm|upperarm[_.]?r$/i],
  };
  for (const [key, patterns] of Object.entries(rules)) {
    for (const pattern of patterns) {
      scene.traverse((obj) => {
        if (!found[key] && (obj.isBone || obj.type === 'Object3D') && pattern.test(obj.name)) {
          found[key] = obj;
        }
      });
      if (found[key]) break;
    }
  }
  return found;
}

/**
 * A function that rotates `bone` by (pitch, yaw, roll) in avatar space on top of its rest pose.
 * @param {THREE.Object3D} bone
 * @param {THREE.Object3D} root the avatar group (faces +z)
 */
function boneDriver(bone, root) {
  root.updateMatrixWorld(true);
  const rest = bone.quaternion.clone();
  const parent = new THREE.Quaternion();
  if (bone.parent) bone.parent.getWorldQuaternion(parent);
  const rootWorld = root.getWorldQuaternion(new THREE.Quaternion());
  const toParent = rootWorld.invert().multiply(parent); // parent's rotation in avatar space
  const fromParent = toParent.clone().invert();
  const euler = new THREE.Euler(0, 0, 0, 'YXZ');
  const q = new THREE.Quaternion();
  return (pitch, yaw, roll) => {
    q.setFromEuler(euler.set(pitch, yaw, roll, 'YXZ'));
    bone.quaternion.copy(fromParent).multiply(q).multiply(toParent).multiply(rest);
  };
}

/** Lower arms that stand out in a T- or A-pose to the sides. */
function relaxArms(root, leftArm, rightArm) {
  for (const [arm, side] of [[leftArm, 1], [rightArm, -1]]) {
    if (!arm || !arm.children.length) continue;
    root.updateMatrixWorld(true);
    const shoulder = root.worldToLocal(arm.getWorldPosition(new THREE.Vector3()));
    const elbow = root.worldToLocal(arm.children[0].getWorldPosition(new THREE.Vector3()));
    const dir = elbow.sub(shoulder).normalize();
    const drop = Math.atan2(-dir.y, Math.abs(dir.x)); // 0 in a T-pose
    const target = 1.2; // radians below horizontal
    if (drop < target - 0.1) boneDriver(arm, root)(0, 0, -side * (target - drop));
  }
}

/** An avatar moved by bones: the head bone turns, eye bones (if any) look. */
function boneAvatar({ root, rig, source, bones, update }) {
  const turnHead = bones.head ? boneDriver(bones.head, root) : null;
  const turnEyes = [bones.leftEye, bones.rightEye].filter(Boolean)
    .map((eye) => boneDriver(eye, root));
  const restY = root.position.y;
  const box = new THREE.Box3().setFromObject(root);
  return {
    object3d: root,
    rig,
    headPivot: bones.head,
    eyes: { left: bones.leftEye, right: bones.rightEye },
    source,
    error: null,
    applyPose({ head, gaze }) {
      turnHead?.(head.pitch, head.yaw, head.roll);
      for (const turn of turnEyes) turn(-gaze.y, gaze.x, 0);
      root.position.y = restY + head.y;
    },
    update,
    headPosition() {
      if (bones.head) {
        // The head bone sits at the base of the skull; its centre is a little higher.
        return bones.head.getWorldPosition(new THREE.Vector3()).add(new THREE.Vector3(0, 0.07, 0));
      }
      // No head bone: a head-only model is framed on its centre, a taller one near its top.
      const size = box.getSize(new THREE.Vector3());
      const centre = box.getCenter(new THREE.Vector3());
      if (size.y > 0.6) centre.y = box.max.y - 0.12 * size.y;
      return centre;
    },
    dispose: () => disposeTree(root),
  };
}

/** Dispose every geometry, material and texture under `root`. */
export function disposeTree(root) {
  root.traverse((obj) => {
    if (!obj.isMesh) return;
    obj.geometry?.dispose();
    for (const material of [obj.material].flat()) {
      if (!material) continue;
      for (const value of Object.values(material)) if (value && value.isTexture) value.dispose();
      material.dispose();
    }
  });
}
