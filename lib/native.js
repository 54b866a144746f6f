'use strict';

// The native addon, loaded through the loader that `napi build` generates
// (binding.js: it tries a local lastcall.<target>.node, then the
// lastcall-<target> package that npm installed as an optional dependency).
// When nothing loads, its error says little a user can act on, so it is
// wrapped here (binding.js is regenerated on every build and never edited):
// the message names this machine, the package that would carry its binary,
// the targets that are published, and how to build from source.

const { name, version, napi } = require('../package.json');

let binding;
try {
  binding = require('../binding');
} catch (err) {
  throw noBinaryError(err);
}

function noBinaryError(cause) {
  const { platform, arch } = process;
  const libc = platform === 'linux' ? linuxLibc() : null;
  const abi = platform === 'win32' ? '-msvc' : libc ? `-${libc.abi}` : '';
  const target = `${platform}-${arch}${abi}`;
  const pkg = `${name}-${target}`;
  const published = napi.targets.map(npmTarget);
  const machine = `${platform} ${arch}${libc ? `, ${libc.describe}` : ''}`;

  let found;
  if (!published.includes(target)) {
    found = `No prebuilt binary is published for ${target}.`;
  } else if (installed(pkg)) {
    found = `The package ${pkg} is installed but its binary failed to load (see error.cause).`;
  } else {
    found = `The package ${pkg} is not installed: it is an optional dependency of ${name}, so an ` +
      'install that omitted optional dependencies (--omit=optional, --no-optional), ' +
      'or one made on another platform and copied here, leaves it out. Reinstall on this ' +
      `machine, or add it explicitly: npm install ${pkg}@${version}`;
  }
  const override = process.env.NAPI_RS_NATIVE_LIBRARY_PATH;
  const lines = [
    `${name}: no native binary could be loaded for this machine (${machine}); ` +
      `looked for the package ${pkg}.`,
    found,
    `Prebuilt targets: ${published.join(', ')}.`,
    override ? `NAPI_RS_NATIVE_LIBRARY_PATH is set (${override}) and was tried first.` : null,
    'To build from source instead: install Rust (https://rustup.rs), clone the lastcall ' +
      'repository, run `npm install && npm run build` in it (this writes ' +
      `${name}.${target}.node next to binding.js), then install that checkout: ` +
      'npm install /path/to/lastcall',
  ];
  const err = new Error(lines.filter(Boolean).join('\n'), { cause });
  err.code = 'ERR_LASTCALL_NO_NATIVE_BINARY';
  return err;
}

// A Rust target triple as napi-rs names its npm package: x86_64-unknown-linux-gnu
// is linux-x64-gnu, aarch64-apple-darwin is darwin-arm64, x86_64-pc-windows-msvc
// is win32-x64-msvc. (A test checks this against the napi CLI's own parser.)
function npmTarget(triple) {
  const [cpu, , sys, env] = triple.split('-');
  const arch = { x86_64: 'x64', aarch64: 'arm64', i686: 'ia32', armv7: 'arm' }[cpu] || cpu;
  const platform = { windows: 'win32' }[sys] || sys;
  return `${platform}-${arch}${env ? `-${env}` : ''}`;
}

// The same test binding.js applies: a glibc build reports the glibc version
// it runs on; on musl that field is absent.
function linuxLibc() {
  let header;
  try {
    process.report.excludeNetwork = true;
    header = process.report.getReport().header;
  } catch {
    header = null;
  }
  if (header && header.glibcVersionRuntime) {
    return { abi: 'gnu', describe: `glibc ${header.glibcVersionRuntime}` };
  }
  return { abi: 'musl', describe: 'musl libc' };
}

function installed(pkg) {
  try {
    require.resolve(`${pkg}/package.json`);
    return true;
  } catch {
    return false;
  }
}

module.exports = binding;
