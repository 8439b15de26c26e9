// The doctor's verdicts: each function turns facts gathered by probes.ts into one report line.
// Pure, so every threshold and every wording is unit-tested without a node to break.

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
  /** What the operator should do; set for every warn and fail. */
  fix?: string;
}

const GiB = 1024 ** 3;

/** The kubelet settings the doctor compares against, read from its config file. */
export interface KubeletSettings {
  cgroupDriver?: string;
  failCgroupV1?: boolean;
}

/** KubeletConfiguration v1beta1 defaults cgroupDriver to cgroupfs (kubeadm writes systemd explicitly). */
export const KUBELET_DEFAULT_CGROUP_DRIVER = 'cgroupfs';

function unquote(value: string): string {
  const v = value.trim();
  if (v.length >= 2 && ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'")))) return v.slice(1, -1);
  return v;
}

/**
 * Reads the top-level `cgroupDriver` and `failCgroupV1` of a KubeletConfiguration, YAML or JSON.
 * A line-level read is enough: both are scalar fields at the top of the document.
 */
export function parseKubeletConfig(text: string): KubeletSettings {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    try {
      const doc = JSON.parse(trimmed) as Record<string, unknown>;
      return {
        ...(typeof doc.cgroupDriver === 'string' ? { cgroupDriver: doc.cgroupDriver } : {}),
        ...(typeof doc.failCgroupV1 === 'boolean' ? { failCgroupV1: doc.failCgroupV1 } : {}),
      };
    } catch {
      return {};
    }
  }
  const out: KubeletSettings = {};
  for (const line of text.split('\n')) {
    // only unindented keys belong to the top-level object
    const m = /^(cgroupDriver|failCgroupV1)\s*:\s*(.*?)\s*$/.exec(line.replace(/\s+#.*$/, ''));
    if (!m) continue;
    const value = unquote(m[2] as string);
    if (m[1] === 'cgroupDriver') out.cgroupDriver = value;
    else if (/^(true|false)$/i.test(value)) out.failCgroupV1 = value.toLowerCase() === 'true';
  }
  return out;
}

export type DockerFacts =
  | { ok: true; version: string; apiVersion: string; cgroupDriver: 'systemd' | 'cgroupfs'; dockerRootDir: string }
  | { ok: false; error: string };

export function dockerCheck(endpoint: string, docker: DockerFacts): Check {
  if (docker.ok) return { name: 'docker', status: 'ok', detail: `Docker Engine ${docker.version} answers on ${endpoint} (API ${docker.apiVersion})` };
  const socket = endpoint.startsWith('unix://') ? endpoint.slice('unix://'.length) : undefined;
  return {
    name: 'docker',
    status: 'fail',
    detail: `no answer from ${endpoint}: ${docker.error}`,
    fix: socket
      ? `start Docker Engine (systemctl start docker, or dockerd) or point --docker-endpoint at the socket it serves (not ${socket})`
      : 'start Docker Engine or point --docker-endpoint at the address it serves',
  };
}

const notChecked = (name: string): Check => ({ name, status: 'warn', detail: 'not checked: Docker Engine does not answer', fix: 'fix the docker check first' });

export function cgroupDriverCheck(docker: DockerFacts, kubeletConfig: { path: string; settings?: KubeletSettings }): Check {
  if (!docker.ok) return notChecked('cgroup-driver');
  const engine = docker.cgroupDriver;
  if (!kubeletConfig.settings) {
    return { name: 'cgroup-driver', status: 'ok', detail: `Docker uses ${engine}; no kubelet config at ${kubeletConfig.path}, so give kubelet cgroupDriver: ${engine}` };
  }
  const kubelet = kubeletConfig.settings.cgroupDriver ?? KUBELET_DEFAULT_CGROUP_DRIVER;
  const source = kubeletConfig.settings.cgroupDriver === undefined ? `kubelet's default (${kubeletConfig.path} does not set cgroupDriver)` : kubeletConfig.path;
  if (kubelet === engine) return { name: 'cgroup-driver', status: 'ok', detail: `Docker and kubelet both use ${engine} (${source})` };
  return {
    name: 'cgroup-driver',
    status: 'fail',
    detail: `Docker uses ${engine} but kubelet is set to ${kubelet} by ${source}; kubelets that learn the driver over CRI take dockercri's answer, older ones put pods in cgroups Docker does not manage`,
    fix: `set cgroupDriver: ${engine} in ${kubeletConfig.path}${kubelet === 'systemd' || kubelet === 'cgroupfs' ? `, or switch Docker with "exec-opts": ["native.cgroupdriver=${kubelet}"] in /etc/docker/daemon.json` : ''}`,
  };
}

export function pauseImageCheck(image: string, docker: DockerFacts, present: boolean | undefined): Check {
  if (!docker.ok || present === undefined) return notChecked('pause-image');
  if (present) return { name: 'pause-image', status: 'ok', detail: `${image} is present` };
  return {
    name: 'pause-image',
    status: 'warn',
    detail: `${image} is not present; the first pod will pull it, which fails on a node without access to its registry`,
    fix: `docker pull ${image} (or docker load it), or set --pod-infra-container-image to an image the node has`,
  };
}

/** One candidate file in the CNI conf dir: its plugins when usable, otherwise why not. */
export type CniFile = { file: string; network: { name: string; plugins: string[] } } | { file: string; problem: string };

export type CniScan = { ok: true; files: CniFile[] } | { ok: false; error: string };

export function cniConfigCheck(networkPlugin: string, confDir: string, scan: CniScan): Check {
  if (networkPlugin === '') return { name: 'cni-config', status: 'ok', detail: 'not used: --network-plugin is empty, pods get Docker\'s bridge' };
  if (!scan.ok) return { name: 'cni-config', status: 'fail', detail: `cannot read ${confDir}: ${scan.error}`, fix: `create ${confDir} with a network config list (e.g. a bridge .conflist), or set --cni-conf-dir` };
  const chosen = scan.files.findIndex((f) => 'network' in f);
  const broken = scan.files.filter((f): f is CniFile & { problem: string } => 'problem' in f);
  if (chosen === -1) {
    if (broken.length === 0) return { name: 'cni-config', status: 'fail', detail: `no *.conf, *.conflist or *.json file in ${confDir}`, fix: `put a network config list in ${confDir} (or set --cni-conf-dir), or run with --network-plugin= for Docker's bridge` };
    return {
      name: 'cni-config',
      status: 'fail',
      detail: broken.map((f) => `${f.file}: ${f.problem}`).join('; '),
      fix: `repair ${broken.length === 1 ? 'that file' : 'those files'} (the first valid one in lexical order is used), or add a valid network config list`,
    };
  }
  const network = scan.files[chosen] as CniFile & { network: { name: string; plugins: string[] } };
  const skipped = broken.filter((f) => scan.files.indexOf(f) < chosen);
  const base = `${network.file}: network "${network.network.name}" (${network.network.plugins.join(', ')})`;
  if (skipped.length === 0) return { name: 'cni-config', status: 'ok', detail: base };
  return {
    name: 'cni-config',
    status: 'warn',
    detail: `${base}; skipped before it: ${skipped.map((f) => `${f.file}: ${f.problem}`).join('; ')}`,
    fix: 'repair or remove the skipped files: whichever becomes valid first in lexical order takes over the pod network',
  };
}

/** Where each plugin a network needs was found: its path, and whether it is executable. */
export type PluginLookup = Map<string, { path: string; executable: boolean } | undefined>;

export function cniPluginsCheck(networkPlugin: string, binDirs: readonly string[], lookup: PluginLookup | undefined): Check {
  if (networkPlugin === '') return { name: 'cni-plugins', status: 'ok', detail: 'not used: --network-plugin is empty' };
  if (!lookup) return { name: 'cni-plugins', status: 'warn', detail: 'not checked: no valid CNI network config', fix: 'fix the cni-config check first' };
  const dirs = binDirs.length > 0 ? binDirs.join(', ') : '(none)';
  const missing = [...lookup].filter(([, found]) => !found).map(([type]) => type);
  const notExec = [...lookup].filter(([, found]) => found && !found.executable).map(([, found]) => (found as { path: string }).path);
  if (missing.length === 0 && notExec.length === 0) return { name: 'cni-plugins', status: 'ok', detail: `${[...lookup.keys()].join(', ')} found in ${dirs}` };
  const parts: string[] = [];
  if (missing.length > 0) parts.push(`plugin${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not found in ${dirs}`);
  if (notExec.length > 0) parts.push(`not executable: ${notExec.join(', ')}`);
  return {
    name: 'cni-plugins',
    status: 'fail',
    detail: parts.join('; '),
    fix: missing.length > 0 ? `install the CNI plugins (e.g. containernetworking-plugins) into one of ${dirs}, or point --cni-bin-dir at where they are` : `chmod +x ${notExec.join(' ')}`,
  };
}

/** What is at the CRI socket path. */
export type SocketProbe =
  | { state: 'free' }
  | { state: 'not-socket' }
  | { state: 'stale' }
  | { state: 'live'; holder?: string; version?: { runtimeName: string; runtimeVersion: string }; versionError?: string; ours: boolean };

/** `fd://` endpoints: systemd holds the socket and passes it, so there is no path to look at. */
export function activatedSocketCheck(endpoint: string): Check {
  return {
    name: 'socket',
    status: 'ok',
    detail: `${endpoint}: the listening socket comes from systemd (dockercri.socket, at /run/cri-dockerd.sock); cri-docker.socket must not hold the same path`,
  };
}

export function socketCheck(path: string, probe: SocketProbe): Check {
  const name = 'socket';
  switch (probe.state) {
    case 'free':
      return { name, status: 'ok', detail: `${path} is free` };
    case 'not-socket':
      return { name, status: 'fail', detail: `${path} exists and is not a socket; dockercri will not replace it`, fix: `remove ${path} or choose another --container-runtime-endpoint` };
    case 'stale':
      return { name, status: 'warn', detail: `${path} is a socket nobody listens on (left by a process that died); dockercri will replace it at start`, fix: `nothing to do, or rm ${path}` };
    case 'live': {
      const who = probe.holder ? ` (${probe.holder})` : '';
      if (probe.version && probe.ours) return { name, status: 'ok', detail: `dockercri already serves ${path}${who}, on Docker ${probe.version.runtimeVersion}` };
      const stop = 'stop it before starting dockercri, or choose another --container-runtime-endpoint';
      if (probe.version?.runtimeName === 'docker') {
        if (!probe.holder) {
          return { name, status: 'warn', detail: `a Docker CRI shim answers on ${path} (dockercri and cri-dockerd answer alike; its process could not be seen)`, fix: 'run the doctor as root to tell which, and stop cri-dockerd if it is the one' };
        }
        return {
          name,
          status: 'fail',
          detail: `${path} is served by another Docker CRI shim${who}`,
          fix: 'stop it (for cri-dockerd: systemctl disable --now cri-docker.socket cri-docker.service) before starting dockercri; its pods keep running and dockercri adopts them',
        };
      }
      if (probe.version) {
        return { name, status: 'fail', detail: `${path} is served by another CRI runtime${who}: ${probe.version.runtimeName} ${probe.version.runtimeVersion}`, fix: stop };
      }
      return { name, status: 'fail', detail: `a process listens on ${path}${who} but does not answer CRI Version (${probe.versionError ?? 'no answer'})`, fix: stop };
    }
  }
}

function others(missing: string[]): string {
  const rest = missing.filter((c) => c !== 'CAP_SYS_RESOURCE');
  return rest.length > 0 ? ` (as are ${rest.join(', ')})` : '';
}

export function capabilitiesCheck(held: { hasSysResource: boolean; missing: string[] }, restrictOomScoreAdj: boolean | undefined): Check {
  const name = 'capabilities';
  if (held.hasSysResource) {
    const rest = held.missing.length > 0 ? `; missing ${held.missing.join(', ')}, so privileged containers get only what is held` : '';
    return { name, status: held.missing.length > 0 ? 'warn' : 'ok', detail: `CAP_SYS_RESOURCE held${rest}`, ...(held.missing.length > 0 ? { fix: 'run dockercri with the full capability bounding set if privileged pods need the missing ones' } : {}) };
  }
  if (restrictOomScoreAdj === false) {
    return {
      name,
      status: 'fail',
      detail: 'CAP_SYS_RESOURCE is missing and --restrict-oom-score-adj=false: runc cannot set the negative oom_score_adj kubelet asks for, so sandboxes fail to start',
      fix: 'drop --restrict-oom-score-adj=false, or run dockercri (and Docker) where CAP_SYS_RESOURCE is in the bounding set',
    };
  }
  return {
    name,
    status: 'warn',
    detail: `CAP_SYS_RESOURCE is missing${others(held.missing)}: dockercri will restrict oom_score_adj: kubelet's negative scores (-998 for pause containers, -997 for Guaranteed pods) are raised to dockercri's own`,
    fix: 'run dockercri (and Docker) where CAP_SYS_RESOURCE is in the bounding set, e.g. not inside a container or user namespace that drops it',
  };
}

export function cgroupVersionCheck(version: 1 | 2, kubelet: KubeletSettings | undefined): Check {
  if (version === 2) return { name: 'cgroups', status: 'ok', detail: 'cgroup v2 (unified hierarchy)' };
  const allowed = kubelet?.failCgroupV1 === false;
  return {
    name: 'cgroups',
    status: 'warn',
    detail: `cgroup v1: deprecated by Kubernetes; kubelet 1.35 and later refuse to start on it unless failCgroupV1: false${allowed ? ' (set in the kubelet config)' : ''}`,
    fix: allowed ? 'plan a move to cgroup v2 (boot with systemd.unified_cgroup_hierarchy=1)' : 'boot with cgroup v2 (systemd.unified_cgroup_hierarchy=1), or set failCgroupV1: false in the kubelet config',
  };
}

/** kubelet's default hard eviction threshold for the image filesystem (imagefs.available<15%). */
export const DISK_WARN_FRACTION = 0.15;
/** Below this, a single image pull or container log can fill the disk. */
export const DISK_FAIL_BYTES = 1 * GiB;
/** kubelet's default hard eviction threshold for inodes (nodefs.inodesFree<5%). */
export const INODES_WARN_FRACTION = 0.05;

export type DiskFacts = { ok: true; totalBytes: number; availableBytes: number; totalInodes: number; freeInodes: number } | { ok: false; error: string };

function size(bytes: number): string {
  return bytes >= GiB ? `${(bytes / GiB).toFixed(1)} GiB` : `${Math.round(bytes / 1024 ** 2)} MiB`;
}

export function diskCheck(dir: string | undefined, disk: DiskFacts | undefined): Check {
  const name = 'disk';
  if (dir === undefined || disk === undefined) return notChecked(name);
  if (!disk.ok) return { name, status: 'warn', detail: `cannot measure ${dir}: ${disk.error} (is Docker on another host?)`, fix: 'check free space where Docker keeps its data by hand' };
  const pct = disk.totalBytes > 0 ? disk.availableBytes / disk.totalBytes : 0;
  const base = `${size(disk.availableBytes)} free of ${size(disk.totalBytes)} (${(pct * 100).toFixed(0)}%) in ${dir}`;
  const thresholds = `fail under ${size(DISK_FAIL_BYTES)}, warn under ${DISK_WARN_FRACTION * 100}% (kubelet's imagefs.available eviction threshold)`;
  if (disk.availableBytes < DISK_FAIL_BYTES) return { name, status: 'fail', detail: `${base}; ${thresholds}`, fix: `free space in ${dir} (docker image prune, docker system prune) or grow the filesystem` };
  if (pct < DISK_WARN_FRACTION) return { name, status: 'warn', detail: `${base}; ${thresholds}: kubelet will garbage-collect images and evict pods`, fix: `free space in ${dir} (docker image prune) or grow the filesystem` };
  if (disk.totalInodes > 0 && disk.freeInodes / disk.totalInodes < INODES_WARN_FRACTION) {
    return { name, status: 'warn', detail: `${base}, but only ${disk.freeInodes} inodes free (under ${INODES_WARN_FRACTION * 100}%, kubelet's nodefs.inodesFree eviction threshold)`, fix: `remove unused images and containers in ${dir}` };
  }
  return { name, status: 'ok', detail: base };
}
