// ContainerConfig → the Docker create body of a CRI container. Pure: no I/O; whatever needs the
// host or the Engine (the image, a seccomp profile file, the API version) comes in as a fact.
import { posix } from 'node:path';
import { Code, CriError, invalidArgument } from '../errors.js';
import { runtime } from '../gen/api.js';
import type { ContainerCreateBody } from '../docker/client.js';
import { LABEL_LOG_PATH, LABEL_SANDBOX_ID, LABEL_TYPE, TYPE_CONTAINER, containerName, isNamePart, makeLabels } from '../docker/naming.js';
import { NamespaceMode, cgroupParent } from '../sandbox/translate.js';
import { apparmorChoice, apparmorOpts, dockerUser, privilegedOptions, seccompChoice, seccompOpts, selinuxOpts } from '../security/translate.js';
import { int64 } from '../util/time.js';
import { apiAtLeast } from '../docker/engine-features.js';

export { apiAtLeast };

type HostConfig = NonNullable<ContainerCreateBody['HostConfig']>;

/** What the shim knows about the sandbox a container joins. */
export interface SandboxFacts {
  /** Docker ID of the pause container. */
  sandboxId: string;
  pod: { name: string; namespace: string; uid: string };
  /** PodSandboxConfig.log_directory: container log paths are relative to it. */
  logDirectory: string;
  /** PodSandboxConfig.linux.cgroup_parent as kubelet wrote it. */
  cgroupParent: string;
  hostNetwork: boolean;
  hostIpc: boolean;
  /** The sandbox's Docker runtime (HostConfig.Runtime); its containers use the same one. */
  runtime?: string;
}

/** The image a container runs, as the Engine describes it. */
export interface ContainerImage {
  /** The image ID ("sha256:..."), so a tag moved after the pull cannot swap the image. */
  id: string;
  entrypoint?: readonly string[] | null;
  cmd?: readonly string[] | null;
  /** The image's USER ("name", "uid" or "user:group"); empty when it sets none. */
  user?: string;
}

export interface ContainerCreateOptions {
  image: ContainerImage;
  /** The Engine's API version (dockercri speaks the Engine's newest). */
  apiVersion: string;
  cgroupDriver: 'systemd' | 'cgroupfs';
  /** Lowest oom_score_adj this host lets dockercri give (its own when it lacks CAP_SYS_RESOURCE). */
  oomScoreAdjFloor?: number;
  hostCapsComplete: boolean;
  heldCapabilities: readonly string[];
  /** Content of the Localhost seccomp profile, read by the caller; required for one. */
  seccompProfileJson?: string;
  /** Why the sandbox's Docker runtime cannot mount recursively read-only; undefined when it can. */
  recursiveReadOnlyGap?: string;
  /** Whether the Engine has CDI enabled (Docker 25 and newer, "cdi" feature). */
  cdiSupported: boolean;
  /** The Docker ID of namespace_options.target_id, resolved by the caller; else target_id as given. */
  targetDockerId?: string;
  /** json-file options of Docker's log, which dockercri follows to write the CRI log. */
  dockerLogOptions?: Record<string, string>;
}

/**
 * Docker keeps each container's output in a json-file log that dockercri copies to the CRI log
 * file kubelet reads; the json-file log is only the buffer that covers dockercri restarts, so it is
 * bounded rather than left to grow with the CRI log beside it. Never compressed (a daemon-wide
 * log-opt could ask for it): the copier reads rotated files as they are.
 */
export const DEFAULT_DOCKER_LOG_OPTIONS: Readonly<Record<string, string>> = { 'max-size': '10m', 'max-file': '3', compress: 'false' };

/** Engine API versions that changed what a create body can say. */
const API_CREATE_MOUNTPOINT = '1.42';
const API_READ_ONLY_RECURSION = '1.44';

const CONTAINER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9.-]*$/;
const CAPABILITY_NAME = /^[A-Za-z0-9_]+$/;
const DEVICE_PERMISSIONS = /^(?!.*(.).*\1)[rwm]*$/;
const CDI_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*\/[a-zA-Z0-9][a-zA-Z0-9_.-]*=[a-zA-Z0-9][a-zA-Z0-9_.:-]*$/;
const SWAP_MAX = 'memory.swap.max';
const OOM_SCORE_ADJ_MIN = -1000;
const OOM_SCORE_ADJ_MAX = 1000;

const hasDotDot = (p: string): boolean => p.split('/').includes('..');

