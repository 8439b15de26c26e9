// Guards the wire contract: proto/runtime/v1/api.proto (from which src/gen is generated) must be
// field for field the CRI runtime.v1 that kubelet and crictl speak, kept as a fact file in
// test/fixtures/cri-runtime-v1.json (Kubernetes 1.36, k8s.io/cri-api v0.36.3).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { runtime } from './gen/api.js';
import { ImageServiceMethods, type MethodSpec, RuntimeServiceMethods } from './gen/services.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const fixture = protobuf.Root.fromJSON(JSON.parse(readFileSync(join(root, 'test/fixtures/cri-runtime-v1.json'), 'utf8')));
fixture.resolveAll();
const project = new protobuf.Root().loadSync(join(root, 'proto/runtime/v1/api.proto'), { keepCase: true });
project.resolveAll();

const pkg = (r: protobuf.Root): protobuf.Namespace => r.lookup('runtime.v1') as protobuf.Namespace;

function all(ns: protobuf.NamespaceBase): protobuf.ReflectionObject[] {
  return ns.nestedArray.flatMap((n) => (n instanceof protobuf.Namespace ? [n, ...all(n)] : [n]));
}
const services = (r: protobuf.Root) => all(pkg(r)).filter((n): n is protobuf.Service => n instanceof protobuf.Service);
const messages = (r: protobuf.Root) => all(pkg(r)).filter((n): n is protobuf.Type => n instanceof protobuf.Type);
const enums = (r: protobuf.Root) => all(pkg(r)).filter((n): n is protobuf.Enum => n instanceof protobuf.Enum);

const local = (fullName: string) => fullName.replace(/^\.runtime\.v1\./, '');
const protoName = (f: protobuf.Field): string => f.protoName ?? f.name;
const typeOf = (f: protobuf.Field): string => (f.resolvedType ? local(f.resolvedType.fullName) : f.type);

/** One line per fact of the schema, so a difference reads as a diff. */
function facts(r: protobuf.Root) {
  const rpcs = services(r).flatMap((s) =>
    s.methodsArray.map((m) => {
      const req = local((m.resolvedRequestType as protobuf.Type).fullName);
      const res = local((m.resolvedResponseType as protobuf.Type).fullName);
      return `${s.name}.${m.name}(${m.requestStream ? 'stream ' : ''}${req}) returns (${m.responseStream ? 'stream ' : ''}${res})`;
    }),
  );
  const fields = messages(r).flatMap((t) =>
    t.fieldsArray.map((f) => {
      const type = f instanceof protobuf.MapField ? `map<${f.keyType}, ${typeOf(f)}>` : `${f.repeated ? 'repeated ' : ''}${typeOf(f)}`;
      return `${local(t.fullName)} #${f.id} ${protoName(f)}: ${type}`;
    }),
  );
  const values = enums(r).flatMap((e) => Object.entries(e.values).map(([k, v]) => `${local(e.fullName)}.${k} = ${v}`));
  return {
    services: services(r).map((s) => s.name).sort(),
    rpcs: rpcs.sort(),
    messages: messages(r).map((t) => local(t.fullName)).sort(),
    fields: fields.sort(),
    enums: enums(r).map((e) => local(e.fullName)).sort(),
    values: values.sort(),
  };
}

const want = facts(fixture);
const got = facts(project);

