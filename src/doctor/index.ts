// `dockercri doctor`: checks a node as an operator would before pointing kubelet at dockercri.
import { realpath } from 'node:fs/promises';
import { pino } from 'pino';
import { DockerClient } from '../docker/client.js';
import { socketPath } from '../server/socket.js';
import { DOCKERCRI_VERSION } from '../version.js';
import { parseDoctorArgs, type DoctorOptions } from './args.js';
import { activatedSocketCheck, capabilitiesCheck, cgroupDriverCheck, cgroupVersionCheck, cniConfigCheck, cniPluginsCheck, diskCheck, dockerCheck, pauseImageCheck, socketCheck, type Check } from './checks.js';
import { probeCapabilities, probeCgroupVersion, probeCniConfig, probeDisk, probeDocker, probeImage, probeKubeletConfig, probePlugins, probeSocket } from './probes.js';
import { exitStatus, formatReport } from './report.js';

/** A doctor waits this long at most for Docker, whatever --runtime-request-timeout says. */
const DOCKER_TIMEOUT_MS = 10_000;

export async function diagnose(options: DoctorOptions): Promise<Check[]> {
  const { config } = options;
  const docker = new DockerClient(config.dockerEndpoint, Math.min(config.runtimeRequestTimeoutMs, DOCKER_TIMEOUT_MS), pino({ level: 'silent' }));
  const selfScript = process.argv[1] ? await realpath(process.argv[1]).catch(() => undefined) : undefined;
  const activated = config.containerRuntimeEndpoint.startsWith('fd://');
  const criSocket = socketPath(config.containerRuntimeEndpoint);
  const useCni = config.networkPlugin === 'cni';

  const [engine, kubelet, cni, socket, cgroupVersion] = await Promise.all([
    probeDocker(docker),
    probeKubeletConfig(options.kubeletConfig),
    useCni ? probeCniConfig(config.cniConfDir) : undefined,
    activated ? undefined : probeSocket(criSocket, selfScript),
    probeCgroupVersion(),
  ]);
  const network = cni?.ok ? cni.files.find((f) => 'network' in f) : undefined;
  const [pausePresent, plugins, disk] = await Promise.all([
    engine.ok ? probeImage(docker, config.podInfraContainerImage) : undefined,
    network && 'network' in network ? probePlugins(network.network.plugins, config.cniBinDirs) : undefined,
    engine.ok ? probeDisk(engine.dockerRootDir) : undefined,
  ]);

  return [
    dockerCheck(config.dockerEndpoint, engine),
    cgroupDriverCheck(engine, { path: options.kubeletConfig, ...(kubelet ? { settings: kubelet } : {}) }),
    pauseImageCheck(config.podInfraContainerImage, engine, pausePresent),
    cniConfigCheck(config.networkPlugin, config.cniConfDir, cni ?? { ok: true, files: [] }),
    cniPluginsCheck(config.networkPlugin, config.cniBinDirs, plugins),
    socket ? socketCheck(criSocket, socket) : activatedSocketCheck(config.containerRuntimeEndpoint),
    capabilitiesCheck(probeCapabilities(), config.restrictOomScoreAdj),
    cgroupVersionCheck(cgroupVersion, kubelet),
    diskCheck(engine.ok ? engine.dockerRootDir : undefined, disk),
  ];
}

/** Runs `dockercri doctor` with the arguments after "doctor"; resolves to the exit status. */
export async function runDoctor(argv: string[]): Promise<number> {
  const args = parseDoctorArgs(argv);
  switch (args.kind) {
    case 'error':
      process.stderr.write(`dockercri doctor: ${args.message}\n`);
      return 2;
    case 'help':
      process.stdout.write(args.text);
      return 0;
    case 'version':
      process.stdout.write(`dockercri ${DOCKERCRI_VERSION}\n`);
      return 0;
    case 'run': {
      const checks = await diagnose(args.options);
      process.stdout.write(formatReport(checks));
      return exitStatus(checks);
    }
  }
}
