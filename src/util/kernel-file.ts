import { readFileSync } from 'node:fs';

/**
 * A file of /proc or /sys, or undefined when it cannot be read. Read synchronously: the kernel
 * makes these files on read and never waits for a disk, where a read through the thread pool
 * costs four hops (open, fstat, read, close) and a promise each.
 */
export function readKernelFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
