import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * Brings up what the integration tier needs: test images and the two local registries. A Docker
 * Engine that does not answer fails the run here; the tier is never skipped.
 */
export default function setup(): void {
  if (!existsSync(`${root}/dist/dockercri.js`)) throw new Error('dist/dockercri.js is missing: run `npm run build` first');
  execFileSync('bash', ['scripts/test-env.sh', 'up'], { cwd: root, stdio: 'inherit' });
}