/** An absolute path without ".." components; `what` names it in the error. */
function checkAbsolute(p: string, what: string): void {
  if (!p.startsWith('/')) throw invalidArgument(`CreateContainer: ${what} "${p.slice(0, 200)}" must be an absolute path`);
  if (hasDotDot(p)) throw invalidArgument(`CreateContainer: ${what} "${p.slice(0, 200)}" must not contain ".."`);
}

/** Rejects a config kubelet would never send, before anything is created. */
export function validateContainerConfig(config: runtime.v1.IContainerConfig | null | undefined, logDirectory: string): asserts config is runtime.v1.IContainerConfig {
  if (!config) throw invalidArgument('CreateContainer: config is required');
  const name = config.metadata?.name ?? '';
  if (!config.metadata || name === '') throw invalidArgument('CreateContainer: config.metadata.name is required');
  if (!isNamePart(name) || !CONTAINER_NAME.test(name)) throw invalidArgument(`CreateContainer: container name "${name.slice(0, 100)}" must be letters, digits, '.' and '-'`);
  if (!config.image?.image) throw invalidArgument(`CreateContainer: container ${name}: config.image.image is required`);
  for (const k of [...Object.keys(config.labels ?? {}), ...Object.keys(config.annotations ?? {})]) {
    if (k === '') throw invalidArgument(`CreateContainer: container ${name}: label and annotation keys must not be empty`);
  }
  logPathLabel(logDirectory, config.logPath ?? '');
  if (config.workingDir && !config.workingDir.startsWith('/')) throw invalidArgument(`CreateContainer: working directory "${config.workingDir.slice(0, 200)}" must be an absolute path`);
  envList(config.envs);
  validateMounts(config.mounts ?? []);
  deviceMappings(config.devices);
  for (const d of config.CDIDevices ?? []) {
    if (!CDI_NAME.test(d.name ?? '')) throw invalidArgument(`CreateContainer: CDI device "${(d.name ?? '').slice(0, 200)}" is not a fully qualified name (vendor.com/class=name)`);
  }
  validateResources(config.linux?.resources);
  validateSecurityContext(config.linux?.securityContext);
  stopSignalName(config.stopSignal);
}

/** The log path label: log_directory joined with log_path; undefined when kubelet asks for no log. */
export function logPathLabel(logDirectory: string, logPath: string): string | undefined {
  if (logPath === '') return undefined;
  if (logPath.startsWith('/')) throw invalidArgument(`CreateContainer: log path "${logPath.slice(0, 200)}" must be relative to the sandbox's log directory`);
  if (hasDotDot(logPath)) throw invalidArgument(`CreateContainer: log path "${logPath.slice(0, 200)}" must not contain ".."`);
  if (!logDirectory.startsWith('/')) throw invalidArgument(`CreateContainer: a log path needs the sandbox's log_directory to be an absolute path, not "${logDirectory.slice(0, 200)}"`);
  return posix.join(logDirectory, logPath);
}

/**
 * CRI's command and args over the image's ENTRYPOINT and CMD: a command replaces the entrypoint
 * (and drops the image's cmd), args alone replace the cmd. Unset fields are left out, since Docker
 * reads an empty Entrypoint as "none" rather than "the image's".
 */
export function commandAndArgs(command: readonly string[] | null | undefined, args: readonly string[] | null | undefined, image: ContainerImage): { Entrypoint?: string[]; Cmd?: string[] } {
  const out: { Entrypoint?: string[]; Cmd?: string[] } = {};
  if (command && command.length > 0) out.Entrypoint = [...command];
  if (args && args.length > 0) out.Cmd = [...args];
  const runs = out.Entrypoint ?? image.entrypoint ?? [];
  const withArgs = out.Cmd ?? (out.Entrypoint ? [] : image.cmd ?? []);
  if (runs.length === 0 && withArgs.length === 0) throw invalidArgument(`CreateContainer: nothing to run: the config has no command or args and image ${image.id} has no entrypoint or cmd`);
  return out;
}

/** Environment variables as Docker's "KEY=value" list. */
export function envList(envs: readonly runtime.v1.IKeyValue[] | null | undefined): string[] {
  const decoder = new TextDecoder();
  return (envs ?? []).map((e) => {
    const key = e.key ?? '';
    if (key === '' || key.includes('=') || key.includes('\0')) throw invalidArgument(`CreateContainer: environment variable name "${key.slice(0, 100)}" must be non-empty, without '=' or NUL`);
    const raw: unknown = e.value;
    const value = typeof raw === 'string' ? raw : raw instanceof Uint8Array ? decoder.decode(raw) : '';
    if (value.includes('\0')) throw invalidArgument(`CreateContainer: environment variable ${key.slice(0, 100)} must not contain NUL`);
    return `${key}=${value}`;
  });
}

