/**
 * The avatar on screen: renderer, camera, lights, the avatar, its behaviour, and the frame loop.
 *
 * Each animation frame: `onFrame(nowSec)` gives the mouth's viseme weights (or null for
 * silence), the behaviour gives head, gaze, blinks and brows, the rig writes them into the
 * model, and the scene is rendered. Without WebGL (`stage.webgl === false`) the loop still runs
 * and the rig still moves the model, so the app and its tests work the same; nothing is drawn.
 */

import * as THREE from 'three';
import { Behaviour } from './behaviour.js';
import { VISEME_COUNT } from './lipsync.js';
import { loadAvatar } from './loader.js';

/** Vertical field of view (degrees): a portrait lens, little perspective distortion. */
const FOV = 24;
/** What the camera keeps in view around the head (m): height, and width of the shoulders. */
const VIEW_HEIGHT = 0.56;
const VIEW_WIDTH = 0.46;
/** How fast the mouth closes when the app reports silence mid-shape (s). */
const SILENCE_TAU_S = 0.06;

/**
 * @typedef {object} Stage
 * @property {boolean} webgl whether anything is drawn
 * @property {((nowSec: number) => (ArrayLike<number>|null))|null} onFrame set by the app: the
 *   15 viseme weights for this frame, or null for silence; `nowSec` is performance.now() / 1000
 * @property {(mode: 'idle'|'listening'|'thinking'|'speaking') => void} setMode
 * @property {(name: string, options?: {intensity?: number, durationMs?: number}) => void} express
 * @property {(options?: {amplitude?: number}) => void} nod
 * @property {() => number[]} visemeInfluences the viseme weights the model shows now
 * @property {() => number} mouthOpenness how open the model's mouth is now (0..1)
 * @property {{source: string, format: string, error: string|null}} avatarInfo
 * @property {(spec: null|{url?: string, format?: string}) => Promise<object>} setAvatar swap
 *   the avatar; resolves to the new avatarInfo
 * @property {number} frames frames run so far
 * @property {() => void} dispose stop the loop and free everything
 */

/**
 * Create the stage inside `container` (an element; the canvas fills it).
 * @param {HTMLElement} container
 * @param {{avatar?: null|{url?: string, format?: string}, background?: null|string|number|
 *   THREE.Color|THREE.Texture, seed?: number}} [options] `avatar` as for `loadAvatar`;
 *   `background` null for a transparent canvas
 * @returns {Promise<Stage>}
 */
