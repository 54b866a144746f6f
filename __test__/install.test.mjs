// `npm install lastcall` on a machine without Rust, rehearsed with the release
// commands for the host's target: the release workflow's artifact layout,
// `napi artifacts`, `napi prepublish`, `npm pack` of the main package and of
// npm/<target>; then both tarballs go into a fresh project with no cargo or
// rustc on PATH, npm's default script policy and no network (--offline), and
// a server started there through require() and through import serves one
// HTTP/1.1 and one h2c request and closes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { hostTarget, npmCli, packedFiles, pkg, root, run, stagePackage } from './pack.mjs';

const require = createRequire(import.meta.url);
const napiCli = require.resolve('@napi-rs/cli/package.json').replace(/package\.json$/, 'dist/cli.js');
const exe = process.platform === 'win32' ? '.exe' : '';

// This environment without Rust: PATH loses every directory holding cargo or
// rustc, npm loses the settings `npm test` passes down (npm_config_*), and HOME
// is fresh so no user .npmrc applies.
function withoutRust(home) {
  const dirs = (process.env.PATH || '').split(path.delimiter)
    .filter((d) => d && !existsSync(path.join(d, `cargo${exe}`)) && !existsSync(path.join(d, `rustc${exe}`)));
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(npm_|CARGO|RUSTUP|NAPI_RS_)/i.test(k) && k.toUpperCase() !== 'PATH') env[k] = v;
  }
  env.PATH = [path.dirname(process.execPath), ...dirs].join(path.delimiter);
  env.HOME = home;
  if (process.platform === 'win32') env.USERPROFILE = home;
  return env;
}

// The same program in both module systems: one server, one HTTP/1.1 request,
// one h2c request, close(), then report which files were loaded.
const program = `
const server = createServer((req, res) => res.end(req.httpVersion + ' ' + req.url));
server.listen(0, '127.0.0.1', async () => {
  const { port } = server.address();
  const h1 = await new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/h1', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
  const h2 = await new Promise((resolve, reject) => {
    const session = http2.connect('http://127.0.0.1:' + port);
    session.on('error', reject);
    const stream = session.request({ ':path': '/h2' });
    let body = '';
    stream.setEncoding('utf8');
    stream.on('data', (c) => { body += c; });
    stream.on('end', () => { session.close(); resolve(body); });
    stream.on('error', reject);
  });
  server.close(() => {
    const binaries = Object.keys(requireFn.cache).filter((f) => f.endsWith('.node'));
    console.log(JSON.stringify({ h1, h2, main: requireFn.resolve('lastcall'), binaries }));
  });
});
`;

const cjs = `'use strict';
const { createServer } = require('lastcall');
const http = require('node:http');
const http2 = require('node:http2');
const requireFn = require;
${program}`;

const esm = `import { createServer } from 'lastcall';
import http from 'node:http';
import http2 from 'node:http2';
import { createRequire } from 'node:module';
const requireFn = createRequire(import.meta.url);
${program}`;

test('installed from its release tarballs with no Rust on PATH, lastcall serves HTTP/1.1 and h2c through require() and import, then closes', { timeout: 180_000 }, async (t) => {
  const host = hostTarget();
  const binaryName = `${pkg.napi.binaryName}.${host.dir}.node`;
  const binary = path.join(root, binaryName);
  assert.ok(existsSync(binary), `${binaryName} is missing: npm test builds it (pretest), or run npm run build`);

  const work = await mkdtemp(path.join(tmpdir(), 'lastcall-install-'));
  t.after(() => rm(work, { recursive: true, force: true }));

  // The release job's checkout: the files npm packs, npm/, and the downloaded
  // artifacts, one bindings-<triple> folder per build job.
  const release = await stagePackage(path.join(work, 'release'));
  const artifact = path.join(release, 'artifacts', `bindings-${host.triple}`);
  await mkdir(artifact, { recursive: true });
  await copyFile(binary, path.join(artifact, binaryName));

  // napi artifacts and napi prepublish refuse to run unless every configured
  // target's binary is there; this machine builds only its own, so they get a
  // config naming that one target. prepublish then writes it as the main
  // package's exact-version optional dependency (in the release: all seven);
  // --skip-optional-publish and --no-gh-release keep it off the network.
  await writeFile(path.join(release, 'napi-host.json'), JSON.stringify({ ...pkg.napi, targets: [host.triple] }));
  await run(process.execPath, [napiCli, 'artifacts', '-c', 'napi-host.json'], { cwd: release });
  await run(process.execPath, [napiCli, 'prepublish', '-c', 'napi-host.json', '-t', 'npm', '--skip-optional-publish', '--no-gh-release'], { cwd: release });
  const released = JSON.parse(await readFile(path.join(release, 'package.json'), 'utf8'));
  assert.deepEqual(released.optionalDependencies, { [host.package]: pkg.version });

  // `napi artifacts` also leaves a copy of the binary beside package.json: the
  // main tarball must not take it.
  assert.deepEqual((await packedFiles(release)).filter((f) => f.endsWith('.node')), []);
  assert.deepEqual((await packedFiles(path.join(release, 'npm', host.dir))).sort(), ['README.md', binaryName, 'package.json']);

  const tarballs = path.join(work, 'tarballs');
  await mkdir(tarballs);
  const npm = (args, opts) => run(process.execPath, [npmCli(), ...args], { maxBuffer: 16 << 20, ...opts });
  await npm(['pack', '--pack-destination', tarballs], { cwd: release });
  await npm(['pack', '--pack-destination', tarballs], { cwd: path.join(release, 'npm', host.dir) });
  const main = path.join(tarballs, `${pkg.name}-${pkg.version}.tgz`);
  const platform = path.join(tarballs, `${host.package}-${pkg.version}.tgz`);

  // A user's project, installed without Rust and without the network: npm
  // takes the platform package from the tarball named beside the main one
  // (it satisfies the optional dependency), and --offline means nothing else
  // can come from the registry. A real install resolves each target's package
  // there and skips those whose os/cpu/libc do not match.
  const app = path.join(work, 'app');
  const home = path.join(work, 'home');
  await mkdir(app);
  await mkdir(home);
  await writeFile(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
  const env = withoutRust(home);
  for (const tool of ['cargo', 'rustc']) {
    await assert.rejects(run(tool, ['--version'], { env }), `${tool} is still on PATH`);
  }
  const install = await npm(['install', '--offline', '--no-audit', '--no-fund', '--no-update-notifier',
    '--cache', path.join(work, 'npm-cache'), main, platform], { cwd: app, env });
  const output = install.stdout + install.stderr;
  assert.doesNotMatch(output, /install-scripts|EBADENGINE/, output);

  const installed = path.join(app, 'node_modules');
  const files = await readdir(path.join(installed, pkg.name), { recursive: true });
  assert.deepEqual(files.filter((f) => f.endsWith('.node')), []);
  assert.ok(existsSync(path.join(installed, host.package, binaryName)));

  await writeFile(path.join(app, 'cjs.cjs'), cjs);
  await writeFile(path.join(app, 'esm.mjs'), esm);
  for (const script of ['cjs.cjs', 'esm.mjs']) {
    const { stdout } = await run(process.execPath, [script], { cwd: app, env, timeout: 30_000 });
    const result = JSON.parse(stdout);
    assert.equal(result.h1, '1.1 /h1', script);
    assert.equal(result.h2, '2.0 /h2', script);
    assert.equal(result.main, path.join(installed, pkg.name, 'index.js'), script);
    assert.deepEqual(result.binaries, [path.join(installed, host.package, binaryName)], script);
  }
});
