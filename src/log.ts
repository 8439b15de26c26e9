import { createRequire } from 'node:module';
import { pino, type Logger, type LevelWithSilent } from 'pino';
import type { PrettyOptions } from 'pino-pretty';

export type { Logger };

/** JSON lines by default; pretty output only when stderr is a terminal. */
export function createLogger(level: LevelWithSilent): Logger {
  const options = { level, base: { name: 'dockercri' }, timestamp: pino.stdTimeFunctions.isoTime };
  if (process.stderr.isTTY) {
    // Loaded from node_modules, and only here: the bundle leaves pino-pretty out. It formats in
    // this thread (pino's transport worker is a separate file that the bundle does not carry).
    // Where it cannot be loaded (the bundle copied somewhere alone), JSON lines it is.
    let pretty: ((o: PrettyOptions) => NodeJS.WritableStream) | undefined;
    try {
      pretty = createRequire(import.meta.url)('pino-pretty') as (o: PrettyOptions) => NodeJS.WritableStream;
    } catch {
      pretty = undefined;
    }
    if (pretty) return pino(options, pretty({ destination: 2, sync: true }));
  }
  return pino(options, pino.destination({ dest: 2, sync: false }));
}
