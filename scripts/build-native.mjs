// `npm run build:native`: builds the native gemm (native/, a Node-API addon) with node-gyp,
// against Node's own headers only: it never downloads them. Where no headers, node-gyp or
// C compiler is found the build is skipped with one line, and the engine keeps its
// WebAssembly gemm (src/kernels/native.ts). METAHEAC_NATIVE=0 skips it too.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'native');
const skip = (why) => {
  process.stderr.write(`metaheac: native gemm not built (${why}); gemm runs in WebAssembly, about 3x slower\n`);
  process.exit(0);
};

// An old build must not outlive a failed or skipped one.
rmSync(join(dir, 'build'), { recursive: true, force: true });
if (process.env.METAHEAC_NATIVE === '0') skip('METAHEAC_NATIVE=0');

// npm names its own node-gyp for scripts; a node-gyp package installed here serves as well.
let gyp = process.env.npm_config_node_gyp;
if (!gyp || !existsSync(gyp)) {
  try {
    gyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
  } catch {
    skip('node-gyp not found: run the build through npm');
  }
}

// The headers come with Node (include/node beside bin/) or from npm's nodedir setting.
const candidates = [process.env.npm_config_nodedir, join(dirname(process.execPath), '..')].filter(Boolean);
const nodedir = candidates.find((d) => existsSync(join(d, 'include', 'node', 'node_api.h')));
if (!nodedir) skip(`Node's headers (include/node/node_api.h) not found under ${candidates.join(' or ')}`);

const r = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`, '--loglevel=error'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
if (r.status !== 0) {
  process.stderr.write(r.stdout + r.stderr);
  rmSync(join(dir, 'build'), { recursive: true, force: true });
  skip(`node-gyp failed with status ${r.status}, output above`);
}
process.stderr.write('metaheac: native gemm built\n');
