import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:net';

/**
 * One writer per CRI log file across processes: an abstract unix socket named after the path is
 * the lock. The kernel frees it when its holder dies, even by kill -9, so a crashed dockercri
 * never blocks the next one, while a second dockercri on the same node (a restart that overlaps
 * the old process, a test) cannot write the same lines twice.
 */
export async function tryLockLogFile(logPath: string): Promise<Server | undefined> {
  const name = `\0dockercri-log-${createHash('sha256').update(logPath).digest('hex')}`;
  const server = createServer((sock) => sock.destroy());
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' ? resolve(undefined) : reject(err)));
    server.listen({ path: name }, () => {
      server.unref();
      resolve(server);
    });
  });
}
