import { describe, expect, it } from 'vitest';
import { CAPABILITIES, CAP_SYS_RESOURCE_BIT, type HostCapabilities, capabilitiesFromMask, readHostCapabilities } from './capabilities.js';

/** /proc/self/status of a process, trimmed around the capability lines. */
const status = (capEff: string): string =>
  [
    'Name:\tnode',
    'Umask:\t0022',
    'State:\tS (sleeping)',
    'Tgid:\t4242',
    'Pid:\t4242',
    'Uid:\t0\t0\t0\t0',
    'Gid:\t0\t0\t0\t0',
    'Threads:\t11',
    'SigCgt:\t0000000108004602',
    'CapInh:\t0000000000000000',
    `CapPrm:\t${capEff}`,
    `CapEff:\t${capEff}`,
    `CapBnd:\t${capEff}`,
    'CapAmb:\t0000000000000000',
    'NoNewPrivs:\t0',
    'Seccomp:\t0',
    'Seccomp_filters:\t0',
    '',
  ].join('\n');

describe('CAPABILITIES', () => {
  it('names bits 0 to 40 as capability.h numbers them', () => {
    expect(CAPABILITIES).toHaveLength(41);
    expect(CAPABILITIES[0]).toBe('CAP_CHOWN');
    expect(CAPABILITIES[12]).toBe('CAP_NET_ADMIN');
    expect(CAPABILITIES[21]).toBe('CAP_SYS_ADMIN');
    expect(CAPABILITIES[CAP_SYS_RESOURCE_BIT]).toBe('CAP_SYS_RESOURCE');
    expect(CAPABILITIES[40]).toBe('CAP_CHECKPOINT_RESTORE');
    expect(new Set(CAPABILITIES).size).toBe(41);
  });
});

describe('capabilitiesFromMask', () => {
  it.each<[string, string, number, string[], string[]]>([
    ['a complete set', '000001ffffffffff', 41, ['CAP_SYS_RESOURCE', 'CAP_CHECKPOINT_RESTORE', 'CAP_CHOWN'], []],
    ['everything but CAP_SYS_RESOURCE (a rootless or restricted host)', '000001fffeffffff', 40, ['CAP_SYS_ADMIN', 'CAP_CHECKPOINT_RESTORE'], ['CAP_SYS_RESOURCE']],
    ['nothing', '0000000000000000', 0, [], ['CAP_CHOWN']],
    ['Docker\'s default container set', '00000000a80425fb', 14, ['CAP_CHOWN', 'CAP_NET_BIND_SERVICE', 'CAP_SETFCAP', 'CAP_AUDIT_WRITE'], ['CAP_DAC_READ_SEARCH', 'CAP_SYS_ADMIN', 'CAP_NET_ADMIN']],
    ['an older kernel without perfmon, bpf and checkpoint_restore', '0000003fffffffff', 38, ['CAP_AUDIT_READ'], ['CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE']],
    ['bits a newer kernel adds are ignored', '000003ffffffffff', 41, ['CAP_CHECKPOINT_RESTORE'], []],
    ['only bit 0', '1', 1, ['CAP_CHOWN'], ['CAP_DAC_OVERRIDE']],
  ])('%s', (_name, mask, count, has, lacks) => {
    const caps = capabilitiesFromMask(mask);
    expect(caps).toHaveLength(count);
    for (const c of has) expect(caps).toContain(c);
    for (const c of lacks) expect(caps).not.toContain(c);
  });

  it('keeps bit order', () => {
    expect(capabilitiesFromMask('0000000000003000')).toEqual(['CAP_NET_ADMIN', 'CAP_NET_RAW']);
  });
});

describe('readHostCapabilities', () => {
  it.each<[string, string, Omit<HostCapabilities, 'effective'>, number]>([
    ['a complete host', status('000001ffffffffff'), { complete: true, hasSysResource: true }, 41],
    ['a host without CAP_SYS_RESOURCE', status('000001fffeffffff'), { complete: false, hasSysResource: false }, 40],
    ['an unprivileged process', status('0000000000000000'), { complete: false, hasSysResource: false }, 0],
    ['a status without a CapEff line', 'Name:\tnode\nCapPrm:\t000001ffffffffff\n', { complete: false, hasSysResource: false }, 0],
  ])('%s', (_name, text, want, count) => {
    const caps = readHostCapabilities(text);
    expect(caps).toMatchObject(want);
    expect(caps.effective).toHaveLength(count);
  });

  it('reads CapEff, not the lines around it', () => {
    const text = status('000001ffffffffff').replace(/^CapEff:.*$/m, 'CapEff:\t0000000000003000');
    expect(readHostCapabilities(text).effective).toEqual(['CAP_NET_ADMIN', 'CAP_NET_RAW']);
  });
});
