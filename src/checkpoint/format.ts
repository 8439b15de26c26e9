// cri-dockerd's per-sandbox checkpoint file, byte for byte, so a node can switch between the two
// shims without draining. Pure: no I/O.
//
// The file is Go's json.Marshal of core.PodSandboxCheckpoint (no trailing newline). Its checksum
// is FNV-1a 32 of go-spew's "%#v" print of the checkpoint's data only (core.CheckpointData): name,
// namespace and version are not covered, and the Go package and type names are part of the hash.
import { invalidArgument } from '../errors.js';
import type { runtime } from '../gen/api.js';

export const CHECKPOINT_SCHEMA_VERSION = 'v1';

export type CheckpointProtocol = 'tcp' | 'udp' | 'sctp';

export interface CheckpointPortMapping {
  protocol: CheckpointProtocol;
  containerPort: number;
  hostPort: number;
  /** "" when the pod did not ask for one. */
  hostIp: string;
}

export interface SandboxCheckpoint {
  /** "v1" when written here; cri-dockerd reads any version, and so does decodeCheckpoint. */
  version: string;
  name: string;
  namespace: string;
  portMappings: readonly CheckpointPortMapping[];
  hostNetwork: boolean;
}

export type SandboxCheckpointInput = Omit<SandboxCheckpoint, 'version'>;

/**
 * Why a file is not a usable checkpoint. cri-dockerd rejects "malformed" and "checksum-mismatch"
 * files too; "unusable" ones pass its checks but would crash it when used (a port mapping without
 * protocol or ports), or name a protocol it never writes.
 */
export type CheckpointCorruptionReason = 'malformed' | 'checksum-mismatch' | 'unusable';

export interface CheckpointCorruption {
  reason: CheckpointCorruptionReason;
  message: string;
}

export type DecodedCheckpoint = { ok: true; checkpoint: SandboxCheckpoint } | { ok: false; corruption: CheckpointCorruption };

const PROTOCOLS: ReadonlySet<string> = new Set<CheckpointProtocol>(['tcp', 'udp', 'sctp']);
const INT32_MIN = -2_147_483_648;
const INT32_MAX = 2_147_483_647;

/** cri-dockerd's toCheckpointProtocol: CRI's enum in lower case, anything unknown as tcp. */
export function checkpointProtocol(protocol: runtime.v1.Protocol | null | undefined): CheckpointProtocol {
  switch (protocol) {
    case 1:
      return 'udp';
    case 2:
      return 'sctp';
    default:
      return 'tcp';
  }
}

export function buildCheckpoint(pod: SandboxCheckpointInput): SandboxCheckpoint {
  const isInt32 = (n: number): boolean => Number.isInteger(n) && n >= INT32_MIN && n <= INT32_MAX;
  for (const pm of pod.portMappings) {
    if (!PROTOCOLS.has(pm.protocol)) {
      throw invalidArgument(`pod ${pod.namespace}/${pod.name}: port mapping protocol ${JSON.stringify(pm.protocol)} is not tcp, udp or sctp`);
    }
    if (!isInt32(pm.containerPort) || !isInt32(pm.hostPort)) {
      throw invalidArgument(`pod ${pod.namespace}/${pod.name}: port mapping ${pm.containerPort}:${pm.hostPort} is not a pair of int32`);
    }
  }
  return {
    version: CHECKPOINT_SCHEMA_VERSION,
    name: pod.name,
    namespace: pod.namespace,
    portMappings: pod.portMappings.map((pm) => ({ ...pm })),
    hostNetwork: pod.hostNetwork,
  };
}

// ---- the data as Go holds it after json.Unmarshal: null is a nil pointer or a nil slice ----

interface GoPortMapping {
  protocol: string | null;
  containerPort: number | null;
  hostPort: number | null;
  hostIp: string;
}

interface GoCheckpointData {
  portMappings: readonly (GoPortMapping | null)[] | null;
  hostNetwork: boolean;
}

/** As cri-dockerd's writer holds it: a slice only appended to, so nil when there are no ports. */
function goData(cp: Pick<SandboxCheckpoint, 'portMappings' | 'hostNetwork'>): GoCheckpointData {
  return {
    portMappings: cp.portMappings.length === 0 ? null : cp.portMappings,
    hostNetwork: cp.hostNetwork,
  };
}

/**
 * The text cri-dockerd hashes: go-spew's "%#v" of core.CheckpointData with DisableMethods (strings
 * raw, pointers as their type then value, slice elements as "<*>"). One quirk kept: spew leaves its
 * "ignore the next type" flag set after a nil slice element, so a nil last element drops the
 * "(bool)" before HostNetwork's value.
 */
