// CRI AuthConfig → the credentials Docker's pull takes. Pure: no I/O.
import { invalidArgument } from '../errors.js';
import type { runtime } from '../gen/api.js';
import type { RegistryAuth } from '../docker/client.js';

/** Per field: the Engine takes credentials in one header, and Go caps a request's headers at 1 MiB. */
export const MAX_CREDENTIAL_LENGTH = 64 * 1024;

export function toRegistryAuth(auth: runtime.v1.IAuthConfig | null | undefined, registry: string): RegistryAuth | undefined {
  if (!auth) return undefined;
  for (const field of ['username', 'password', 'auth', 'serverAddress', 'identityToken', 'registryToken'] as const) {
    if ((auth[field]?.length ?? 0) > MAX_CREDENTIAL_LENGTH) throw invalidArgument(`auth.${field} is longer than ${MAX_CREDENTIAL_LENGTH} characters`);
  }
  let username = auth.username ?? '';
  let password = auth.password ?? '';
  if (auth.auth) {
    const decoded = Buffer.from(auth.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0 || !/^[A-Za-z0-9+/=_-]+$/.test(auth.auth)) {
      throw invalidArgument('auth.auth must be base64 of "username:password"');
    }
    username = decoded.slice(0, colon);
    password = decoded.slice(colon + 1);
  }
  const out: RegistryAuth = {};
  if (username !== '') out.username = username;
  if (password !== '') out.password = password;
  if (auth.identityToken) out.identitytoken = auth.identityToken;
  if (auth.registryToken) out.registrytoken = auth.registryToken;
  if (Object.keys(out).length === 0) return undefined;
  out.serveraddress = auth.serverAddress || registry;
  return out;
}
