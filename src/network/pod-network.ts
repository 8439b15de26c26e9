import type { ContainerInspect } from '../docker/client.js';
import type { Logger } from '../log.js';
import type { BandwidthCap } from './bandwidth.js';
import type { CniLoad } from './cni-config.js';
import type { CniManager, PortMappingCap } from './cni.js';

export interface PodNetworkSetup {
  sandboxId: string;
  podName: string;
  podNamespace: string;
  podUid: string;
  /** PID of the running pause container, whose network namespace the pod gets. */
  pid: number;
  portMappings: PortMappingCap[];
  dns?: { servers: string[]; searches: string[]; options: string[] };
  bandwidth?: BandwidthCap;
}

/** Who a sandbox belonged to, from its Docker name and checkpoint. */
export interface PodIdentityHint {
  podName: string;
  podNamespace: string;
  podUid: string;
  portMappings: PortMappingCap[];
}

/** How pods get their network: Docker's own bridge, or CNI plugins into a namespace Docker left empty. */
export interface PodNetwork {
  readonly kind: 'bridge' | 'cni';
  /** Docker's NetworkMode for a pod's pause container that does not use the host network. */
  readonly dockerNetworkMode: 'default' | 'none';
  readiness(): Promise<CniLoad>;
  setUp(pod: PodNetworkSetup): Promise<string[]>;
  /**
   * Idempotent; `pid` is absent when the pause container no longer runs. `pod` names the pod for
   * plugins when no cached setup remains to name it.
   */
  tearDown(sandboxId: string, pid?: number, pod?: PodIdentityHint): Promise<void>;
  /** The pod's IPs, primary first. */
  ips(sandboxId: string, inspect: ContainerInspect): Promise<string[]>;
  /** Drops what is remembered of a removed sandbox. */
  forget(sandboxId: string): void;
}

const READY: CniLoad = { ok: true, network: { name: 'docker-bridge', cniVersion: '', plugins: [], file: '', raw: {} } };

export class BridgeNetwork implements PodNetwork {
  readonly kind = 'bridge' as const;
  readonly dockerNetworkMode = 'default' as const;

  async readiness(): Promise<CniLoad> {
    return READY;
  }

  async setUp(): Promise<string[]> {
    return [];
  }

  async tearDown(): Promise<void> {}

  forget(): void {}

  async ips(_sandboxId: string, inspect: ContainerInspect): Promise<string[]> {
    const ns = inspect.NetworkSettings as { IPAddress?: string; GlobalIPv6Address?: string; Networks?: Record<string, { IPAddress?: string; GlobalIPv6Address?: string }> } | undefined;
    const v4 = new Set<string>();
    const v6 = new Set<string>();
    if (ns?.IPAddress) v4.add(ns.IPAddress);
    if (ns?.GlobalIPv6Address) v6.add(ns.GlobalIPv6Address);
    for (const n of Object.values(ns?.Networks ?? {})) {
      if (n.IPAddress) v4.add(n.IPAddress);
      if (n.GlobalIPv6Address) v6.add(n.GlobalIPv6Address);
    }
    return [...v4, ...v6];
  }
}

export const netnsPath = (pid: number): string => `/proc/${pid}/ns/net`;

export class CniNetwork implements PodNetwork {
  readonly kind = 'cni' as const;
  readonly dockerNetworkMode = 'none' as const;
  /** IPs of pods set up by this process; others are read back from the CNI cache once. */
  private readonly known = new Map<string, string[]>();

  constructor(private readonly cni: CniManager, private readonly log: Logger) {}

  readiness(): Promise<CniLoad> {
    return this.cni.loadNetwork();
  }

  async setUp(pod: PodNetworkSetup): Promise<string[]> {
    const result = await this.cni.setUp({
      sandboxId: pod.sandboxId,
      podName: pod.podName,
      podNamespace: pod.podNamespace,
      podUid: pod.podUid,
      netnsPath: netnsPath(pod.pid),
      portMappings: pod.portMappings,
      dns: pod.dns,
      bandwidth: pod.bandwidth,
    });
    this.known.set(pod.sandboxId, result.ips);
    return result.ips;
  }

  async tearDown(sandboxId: string, pid?: number, pod?: PodIdentityHint): Promise<void> {
    await this.cni.tearDown(sandboxId, pid ? netnsPath(pid) : undefined, pod);
    this.known.set(sandboxId, []);
  }

  async ips(sandboxId: string): Promise<string[]> {
    const known = this.known.get(sandboxId);
    if (known) return known;
    const cached = await this.cni.cachedResult(sandboxId);
    const ips = cached?.ips ?? [];
    this.known.set(sandboxId, ips);
    return ips;
  }

  forget(sandboxId: string): void {
    this.known.delete(sandboxId);
  }
}
