/**
 * The full-page client served at `/`. Query parameters: `persona`, `mode` (handsfree | ptt),
 * `theme` (light | dark), `voice=1` to start the microphone at once (where the browser allows).
 */
import { App } from './ui/app.js';
import { STYLES } from './ui/styles.js';

const params = new URLSearchParams(location.search);
const style = document.createElement('style');
style.textContent = STYLES;
document.head.append(style);
document.documentElement.dataset.theme = params.get('theme') === 'dark' ? 'dark' : 'light';

const app = new App(document.getElementById('app'), {
  server: location.origin,
  persona: params.get('persona'),
  mode: params.get('mode') === 'ptt' ? 'ptt' : 'handsfree',
  title: 'Avatar conversation',
});
window.avatarApp = app;
app.start().then(() => {
  if (params.get('voice') === '1') app.startVoice();
});