export function checksumText(data: Pick<SandboxCheckpoint, 'portMappings' | 'hostNetwork'>): string {
  return spewData(goData(data));
}

function spewData(data: GoCheckpointData): string {
  const ptr = (type: string, value: string | number | null): string => `(${type})${value === null ? '<nil>' : String(value)}`;
  let ports = '<nil>';
  let lastWasNil = false;
  if (data.portMappings !== null) {
    const elements = data.portMappings.map((pm) =>
      pm === null
        ? '<nil>'
        : `<*>{Protocol:${ptr('*config.Protocol', pm.protocol)} ContainerPort:${ptr('*int32', pm.containerPort)} HostPort:${ptr('*int32', pm.hostPort)} HostIP:(string)${pm.hostIp}}`,
    );
    ports = `[${elements.join(' ')}]`;
    lastWasNil = data.portMappings.length > 0 && data.portMappings[data.portMappings.length - 1] === null;
  }
  const hostNetwork = `${lastWasNil ? '' : '(bool)'}${String(data.hostNetwork)}`;
  return `(core.CheckpointData){PortMappings:([]*config.PortMapping)${ports} HostNetwork:${hostNetwork}}`;
}

/** FNV-1a, 32 bits, over the UTF-8 bytes: Go's hash/fnv New32a. */
function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash = Math.imul(hash ^ byte, 0x01000193);
  }
  return hash >>> 0;
}

export function checkpointChecksum(data: Pick<SandboxCheckpoint, 'portMappings' | 'hostNetwork'>): number {
  return fnv1a32(checksumText(data));
}

// ---- encoding: Go's encoding/json, as built with Go >= 1.22 ----

const GO_SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '"': '\\"',
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\b': '\\b',
  '\f': '\\f',
};

/**
 * A JSON string as Go writes it: HTML-safe (<, >, & escaped), U+2028/U+2029 escaped, other
 * control characters as \u00XX in lower-case hex, everything else (DEL and non-ASCII) raw.
 */
function goJsonString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0) ?? 0;
    const short = GO_SHORT_ESCAPES[ch];
    if (short !== undefined) out += short;
    else if (code < 0x20 || ch === '<' || ch === '>' || ch === '&' || code === 0x2028 || code === 0x2029) {
      out += `\\u${code.toString(16).padStart(4, '0')}`;
    } else if (code >= 0xd800 && code <= 0xdfff) out += '\\ufffd'; // a lone surrogate: Go writes invalid UTF-8 so
    else out += ch;
  }
  return `${out}"`;
}

/** The file cri-dockerd writes for this checkpoint, checksum computed as its MarshalCheckpoint does. */
export function encodeCheckpoint(cp: SandboxCheckpoint): Buffer {
  const data: string[] = [];
  if (cp.portMappings.length > 0) {
    const ports = cp.portMappings.map(
      (pm) =>
        `{"protocol":${goJsonString(pm.protocol)},"container_port":${pm.containerPort},"host_port":${pm.hostPort}` +
        `${pm.hostIp === '' ? '' : `,"host_ip":${goJsonString(pm.hostIp)}`}}`,
    );
    data.push(`"port_mappings":[${ports.join(',')}]`);
  }
  if (cp.hostNetwork) data.push('"host_network":true');
  const json =
    `{"version":${goJsonString(cp.version)},"name":${goJsonString(cp.name)},"namespace":${goJsonString(cp.namespace)},` +
    `"data":{${data.join(',')}},"checksum":${checkpointChecksum(cp)}}`;
  return Buffer.from(json, 'utf8');
}

// ---- decoding: Go's json.Unmarshal into NewPodSandboxCheckpoint("", "", &CheckpointData{}) ----

class Malformed extends Error {}

type JsonObject = Record<string, unknown>;

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Go matches keys to json tags exactly or, failing that, ignoring case; unknown keys are skipped. */
function fields(obj: JsonObject, tags: readonly string[]): Map<string, unknown> {
  const found = new Map<string, unknown>();
  for (const [key, value] of Object.entries(obj)) {
    const tag = tags.includes(key) ? key : tags.find((t) => t === key.toLowerCase());
    if (tag !== undefined) found.set(tag, value);
  }
  return found;
}

/** A JSON null leaves a Go string, bool or number as it was; a pointer or slice becomes nil. */
function goString(value: unknown, current: string, where: string): string {
  if (value === undefined || value === null) return current;
  if (typeof value !== 'string') throw new Malformed(`${where} is not a string`);
  return value;
}