// ---- mounts ------------------------------------------------------------------------------------

type Propagation = 'rslave' | 'rshared';

/**
 * Docker's propagation for a CRI one. PRIVATE is left to Docker: it is rprivate there, except for
 * sources inside (or above) Docker's root, where Docker refuses rprivate and uses rslave itself.
 */
export function mountPropagation(p: runtime.v1.MountPropagation | null | undefined): Propagation | undefined {
  switch (p ?? runtime.v1.MountPropagation.PROPAGATION_PRIVATE) {
    case runtime.v1.MountPropagation.PROPAGATION_PRIVATE:
      return undefined;
    case runtime.v1.MountPropagation.PROPAGATION_HOST_TO_CONTAINER:
      return 'rslave';
    case runtime.v1.MountPropagation.PROPAGATION_BIDIRECTIONAL:
      return 'rshared';
    default:
      throw invalidArgument(`CreateContainer: unknown mount propagation ${String(p)}`);
  }
}

/** A HostConfig.Mounts entry of type bind, with the options Docker's bind-string syntax lacks. */
export interface BindMount {
  Type: 'bind';
  Source: string;
  Target: string;
  ReadOnly?: boolean;
  BindOptions?: {
    Propagation?: Propagation;
    CreateMountpoint?: boolean;
    ReadOnlyNonRecursive?: boolean;
    ReadOnlyForceRecursive?: boolean;
  };
}

// Docker's bind string is split at ':', so such paths can only go through HostConfig.Mounts.
const hasColon = (m: runtime.v1.IMount): boolean => (m.hostPath ?? '').includes(':') || (m.containerPath ?? '').includes(':');

function validateMounts(mounts: readonly runtime.v1.IMount[]): void {
  const targets = new Set<string>();
  for (const m of mounts) {
    const target = m.containerPath ?? '';
    checkAbsolute(target, 'mount container path');
    if (m.image) throw invalidArgument(`CreateContainer: mount at ${target}: image volumes are not supported by dockercri`);
    if ((m.uidMappings ?? []).length > 0 || (m.gidMappings ?? []).length > 0) throw invalidArgument(`CreateContainer: mount at ${target}: idmapped mounts are not supported by dockercri`);
    if (!m.hostPath) throw invalidArgument(`CreateContainer: mount at ${target}: host_path is required`);
    checkAbsolute(m.hostPath, 'mount host path');
    mountPropagation(m.propagation);
    if (m.recursiveReadOnly) {
      if (!m.readonly) throw invalidArgument(`CreateContainer: mount at ${target}: recursive_read_only needs readonly`);
      if ((m.propagation ?? 0) !== runtime.v1.MountPropagation.PROPAGATION_PRIVATE) throw invalidArgument(`CreateContainer: mount at ${target}: recursive_read_only needs private propagation`);
    }
    // Docker relabels only what its bind-string syntax asks for ("Z")
    if (m.selinuxRelabel && (m.recursiveReadOnly || hasColon(m))) throw invalidArgument(`CreateContainer: mount at ${target}: SELinux relabeling cannot be combined with recursive_read_only or a path containing ':'`);
    const clean = posix.normalize(target).replace(/(.)\/+$/, '$1');
    if (targets.has(clean)) throw invalidArgument(`CreateContainer: two mounts at ${target}`);
    targets.add(clean);
  }
}

/**
 * The mounts as Docker's bind strings ("src:dst:ro,rslave,Z"), which create a missing source
 * directory on every API version (as kubelet expects of a runtime) and have Docker relabel for
 * SELinux; mounts the syntax cannot say go to HostConfig.Mounts: paths with ':', recursive
 * read-only, and, from API 1.44 on (where a read-only bind string turns recursive), read-only
 * ones, unless they are relabeled: a relabel only a bind string can ask for outweighs submounts
 * also turning read-only.
 */
