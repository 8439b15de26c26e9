import { describe, expect, it } from 'vitest';
import { ChannelCodecError, decodeChannelMessage, encodeChannelMessage, portChannels, portPrefix } from './channels.js';

describe('channel.k8s.io codec', () => {
  it('binary: the first byte is the channel', () => {
    expect(encodeChannelMessage(1, Buffer.from('out'), false)).toEqual(Buffer.from('\x01out', 'latin1'));
    expect(decodeChannelMessage(Buffer.from('\x00in', 'latin1'), true, false, false)).toEqual({ kind: 'data', channel: 0, payload: Buffer.from('in') });
  });
  it('v5: [255, n] closes channel n; before v5 255 is just a channel', () => {
    expect(decodeChannelMessage(Buffer.from([255, 0]), true, false, true)).toEqual({ kind: 'close', channel: 0 });
    expect(decodeChannelMessage(Buffer.from([255, 0]), true, false, false)).toEqual({ kind: 'data', channel: 255, payload: Buffer.from([0]) });
    expect(() => decodeChannelMessage(Buffer.from([255]), true, false, true)).toThrow(ChannelCodecError);
  });
  it('base64: a digit and base64 text', () => {
    expect(encodeChannelMessage(2, Buffer.from('err'), true)).toBe('2ZXJy');
    expect(decodeChannelMessage(Buffer.from('0aGk='), false, true, false)).toEqual({ kind: 'data', channel: 0, payload: Buffer.from('hi') });
    expect(() => decodeChannelMessage(Buffer.from('xaGk='), false, true, false)).toThrow(ChannelCodecError);
  });
  it('rejects an empty message', () => {
    expect(() => decodeChannelMessage(Buffer.alloc(0), true, false, true)).toThrow(ChannelCodecError);
  });
  it('port forward: channels 2i and 2i+1, the port little endian', () => {
    expect(portChannels(0)).toEqual({ data: 0, error: 1 });
    expect(portChannels(2)).toEqual({ data: 4, error: 5 });
    expect(portPrefix(8080)).toEqual(Buffer.from([0x90, 0x1f]));
  });
});
