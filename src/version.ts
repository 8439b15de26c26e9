import { readFileSync } from 'node:fs';

/** Set by scripts/bundle.mjs in the bundle; undefined in tsc's output and under the tests. */
declare const __DOCKERCRI_VERSION__: string | undefined;

/** dockercri's own version: built into the bundle, else read from its package.json. */
export const DOCKERCRI_VERSION: string = (() => {
  if (typeof __DOCKERCRI_VERSION__ === 'string') return __DOCKERCRI_VERSION__;
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'dockercri' && pkg.version) return pkg.version;
    } catch {
      // try the next candidate: the layout differs between src/ and dist/src/
    }
  }
  return '0.0.0';
})();