export function mountBindings(mounts: readonly runtime.v1.IMount[] | null | undefined, apiVersion: string, recursiveReadOnlyGap?: string): { Binds: string[]; Mounts: BindMount[] } {
  const out: { Binds: string[]; Mounts: BindMount[] } = { Binds: [], Mounts: [] };
  const recursionControl = apiAtLeast(apiVersion, API_READ_ONLY_RECURSION);
  for (const m of mounts ?? []) {
    const source = m.hostPath ?? '';
    const target = m.containerPath ?? '';
    const propagation = mountPropagation(m.propagation);
    if (m.recursiveReadOnly && (!recursionControl || recursiveReadOnlyGap !== undefined)) {
      const why = recursionControl ? (recursiveReadOnlyGap as string) : `they need Docker Engine API ${API_READ_ONLY_RECURSION} (Engine 25) or newer; this Engine speaks ${apiVersion}`;
      throw new CriError(Code.FAILED_PRECONDITION, `CreateContainer: mount at ${target}: recursive read-only mounts are unsupported here (RROUnsupported): ${why}`);
    }
    const viaMounts = m.recursiveReadOnly || hasColon(m) || (m.readonly && recursionControl && !m.selinuxRelabel);
    if (!viaMounts) {
      const options = [...(m.readonly ? ['ro'] : []), ...(propagation ? [propagation] : []), ...(m.selinuxRelabel ? ['Z'] : [])];
      out.Binds.push([source, target, ...(options.length > 0 ? [options.join(',')] : [])].join(':'));
      continue;
    }
    const bindOptions: NonNullable<BindMount['BindOptions']> = {};
    if (propagation) bindOptions.Propagation = propagation;
    if (apiAtLeast(apiVersion, API_CREATE_MOUNTPOINT)) bindOptions.CreateMountpoint = true;
    if (m.readonly && recursionControl) {
      if (m.recursiveReadOnly) bindOptions.ReadOnlyForceRecursive = true;
      else bindOptions.ReadOnlyNonRecursive = true;
    }
    const mount: BindMount = { Type: 'bind', Source: source, Target: target };
    if (m.readonly) mount.ReadOnly = true;
    if (Object.keys(bindOptions).length > 0) mount.BindOptions = bindOptions;
    out.Mounts.push(mount);
  }
  return out;
}

// ---- devices -----------------------------------------------------------------------------------

export interface DeviceMapping {
  PathOnHost: string;
  PathInContainer: string;
  CgroupPermissions: string;
}

/** Host devices as Docker's device mappings; no permissions means all ("rwm"), as Docker's CLI does. */
export function deviceMappings(devices: readonly runtime.v1.IDevice[] | null | undefined): DeviceMapping[] {
  return (devices ?? []).map((d) => {
    checkAbsolute(d.hostPath ?? '', 'device host path');
    checkAbsolute(d.containerPath ?? '', 'device container path');
    const permissions = d.permissions || 'rwm';
    if (!DEVICE_PERMISSIONS.test(permissions)) throw invalidArgument(`CreateContainer: device ${d.hostPath}: permissions "${permissions.slice(0, 20)}" must be made of r, w and m`);
    return { PathOnHost: d.hostPath ?? '', PathInContainer: d.containerPath ?? '', CgroupPermissions: permissions };
  });
}

/** CDI devices as one Docker device request for the "cdi" driver. */
export function cdiDeviceRequests(devices: readonly runtime.v1.ICDIDevice[] | null | undefined, cdiSupported: boolean): Array<{ Driver: string; DeviceIDs: string[] }> {
  const names = (devices ?? []).map((d) => d.name ?? '');
  if (names.length === 0) return [];
  if (!cdiSupported) throw new CriError(Code.FAILED_PRECONDITION, `CreateContainer: CDI devices (${names.join(', ').slice(0, 200)}) need a Docker Engine with CDI enabled (Engine 25 or newer, "cdi" feature)`);
  return [{ Driver: 'cdi', DeviceIDs: names }];
}

// ---- resources ---------------------------------------------------------------------------------

export interface ResourceOptions {
  CpuPeriod?: number;
  CpuQuota?: number;
  CpuShares?: number;
  CpusetCpus?: string;
  CpusetMems?: string;
  Memory?: number;
  MemorySwap?: number;
  OomScoreAdj?: number;
}

