// dockerode and docker-modem load, when first imported, code that dockercri never runs: an SSH
// client (ssh2 and its crypto, for ssh:// Docker hosts), BuildKit's gRPC session (a second
// protobufjs with its proto loader) and tar-fs (build contexts). Together that is about 4 MB of
// resident memory in every process. This module, imported before dockerode, puts a stand-in for
// each of those files in Node's module cache; a stand-in loads the real file the first time it is
// used, so nothing changes for a caller that does use them.
import { createRequire, Module } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

type Loader = () => unknown;

/** A stand-in for a module whose export is a function. */
function lazyFunction(load: Loader): unknown {
  return function lazy(this: unknown, ...args: unknown[]): unknown {
    return (load() as (...a: unknown[]) => unknown).apply(this, args);
  };
}

/** A stand-in for a module whose export is an object of functions. */
function lazyObject(load: Loader): unknown {
  return new Proxy({}, { get: (_target, key) => Reflect.get(load() as object, key) });
}

/** Seeds the module cache at `filename` with `makeStandIn`'s result; returns whether it did. */
export function deferModule(filename: string, makeStandIn: (load: Loader) => unknown): boolean {
  const cache = require.cache;
  if (cache[filename]) return false;
  let real: unknown;
  let loaded = false;
  const load: Loader = () => {
    if (!loaded) {
      if (cache[filename] === standIn) delete cache[filename];
      real = require(filename);
      loaded = true;
    }
    return real;
  };
  const standIn = new Module(filename);
  standIn.filename = filename;
  standIn.loaded = true;
  standIn.exports = makeStandIn(load);
  cache[filename] = standIn;
  return true;
}

/** Where the deferred files are, resolved as dockerode itself resolves them. */
export function deferredFiles(): { ssh: string; session: string; tarFs: string } {
  const dockerodeMain = require.resolve('dockerode');
  const fromDockerode = createRequire(dockerodeMain);
  const modemMain = fromDockerode.resolve('docker-modem');
  return {
    ssh: join(dirname(modemMain), 'ssh.js'),
    session: join(dirname(dockerodeMain), 'session.js'),
    tarFs: createRequire(join(dirname(dockerodeMain), 'util.js')).resolve('tar-fs'),
  };
}

const files = deferredFiles();
deferModule(files.ssh, lazyFunction);
deferModule(files.session, lazyFunction);
deferModule(files.tarFs, lazyObject);
