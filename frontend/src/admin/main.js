/**
 * The admin page served at `/admin.html` (and `/admin`): edit, validate, preview and roll back
 * personas through the admin API. Query parameters: `persona` (open this one first),
 * `theme` (light | dark).
 */
import { STYLES } from '../ui/styles.js';
import { AdminApp } from './app.js';
import { ADMIN_STYLES } from './styles.js';

const params = new URLSearchParams(location.search);
const style = document.createElement('style');
style.textContent = STYLES + ADMIN_STYLES;
document.head.append(style);
document.documentElement.dataset.theme = params.get('theme') === 'dark' ? 'dark' : 'light';

const app = new AdminApp(document.getElementById('admin'), { persona: params.get('persona') });
window.adminApp = app;
app.start();
