/** Load the worklet sources, bundled as text by esbuild, into an AudioContext. */
import micSource from './mic.worklet.js';
import playerSource from './player.worklet.js';

const loaded = new WeakSet();

/** @param {AudioContext} context */
export async function loadWorklets(context) {
  if (loaded.has(context)) return;
  for (const source of [micSource, playerSource]) {
    // Blob URLs keep the widget a single script: no extra same-origin file to fetch, no CORS.
    const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
    try {
      await context.audioWorklet.addModule(url);
    } finally {
      URL.revokeObjectURL(url);
    }
  }
  loaded.add(context);
}
