import { describe, expect, it } from 'vitest';
import type { Check } from './checks.js';
import { exitStatus, formatCheck, formatReport } from './report.js';

const ok: Check = { name: 'docker', status: 'ok', detail: 'Docker Engine 20.10.24 answers', fix: 'unused' };
const warn: Check = { name: 'cgroups', status: 'warn', detail: 'cgroup v1', fix: 'boot with v2' };
const fail: Check = { name: 'cni-config', status: 'fail', detail: '/n/10-x.conflist: not JSON', fix: 'repair it' };

describe('report', () => {
  it('one aligned line per check; the fix only on warn and fail', () => {
    expect(formatCheck(ok)).toBe('ok    docker         Docker Engine 20.10.24 answers');
    expect(formatCheck(warn)).toBe('warn  cgroups        cgroup v1 — fix: boot with v2');
    expect(formatCheck(fail)).toBe('fail  cni-config     /n/10-x.conflist: not JSON — fix: repair it');
  });
  it('ends with a summary line', () => {
    expect(formatReport([ok, warn, fail]).split('\n')).toEqual([formatCheck(ok), formatCheck(warn), formatCheck(fail), '3 checks: 1 ok, 1 warn, 1 fail — fix the failures before pointing kubelet at dockercri', '']);
    expect(formatReport([ok, warn])).toContain('2 checks: 1 ok, 1 warn, 0 fail — this node is ready for dockercri');
  });
  it('exits 1 only when a check fails', () => {
    expect(exitStatus([ok, warn])).toBe(0);
    expect(exitStatus([ok, fail])).toBe(1);
    expect(exitStatus([])).toBe(0);
  });
});
