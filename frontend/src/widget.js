/**
 * The embeddable widget: one script tag defines <avatar-agent-widget>.
 *
 *   <script src="https://avatar.example.com/widget.js" async></script>
 *   <avatar-agent-widget data-key="pk_live_…" data-persona="support"
 *                        data-theme="light" data-position="bottom-right"></avatar-agent-widget>
 *
 * data-server defaults to the origin the script was loaded from. The widget lives in a shadow
 * root (the host page's CSS cannot reach it), shows a launcher bubble, and connects only when
 * opened, with a short-lived token exchanged for the publishable key.
 */
import { App } from './ui/app.js';
import { STYLES } from './ui/styles.js';

const SCRIPT_ORIGIN = (() => {
  try {
    return new URL(document.currentScript.src).origin;
  } catch {
    return location.origin;
  }
})();

const CHAT_ICON = `<svg width="28" height="28" viewBox="0 0 24 24" aria-hidden="true"
  fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">
  <path d="M21 12a8 8 0 0 1-11.6 7.1L4 20.5l1.4-4.9A8 8 0 1 1 21 12z"/>
  <circle cx="9" cy="12" r=".6" fill="currentColor"/><circle cx="12.5" cy="12" r=".6"
  fill="currentColor"/><circle cx="16" cy="12" r=".6" fill="currentColor"/></svg>`;

const WIDGET_CSS = `
:host { position: fixed; z-index: 2147483000; bottom: 20px; right: 20px; }
:host([data-position="bottom-left"]) { right: auto; left: 20px; }
button.aa-launcher { width: 60px; height: 60px; border-radius: 50%; border: none; cursor: pointer;
  background: var(--aa-accent); color: var(--aa-accent-text); box-shadow: 0 6px 20px rgba(0,0,0,.25);
  display: grid; place-items: center; padding: 0; }
button.aa-launcher:focus-visible { outline: 3px solid var(--aa-text); outline-offset: 3px; }
.aa-panel { position: absolute; bottom: 76px; right: 0; width: min(380px, calc(100vw - 40px));
  height: min(600px, calc(100vh - 120px)); border-radius: 16px; overflow: hidden;
  box-shadow: 0 12px 40px rgba(0,0,0,.28); background: var(--aa-bg); display: flex;
  flex-direction: column; }
:host([data-position="bottom-left"]) .aa-panel { right: auto; left: 0; }
.aa-panel[hidden] { display: none; }
.aa-header { display: flex; justify-content: space-between; align-items: center;
  padding: 10px 14px; background: var(--aa-accent); color: var(--aa-accent-text); font-weight: 600; }
.aa-header button.aa-close { background: transparent; border: none; color: inherit; font-size: 22px;
  line-height: 1; cursor: pointer; padding: 2px 8px; }
.aa-body { flex: 1; min-height: 0; }
.aa-wrap { display: contents; }
`;

class AvatarAgentWidget extends HTMLElement {
  connectedCallback() {
    if (this.shadowRoot) return;
    const shadow = this.attachShadow({ mode: 'open' });
    const style = document.createElement('style');
    style.textContent = STYLES + WIDGET_CSS;
    const wrap = document.createElement('div');
    wrap.className = 'aa-app aa-wrap';
    wrap.dataset.theme = this.dataset.theme === 'dark' ? 'dark' : 'light';
    const title = this.dataset.title || 'Chat with us';
    wrap.innerHTML = `
      <div class="aa-panel" role="dialog" aria-label="${title.replace(/"/g, '&quot;')}" hidden>
        <div class="aa-header"><span></span>
          <button type="button" class="aa-close" aria-label="Close">×</button></div>
        <div class="aa-body"></div>
      </div>
      <button type="button" class="aa-launcher" aria-expanded="false" aria-label="Open chat"
              data-testid="launcher">${CHAT_ICON}</button>`;
    wrap.querySelector('.aa-header span').textContent = title;
    shadow.append(style, wrap);
    this.panel = wrap.querySelector('.aa-panel');
    this.launcher = wrap.querySelector('.aa-launcher');
    this.launcher.addEventListener('click', () => this.toggle());
    wrap.querySelector('.aa-close').addEventListener('click', () => this.toggle(false));
    this.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') this.toggle(false);
    });
    this.body = wrap.querySelector('.aa-body');
    this.app = null;
  }

  /** Open or close the panel; the first opening creates the client and connects. */
  toggle(open = this.panel.hidden) {
    this.panel.hidden = !open;
    this.launcher.setAttribute('aria-expanded', String(open));
    if (open && !this.app) {
      this.app = new App(this.body, {
        server: this.dataset.server || SCRIPT_ORIGIN,
        key: this.dataset.key || null,
        persona: this.dataset.persona || null,
        mode: this.dataset.mode === 'ptt' ? 'ptt' : 'handsfree',
        title: this.dataset.title || 'Chat with us',
        compact: true,
      });
      this.app.start();
    }
    if (open) this.body.querySelector('input')?.focus();
    else this.launcher.focus();
  }

  disconnectedCallback() {
    this.app?.close();
    this.app = null;
  }
}

if (!customElements.get('avatar-agent-widget')) {
  customElements.define('avatar-agent-widget', AvatarAgentWidget);
}
