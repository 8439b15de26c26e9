import { connect } from 'node:net';
import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

/** The filesystem path of a unix:// endpoint (a bare absolute path is taken as is). */
export function socketPath(endpoint: string): string {
  return endpoint.startsWith('unix://') ? endpoint.slice('unix://'.length) : endpoint;
}

/** Whether a process accepts connections on the unix socket at `path` (one that does not answer in 2 s counts). */
export function someoneListens(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(path);
    const done = (answer: boolean): void => {
      sock.destroy();
      resolve(answer);
    };
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
    sock.setTimeout(2000, () => done(true));
  });
}

export class SocketInUseError extends Error {}

/**
 * Makes `path` ready to bind: its directory exists, and a socket file a dead process left behind
 * is removed. A live listener is never displaced.
 */
export async function prepareSocketPath(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  let st;
  try {
    st = await lstat(path);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new SocketInUseError(`${path} exists and is not a socket; refusing to replace it`);
  if (await someoneListens(path)) {
    throw new SocketInUseError(`another process is serving on ${path}; stop it (or choose another --container-runtime-endpoint) before starting dockercri`);
  }
  await unlink(path);
}

export async function restrictSocket(path: string): Promise<void> {
  await chmod(path, 0o660);
}
