// Pod traffic shaping from the kubernetes.io/{ingress,egress}-bandwidth annotations, handed to CNI
// plugins as the "bandwidth" capability (CONVENTIONS.md) the way dockershim and cri-dockerd do.
import { parseQuantity } from '../util/quantity.js';

export const INGRESS_BANDWIDTH = 'kubernetes.io/ingress-bandwidth';
export const EGRESS_BANDWIDTH = 'kubernetes.io/egress-bandwidth';

/** Rates in bits per second, bursts in bits; a direction without a limit is left out. */
export interface BandwidthCap {
  ingressRate?: number;
  ingressBurst?: number;
  egressRate?: number;
  egressBurst?: number;
}

/** Kubernetes' sane range for a pod's rate: 1 kbit/s to 1 Pbit/s. */
const MIN_RATE = 1_000n;
const MAX_RATE = 1_000_000_000_000_000n;

/**
 * The burst sent with every rate. Kubelet never let pods choose one and passed the largest 32-bit
 * integer (about 2 Gbit), which in practice leaves bursts unlimited; plugins require one with a rate.
 */
export const BANDWIDTH_BURST = 2_147_483_647;

/**
 * The bandwidth capability of a pod from its annotations, or undefined when it has neither
 * annotation. A string says which annotation is unusable and why: no quantity, or outside 1k..1P.
 */
export function podBandwidth(annotations: Readonly<Record<string, string>> | null | undefined): BandwidthCap | undefined | string {
  const ingress = rateOf(annotations, INGRESS_BANDWIDTH);
  if (typeof ingress === 'string') return ingress;
  const egress = rateOf(annotations, EGRESS_BANDWIDTH);
  if (typeof egress === 'string') return egress;
  if (ingress === undefined && egress === undefined) return undefined;
  const cap: BandwidthCap = {};
  if (ingress !== undefined) {
    cap.ingressRate = ingress;
    cap.ingressBurst = BANDWIDTH_BURST;
  }
  if (egress !== undefined) {
    cap.egressRate = egress;
    cap.egressBurst = BANDWIDTH_BURST;
  }
  return cap;
}

/** The rate an annotation asks for, undefined without one, or why it is unusable. */
function rateOf(annotations: Readonly<Record<string, string>> | null | undefined, key: string): number | undefined | string {
  if (!annotations || !Object.hasOwn(annotations, key)) return undefined;
  const text = annotations[key] as string;
  const shown = JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}…` : text);
  const value = parseQuantity(text);
  if (value === undefined) return `annotation ${key}: ${shown} is not a Kubernetes quantity (bits per second, e.g. 10M)`;
  if (value < MIN_RATE) return `annotation ${key}: ${shown} is below the smallest rate, 1k (bits per second)`;
  if (value > MAX_RATE) return `annotation ${key}: ${shown} is above the largest rate, 1P (bits per second)`;
  return Number(value);
}
