#!/usr/bin/env node
/**
 * Build the browser client into dist/ with esbuild.
 *
 *   node build.mjs           one production build (minified, with a source map for the app)
 *   node build.mjs --watch   rebuild on every change (JS through esbuild, index.html and demo/
 *                            copied again when they change); Ctrl-C to stop
 *   node build.mjs --quiet   print nothing but errors (scripts/setup-frontend.sh uses it)
 *
 * Outputs:
 *   dist/app.js (+ app.js.map)  src/main.js, an ES module, loaded by index.html
 *   dist/widget.js              src/widget.js, one self-contained IIFE for a third-party page's
 *                               single <script> tag (no source map link, no chunks, no assets)
 *   dist/admin.js (+ .map)      src/admin/main.js, the admin page's ES module, loaded by admin.html
 *   dist/index.html, dist/admin.html, dist/demo/   copied as they are
 *   dist/admin/index.html       admin.html again with its script one folder up, so that `/admin`
 *                               works too (the static files mount redirects it to `/admin/`)
 *
 * `*.worklet.js` files are imported as strings (loader "text"): the app turns them into Blob URLs
 * for audioWorklet.addModule, so they must be self-contained (no imports) and are not minified.
 */

import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  watch,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, 'dist');
const args = new Set(process.argv.slice(2));
const watching = args.has('--watch');
const quiet = args.has('--quiet');
const unknown = [...args].filter((a) => !['--watch', '--quiet'].includes(a));
if (unknown.length) fail(`unknown option ${unknown.join(' ')} (use --watch or --quiet)`);

let esbuild;
try {
  esbuild = await import('esbuild');
} catch (err) {
  fail(`esbuild is not installed (${err.code ?? err.message}): run "npm ci" in frontend/`);
}

const entries = [
  { src: 'src/main.js', out: 'app.js', format: 'esm', sourcemap: 'linked' },
  { src: 'src/widget.js', out: 'widget.js', format: 'iife', sourcemap: false },
  { src: 'src/admin/main.js', out: 'admin.js', format: 'esm', sourcemap: 'linked' },
];
const missing = entries.filter((e) => !existsSync(join(root, e.src))).map((e) => e.src);
if (missing.length) {
  fail(
    `entry point${missing.length > 1 ? 's' : ''} missing: ${missing.map((m) => `frontend/${m}`).join(', ')}` +
      ' (the app is not written yet?)',
  );
}

const statics = ['index.html', 'admin.html', 'demo'];

/** esbuild options shared by all bundles. */
const common = {
  absWorkingDir: root,
  bundle: true,
  minify: true,
  target: 'es2022',
  platform: 'browser',
  loader: { '.worklet.js': 'text' },
  define: { 'process.env.NODE_ENV': '"production"' },
  legalComments: 'eof',
  logLevel: 'warning',
  metafile: true,
};

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });

const contexts = [];
for (const entry of entries) {
  contexts.push(
    await esbuild.context({
      ...common,
      entryPoints: [entry.src],
      outfile: join('dist', entry.out),
      format: entry.format,
      sourcemap: entry.sourcemap,
      plugins: [report(entry.out)],
    }),
  );
}

if (watching) {
  copyStatics();
  for (const name of statics) {
    const path = join(root, name);
    if (!existsSync(path)) continue;
    let timer;
    watch(path, { recursive: statSync(path).isDirectory() }, () => {
      clearTimeout(timer); // one copy per burst of events (editors write in several steps)
      timer = setTimeout(() => copyStatics(name), 50);
    });
  }
  await Promise.all(contexts.map((ctx) => ctx.watch()));
  log('watching src/, index.html, admin.html and demo/ (Ctrl-C to stop)');
} else {
  const started = performance.now();
  try {
    await Promise.all(contexts.map((ctx) => ctx.rebuild()));
  } catch {
    // esbuild has already printed the errors.
    process.exitCode = 1;
  } finally {
    await Promise.all(contexts.map((ctx) => ctx.dispose()));
  }
  if (process.exitCode) fail('build failed');
  copyStatics();
  log(`built dist/ in ${Math.round(performance.now() - started)} ms`);
}

/** An esbuild plugin that prints each output's size (and gzip size) after every build. */
function report(name) {
  return {
    name: 'report',
    setup(build) {
      build.onEnd((result) => {
        if (result.errors.length || !result.metafile) {
          if (watching) log(`${name}: build failed, waiting for changes`);
          return;
        }
        for (const file of Object.keys(result.metafile.outputs)) {
          const bytes = readFileSync(join(root, file));
          log(`  ${file.padEnd(22)} ${kib(bytes.length).padStart(9)}   gzip ${kib(gzipSync(bytes).length)}`);
        }
      });
    },
  };
}

function copyStatics(only) {
  for (const name of statics) {
    if (only && only !== name) continue;
    const from = join(root, name);
    if (!existsSync(from)) {
      if (name === 'index.html') fail('frontend/index.html is missing');
      continue;
    }
    const to = join(dist, name);
    rmSync(to, { recursive: true, force: true });
    cpSync(from, to, { recursive: true });
    if (watching) log(`  copied ${relative(root, from)} → ${relative(root, to)}`);
    if (name === 'admin.html') writeAdminFolderPage(from);
  }
}

/** dist/admin/index.html: the admin page at `/admin/`, its relative script URL one folder up. */
function writeAdminFolderPage(from) {
  const html = readFileSync(from, 'utf8');
  const moved = html.replace('src="./admin.js"', 'src="../admin.js"');
  if (moved === html) fail('admin.html must load its script as src="./admin.js"');
  mkdirSync(join(dist, 'admin'), { recursive: true });
  writeFileSync(join(dist, 'admin', 'index.html'), moved);
}

function kib(n) {
  return `${(n / 1024).toFixed(1)} KiB`;
}

function log(message) {
  if (!quiet) console.log(message);
}

function fail(message) {
  console.error(`frontend build: ${message}`);
  process.exit(1);
}
