/**
 * The admin page's CSS. The page's root is `.aa-app.aa-admin`, so the client's palette, font and
 * button styles (ui/styles.js, loaded first) apply as they are; what follows lays out the admin
 * page and adds its own few colours (diff lines, problems, badges) in the same two themes.
 */
export const ADMIN_STYLES = `
html, body { margin: 0; height: 100%; background: #e8ebf4; }
[data-theme="dark"] body { background: #0c0e14; }
.aa-app.aa-admin {
  --adm-mono: ui-monospace, "SFMono-Regular", "JetBrains Mono", Menlo, Consolas, monospace;
  --adm-ok: #1e7a43; --adm-ok-bg: #e3f4e9; --adm-bad: #a8271a; --adm-bad-bg: #fde8e6;
  --adm-warn: #8a5a00; --adm-warn-bg: #fff3d6; --adm-add: #e6f4ea; --adm-add-text: #1a5e32;
  --adm-del: #fde8e6; --adm-del-text: #8a1f11; --adm-hunk: #eef1fb; --adm-line: #eef1fb;
  --adm-gutter: #f1f3f9;
  display: grid; grid-template-rows: auto auto 1fr; gap: 0; height: 100vh; padding: 0;
  background: var(--aa-bg);
}
[data-theme="dark"] .aa-app.aa-admin, .aa-app.aa-admin[data-theme="dark"] {
  --adm-ok: #7fd9a0; --adm-ok-bg: #173326; --adm-bad: #ff9d8f; --adm-bad-bg: #45201c;
  --adm-warn: #f3c66b; --adm-warn-bg: #3d3117; --adm-add: #173326; --adm-add-text: #a6e3b8;
  --adm-del: #45201c; --adm-del-text: #ffb4a8; --adm-hunk: #232a3f; --adm-line: #232a3f;
  --adm-gutter: #161a26;
}
.aa-admin [hidden] { display: none !important; }
.adm-sr { position: absolute; width: 1px; height: 1px; margin: -1px; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap; border: 0; padding: 0; }
.aa-admin h1, .aa-admin h2, .aa-admin h3 { margin: 0; font-weight: 650; letter-spacing: -0.01em; }
.aa-admin h1 { font-size: 17px; }
.aa-admin h2 { font-size: 13px; text-transform: uppercase; letter-spacing: 0.06em;
  color: var(--aa-muted); }
.aa-admin code, .aa-admin pre, .aa-admin .adm-mono { font-family: var(--adm-mono); }
.aa-admin button:disabled { opacity: 0.55; cursor: not-allowed; }
.aa-admin button:disabled:hover { border-color: var(--aa-border); }
.aa-admin button.adm-small { padding: 4px 10px; font-size: 13px; border-radius: 8px; }
.aa-admin button.adm-link { border: 0; background: none; padding: 2px 4px; color: var(--aa-accent);
  text-decoration: underline; text-underline-offset: 2px; }
.aa-admin button.adm-danger { color: var(--adm-bad); border-color: currentColor; }
.aa-admin input, .aa-admin textarea { font: inherit; color: var(--aa-text);
  background: var(--aa-panel); border: 1px solid var(--aa-border); border-radius: 10px;
  padding: 8px 12px; }
.aa-admin input:focus-visible, .aa-admin textarea:focus-visible, .aa-admin summary:focus-visible,
.aa-admin [role="tab"]:focus-visible, .aa-admin [tabindex]:focus-visible {
  outline: 3px solid var(--aa-accent); outline-offset: 2px; }
.aa-admin .adm-code textarea:focus-visible { outline: 2px solid var(--aa-accent);
  outline-offset: -2px; }

/* header */
.adm-header { display: flex; align-items: center; gap: 14px; padding: 10px 18px;
  background: var(--aa-panel); border-bottom: 1px solid var(--aa-border); min-height: 54px; }
.adm-logo { width: 26px; height: 26px; border-radius: 8px; flex: none;
  background: linear-gradient(135deg, var(--aa-accent), #8da2ff); }
.adm-header .adm-sub { color: var(--aa-muted); font-size: 13px; }
.adm-status { margin-left: auto; font-size: 13.5px; color: var(--aa-muted); min-height: 1.4em;
  text-align: right; }
.adm-status[data-tone="ok"] { color: var(--adm-ok); }
.adm-status[data-tone="busy"]::before { content: ""; display: inline-block; width: 8px; height: 8px;
  margin-right: 7px; border-radius: 50%; background: #c9a227; vertical-align: 1px; }
.adm-alert:not(:empty) { display: flex; gap: 12px; align-items: center; padding: 9px 18px;
  background: var(--adm-bad-bg); color: var(--adm-bad); font-size: 14px;
  border-bottom: 1px solid var(--aa-border); }
.adm-alert .adm-grow { flex: 1; }

/* sign-in */
.adm-signin { grid-row: 2 / 4; display: grid; place-items: center; padding: 24px; }
.adm-card { width: min(420px, 100%); background: var(--aa-panel);
  border: 1px solid var(--aa-border);
  border-radius: 16px; padding: 26px; display: flex; flex-direction: column; gap: 14px;
  box-shadow: 0 10px 30px rgba(20, 30, 70, 0.08); }
.adm-card p { margin: 0; color: var(--aa-muted); font-size: 14px; }
.adm-field { display: flex; flex-direction: column; gap: 6px; font-size: 13.5px; font-weight: 600; }
.adm-field input { font-weight: 400; }
.adm-error:not(:empty) { padding: 8px 12px; border-radius: 8px; background: var(--adm-bad-bg);
  color: var(--adm-bad); font-size: 13.5px; }

/* workspace */
.adm-work { grid-row: 3; min-height: 0; display: grid; gap: 14px; padding: 14px;
  grid-template-columns: 232px minmax(0, 1fr) minmax(340px, 420px); }
.adm-panel { background: var(--aa-panel); border: 1px solid var(--aa-border); border-radius: 14px;
  min-height: 0; display: flex; flex-direction: column; overflow: hidden; }
.adm-panel > header { display: flex; align-items: center; gap: 8px; padding: 12px 14px 8px; }
.adm-side { gap: 0; }
.adm-personas { list-style: none; margin: 0; padding: 4px 8px 8px; overflow-y: auto; flex: 1; }
.adm-personas button { width: 100%; text-align: left; border: 1px solid transparent;
  border-radius: 10px; padding: 8px 10px; display: grid; gap: 2px; background: none; }
.adm-personas button:hover { background: var(--aa-bg); border-color: var(--aa-border); }
.adm-personas button[aria-current="true"] { background: color-mix(in srgb, var(--aa-accent) 12%,
  var(--aa-panel));
  border-color: color-mix(in srgb, var(--aa-accent) 45%, transparent); }
.adm-pname { font-weight: 600; display: flex; align-items: center; gap: 6px; }
.adm-pmeta { font-size: 12px; color: var(--aa-muted); font-family: var(--adm-mono);
  overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.adm-badge { display: inline-flex; align-items: center; gap: 4px; font-size: 11.5px;
  font-weight: 600;
  padding: 1px 8px; border-radius: 999px; white-space: nowrap; font-family: inherit; }
.adm-badge.adm-valid { background: var(--adm-ok-bg); color: var(--adm-ok); }
.adm-badge.adm-invalid { background: var(--adm-bad-bg); color: var(--adm-bad); }
.adm-badge.adm-plain { background: var(--aa-bg); color: var(--aa-muted);
  border: 1px solid var(--aa-border); }
.adm-badge.adm-dirty { background: var(--adm-warn-bg); color: var(--adm-warn); }
.adm-kb { border-top: 1px solid var(--aa-border); padding: 10px 14px 12px; font-size: 12.5px;
  color: var(--aa-muted); }
.adm-kb ul { list-style: none; margin: 6px 0 0; padding: 0; display: grid; gap: 3px; }

/* editor */
.adm-editor { padding: 0; }
.adm-docbar { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 10px;
  padding: 12px 14px;
  border-bottom: 1px solid var(--aa-border); }
.adm-docbar .adm-checked { white-space: nowrap; }
.adm-docbar h2 { font-size: 16px; text-transform: none; letter-spacing: -0.01em;
  color: var(--aa-text); }
.adm-docbar .adm-spacer { flex: 1; }
.adm-empty { margin: auto; padding: 40px; color: var(--aa-muted); text-align: center; }
.adm-code { position: relative; flex: 1; min-height: 160px; display: flex; overflow: hidden;
  background: var(--aa-panel); --adm-pad: 12px; }
.adm-gutter { flex: none; min-width: 46px; overflow: hidden; background: var(--adm-gutter);
  border-right: 1px solid var(--aa-border); color: var(--aa-said); text-align: right;
  user-select: none; font: 13px/20px var(--adm-mono); }
.adm-gutter-inner { padding: var(--adm-pad) 0; will-change: transform; }
.adm-ln { padding: 0 10px 0 8px; }
.adm-ln.adm-cur { color: var(--aa-text); font-weight: 700; }
.adm-ln.adm-bad { color: var(--adm-bad); background: var(--adm-bad-bg); font-weight: 700;
  box-shadow: inset 3px 0 var(--adm-bad); }
.adm-area { position: relative; flex: 1; min-width: 0; display: flex; }
.adm-backdrop { position: absolute; inset: 0; overflow: hidden; pointer-events: none; }
.adm-backdrop-inner { position: relative; will-change: transform; }
.adm-band { position: absolute; left: 0; right: 0; background: var(--adm-bad-bg); opacity: 0.75; }
.aa-admin .adm-code textarea, .adm-mirror { font: 13px/20px var(--adm-mono); tab-size: 4;
  padding: var(--adm-pad) 14px; white-space: pre-wrap; overflow-wrap: break-word;
  word-break: normal; letter-spacing: 0; }
.aa-admin .adm-code textarea { position: relative; flex: 1; resize: none; border: 0;
  border-radius: 0;
  background: transparent; overflow-y: auto; }
.adm-mirror { position: absolute; top: 0; left: 0; visibility: hidden; pointer-events: none;
  box-sizing: border-box; border: 0; }
.adm-problems { border-top: 1px solid var(--aa-border); max-height: 132px; overflow-y: auto;
  list-style: none; margin: 0; padding: 6px 8px; background: var(--adm-bad-bg); }
.adm-problems[data-stale="true"], .adm-code[data-stale="true"] .adm-band { opacity: 0.5; }
.adm-problems li button { width: 100%; text-align: left; border: 0; background: none;
  color: var(--adm-bad); padding: 4px 8px; border-radius: 6px; font-size: 13.5px; }
.adm-problems li button:hover { background: color-mix(in srgb, var(--adm-bad) 10%, transparent); }
.adm-problems .adm-where { font-family: var(--adm-mono); font-weight: 700; margin-right: 6px; }
.adm-checked { font-size: 13px; color: var(--aa-muted); }
.adm-checked[data-state="valid"] { color: var(--adm-ok); }
.adm-checked[data-state="invalid"] { color: var(--adm-bad); }
.adm-conflict { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 12px;
  padding: 10px 14px;
  background: var(--adm-warn-bg); color: var(--adm-warn); font-size: 14px;
  border-top: 1px solid var(--aa-border); }
.adm-conflict p { margin: 0; flex: 1 1 260px; }
.adm-savebar { display: flex; gap: 8px; padding: 10px 14px; border-top: 1px solid var(--aa-border);
  align-items: center; }
.adm-savebar input { flex: 1; min-width: 0; }
.adm-savebar button { white-space: nowrap; }
.adm-kbd { font: 11.5px var(--adm-mono); color: var(--aa-muted); border: 1px solid var(--aa-border);
  border-radius: 5px; padding: 1px 5px; white-space: nowrap; }

/* tabs */
.adm-tabs { display: flex; gap: 4px; padding: 8px 10px 0;
  border-bottom: 1px solid var(--aa-border); }
.aa-admin .adm-tabs button { border: 0; border-bottom: 2px solid transparent;
  border-radius: 8px 8px 0 0;
  background: none; padding: 8px 12px; color: var(--aa-muted); font-weight: 600; }
.aa-admin .adm-tabs button[aria-selected="true"] { color: var(--aa-accent);
  border-bottom-color: var(--aa-accent); }
.adm-tabpanel { flex: 1; min-height: 0; display: flex; flex-direction: column; }

/* preview */
.adm-log { position: relative; list-style: none; margin: 0; padding: 12px; flex: 1;
  overflow-y: auto; display: flex;
  flex-direction: column; gap: 10px; }
.adm-log > li.adm-hint { color: var(--aa-muted); font-size: 13.5px; text-align: center;
  margin: auto 8px; }
.adm-turn-user { align-self: flex-end; max-width: 85%; background: var(--aa-accent);
  color: var(--aa-accent-text); padding: 7px 12px; border-radius: 12px 12px 4px 12px;
  white-space: pre-wrap; }
.adm-turn-bot { align-self: stretch; display: flex; flex-direction: column; gap: 6px; }
.adm-bubble { background: var(--aa-bg); border: 1px solid var(--aa-border); padding: 8px 12px;
  border-radius: 12px 12px 12px 4px; white-space: pre-wrap; }
.adm-bubble.adm-failed { background: var(--adm-bad-bg); color: var(--adm-bad); }
.adm-facts { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; font-size: 12px;
  color: var(--aa-muted); }
.adm-sources { margin: 0; padding: 0; list-style: none; display: grid; gap: 4px;
  font-size: 12.5px; }
.adm-sources li { display: grid; grid-template-columns: auto 1fr auto; gap: 4px 8px;
  align-items: baseline; }
.adm-sources .adm-sid { font: 700 11.5px var(--adm-mono); color: var(--aa-accent); }
.adm-sources .adm-snip { grid-column: 2 / 4; color: var(--aa-muted); }
.adm-clamp { display: -webkit-box; -webkit-box-orient: vertical; -webkit-line-clamp: 2;
  overflow: hidden; }
.adm-sim { display: inline-flex; align-items: center; gap: 6px; font: 11.5px var(--adm-mono);
  color: var(--aa-muted); }
.adm-sim meter { width: 54px; height: 8px; }
.aa-admin details { font-size: 13px; }
.aa-admin summary { cursor: pointer; color: var(--aa-muted); font-weight: 600; border-radius: 6px;
  padding: 2px 4px; width: fit-content; }
.aa-admin details pre { margin: 6px 0 0; max-height: 260px; overflow: auto; white-space: pre-wrap;
  background: var(--aa-bg); border: 1px solid var(--aa-border); border-radius: 8px;
  padding: 8px 10px;
  font-size: 12px; line-height: 1.45; }
.adm-ask { display: flex; flex-direction: column; gap: 8px; padding: 10px 12px;
  border-top: 1px solid var(--aa-border); }
.adm-ask textarea { resize: vertical; min-height: 44px; max-height: 160px; }
.adm-ask .adm-row { display: flex; gap: 8px; align-items: center; }
.adm-ask button { white-space: nowrap; }
.adm-ask .adm-row .adm-spacer { flex: 1; }
.adm-note { font-size: 12px; color: var(--aa-muted); }

/* history */
.adm-histbar { display: flex; align-items: center; justify-content: space-between; gap: 8px;
  padding: 10px 12px 0; }
.adm-history { list-style: none; margin: 0; padding: 10px 12px; overflow-y: auto; flex: 1;
  display: flex; flex-direction: column; gap: 8px; }
.adm-change { border: 1px solid var(--aa-border); border-radius: 10px;
  background: var(--aa-panel); }
.adm-change > summary { list-style: none; padding: 9px 12px; color: var(--aa-text);
  font-weight: 400;
  width: auto; display: grid; grid-template-columns: 14px minmax(0, 1fr) auto; gap: 3px 6px;
  align-items: baseline; }
.adm-change > summary::-webkit-details-marker { display: none; }
.adm-caret::before { content: "▸"; color: var(--aa-muted); }
.adm-change[open] .adm-caret::before { content: "▾"; }
.adm-change .adm-msg { font-weight: 600; overflow-wrap: anywhere; }
.adm-change .adm-by { grid-column: 2 / 4; display: flex; flex-wrap: wrap; align-items: center;
  gap: 4px 8px; font-size: 12px; color: var(--aa-muted); }
.adm-change .adm-by strong { color: var(--aa-text); }
.adm-change .adm-body { padding: 0 12px 12px; display: flex; flex-direction: column; gap: 8px; }
.aa-admin details pre.adm-diff { margin: 0; max-height: 320px; overflow: auto; padding: 4px 0;
  border: 1px solid var(--aa-border); border-radius: 8px; font: 12px/1.5 var(--adm-mono);
  background: var(--aa-panel); }
.adm-diff > span { display: block; padding: 0 10px; white-space: pre-wrap;
  overflow-wrap: anywhere; }
.adm-diff .adm-d-add { background: var(--adm-add); color: var(--adm-add-text); }
.adm-diff .adm-d-del { background: var(--adm-del); color: var(--adm-del-text); }
.adm-diff .adm-d-hunk { background: var(--adm-hunk); color: var(--aa-accent); }
.adm-diff .adm-d-file, .adm-diff .adm-d-note { color: var(--aa-muted); }
.adm-stats { font: 12px var(--adm-mono); }
.adm-stats .adm-plus { color: var(--adm-ok); }
.adm-stats .adm-minus { color: var(--adm-bad); }

/* dialog */
.aa-admin dialog { border: 1px solid var(--aa-border); border-radius: 14px; padding: 20px 22px;
  background: var(--aa-panel); color: var(--aa-text); max-width: 440px;
  box-shadow: 0 20px 50px rgba(10, 15, 40, 0.25); }
.aa-admin dialog::backdrop { background: rgba(12, 15, 24, 0.45); }
.aa-admin dialog h3 { font-size: 16px; margin-bottom: 8px; }
.aa-admin dialog p { margin: 0 0 16px; color: var(--aa-muted); font-size: 14px; }
.aa-admin dialog .adm-row { display: flex; justify-content: flex-end; gap: 8px; }

@media (max-width: 1180px) {
  .aa-app.aa-admin { height: auto; min-height: 100vh; }
  .adm-work { grid-template-columns: 220px minmax(0, 1fr); }
  .adm-right { grid-column: 1 / -1; min-height: 520px; }
  .adm-editor { min-height: 560px; }
}
@media (max-width: 760px) {
  .adm-work { grid-template-columns: minmax(0, 1fr); padding: 10px; }
  .adm-side { max-height: 260px; }
}
`;
