import { describe, expect, it } from 'vitest';
import { siblingIndex } from './json-log-chain.js';

describe("the files of Docker's log chain", () => {
  const base = 'abc123-json.log';

  it('are the live file and its numbered rotations', () => {
    expect(siblingIndex(base, base)).toBe(0);
    expect(siblingIndex(base, `${base}.1`)).toBe(1);
    expect(siblingIndex(base, `${base}.12`)).toBe(12);
  });

  it("are not Docker's state files beside them, nor names that only start alike", () => {
    for (const name of ['config.v2.json', '.tmp-config.v2.json4083348681', 'hostconfig.json', 'hostname', 'resolv.conf', `${base}.1.gz`, `${base}.`, `${base}x`, `x${base}`, `${base}.-1`]) {
      expect(siblingIndex(base, name), name).toBeUndefined();
    }
  });
});