export async function createStage(container, { avatar = null, background = null, seed = 1 } = {}) {
  const renderer = makeRenderer();
  const scene = new THREE.Scene();
  if (background !== null && background !== undefined) {
    const given = background.isColor || background.isTexture;
    scene.background = given ? background : new THREE.Color(background);
  }
  const camera = new THREE.PerspectiveCamera(FOV, 1, 0.01, 20);
  const lights = addLights(scene);
  const behaviour = new Behaviour({ seed });
  const mouth = new Float32Array(VISEME_COUNT);
  let current = await loadAvatar(avatar);
  scene.add(current.object3d);
  let head = current.headPosition();
  let contextLost = false;
  let disposed = false;
  let handle = null;
  let last = null;
  let warnedOnFrame = false;

  const canvas = renderer ? renderer.domElement : null;
  if (canvas) {
    canvas.style.display = 'block';
    canvas.style.width = '100%';
    canvas.style.height = '100%';
    container.appendChild(canvas);
    canvas.addEventListener('webglcontextlost', (event) => {
      event.preventDefault();
      contextLost = true;
    });
    canvas.addEventListener('webglcontextrestored', () => { contextLost = false; });
  }

  function frameCamera() {
    const aspect = camera.aspect || 1;
    const tan = Math.tan(THREE.MathUtils.degToRad(FOV / 2));
    const distance = Math.max(VIEW_HEIGHT / (2 * tan), VIEW_WIDTH / (2 * tan * aspect));
    const target = new THREE.Vector3(head.x, head.y - 0.09, head.z);
    camera.position.set(head.x, head.y - 0.035, head.z + distance);
    camera.lookAt(target);
    camera.updateProjectionMatrix();
    placeLights(lights, head);
  }

  function resize() {
    const width = Math.max(1, Math.floor(container.clientWidth || 0) || 1);
    const height = Math.max(1, Math.floor(container.clientHeight || 0) || 1);
    camera.aspect = width / height;
    frameCamera();
    if (renderer) renderer.setSize(width, height, false);
  }
  const observer = typeof ResizeObserver === 'function' ? new ResizeObserver(resize) : null;
  if (observer) observer.observe(container);
  else if (typeof window !== 'undefined') window.addEventListener('resize', resize);
  resize();

  const schedule = typeof requestAnimationFrame === 'function'
    ? (fn) => requestAnimationFrame(fn)
    : (fn) => setTimeout(fn, 16);
  const unschedule = typeof cancelAnimationFrame === 'function'
    ? (id) => cancelAnimationFrame(id)
    : (id) => clearTimeout(id);

  function tick() {
    if (disposed) return;
    const now = performance.now();
    const dt = last === null ? 0 : Math.min(0.25, (now - last) / 1000);
    last = now;
    let weights = null;
    if (stage.onFrame) {
      try {
        weights = stage.onFrame(now / 1000);
      } catch (err) {
        if (!warnedOnFrame) console.error('stage.onFrame failed', err);
        warnedOnFrame = true;
      }
    }
    if (weights) {
      for (let i = 0; i < VISEME_COUNT; i++) mouth[i] = weights[i] || 0;
    } else {
      const keep = Math.exp(-dt / SILENCE_TAU_S);
      for (let i = 0; i < VISEME_COUNT; i++) {
        const value = mouth[i] * keep;
        mouth[i] = value < 1e-3 ? 0 : value;
      }
    }
    const pose = behaviour.update(now);
    current.rig.apply({ visemes: mouth, expressions: pose.expressions });
    current.applyPose(pose);
    current.update(dt);
    if (renderer && !contextLost) renderer.render(scene, camera);
    stage.frames += 1;
    handle = schedule(tick);
  }

  /** @type {Stage} */
  const stage = {
    webgl: renderer !== null,
    renderer,
    scene,
    camera,
    onFrame: null,
    frames: 0,
    get avatar() { return current; },
    get avatarInfo() {
      return { source: current.source, format: current.rig.format, error: current.error };
    },
    setMode: (mode) => behaviour.setMode(mode),
    express: (name, options) => behaviour.express(name, options),
    nod: (options) => behaviour.nod(options),
    visemeInfluences: () => current.rig.visemeInfluences(),
    mouthOpenness: () => current.rig.mouthOpenness(),
    async setAvatar(spec) {
      const next = await loadAvatar(spec);
      if (disposed) {
        next.dispose();
        return stage.avatarInfo;
      }
      scene.remove(current.object3d);
      current.dispose();
      current = next;
      scene.add(current.object3d);
      head = current.headPosition();
      frameCamera();
      return stage.avatarInfo;
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      if (handle !== null) unschedule(handle);
      if (observer) observer.disconnect();
      else if (typeof window !== 'undefined') window.removeEventListener('resize', resize);
      scene.remove(current.object3d);
      current.dispose();
      if (renderer) {
        renderer.dispose();
        renderer.forceContextLoss(); // browsers cap live contexts; free this one now
        canvas.remove();
      }
    },
  };
  tick();
  return stage;
}

/** A WebGL renderer, or null where WebGL is unavailable. */
function makeRenderer() {
  try {
    const renderer = new THREE.WebGLRenderer({
      antialias: true, alpha: true, preserveDrawingBuffer: true,
    });
    renderer.outputColorSpace = THREE.SRGBColorSpace;
    renderer.toneMapping = THREE.NeutralToneMapping;
    renderer.toneMappingExposure = 1.0;
    renderer.setClearColor(0x000000, 0);
    if (typeof window !== 'undefined') {
      renderer.setPixelRatio(Math.min(2, window.devicePixelRatio || 1));
    }
    return renderer;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    console.warn('WebGL unavailable; the avatar is animated but not drawn:', reason);
    return null;
  }
}

/** Hemisphere (ambient sky/ground), a warm key, a cool fill and a rim light from behind. */
function addLights(scene) {
  const hemisphere = new THREE.HemisphereLight('#fdf4ec', '#5b4d5e', 0.85);
  const key = new THREE.DirectionalLight('#fff0e0', 2.8);
  const fill = new THREE.DirectionalLight('#dbe6ff', 0.45);
  const rim = new THREE.DirectionalLight('#d6e6ff', 2.2);
  for (const light of [hemisphere, key, fill, rim]) scene.add(light);
  for (const light of [key, fill, rim]) scene.add(light.target);
  return { key, fill, rim };
}

function placeLights({ key, fill, rim }, head) {
  key.position.set(head.x + 0.7, head.y + 0.9, head.z + 1.3);
  fill.position.set(head.x - 1.0, head.y + 0.15, head.z + 0.8);
  rim.position.set(head.x - 0.6, head.y + 0.7, head.z - 1.1);
  for (const light of [key, fill, rim]) light.target.position.copy(head);
}