function validateResources(r: runtime.v1.ILinuxContainerResources | null | undefined): void {
  if (!r) return;
  for (const [field, value] of [['cpu_period', r.cpuPeriod], ['cpu_shares', r.cpuShares], ['memory_limit_in_bytes', r.memoryLimitInBytes]] as const) {
    if (int64(value) < 0) throw invalidArgument(`CreateContainer: resources.${field} must not be negative`);
  }
  // -1 is the kernel's "unlimited" for the quota and for swap
  if (int64(r.cpuQuota) < -1) throw invalidArgument('CreateContainer: resources.cpu_quota must be -1 or more');
  const memory = int64(r.memoryLimitInBytes);
  const swap = int64(r.memorySwapLimitInBytes);
  if (swap < -1) throw invalidArgument('CreateContainer: resources.memory_swap_limit_in_bytes must be -1 or more');
  if (swap > 0 && memory === 0) throw invalidArgument('CreateContainer: resources.memory_swap_limit_in_bytes needs memory_limit_in_bytes (Docker limits memory plus swap only with a memory limit)');
  if (swap > 0 && swap < memory) throw invalidArgument('CreateContainer: resources.memory_swap_limit_in_bytes is memory plus swap and must not be below memory_limit_in_bytes');
  const swapMax = r.unified?.[SWAP_MAX];
  if (swapMax !== undefined && swapMax !== 'max' && !/^\d+$/.test(swapMax)) throw invalidArgument(`CreateContainer: resources.unified["${SWAP_MAX}"] "${swapMax.slice(0, 50)}" must be a byte count or "max"`);
  const adj = int64(r.oomScoreAdj);
  if (adj < OOM_SCORE_ADJ_MIN || adj > OOM_SCORE_ADJ_MAX) throw invalidArgument(`CreateContainer: resources.oom_score_adj ${adj} is not in ${OOM_SCORE_ADJ_MIN}..${OOM_SCORE_ADJ_MAX}`);
}

/**
 * Docker's MemorySwap (memory plus swap) for a container. kubelet asks for swap through the field
 * on cgroup v1 and through unified "memory.swap.max" (swap alone) on v2; without either the
 * container gets no swap. Docker limits swap only together with memory, so without a memory limit
 * there is nothing to say.
 */
export function memorySwap(memory: number, swapField: number, unified: Record<string, string> | null | undefined): number | undefined {
  if (memory <= 0) return undefined;
  const swapMax = unified?.[SWAP_MAX];
  if (swapMax !== undefined) return swapMax === 'max' ? -1 : memory + Number(swapMax);
  return swapField !== 0 ? swapField : memory;
}

/** oom_score_adj raised to what the host lets dockercri give, so the start cannot fail on it. */
export const oomScoreAdj = (requested: number, floor: number | undefined): number => (floor === undefined ? requested : Math.max(requested, floor));

/**
 * Linux resources as HostConfig fields (0 and "" mean unset, as in CRI). Hugepage limits and
 * unified entries other than swap are not sent: Docker's API has no field for them.
 */
export function resourceOptions(r: runtime.v1.ILinuxContainerResources | null | undefined, oomFloor: number | undefined): ResourceOptions {
  const out: ResourceOptions = {};
  if (r) {
    const period = int64(r.cpuPeriod);
    const quota = int64(r.cpuQuota);
    const shares = int64(r.cpuShares);
    const memory = int64(r.memoryLimitInBytes);
    if (period !== 0) out.CpuPeriod = period;
    if (quota !== 0) out.CpuQuota = quota;
    if (shares !== 0) out.CpuShares = shares;
    if (r.cpusetCpus) out.CpusetCpus = r.cpusetCpus;
    if (r.cpusetMems) out.CpusetMems = r.cpusetMems;
    if (memory > 0) out.Memory = memory;
    const swap = memorySwap(memory, int64(r.memorySwapLimitInBytes), r.unified);
    if (swap !== undefined) out.MemorySwap = swap;
  }
  const adj = oomScoreAdj(int64(r?.oomScoreAdj), oomFloor);
  if (r || adj !== 0) out.OomScoreAdj = adj;
  return out;
}

// ---- security context --------------------------------------------------------------------------

