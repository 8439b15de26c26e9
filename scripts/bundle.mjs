#!/usr/bin/env node
// Bundles the compiled entry point (dist/src/main.js, from tsc) and every module it imports into
// one file, dist/dockercri.js: the program that the `dockercri` command, `npm start`, the systemd
// unit and the container image run. One file instead of ~280: Node resolves, reads and (for the
// CommonJS packages) scans each module it loads, and doing that for ~280 files at start-up was hot
// enough for V8 to optimise its module loader, which alone kept ~4 MB of the optimising
// compiler's pages resident in an idle process. Minified, the sources V8 keeps in memory shrink
// from 2.6 MB to 1.3 MB. Function and class names are kept for stack traces, and the linked
// source map (dist/dockercri.js.map) leads back to src/*.ts: `node --enable-source-maps`.
//
// Three files of dockerode and docker-modem are replaced by stand-ins, because dockercri never
// reaches them and each would load a large package at start-up: the SSH transport (ssh2, for
// ssh:// Docker hosts; dockercri takes unix:// and tcp:// only), BuildKit's gRPC session (a second
// protobufjs with its proto loader) and tar-fs (build contexts). A stand-in throws if called.
// pino-pretty is left out: it is loaded from node_modules only when stderr is a terminal.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** Files replaced by a stand-in, by how their path ends, with what the stand-in says if called. */
const STAND_INS = [
  { file: '/docker-modem/lib/ssh.js', what: 'a Docker Engine over ssh://' },
  { file: '/dockerode/lib/session.js', what: "BuildKit's session" },
  { file: '/tar-fs/index.js', what: 'tar archives of build contexts' },
];

const standIns = {
  name: 'stand-ins',
  setup(b) {
    b.onLoad({ filter: /\/(docker-modem\/lib\/ssh|dockerode\/lib\/session|tar-fs\/index)\.js$/ }, (args) => {
      const s = STAND_INS.find((x) => args.path.endsWith(x.file));
      if (!s) return undefined;
      const fail = `function () { throw new Error(${JSON.stringify(`dockercri does not include ${s.what}`)}); }`;
      // ssh.js and session.js export a function; tar-fs an object of functions
      const contents = s.file.includes('tar-fs') ? `module.exports = { pack: ${fail}, extract: ${fail} };` : `module.exports = ${fail};`;
      return { contents, loader: 'js' };
    });
  },
};

await build({
  entryPoints: [join(root, 'dist/src/main.js')],
  outfile: join(root, 'dist/dockercri.js'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minify: true,
  keepNames: true,
  sourcemap: 'linked',
  external: ['pino-pretty'],
  // The CommonJS packages in the bundle call require() for Node's own modules, and a few name
  // files beside their own by __dirname (grpc-js's channelz protos, pino's transport worker:
  // never reached by dockercri, but an error about a missing file beats a ReferenceError).
  banner: {
    js: [
      "import { createRequire as __dockercriRequire } from 'node:module';",
      "import { dirname as __dockercriDirname } from 'node:path';",
      "import { fileURLToPath as __dockercriPath } from 'node:url';",
      'const require = __dockercriRequire(import.meta.url);',
      'const __filename = __dockercriPath(import.meta.url);',
      'const __dirname = __dockercriDirname(__filename);',
    ].join(' '),
  },
  plugins: [standIns],
  // src/version.ts: the bundle knows its version wherever it is copied
  define: { __DOCKERCRI_VERSION__: JSON.stringify(version) },
  logLevel: 'warning',
});
