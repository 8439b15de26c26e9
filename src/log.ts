import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/** JSON lines by default; pretty output only when stderr is a terminal. */
export function createLogger(level: LevelWithSilent): Logger {
  const options = { level, base: { name: 'dockercri' }, timestamp: pino.stdTimeFunctions.isoTime };
  if (process.stderr.isTTY) {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { destination: 2 } } });
  }
  return pino(options, pino.destination({ dest: 2, sync: false }));
}