function validateSecurityContext(sc: runtime.v1.ILinuxContainerSecurityContext | null | undefined): void {
  if (!sc) return;
  if (sc.runAsUser && sc.runAsUsername) throw invalidArgument('CreateContainer: run_as_user and run_as_username are mutually exclusive');
  for (const [field, v] of [['run_as_user', sc.runAsUser], ['run_as_group', sc.runAsGroup]] as const) {
    if (v && int64(v.value) < 0) throw invalidArgument(`CreateContainer: ${field} must not be negative`);
  }
  if ((sc.supplementalGroups ?? []).some((g) => int64(g) < 0)) throw invalidArgument('CreateContainer: supplemental_groups must not be negative');
  if (sc.supplementalGroupsPolicy === runtime.v1.SupplementalGroupsPolicy.Strict) throw invalidArgument('CreateContainer: supplemental_groups_policy Strict is not supported: Docker always adds the groups the image gives the user');
  if ((sc.capabilities?.addAmbientCapabilities ?? []).length > 0) throw invalidArgument('CreateContainer: ambient capabilities are not supported by Docker');
  for (const c of [...(sc.capabilities?.addCapabilities ?? []), ...(sc.capabilities?.dropCapabilities ?? [])]) {
    if (!CAPABILITY_NAME.test(c)) throw invalidArgument(`CreateContainer: capability "${c.slice(0, 50)}" is not a capability name`);
  }
  const ns = sc.namespaceOptions;
  pidMode(ns?.pid, '', '');
  if (ns?.pid === NamespaceMode.TARGET && !ns.targetId) throw invalidArgument('CreateContainer: PID namespace mode TARGET needs target_id');
  const userns = ns?.usernsOptions;
  if (userns && userns.mode !== NamespaceMode.NODE && ((userns.uids ?? []).length > 0 || (userns.gids ?? []).length > 0)) {
    throw invalidArgument('CreateContainer: user namespaces are not supported by dockercri');
  }
  for (const p of [...(sc.maskedPaths ?? []), ...(sc.readonlyPaths ?? [])]) checkAbsolute(p, 'masked or read-only path');
  seccompChoice(sc.seccomp, sc.seccompProfilePath);
  apparmorChoice(sc.apparmor, sc.apparmorProfile);
}

/** A capability as Docker spells it: "net_admin" → "CAP_NET_ADMIN"; "ALL" stays. */
export function capabilityName(c: string): string {
  const upper = c.toUpperCase();
  return upper === 'ALL' || upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
}

/**
 * CapAdd and CapDrop with containerd's meaning: the default set, then "ALL" added, then "ALL"
 * dropped, then each add, then each drop (a drop beats an add of the same capability; Docker alone
 * lets the add win). Where dockercri cannot grant every capability, "ALL" means all it holds.
 */
export function capabilityOptions(cap: runtime.v1.ICapability | null | undefined, hostComplete: boolean, held: readonly string[]): { CapAdd?: string[]; CapDrop?: string[] } {
  const add = [...new Set((cap?.addCapabilities ?? []).map(capabilityName))];
  const drop = [...new Set((cap?.dropCapabilities ?? []).map(capabilityName))];
  const dropAll = drop.includes('ALL');
  const dropped = new Set(drop.filter((c) => c !== 'ALL'));
  const added = add.filter((c) => c !== 'ALL' && !dropped.has(c));
  const nonEmpty = (o: { CapAdd: string[]; CapDrop: string[] }): { CapAdd?: string[]; CapDrop?: string[] } => ({
    ...(o.CapAdd.length > 0 ? { CapAdd: o.CapAdd } : {}),
    ...(o.CapDrop.length > 0 ? { CapDrop: o.CapDrop } : {}),
  });
  if (dropAll) return nonEmpty({ CapAdd: added, CapDrop: ['ALL'] });
  if (add.includes('ALL')) {
    // Docker expands "ALL" to every capability it knows, minus CapDrop
    if (hostComplete) return nonEmpty({ CapAdd: ['ALL'], CapDrop: [...dropped] });
    return nonEmpty({ CapAdd: held.filter((c) => !dropped.has(c)), CapDrop: ['ALL'] });
  }
  return nonEmpty({ CapAdd: added, CapDrop: [...dropped] });
}

/**
 * Docker's User. A group without a user keeps the image's user (root when it names none), since
 * kubelet fills in the image's user only when it knows one.
 */
export function containerUser(sc: runtime.v1.ILinuxContainerSecurityContext | null | undefined): string | undefined {
  const uid = sc?.runAsUser ? int64(sc.runAsUser.value) : undefined;
  const gid = sc?.runAsGroup ? int64(sc.runAsGroup.value) : undefined;
  const username = sc?.runAsUsername || undefined;
  if (uid === undefined && username === undefined) {
    // as in containerd (and critest's contract): a group alone names no user to give it to
    if (gid !== undefined) throw invalidArgument('CreateContainer: run_as_group is set without run_as_user or run_as_username');
    return undefined;
  }
  return dockerUser(uid, gid, username);
}

