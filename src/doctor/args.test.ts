import { describe, expect, it } from 'vitest';
import { DEFAULT_KUBELET_CONFIG, doctorHelp, parseDoctorArgs } from './args.js';

describe('parseDoctorArgs', () => {
  it("takes the daemon's flags with their defaults", () => {
    const got = parseDoctorArgs(['--cni-bin-dir=/usr/lib/cni,/opt/cni/bin', '--network-plugin=']);
    expect(got).toMatchObject({ kind: 'run', options: { kubeletConfig: DEFAULT_KUBELET_CONFIG, config: { cniBinDirs: ['/usr/lib/cni', '/opt/cni/bin'], networkPlugin: '', dockerEndpoint: 'unix:///var/run/docker.sock' } } });
  });
  it.each([[['--kubelet-config', '/k.yaml']], [['--kubelet-config=/k.yaml']], [['--log-level=debug', '--kubelet-config', '/k.yaml', '--network-plugin=']]])('%j sets the kubelet config', (argv) => {
    expect(parseDoctorArgs(argv)).toMatchObject({ kind: 'run', options: { kubeletConfig: '/k.yaml' } });
  });
  it.each([
    [['--kubelet-config'], 'flag needs an argument: --kubelet-config'],
    [['--kubelet-config='], 'invalid value "" for --kubelet-config'],
    [['--bogus'], 'unknown flag: --bogus'],
    [['--docker-endpoint=http://x'], 'invalid value "http://x" for --docker-endpoint'],
    [['extra'], 'unexpected argument "extra"'],
  ])('%j is an error', (argv, why) => {
    const got = parseDoctorArgs(argv);
    expect(got.kind).toBe('error');
    expect((got as { message: string }).message).toContain(why);
  });
  it('--help gives the doctor help, which lists its flag and the daemon flags', () => {
    expect(parseDoctorArgs(['--help'])).toEqual({ kind: 'help', text: doctorHelp() });
    expect(doctorHelp()).toContain('--kubelet-config string');
    expect(doctorHelp()).toContain('--cni-bin-dir string');
    expect(doctorHelp()).toContain('Exit status: 0 when nothing fails, 1 when a check fails, 2 for bad flags.');
  });
  it('--version is passed through', () => {
    expect(parseDoctorArgs(['--version'])).toEqual({ kind: 'version' });
  });
});
