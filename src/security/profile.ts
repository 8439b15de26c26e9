import { readFile } from 'node:fs/promises';
import { invalidArgument } from '../errors.js';

/** Reads a Localhost seccomp profile; a missing or unreadable file is the caller's mistake. */
export async function readSeccompProfile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw invalidArgument(`cannot read seccomp profile ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