describe('proto/runtime/v1/api.proto is CRI runtime.v1', () => {
  it('declares package runtime.v1 with the upstream go_package', () => {
    expect(pkg(project)).toBeInstanceOf(protobuf.Namespace);
    expect(pkg(project).options?.go_package).toBe('k8s.io/cri-api/pkg/apis/runtime/v1');
  });

  it('reads a fixture as large as the published API', () => {
    expect(want.services).toEqual(['ImageService', 'RuntimeService']);
    expect(want.rpcs).toHaveLength(41);
    expect(want.messages).toHaveLength(170);
    // ten at the top level and SecurityProfile.ProfileType
    expect(want.enums).toHaveLength(11);
    expect(want.enums).toContain('SecurityProfile.ProfileType');
  });

  it('has the same services', () => {
    expect(got.services).toEqual(want.services);
  });

  it('has 41 rpcs: 35 in RuntimeService, 6 in ImageService', () => {
    const count = (r: protobuf.Root, name: string) => services(r).find((s) => s.name === name)?.methodsArray.length;
    expect(got.rpcs).toHaveLength(41);
    expect(count(project, 'RuntimeService')).toBe(35);
    expect(count(project, 'ImageService')).toBe(6);
  });

  it('has every rpc with its request and response types and streaming flags', () => {
    expect(got.rpcs).toEqual(want.rpcs);
  });

  it('has the same messages', () => {
    expect(got.messages).toEqual(want.messages);
  });

  it('has every field with its number, name, type, label and map key', () => {
    expect(got.fields).toEqual(want.fields);
  });

  it('has the same enums and enum values', () => {
    expect(got.enums).toEqual(want.enums);
    expect(got.values).toEqual(want.values);
  });

  it('names fields in snake_case, except where upstream does not', () => {
    const odd = got.fields.map((f) => /^\S+ #\d+ (\S+):/.exec(f)?.[1] as string).filter((n) => !/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/.test(n));
    expect([...new Set(odd)].sort()).toEqual(['Avg10', 'Avg300', 'Avg60', 'CDI_devices', 'Full', 'Some', 'Total', 'gidMappings', 'uidMappings']);
  });

  it('checks what it claims: a renumbered field would be caught', () => {
    const changed = new protobuf.Root().loadSync(join(root, 'proto/runtime/v1/api.proto'), { keepCase: true });
    const version = changed.lookupType('runtime.v1.VersionResponse');
    const field = version.fields.runtime_api_version as protobuf.Field;
    version.remove(field);
    version.add(new protobuf.Field('runtime_api_version', 5, 'string'));
    changed.resolveAll();
    expect(facts(changed).fields).not.toEqual(want.fields);
  });
});

describe('the generated code follows the proto', () => {
  const tables: Record<string, readonly MethodSpec[]> = { RuntimeService: RuntimeServiceMethods, ImageService: ImageServiceMethods };
  const generated = runtime.v1 as unknown as Record<string, unknown>;

  it('lists all 41 rpcs in the method tables', () => {
    expect(RuntimeServiceMethods).toHaveLength(35);
    expect(ImageServiceMethods).toHaveLength(6);
  });

  it.each(services(fixture).flatMap((s) => s.methodsArray.map((m) => [`${s.name}.${m.name}`, s.name, m] as const)))(
    '%s has its path, types and streaming flag',
    (_label, service, method) => {
      const spec = tables[service]?.find((s) => s.name === method.name);
      expect(spec).toBeDefined();
      expect(spec?.service).toBe(service);
      expect(spec?.path).toBe(`/runtime.v1.${service}/${method.name}`);
      expect(spec?.responseStream).toBe(!!method.responseStream);
      // the tables cannot express client streaming: CRI has none
      expect(method.requestStream).toBeFalsy();
      expect(spec?.requestType).toBe(generated[method.requestType]);
      expect(spec?.responseType).toBe(generated[method.responseType]);
    },
  );

  it('marks exactly the event stream and the six Stream* lists as server streaming', () => {
    const streaming = [...RuntimeServiceMethods, ...ImageServiceMethods].filter((m) => m.responseStream).map((m) => m.name).sort();
    expect(streaming).toEqual(['GetContainerEvents', 'StreamContainerStats', 'StreamContainers', 'StreamImages', 'StreamPodSandboxMetrics', 'StreamPodSandboxStats', 'StreamPodSandboxes']);
  });

  it('has a message class for every message and the values of every enum', () => {
    for (const name of want.messages) {
      const cls = name.split('.').reduce<unknown>((o, part) => (o as Record<string, unknown> | undefined)?.[part], generated);
      expect(typeof (cls as { encode?: unknown } | undefined)?.encode, name).toBe('function');
    }
    for (const e of enums(fixture)) {
      const values = local(e.fullName).split('.').reduce<unknown>((o, part) => (o as Record<string, unknown> | undefined)?.[part], generated);
      expect(values, e.name).toMatchObject(e.values);
    }
  });

  it('encodes fields with the wire numbers of the fixture', () => {
    // VersionResponse.runtime_api_version is field 4, a string: tag (4 << 3) | 2
    const bytes = runtime.v1.VersionResponse.encode({ runtimeApiVersion: 'v1' }).finish();
    expect([...bytes]).toEqual([0x22, 2, 0x76, 0x31]);
    const decoded = runtime.v1.ContainerConfig.decode(runtime.v1.ContainerConfig.encode({ CDIDevices: [{ name: 'vendor.com/gpu=0' }] }).finish());
    expect(decoded.CDIDevices[0]?.name).toBe('vendor.com/gpu=0');
  });
});