export interface SecurityOptions {
  User?: string;
  Privileged?: boolean;
  ReadonlyRootfs?: boolean;
  GroupAdd?: string[];
  CapAdd?: string[];
  CapDrop?: string[];
  MaskedPaths?: string[];
  ReadonlyPaths?: string[];
  DeviceCgroupRules?: string[];
  SecurityOpt: string[];
}

/** The security context as Docker options. Privileged mode overrides capabilities and masking, as in Docker and containerd. */
export function securityOptions(sc: runtime.v1.ILinuxContainerSecurityContext | null | undefined, opts: Pick<ContainerCreateOptions, 'hostCapsComplete' | 'heldCapabilities' | 'seccompProfileJson' | 'image'>): SecurityOptions {
  const out: SecurityOptions = { SecurityOpt: [] };
  const user = containerUser(sc);
  if (user) out.User = user;
  if (sc?.readonlyRootfs) out.ReadonlyRootfs = true;
  const groups = (sc?.supplementalGroups ?? []).map((g) => String(int64(g)));
  if (groups.length > 0) out.GroupAdd = groups;
  out.SecurityOpt.push(...selinuxOpts(sc?.selinuxOptions));
  if (sc?.privileged) {
    const { SecurityOpt, ...privileged } = privilegedOptions(opts.hostCapsComplete, opts.heldCapabilities);
    Object.assign(out, privileged);
    // exactly the held set: Docker would otherwise add its defaults, which may not be held
    if (!opts.hostCapsComplete) out.CapDrop = ['ALL'];
    out.SecurityOpt.push(...SecurityOpt);
  } else {
    Object.assign(out, capabilityOptions(sc?.capabilities, opts.hostCapsComplete, opts.heldCapabilities));
    // empty lists keep Docker's defaults: the wire cannot tell an empty list from an absent one
    if ((sc?.maskedPaths ?? []).length > 0) out.MaskedPaths = [...(sc?.maskedPaths ?? [])];
    if ((sc?.readonlyPaths ?? []).length > 0) out.ReadonlyPaths = [...(sc?.readonlyPaths ?? [])];
  }
  if (!sc?.privileged || opts.hostCapsComplete) {
    const seccomp = seccompChoice(sc?.seccomp, sc?.seccompProfilePath);
    if (seccomp.kind === 'localhost' && opts.seccompProfileJson === undefined) throw new CriError(Code.INTERNAL, `CreateContainer: seccomp profile ${seccomp.ref} was not read`);
    out.SecurityOpt.push(...seccompOpts(seccomp, opts.seccompProfileJson));
    out.SecurityOpt.push(...apparmorOpts(apparmorChoice(sc?.apparmor, sc?.apparmorProfile)));
  }
  if (sc?.noNewPrivs) out.SecurityOpt.push('no-new-privileges');
  return out;
}

// ---- namespaces ----------------------------------------------------------------------------------

/** Docker's PidMode for a CRI PID namespace mode; undefined for a private namespace. */
export function pidMode(mode: number | null | undefined, sandboxId: string, targetDockerId: string): string | undefined {
  switch (mode ?? NamespaceMode.POD) {
    case NamespaceMode.POD:
      return `container:${sandboxId}`;
    case NamespaceMode.CONTAINER:
      return undefined;
    case NamespaceMode.NODE:
      return 'host';
    case NamespaceMode.TARGET:
      return `container:${targetDockerId}`;
    default:
      throw invalidArgument(`CreateContainer: unknown PID namespace mode ${String(mode)}`);
  }
}

export interface NamespaceModes {
  NetworkMode: string;
  IpcMode: string;
  UTSMode?: string;
  PidMode?: string;
}

/**
 * The sandbox's namespaces, joined. The network is always the pause container's, host network
 * included, so its hostname, hosts and resolv.conf (which dockercri wrote) are the container's
 * too; Docker gives a container in another's network its hostname, in a UTS namespace of its own,
 * so a host-network pod's containers take the host's UTS namespace instead, as cri-dockerd does.
 */
export function namespaceModes(ns: runtime.v1.INamespaceOption | null | undefined, sandbox: Pick<SandboxFacts, 'sandboxId' | 'hostNetwork' | 'hostIpc'>, targetDockerId?: string): NamespaceModes {
  const join = `container:${sandbox.sandboxId}`;
  const out: NamespaceModes = {
    NetworkMode: join,
    // host IPC directly: Docker then disables SELinux labels, as for the sandbox itself
    IpcMode: sandbox.hostIpc ? 'host' : join,
  };
  if (sandbox.hostNetwork) out.UTSMode = 'host';
  const pid = pidMode(ns?.pid, sandbox.sandboxId, targetDockerId ?? ns?.targetId ?? '');
  if (pid) out.PidMode = pid;
  return out;
}