function goInt32(value: unknown, where: string): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < INT32_MIN || value > INT32_MAX) {
    throw new Malformed(`${where} is not an int32`);
  }
  return value;
}

function goPortMapping(value: unknown, where: string): GoPortMapping | null {
  if (value === null) return null;
  if (!isObject(value)) throw new Malformed(`${where} is not an object`);
  const f = fields(value, ['protocol', 'container_port', 'host_port', 'host_ip']);
  const protocol = f.get('protocol') ?? null;
  if (protocol !== null && typeof protocol !== 'string') throw new Malformed(`${where}.protocol is not a string`);
  return {
    protocol,
    containerPort: goInt32(f.get('container_port'), `${where}.container_port`),
    hostPort: goInt32(f.get('host_port'), `${where}.host_port`),
    hostIp: goString(f.get('host_ip'), '', `${where}.host_ip`),
  };
}

function goCheckpointData(value: unknown): GoCheckpointData {
  // cri-dockerd dereferences a nil Data when it verifies the checksum, and crashes
  if (value === null) throw new Malformed('data is null');
  if (!isObject(value)) throw new Malformed('data is not an object');
  const f = fields(value, ['port_mappings', 'host_network']);
  const ports = f.get('port_mappings');
  if (ports !== undefined && ports !== null && !Array.isArray(ports)) throw new Malformed('data.port_mappings is not an array');
  const hostNetwork = f.get('host_network');
  if (hostNetwork !== undefined && hostNetwork !== null && typeof hostNetwork !== 'boolean') {
    throw new Malformed('data.host_network is not a boolean');
  }
  return {
    portMappings: ports == null ? null : ports.map((pm, i) => goPortMapping(pm, `data.port_mappings[${i}]`)),
    hostNetwork: hostNetwork ?? false,
  };
}

function usablePortMapping(pm: GoPortMapping | null, i: number): CheckpointPortMapping | string {
  if (pm === null) return `port mapping ${i} is null`;
  if (pm.protocol === null || pm.containerPort === null || pm.hostPort === null) return `port mapping ${i} lacks protocol or ports`;
  if (!PROTOCOLS.has(pm.protocol)) return `port mapping ${i} has protocol ${JSON.stringify(pm.protocol)}`;
  return { protocol: pm.protocol as CheckpointProtocol, containerPort: pm.containerPort, hostPort: pm.hostPort, hostIp: pm.hostIp };
}

/**
 * Reads a checkpoint file as cri-dockerd's GetCheckpoint does (decode, then verify the checksum),
 * reporting what is wrong instead of throwing.
 */
export function decodeCheckpoint(file: Uint8Array | string): DecodedCheckpoint {
  const corrupt = (reason: CheckpointCorruptionReason, message: string): DecodedCheckpoint => ({ ok: false, corruption: { reason, message } });
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof file === 'string' ? file : Buffer.from(file).toString('utf8'));
  } catch (err) {
    return corrupt('malformed', `not JSON: ${(err as Error).message}`);
  }
  let version = CHECKPOINT_SCHEMA_VERSION;
  let name = '';
  let namespace = '';
  let data: GoCheckpointData = { portMappings: null, hostNetwork: false };
  let stored = 0;
  try {
    // Go unmarshals a top-level null into the struct as a no-op
    if (parsed !== null) {
      if (!isObject(parsed)) throw new Malformed('not a JSON object');
      const f = fields(parsed, ['version', 'name', 'namespace', 'data', 'checksum']);
      version = goString(f.get('version'), version, 'version');
      name = goString(f.get('name'), name, 'name');
      namespace = goString(f.get('namespace'), namespace, 'namespace');
      if (f.has('data')) data = goCheckpointData(f.get('data'));
      const checksum = f.get('checksum');
      if (checksum !== undefined && checksum !== null) {
        if (typeof checksum !== 'number' || !Number.isInteger(checksum) || checksum < 0) throw new Malformed('checksum is not a uint64');
        stored = checksum;
      }
    }
  } catch (err) {
    if (err instanceof Malformed) return corrupt('malformed', err.message);
    throw err;
  }
  const computed = fnv1a32(spewData(data));
  if (stored !== computed) return corrupt('checksum-mismatch', `checksum ${stored} does not match the data's ${computed}`);
  const portMappings: CheckpointPortMapping[] = [];
  for (const [i, pm] of (data.portMappings ?? []).entries()) {
    const usable = usablePortMapping(pm, i);
    if (typeof usable === 'string') return corrupt('unusable', usable);
    portMappings.push(usable);
  }
  return { ok: true, checkpoint: { version, name, namespace, portMappings, hostNetwork: data.hostNetwork } };
}
