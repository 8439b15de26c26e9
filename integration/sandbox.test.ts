// Pod sandboxes on Docker's bridge (--network-plugin=): the pod IP and the published host ports
// come from the Engine. The shared cases are in sandbox-suite.ts.
import { existsSync } from 'node:fs';
import { beforeAll, describe, expect } from 'vitest';
import { uniq } from './harness.js';
import { docker, sh } from './pods.js';
import { hostPortRules, sandboxSuite } from './sandbox-suite.js';

describe('pod sandboxes on Docker bridge networking', () => {
  beforeAll(async () => {
    const name = (await docker('network', 'inspect', 'bridge', '--format', '{{index .Options "com.docker.network.bridge.name"}}')).trim() || 'docker0';
    // a second dockerd started with --bridge=none in the host's network namespace deletes docker0
    if (!existsSync(`/sys/class/net/${name}`)) throw new Error(`Docker's default bridge ${name} is missing from the host: no pod can start on Docker's bridge`);
  });

  sandboxSuite({
    name: 'bridge',
    runId: uniq('sbx'),
    args: () => ['--network-plugin='],
    async expectedIp(sandboxId) {
      return (await docker('inspect', '--format', '{{.NetworkSettings.IPAddress}}', sandboxId)).trim();
    },
    async assertNetworkReleased({ hostPorts }) {
      const listening = await sh('ss', '-Htln');
      for (const port of hostPorts) {
        expect(await hostPortRules(port)).toEqual([]);
        expect(listening).not.toMatch(new RegExp(`:${port}\\s`));
      }
    },
    async assertNoPodNetwork(sandboxId) {
      const networks = await docker('inspect', '--format', '{{json .NetworkSettings.Networks}}', sandboxId).catch(() => '{}');
      expect(Object.keys(JSON.parse(networks)).filter((n) => n !== 'host')).toEqual([]);
    },
  });
});
