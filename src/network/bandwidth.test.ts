import { describe, expect, it } from 'vitest';
import { BANDWIDTH_BURST, EGRESS_BANDWIDTH, INGRESS_BANDWIDTH, podBandwidth } from './bandwidth.js';

const B = BANDWIDTH_BURST;

describe('podBandwidth', () => {
  it.each<[string, Record<string, string> | undefined, ReturnType<typeof podBandwidth>]>([
    ['no annotations', undefined, undefined],
    ['unrelated annotations', { 'kubernetes.io/config.source': 'api' }, undefined],
    ['ingress only', { [INGRESS_BANDWIDTH]: '10M' }, { ingressRate: 10_000_000, ingressBurst: B }],
    ['egress only', { [EGRESS_BANDWIDTH]: '1G' }, { egressRate: 1_000_000_000, egressBurst: B }],
    ['both', { [INGRESS_BANDWIDTH]: '1M', [EGRESS_BANDWIDTH]: '2M' }, { ingressRate: 1_000_000, ingressBurst: B, egressRate: 2_000_000, egressBurst: B }],
    ['binary suffix', { [INGRESS_BANDWIDTH]: '1Mi' }, { ingressRate: 1_048_576, ingressBurst: B }],
    ['fraction', { [EGRESS_BANDWIDTH]: '1.5M' }, { egressRate: 1_500_000, egressBurst: B }],
    ['lowest', { [INGRESS_BANDWIDTH]: '1k' }, { ingressRate: 1000, ingressBurst: B }],
    ['lowest after rounding up', { [INGRESS_BANDWIDTH]: '999.1' }, { ingressRate: 1000, ingressBurst: B }],
    ['highest', { [EGRESS_BANDWIDTH]: '1P' }, { egressRate: 1e15, egressBurst: B }],
    ['plain number', { [EGRESS_BANDWIDTH]: '500000' }, { egressRate: 500_000, egressBurst: B }],
  ])('%s', (_case, annotations, expected) => {
    expect(podBandwidth(annotations)).toEqual(expected);
  });

  it.each<[string, Record<string, string>, string, RegExp]>([
    ['garbage', { [INGRESS_BANDWIDTH]: 'lots' }, INGRESS_BANDWIDTH, /"lots" is not a Kubernetes quantity/],
    ['empty', { [EGRESS_BANDWIDTH]: '' }, EGRESS_BANDWIDTH, /"" is not a Kubernetes quantity/],
    ['a unit Kubernetes lacks', { [EGRESS_BANDWIDTH]: '10Mbit' }, EGRESS_BANDWIDTH, /not a Kubernetes quantity/],
    ['too small', { [INGRESS_BANDWIDTH]: '999' }, INGRESS_BANDWIDTH, /below the smallest rate, 1k/],
    ['zero', { [EGRESS_BANDWIDTH]: '0' }, EGRESS_BANDWIDTH, /below/],
    ['negative', { [INGRESS_BANDWIDTH]: '-10M' }, INGRESS_BANDWIDTH, /below/],
    ['too large', { [EGRESS_BANDWIDTH]: '1.001P' }, EGRESS_BANDWIDTH, /above the largest rate, 1P/],
    ['binary peta is above 1P', { [INGRESS_BANDWIDTH]: '1Pi' }, INGRESS_BANDWIDTH, /above/],
    ['the good one does not hide the bad one', { [INGRESS_BANDWIDTH]: '1M', [EGRESS_BANDWIDTH]: 'fast' }, EGRESS_BANDWIDTH, /"fast"/],
  ])('%s is refused, naming the annotation', (_case, annotations, key, message) => {
    const problem = podBandwidth(annotations);
    expect(typeof problem).toBe('string');
    expect(problem).toContain(key);
    expect(problem).toMatch(message);
  });

  it('shortens a long bad value in the message', () => {
    expect(podBandwidth({ [INGRESS_BANDWIDTH]: 'x'.repeat(10_000) })).toMatch(/^annotation kubernetes\.io\/ingress-bandwidth: "x{64}…" is not/);
  });
});
