import { randomBytes } from 'node:crypto';
import { Code, CriError } from '../errors.js';

/** What a URL of the streaming server was issued for. */
export type StreamRequest =
  | { kind: 'exec'; dockerId: string; cmd: string[]; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }
  | { kind: 'attach'; dockerId: string; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }
  | { kind: 'portforward'; sandboxDockerId: string; ports: number[] };

export const TOKEN_TTL_MS = 60_000;
/** Like kubelet's request cache: more outstanding URLs than this means something is wrong. */
export const MAX_OUTSTANDING = 1000;
const TOKEN_BYTES = 24;

/**
 * One-time tokens of streaming URLs: 192 random bits each, valid for one minute, gone once used.
 * Nothing but the token authorises a stream, so it never appears in a log.
 */
export class TokenRegistry {
  private readonly entries = new Map<string, { request: StreamRequest; expires: number }>();

  constructor(
    private readonly ttlMs = TOKEN_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  issue(request: StreamRequest): string {
    this.sweep();
    if (this.entries.size >= MAX_OUTSTANDING) throw new CriError(Code.RESOURCE_EXHAUSTED, `too many streaming requests outstanding (${MAX_OUTSTANDING}); unused URLs expire after ${this.ttlMs / 1000}s`);
    const token = randomBytes(TOKEN_BYTES).toString('base64url');
    this.entries.set(token, { request, expires: this.now() + this.ttlMs });
    return token;
  }

  /** The request of a valid token, which is then spent; undefined for unknown, used or expired ones. */
  consume(token: string): StreamRequest | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    this.entries.delete(token);
    return entry.expires > this.now() ? entry.request : undefined;
  }

  get size(): number {
    return this.entries.size;
  }

  private sweep(): void {
    const now = this.now();
    for (const [token, e] of this.entries) if (e.expires <= now) this.entries.delete(token);
  }
}
