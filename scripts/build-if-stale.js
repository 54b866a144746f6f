'use strict';

// `npm test`'s pretest: builds the addon when this checkout has no binary, or
// one older than the Rust sources. It replaces the `prepare` script that used
// to build on `npm install`: npm 11 lists a dependency's `prepare` among the
// install scripts it warns about (and never runs it for a registry tarball), so
// the published package must not carry one. A checkout with a binary but no
// cargo (the release workflow's test jobs, which download the binary) tests
// the binary it has.

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const { napi } = require('../package.json');

const binaries = fs.readdirSync(root)
  .filter((f) => f.startsWith(`${napi.binaryName}.`) && f.endsWith('.node'))
  .map((f) => fs.statSync(path.join(root, f)).mtimeMs);
const built = binaries.length ? Math.max(...binaries) : 0;

const sources = ['Cargo.toml', 'Cargo.lock', 'build.rs', 'src'];
const newest = Math.max(...sources.map((s) => newestMtime(path.join(root, s))));

if (built >= newest) process.exit(0);

const cargo = spawnSync('cargo', ['--version'], { stdio: 'ignore' });
if (cargo.error || cargo.status !== 0) {
  if (built) {
    console.warn('pretest: the native binary is older than src/, but cargo is not on PATH; testing the binary as it is');
    process.exit(0);
  }
  console.error('pretest: no native binary in this checkout and no cargo on PATH to build one. ' +
    'Install Rust (https://rustup.rs), then run `npm run build`.');
  process.exit(1);
}

console.log(built ? 'pretest: src/ changed since the last build; npm run build' : 'pretest: no native binary yet; npm run build');
const npm = process.env.npm_execpath;
const result = npm
  ? spawnSync(process.execPath, [npm, 'run', 'build'], { cwd: root, stdio: 'inherit' })
  : spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
process.exit(result.status === null ? 1 : result.status);

function newestMtime(p) {
  let st;
  try {
    st = fs.statSync(p);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...fs.readdirSync(p).map((e) => newestMtime(path.join(p, e))));
}
