/** What produced an output: this package's version and the runtime, recorded so a result can be reproduced. */
import { readFileSync } from 'node:fs';

export interface Versions {
  metaheac: string;
  node: string;
  platform: string;
}

let cached: Versions | null = null;

export function versions(): Versions {
  if (!cached) {
    // compiled to dist/src/util/versions.js, three folders below package.json
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    cached = { metaheac: pkg.version, node: process.version, platform: `${process.platform}-${process.arch}` };
  }
  return cached;
}
