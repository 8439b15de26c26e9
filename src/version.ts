import { readFileSync } from 'node:fs';

/** dockercri's own version, from its package.json. */
export const DOCKERCRI_VERSION: string = (() => {
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
