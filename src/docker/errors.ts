import { Code, CriError } from '../errors.js';

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EPIPE', 'EACCES', 'EHOSTUNREACH', 'ETIMEDOUT', 'ENOTSOCK']);

interface DockerErrorShape {
  statusCode?: number;
  code?: string;
  message?: string;
  json?: { message?: string } | null;
  reason?: string;
}

/** The Engine's own message for an error, without dockerode's "(HTTP code 404) ..." prefix. */
export function engineMessage(err: unknown): string {
  const e = err as DockerErrorShape;
  const fromJson = e?.json && typeof e.json === 'object' ? e.json.message : undefined;
  if (fromJson) return fromJson;
  const msg = e?.message ?? String(err);
  return msg.replace(/^\(HTTP code \d+\)\s*[\w ]*-\s*/, '').trim();
}

export function isUnreachable(err: unknown): boolean {
  const e = err as DockerErrorShape;
  return typeof e?.code === 'string' && UNREACHABLE.has(e.code);
}

export function statusOf(err: unknown): number | undefined {
  return (err as DockerErrorShape)?.statusCode;
}

/**
 * Maps a failed Docker API call to a CriError. `what` names the object and the operation
 * ("inspect image busybox"), so every message says what it was about.
 */
export function fromDocker(err: unknown, what: string): CriError {
  if (err instanceof CriError) return err;
  if (isUnreachable(err)) {
    return new CriError(Code.UNAVAILABLE, `${what}: Docker Engine is unreachable (${(err as Error).message})`, err);
  }
  if ((err as Error)?.message?.includes('Timeout of') || (err as DockerErrorShape)?.code === 'ESOCKETTIMEDOUT') {
    return new CriError(Code.DEADLINE_EXCEEDED, `${what}: Docker Engine did not answer in time`, err);
  }
  const message = `${what}: ${engineMessage(err)}`;
  switch (statusOf(err)) {
    case 400:
      return new CriError(Code.INVALID_ARGUMENT, message, err);
    case 401:
    case 403:
      return new CriError(Code.PERMISSION_DENIED, message, err);
    case 404:
      return new CriError(Code.NOT_FOUND, message, err);
    case 409:
      return new CriError(Code.FAILED_PRECONDITION, message, err);
    case 503:
      return new CriError(Code.UNAVAILABLE, message, err);
    default:
      return new CriError(Code.INTERNAL, message, err);
  }
}
