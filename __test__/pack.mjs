// Shared by the packaging tests: the package as npm packs it, the host's
// target, and npm itself run by this very node.

import { execFile } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { cp, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseTriple } from '@napi-rs/cli';

export const run = promisify(execFile);
export const root = fileURLToPath(new URL('..', import.meta.url));
export const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));

// The npm CLI that belongs to this node (npm test sets npm_execpath; a bare
// `node --test` finds it next to the node binary or through PATH).
export function npmCli() {
  const dir = path.dirname(process.execPath);
  const candidates = [
    process.env.npm_execpath,
    path.join(dir, '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js'),
    path.join(dir, 'node_modules', 'npm', 'bin', 'npm-cli.js'),
  ];
  for (const entry of (process.env.PATH || '').split(path.delimiter)) {
    const npm = path.join(entry, 'npm');
    if (existsSync(npm)) candidates.push(realpathSync(npm));
  }
  const cli = candidates.find((c) => c && /npm-cli\.js$/.test(c) && existsSync(c));
  if (!cli) throw new Error('cannot find npm-cli.js for this node');
  return cli;
}

export function npm(args, opts = {}) {
  return run(process.execPath, [npmCli(), ...args], { maxBuffer: 16 << 20, ...opts });
}

// Every configured target as napi-rs names it: the triple, the npm/<dir>
// name (linux-x64-gnu), and the os/cpu/libc values npm matches on.
export function targets() {
  return pkg.napi.targets.map((triple) => {
    const t = parseTriple(triple);
    return { triple, dir: t.platformArchABI, package: `${pkg.name}-${t.platformArchABI}`, platform: t.platform, arch: t.arch, abi: t.abi };
  });
}

function hostLibc() {
  if (process.platform !== 'linux') return null;
  return process.report.getReport().header.glibcVersionRuntime ? 'gnu' : 'musl';
}

// The configured target npm would pick on this machine.
export function hostTarget() {
  const libc = hostLibc();
  const t = targets().find((t) => t.platform === process.platform && t.arch === process.arch &&
    (process.platform !== 'linux' || t.abi === libc));
  if (!t) throw new Error(`no configured target for ${process.platform}-${process.arch} ${libc || ''}`);
  return t;
}

// What `npm pack` would put in the main tarball, without running a script.
export async function packedFiles(cwd = root) {
  const { stdout } = await npm(['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd });
  return JSON.parse(stdout)[0].files.map((f) => f.path);
}

// A copy of the main package as npm would pack it, plus npm/, in `dir`.
export async function stagePackage(dir) {
  await mkdir(dir, { recursive: true });
  for (const file of await packedFiles()) {
    await cp(path.join(root, file), path.join(dir, file));
  }
  await cp(path.join(root, 'npm'), path.join(dir, 'npm'), {
    recursive: true,
    filter: (src) => !src.endsWith('.node'),
  });
  return dir;
}
