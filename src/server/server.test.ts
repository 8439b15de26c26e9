import { connect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ImageServiceHandlers } from '../gen/services.js';
import { createLogger } from '../log.js';
import { CriServer } from './server.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('CriServer.shutdown', () => {
  it('closes a connection whose first request has not come yet', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dcri-server-'));
    dirs.push(dir);
    const path = join(dir, 's.sock');
    const server = new CriServer({ runtime: {}, image: {} as ImageServiceHandlers }, createLogger('silent'));
    await server.listen(`unix://${path}`);
    const client = connect(path);
    client.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => client.on('close', () => resolve()));
    // a client that has connected and said hello, but asked nothing yet
    const spoke = new Promise<void>((resolve) => client.once('data', () => resolve()));
    client.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'), Buffer.from([0, 0, 0, 0x4, 0, 0, 0, 0, 0])]));
    await spoke;
    expect(server.serving).toBe(true);
    await server.shutdown(1000);
    await closed;
    expect(client.destroyed).toBe(true);
  });
});