// ---- the rest --------------------------------------------------------------------------------------

/** Docker's name of a CRI stop signal ("SIGRTMINPLUS1" → "SIGRTMIN+1"); undefined for the default. */
export function stopSignalName(signal: runtime.v1.Signal | null | undefined): string | undefined {
  if (!signal) return undefined;
  const name = (runtime.v1.Signal as unknown as Record<number, string | undefined>)[signal];
  if (!name) throw invalidArgument(`CreateContainer: unknown stop signal ${String(signal)}`);
  return name.replace(/^SIGRTMINPLUS(\d+)$/, 'SIGRTMIN+$1').replace(/^SIGRTMAXMINUS(\d+)$/, 'SIGRTMAX-$1');
}

/** Docker's log for a container: json-file, which dockercri copies from the files on disk. */
export function dockerLogConfig(options: Record<string, string> | undefined): { Type: string; Config: Record<string, string> } {
  return { Type: 'json-file', Config: { ...(options ?? DEFAULT_DOCKER_LOG_OPTIONS) } };
}

/** The Docker create body of a CRI container; `config` has passed validateContainerConfig. */
export function containerCreateBody(config: runtime.v1.IContainerConfig, sandbox: SandboxFacts, opts: ContainerCreateOptions): ContainerCreateBody {
  const labels = makeLabels(config.labels, config.annotations);
  labels[LABEL_TYPE] = TYPE_CONTAINER;
  labels[LABEL_SANDBOX_ID] = sandbox.sandboxId;
  const logPath = logPathLabel(sandbox.logDirectory, config.logPath ?? '');
  if (logPath) labels[LABEL_LOG_PATH] = logPath;

  const sc = config.linux?.securityContext;
  const { User, ...security } = securityOptions(sc, opts);
  const { Binds, Mounts } = mountBindings(config.mounts, opts.apiVersion, opts.recursiveReadOnlyGap);
  const devices = deviceMappings(config.devices);
  const deviceRequests = cdiDeviceRequests(config.CDIDevices, opts.cdiSupported);

  const hostConfig: HostConfig = {
    ...namespaceModes(sc?.namespaceOptions, sandbox, opts.targetDockerId),
    ...resourceOptions(config.linux?.resources, opts.oomScoreAdjFloor),
    ...security,
    // kubelet restarts containers itself
    RestartPolicy: { Name: 'no' },
    LogConfig: dockerLogConfig(opts.dockerLogOptions),
  };
  const parent = cgroupParent(sandbox.cgroupParent, opts.cgroupDriver);
  if (parent !== '') hostConfig.CgroupParent = parent;
  if (Binds.length > 0) hostConfig.Binds = Binds;
  if (Mounts.length > 0) hostConfig.Mounts = Mounts as unknown as HostConfig['Mounts'];
  if (devices.length > 0) hostConfig.Devices = devices;
  if (deviceRequests.length > 0) hostConfig.DeviceRequests = deviceRequests;
  if (sandbox.runtime) hostConfig.Runtime = sandbox.runtime;

  const body: ContainerCreateBody = {
    name: containerName({ containerName: config.metadata?.name ?? '', name: sandbox.pod.name, namespace: sandbox.pod.namespace, uid: sandbox.pod.uid, attempt: config.metadata?.attempt ?? 0 }),
    Image: opts.image.id,
    Labels: labels,
    ...commandAndArgs(config.command, config.args, opts.image),
    // kubelet runs its own probes; an image's HEALTHCHECK would only cost CPU
    Healthcheck: { Test: ['NONE'] },
    HostConfig: hostConfig,
  };
  const env = envList(config.envs);
  if (env.length > 0) body.Env = env;
  if (config.workingDir) body.WorkingDir = config.workingDir;
  if (User) body.User = User;
  if (config.tty) body.Tty = true;
  if (config.stdin) body.OpenStdin = true;
  if (config.stdinOnce) body.StdinOnce = true;
  const stopSignal = stopSignalName(config.stopSignal);
  if (stopSignal) body.StopSignal = stopSignal;
  return body;
}
