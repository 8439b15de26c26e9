#!/usr/bin/env node
import { parseFlags, type Config } from './config/flags.js';
import { DockerClient } from './docker/client.js';
import { ImageService } from './image/service.js';
import { createLogger, type Logger } from './log.js';
import { RuntimeInfoService, RuntimeSettings } from './runtime/service.js';
import { CriServer } from './server/server.js';
import { SocketInUseError } from './server/socket.js';
import { DOCKERCRI_VERSION } from './version.js';

const SHUTDOWN_GRACE_MS = 10_000;

async function serve(config: Config, log: Logger): Promise<void> {
  const docker = new DockerClient(config.dockerEndpoint, config.runtimeRequestTimeoutMs, log.child({ room: 'docker' }));
  const settings = new RuntimeSettings(config.podCidr);
  const info = new RuntimeInfoService(docker, config, settings, log.child({ room: 'runtime' }));
  const images = new ImageService(docker, config, log.child({ room: 'image' }));
  const server = new CriServer(
    {
      runtime: {
        Version: () => info.Version(),
        Status: (r) => info.Status(r),
        RuntimeConfig: () => info.RuntimeConfig(),
        UpdateRuntimeConfig: (r) => info.UpdateRuntimeConfig(r),
      },
      image: images,
    },
    log.child({ room: 'server' }),
  );

  try {
    const engine = await docker.version();
    log.info({ engine: engine.version, api: engine.apiVersion }, 'Docker Engine answers');
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'Docker Engine does not answer yet; serving anyway, Status reports RuntimeReady=false until it does');
  }

  await server.listen(config.containerRuntimeEndpoint);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, inFlight: server.tracker.inFlight }, 'shutting down: draining in-flight calls');
    void server.shutdown(SHUTDOWN_GRACE_MS).then(() => {
      log.info('stopped');
      log.flush(() => process.exit(0));
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

async function main(): Promise<void> {
  const parsed = parseFlags(process.argv.slice(2));
  switch (parsed.kind) {
    case 'error':
      process.stderr.write(`dockercri: ${parsed.message}\n`);
      process.exit(2);
      break;
    case 'help':
      process.stdout.write(parsed.text);
      return;
    case 'version':
      process.stdout.write(`dockercri ${DOCKERCRI_VERSION}\n`);
      return;
    case 'run': {
      const log = createLogger(parsed.config.logLevel);
      log.info({ version: DOCKERCRI_VERSION, pid: process.pid }, 'starting dockercri');
      // A request must never take the process down; anything that escapes is logged and survived.
      process.on('unhandledRejection', (reason) => log.error({ err: reason instanceof Error ? reason.stack : String(reason) }, 'unhandled rejection'));
      try {
        await serve(parsed.config, log);
      } catch (err) {
        const message = err instanceof SocketInUseError ? err.message : `cannot start: ${(err as Error).message}`;
        log.fatal({ err: (err as Error).message }, message);
        process.stderr.write(`dockercri: ${message}\n`);
        process.exitCode = 1;
        log.flush(() => process.exit(1));
        setTimeout(() => process.exit(1), 1000).unref();
      }
    }
  }
}

void main();
