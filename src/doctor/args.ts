// `dockercri doctor` takes the daemon's flags (so a unit file's ExecStart line can be pasted) and one
// of its own, --kubelet-config.
import { flagsHelp, parseFlags, type Config } from '../config/flags.js';

export const DEFAULT_KUBELET_CONFIG = '/var/lib/kubelet/config.yaml';

export interface DoctorOptions {
  config: Config;
  kubeletConfig: string;
}

export type DoctorArgs = { kind: 'run'; options: DoctorOptions } | { kind: 'help'; text: string } | { kind: 'version' } | { kind: 'error'; message: string };

/** Parses the arguments after `doctor`: --kubelet-config is taken out, the rest go to the daemon's parser. */
export function parseDoctorArgs(argv: readonly string[]): DoctorArgs {
  let kubeletConfig = DEFAULT_KUBELET_CONFIG;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--kubelet-config') {
      const next = argv[i + 1];
      if (next === undefined) return { kind: 'error', message: 'flag needs an argument: --kubelet-config' };
      kubeletConfig = next;
      i++;
    } else if (arg.startsWith('--kubelet-config=')) {
      kubeletConfig = arg.slice('--kubelet-config='.length);
    } else {
      rest.push(arg);
      continue;
    }
    if (kubeletConfig === '') return { kind: 'error', message: 'invalid value "" for --kubelet-config: must be a path' };
  }
  const parsed = parseFlags(rest);
  switch (parsed.kind) {
    case 'run':
      return { kind: 'run', options: { config: parsed.config, kubeletConfig } };
    case 'help':
      return { kind: 'help', text: doctorHelp() };
    default:
      return parsed;
  }
}

export function doctorHelp(): string {
  return [
    'dockercri doctor: checks this node as it would serve kubelet, one line per check (ok, warn or fail, with the fix):',
    'Docker Engine and its API version, the cgroup driver against kubelet\'s, the pause image, the CNI network config',
    'and its plugins, the CRI socket path, CAP_SYS_RESOURCE, the cgroup version and free space where Docker keeps its data.',
    'Exit status: 0 when nothing fails, 1 when a check fails, 2 for bad flags.',
    '',
    'Usage:',
    '  dockercri doctor [flags]',
    '',
    'Flags (give the ones dockercri runs with; the rest of the daemon\'s flags are accepted and ignored):',
    '      --kubelet-config string',
    `          kubelet's configuration file, compared for cgroupDriver and failCgroupV1 when it exists (default ${JSON.stringify(DEFAULT_KUBELET_CONFIG)})`,
    ...flagsHelp(),
    '',
  ].join('\n');
}
