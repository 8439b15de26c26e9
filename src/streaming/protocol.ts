// Pure pieces of kubelet's remote command protocols: version negotiation, the exit status on the
// error stream, and the terminal size messages of the resize stream.

export const SPDY_REMOTE_COMMAND_PROTOCOLS = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'] as const;
export const SPDY_PORT_FORWARD_PROTOCOLS = ['portforward.k8s.io'] as const;

/** How a command ended: its exit code, or a failure to run it at all. */
export type CommandResult = { exitCode: number } | { error: string };

export interface TerminalSize {
  width: number;
  height: number;
}

/**
 * The client's protocols (header values, each possibly a comma-separated list) against ours: the
 * client's first that we speak; '' when the client names none (legacy: channel.k8s.io);
 * undefined when nothing matches.
 */
export function negotiate(offered: string | string[] | undefined, supported: readonly string[]): string | undefined {
  const list = (Array.isArray(offered) ? offered : offered === undefined ? [] : [offered])
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
  if (list.length === 0) return '';
  return list.find((p) => supported.includes(p));
}

/** Whether this remote command protocol reports the exit as a metav1.Status JSON (v4 and later). */
export const statusAsJson = (protocol: string): boolean => /^v[4-9]\./.test(protocol);
/** Whether this protocol has a resize stream (v3 and later). */
export const hasResize = (protocol: string): boolean => /^v[3-9]\./.test(protocol);

/**
 * What goes on the error stream when a command ends, as kubelet writes it: for v4 and later a
 * metav1.Status (Success; or Failure, reason NonZeroExitCode with the code as an ExitCode cause);
 * before v4 only a failure's message, nothing on success.
 */
export function errorStreamMessage(result: CommandResult, protocol: string): Buffer | undefined {
  const json = statusAsJson(protocol);
  if ('error' in result) {
    if (!json) return Buffer.from(result.error);
    return Buffer.from(JSON.stringify({ metadata: {}, status: 'Failure', message: result.error, reason: 'InternalError', code: 500 }));
  }
  if (result.exitCode === 0) return json ? Buffer.from(JSON.stringify({ metadata: {}, status: 'Success' })) : undefined;
  const message = `command terminated with non-zero exit code: error executing command, exit code ${result.exitCode}`;
  if (!json) return Buffer.from(message);
  return Buffer.from(
    JSON.stringify({
      metadata: {},
      status: 'Failure',
      message,
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: String(result.exitCode) }] },
    }),
  );
}

/**
 * The resize stream: a sequence of JSON objects {"Width":w,"Height":h} (Go's json.Encoder, one a
 * line). Feed it chunks; it yields each complete size, skipping what is not one.
 */
export class ResizeDecoder {
  private pending = '';

  push(chunk: Buffer | string): TerminalSize[] {
    this.pending += chunk.toString();
    const sizes: TerminalSize[] = [];
    for (;;) {
      const end = this.pending.indexOf('}');
      if (end < 0) break;
      const text = this.pending.slice(this.pending.indexOf('{'), end + 1);
      this.pending = this.pending.slice(end + 1);
      try {
        const v = JSON.parse(text) as { Width?: unknown; Height?: unknown };
        const width = Number(v.Width);
        const height = Number(v.Height);
        if (Number.isInteger(width) && Number.isInteger(height) && width >= 0 && height >= 0 && width <= 0xffff && height <= 0xffff) sizes.push({ width, height });
      } catch {
        // not a size: skipped, as kubelet logs and goes on
      }
    }
    if (this.pending.length > 4096) this.pending = '';
    return sizes;
  }
}
