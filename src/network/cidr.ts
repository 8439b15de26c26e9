import { isIP } from 'node:net';

/** True for one CIDR or a comma-separated list of them (IPv4 or IPv6). */
export function isCidrList(value: string): boolean {
  return value.split(',').every((cidr) => {
    const [ip, bits, extra] = cidr.trim().split('/');
    const family = isIP(ip ?? '');
    return extra === undefined && family !== 0 && /^\d{1,3}$/.test(bits ?? '') && Number(bits) <= (family === 4 ? 32 : 128);
  });
}
