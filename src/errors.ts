import { status } from '@grpc/grpc-js';

export { status as Code };

/**
 * The one error type that leaves dockercri as a gRPC status. It is created where the cause is
 * known, so the code is decided there (NOT_FOUND, INVALID_ARGUMENT, UNAVAILABLE, ...), and its
 * message names the object it is about.
 */
export class CriError extends Error {
  readonly code: status;
  override readonly cause?: unknown;

  constructor(code: status, message: string, cause?: unknown) {
    super(message);
    this.name = 'CriError';
    this.code = code;
    this.cause = cause;
  }
}

export const invalidArgument = (message: string): CriError => new CriError(status.INVALID_ARGUMENT, message);
export const notFound = (message: string): CriError => new CriError(status.NOT_FOUND, message);
export const unimplemented = (message: string): CriError => new CriError(status.UNIMPLEMENTED, message);

/** Turns anything thrown into a CriError; a bare Error is INTERNAL, never UNKNOWN. */
export function toCriError(err: unknown): CriError {
  if (err instanceof CriError) return err;
  if (err instanceof Error) return new CriError(status.INTERNAL, err.message, err);
  return new CriError(status.INTERNAL, String(err), err);
}

export const codeName = (code: status): string => status[code] ?? String(code);
