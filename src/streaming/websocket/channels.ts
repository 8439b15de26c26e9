// Kubernetes' WebSocket channel protocols (channel.k8s.io family): every message starts with the
// channel number; the base64 variants send text messages of an ASCII digit and base64 data.

export const Channel = { STDIN: 0, STDOUT: 1, STDERR: 2, ERROR: 3, RESIZE: 4 } as const;
/** v5.channel.k8s.io: a message [255, n] closes channel n (only stdin is closed this way). */
export const CLOSE_CHANNEL = 255;

export const REMOTE_COMMAND_PROTOCOLS = [
  'v5.channel.k8s.io',
  'v4.channel.k8s.io',
  'v3.channel.k8s.io',
  'v2.channel.k8s.io',
  'channel.k8s.io',
  'v4.base64.channel.k8s.io',
  'base64.channel.k8s.io',
] as const;
export const PORT_FORWARD_PROTOCOLS = ['v4.channel.k8s.io', 'portforward.k8s.io', 'v4.base64.channel.k8s.io', 'base64.channel.k8s.io'] as const;

export const isBase64Protocol = (protocol: string): boolean => protocol.includes('base64.channel.k8s.io');

export type ChannelMessage = { kind: 'data'; channel: number; payload: Buffer } | { kind: 'close'; channel: number };

export class ChannelCodecError extends Error {}

export function encodeChannelMessage(channel: number, payload: Buffer, base64: boolean): Buffer | string {
  if (base64) return String.fromCharCode(48 + channel) + payload.toString('base64');
  const out = Buffer.allocUnsafe(payload.length + 1);
  out[0] = channel;
  payload.copy(out, 1);
  return out;
}

/** Decodes one message; `isBinary` says what kind of WebSocket frame carried it. */
export function decodeChannelMessage(data: Buffer, isBinary: boolean, base64: boolean, closeSupported: boolean): ChannelMessage {
  if (data.length === 0) throw new ChannelCodecError('empty message: no channel');
  if (base64 && !isBinary) {
    const channel = data[0]! - 48;
    if (channel < 0 || channel > 9) throw new ChannelCodecError(`channel character ${JSON.stringify(String.fromCharCode(data[0]!))} is not a digit`);
    return { kind: 'data', channel, payload: Buffer.from(data.subarray(1).toString('latin1'), 'base64') };
  }
  if (closeSupported && data[0] === CLOSE_CHANNEL) {
    if (data.length < 2) throw new ChannelCodecError('close message names no channel');
    return { kind: 'close', channel: data[1]! };
  }
  return { kind: 'data', channel: data[0]!, payload: data.subarray(1) };
}

/** The first message of each port-forward channel: the port, 2 bytes little endian. */
export function portPrefix(port: number): Buffer {
  const b = Buffer.allocUnsafe(2);
  b.writeUInt16LE(port, 0);
  return b;
}

/** Data and error channel of the i-th forwarded port. */
export const portChannels = (i: number): { data: number; error: number } => ({ data: 2 * i, error: 2 * i + 1 });
