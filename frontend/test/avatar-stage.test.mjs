// The loader and the stage in node, where there is no WebGL: the stage must still run its loop
// and move the model, so the app's logic (and its tests) work without a GPU.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { loadAvatar } from '../src/avatar/loader.js';
import { createStage } from '../src/avatar/stage.js';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

test('no spec, or format default, gives the built-in head', async () => {
  for (const spec of [null, { format: 'default' }, { url: '', format: 'glb' }]) {
    const avatar = await loadAvatar(spec);
    assert.equal(avatar.source, 'default');
    assert.equal(avatar.error, null);
    assert.equal(avatar.rig.format, 'oculus');
    assert.ok(avatar.headPivot && avatar.eyes.left && avatar.eyes.right);
    const centre = avatar.headPosition();
    assert.ok(centre.y > 0.2 && centre.y < 0.4, `head centre at ${centre.y}`);
    avatar.applyPose({ head: { pitch: 0.1, yaw: -0.2, roll: 0.05, y: 0.002 }, gaze: { x: 0.1, y: 0.05 } });
    assert.ok(Math.abs(avatar.headPivot.rotation.y + 0.2) < 1e-9);
    assert.ok(Math.abs(avatar.eyes.left.rotation.x + 0.05) < 1e-9, 'looking up tips the eyes back');
    avatar.update(0.016);
    avatar.dispose();
  }
});

test('a model that cannot be loaded falls back to the built-in head with the reason', async () => {
  const glb = await loadAvatar({ url: 'no-such-avatar.glb' });
  assert.equal(glb.source, 'default');
  assert.match(glb.error, /GLB.*no-such-avatar\.glb/);
  const vrm = await loadAvatar({ url: 'https://example.invalid/x/model.VRM?v=2' });
  assert.equal(vrm.source, 'default');
  assert.match(vrm.error, /VRM/, 'the format comes from the extension');
});

test('without WebGL the stage still animates the mouth from onFrame and rests it in silence', async (t) => {
  const warn = t.mock.method(console, 'warn', () => {});
  const container = { clientWidth: 480, clientHeight: 640, appendChild() {} };
  const stage = await createStage(container, { seed: 3 });
  try {
    assert.equal(stage.webgl, false);
    assert.equal(warn.mock.callCount(), 1, 'says once that nothing is drawn');
    assert.deepEqual(stage.avatarInfo, { source: 'default', format: 'oculus', error: null });

    const aa = new Float32Array(15);
    aa[10] = 0.9;
    let lastNow = 0;
    stage.onFrame = (nowSec) => {
      lastNow = nowSec;
      return aa;
    };
    stage.setMode('speaking');
    stage.express('smile');
    stage.nod();
    await sleep(120);
    assert.ok(Math.abs(lastNow - performance.now() / 1000) < 1, 'onFrame gets seconds on the page clock');
    assert.ok(stage.mouthOpenness() > 0.8, `open ${stage.mouthOpenness()}`);
    assert.ok(Math.abs(stage.visemeInfluences()[10] - 0.9) < 1e-6);

    stage.onFrame = () => null;
    await sleep(500);
    assert.equal(stage.mouthOpenness(), 0, 'the mouth closes in silence');

    stage.onFrame = () => { throw new Error('app bug'); };
    const error = t.mock.method(console, 'error', () => {});
    await sleep(150);
    assert.equal(error.mock.callCount(), 1, 'a failing onFrame is reported once and the loop goes on');
    const frames = stage.frames;
    await sleep(150);
    assert.ok(stage.frames > frames);
  } finally {
    stage.dispose();
  }
  const frames = stage.frames;
  await sleep(80);
  assert.equal(stage.frames, frames, 'the loop stops on dispose');
});
