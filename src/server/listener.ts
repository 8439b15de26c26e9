import { createServer, type Server, type Socket } from 'node:net';
import { prepareSocketPath, restrictSocket, socketPath } from './socket.js';

/** Where the CRI is served: a unix socket path dockercri binds, or a socket systemd handed over. */
export type ListenTarget = { kind: 'path'; path: string } | { kind: 'fd'; fd: number; name: string };

export class ActivationError extends Error {}

/** The first descriptor systemd passes (SD_LISTEN_FDS_START). */
const FIRST_PASSED_FD = 3;

/**
 * The listening socket of `endpoint`. `fd://` takes the first socket systemd passed (sd_listen_fds:
 * LISTEN_PID must be this process, LISTEN_FDS how many from fd 3 on); `fd://<n>` the n-th from 0,
 * `fd://<name>` the one its .socket unit named (FileDescriptorName=, in LISTEN_FDNAMES).
 */
export function listenTarget(endpoint: string, env: NodeJS.ProcessEnv = process.env, pid = process.pid): ListenTarget {
  if (!endpoint.startsWith('fd://')) return { kind: 'path', path: socketPath(endpoint) };
  const which = endpoint.slice('fd://'.length);
  if (env.LISTEN_PID !== undefined && env.LISTEN_PID !== String(pid)) {
    throw new ActivationError(`${endpoint}: the sockets systemd passed are for process ${env.LISTEN_PID}, not this one (${pid})`);
  }
  const count = Number(env.LISTEN_FDS ?? '0');
  if (!Number.isInteger(count) || count < 1) {
    throw new ActivationError(`${endpoint}: systemd passed no socket (LISTEN_FDS is ${JSON.stringify(env.LISTEN_FDS ?? '')}); start dockercri from its .socket unit, or give --container-runtime-endpoint unix:///path`);
  }
  const names = (env.LISTEN_FDNAMES ?? '').split(':');
  let index = 0;
  if (/^\d+$/.test(which)) index = Number(which);
  else if (which !== '') {
    index = names.indexOf(which);
    if (index === -1) throw new ActivationError(`${endpoint}: no passed socket is named "${which}" (LISTEN_FDNAMES is ${JSON.stringify(env.LISTEN_FDNAMES ?? '')})`);
  }
  if (index >= count) throw new ActivationError(`${endpoint}: systemd passed ${count} socket(s); there is no number ${index}`);
  return { kind: 'fd', fd: FIRST_PASSED_FD + index, name: names[index] || `fd ${FIRST_PASSED_FD + index}` };
}

/** Removes the activation variables, so that no child process takes the sockets for its own. */
export function forgetActivationEnv(env: NodeJS.ProcessEnv = process.env): void {
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
}

/** Accepts connections on `target` and hands each to `onConnection`. */
export async function listen(target: ListenTarget, onConnection: (socket: Socket) => void): Promise<Server> {
  const server = createServer({ pauseOnConnect: false }, onConnection);
  if (target.kind === 'path') await prepareSocketPath(target.path);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const done = (): void => {
      server.off('error', reject);
      resolve();
    };
    if (target.kind === 'path') server.listen(target.path, done);
    else server.listen({ fd: target.fd }, done);
  });
  if (target.kind === 'path') await restrictSocket(target.path);
  return server;
}
