// Pods with one running container each, as a node holds them, made and removed through the CRI.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Dockercri } from '../integration/harness.js';
import { mapLimit } from '../src/util/pool.js';

const IMAGE = 'dockercri-test/busybox:latest';

export interface Pod {
  podSandboxId: string;
  containerId: string;
}

/** A set of pods labelled `bench=<tag>`, grown with add() and removed with removeAll(). */
export class BenchPods {
  readonly pods: Pod[] = [];
  readonly logDirectory = mkdtempSync(join(tmpdir(), 'dockercri-bench-logs-'));
  private made = 0;

  constructor(private readonly cri: Pick<Dockercri, 'runtime'>, readonly tag: string) {}

  /** Runs one pod with a started `sleep` container. */
  async runOne(): Promise<Pod> {
    const i = this.made++;
    const sandboxConfig = { metadata: { name: `${this.tag}-${i}`, namespace: 'bench', uid: `${this.tag}-uid-${i}`, attempt: 0 }, logDirectory: this.logDirectory, labels: { bench: this.tag }, linux: {} };
    const { podSandboxId } = await this.cri.runtime.RunPodSandbox({ config: sandboxConfig });
    const { containerId } = await this.cri.runtime.CreateContainer({
      podSandboxId: podSandboxId as string,
      sandboxConfig,
      config: { metadata: { name: 'c' }, image: { image: IMAGE }, command: ['sleep', '36000'], logPath: `c${i}.log`, labels: { bench: this.tag } },
    });
    await this.cri.runtime.StartContainer({ containerId: containerId as string });
    return { podSandboxId: podSandboxId as string, containerId: containerId as string };
  }

  /** Stops and removes one pod, as kubelet does when a pod is deleted. */
  async removeOne(pod: Pod): Promise<void> {
    await this.cri.runtime.StopContainer({ containerId: pod.containerId, timeout: 0 });
    await this.cri.runtime.StopPodSandbox({ podSandboxId: pod.podSandboxId });
    await this.cri.runtime.RemovePodSandbox({ podSandboxId: pod.podSandboxId });
  }

  /** Grows the set to `count` pods, 4 made at a time. */
  async growTo(count: number): Promise<void> {
    const missing = Math.max(0, count - this.pods.length);
    const made = await mapLimit(Array.from({ length: missing }), 4, () => this.runOne());
    this.pods.push(...made);
  }

  async removeAll(): Promise<void> {
    await mapLimit(this.pods.splice(0), 4, (p) => this.removeOne(p).catch(() => this.cri.runtime.RemovePodSandbox({ podSandboxId: p.podSandboxId }).catch(() => undefined)));
    rmSync(this.logDirectory, { recursive: true, force: true });
  }
}
