/** The client's CSS, shared by the page (in <head>) and the widget (in its shadow root). */
export const STYLES = `
:host, .aa-app {
  --aa-bg: #f6f7fb; --aa-panel: #ffffff; --aa-text: #1d2230; --aa-muted: #5b6275;
  --aa-accent: #3556d8; --aa-accent-text: #ffffff; --aa-border: #d9dcE6; --aa-said: #8a90a2;
  --aa-stage: radial-gradient(ellipse at 50% 35%, #e9eefc 0%, #cfd8f3 70%, #b9c4ea 100%);
}
[data-theme="dark"] .aa-app, .aa-app[data-theme="dark"] {
  --aa-bg: #12151d; --aa-panel: #1b2030; --aa-text: #eef0f6; --aa-muted: #a3a9bb;
  --aa-accent: #7d96ff; --aa-accent-text: #0d1020; --aa-border: #2e3548; --aa-said: #7a8096;
  --aa-stage: radial-gradient(ellipse at 50% 35%, #2a3350 0%, #171c2b 75%);
}
.aa-app { box-sizing: border-box; display: flex; flex-direction: column; gap: 10px; height: 100%;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--aa-text);
  background: var(--aa-bg); padding: 12px; }
.aa-app *, .aa-app *::before, .aa-app *::after { box-sizing: inherit; }
.aa-top { position: relative; flex: 1 1 auto; min-height: 220px; border-radius: 14px;
  overflow: hidden; background: var(--aa-stage); }
.aa-stage { position: absolute; inset: 0; }
.aa-stage canvas { display: block; width: 100%; height: 100%; }
.aa-status { position: absolute; top: 10px; left: 10px; display: flex; align-items: center;
  gap: 6px; padding: 3px 10px; border-radius: 999px; font-size: 12.5px;
  background: color-mix(in srgb, var(--aa-panel) 85%, transparent); color: var(--aa-muted); }
.aa-dot { width: 8px; height: 8px; border-radius: 50%; background: #c9a227; }
.aa-app[data-state="open"] .aa-dot { background: #2fa35a; }
.aa-app[data-state="closed"] .aa-dot { background: #c0392b; }
.aa-captions { position: absolute; left: 12px; right: 12px; bottom: 10px; margin: 0;
  text-align: center; font-size: 17px; line-height: 1.35; min-height: 1.35em; }
.aa-captions:not(:empty) { padding: 6px 12px; border-radius: 10px;
  background: rgba(12, 15, 24, 0.72); color: #fff; }
.aa-word.aa-said { color: #c9cedb; }
.aa-word.aa-now { color: #ffd66b; text-decoration: underline; text-underline-offset: 3px; }
.aa-notice:not(:empty) { padding: 6px 10px; border-radius: 8px; background: #fde8e6;
  color: #8a1f11; font-size: 13.5px; }
.aa-you { margin: 0; min-height: 1.45em; color: var(--aa-muted); font-style: italic; }
.aa-unstable { opacity: 0.55; }
.aa-controls { display: flex; flex-wrap: wrap; gap: 8px; }
.aa-app button { font: inherit; border: 1px solid var(--aa-border); border-radius: 10px;
  padding: 8px 14px; background: var(--aa-panel); color: var(--aa-text); cursor: pointer; }
.aa-app button:hover { border-color: var(--aa-accent); }
.aa-app button:focus-visible, .aa-app input:focus-visible { outline: 3px solid var(--aa-accent);
  outline-offset: 2px; }
.aa-app button.aa-primary, .aa-app button.aa-talk { background: var(--aa-accent);
  color: var(--aa-accent-text); border-color: var(--aa-accent); }
.aa-app button[aria-pressed="true"].aa-talk { filter: brightness(0.85); }
.aa-app button[hidden] { display: none; }
.aa-form { display: flex; gap: 8px; }
.aa-form input { flex: 1; min-width: 0; font: inherit; padding: 8px 12px; border-radius: 10px;
  border: 1px solid var(--aa-border); background: var(--aa-panel); color: var(--aa-text); }
.aa-log { list-style: none; margin: 0; padding: 0; max-height: 160px; overflow-y: auto;
  display: flex; flex-direction: column; gap: 6px; }
.aa-log li { padding: 6px 10px; border-radius: 10px; max-width: 85%; white-space: pre-wrap; }
.aa-log li:empty { display: none; }
.aa-log .aa-user { align-self: flex-end; background: var(--aa-accent); color: var(--aa-accent-text); }
.aa-log .aa-assistant { align-self: flex-start; background: var(--aa-panel);
  border: 1px solid var(--aa-border); }
.aa-log .aa-interrupted::after { content: " …"; color: var(--aa-said); }
.aa-compact { padding: 10px; gap: 8px; }
.aa-compact .aa-top { min-height: 200px; }
.aa-compact .aa-log { max-height: 110px; }
@media (prefers-reduced-motion: reduce) { .aa-app * { transition: none !important; } }
`;
