/**
 * Keeps outbound requests to URLs users choose (Web Push endpoints, link previews) out of the
 * server's own network (SSRF): a URL's host is checked up front (`isPrivateHost`, names and
 * literals) and again on every connection (`guardedLookup` and `checkConnectAddress`), on the
 * addresses the connection really uses, so a name that resolves to a private address, or
 * starts to later (DNS rebinding), is refused too.
 */
import { lookup as dnsLookup } from 'node:dns';
import type { LookupAddress, LookupAllOptions, LookupOneOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';

/** Special-purpose IPv4 ranges (RFC 6890 and its updates): none is a public web server's. */
const BLOCKED_V4 = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8], // private (RFC 1918)
  ['100.64.0.0', 10], // carrier-grade NAT (RFC 6598)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata services
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  BLOCKED_V4.addSubnet(net, bits, 'ipv4');
}

/**
 * IPv6: only global unicast (2000::/3) is public. That alone leaves out unspecified, loopback,
 * IPv4-mapped and -compatible forms, NAT64 (64:ff9b::/96), discard, ULA (fc00::/7),
 * link-local and multicast; inside it, these are not public either.
 */
const GLOBAL_V6 = new BlockList();
GLOBAL_V6.addSubnet('2000::', 3, 'ipv6');
const BLOCKED_V6 = new BlockList();
for (const [net, bits] of [
  ['2001::', 23], // IETF protocol assignments: Teredo, benchmarking, ORCHID
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4: wraps any IPv4 address, private ones included
  ['3fff::', 20], // documentation
] as const) {
  BLOCKED_V6.addSubnet(net, bits, 'ipv6');
}

/** The eight 16-bit words of an IPv6 address, or null when it is not one. */
function ipv6Words(ip: string): number[] | null {
  if (isIP(ip) !== 6) return null;
  let text = ip.toLowerCase().replace(/%.*$/, '');
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const words = (s: string) => (s === '' ? [] : s.split(':').map((w) => parseInt(w, 16)));
  const h = words(head);
  if (tail === undefined) return h;
  const t = words(tail);
  return [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t];
}

/** True when a connection to this IP address may leave for the public internet. */
export function isPublicAddress(ip: string): boolean {
  const kind = isIP(ip);
  if (kind === 4) return !BLOCKED_V4.check(ip, 'ipv4');
  const w = ipv6Words(ip);
  if (kind !== 6 || w === null) return false;
  // An IPv4-mapped address (::ffff:a.b.c.d) is the IPv4 address it maps.
  if (w.slice(0, 5).every((x) => x === 0) && w[5] === 0xffff) {
    const [hi = 0, lo = 0] = w.slice(6);
    return isPublicAddress(`${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`);
  }
  const canonical = w.map((x) => x.toString(16)).join(':');
  return GLOBAL_V6.check(canonical, 'ipv6') && !BLOCKED_V6.check(canonical, 'ipv6');
}

/** Name suffixes that only mean something inside a network (RFC 6761, RFC 6762, RFC 8375, common practice). */
const INTERNAL_SUFFIXES =
  /\.(localhost|local|localdomain|internal|intranet|lan|home|corp|private|home\.arpa|arpa|consul|svc|test|invalid|example)$/;

/** Which addresses a connection may go to; `isPublicAddress` unless a test lets one more through. */
export type AddressPolicy = (ip: string) => boolean;

/**
 * True when a URL host (a name or an IP literal, IPv6 in brackets) is plainly not a public
 * host: a non-public address, `localhost` (with or without the trailing dot), a name with a
 * single label, or a name under a suffix used inside networks (`.internal`, `.consul`,
 * `.svc`, ...). A public name can still resolve to a private address: connections are
 * checked again (`guardedLookup`).
 */
export function isPrivateHost(hostname: string, allowed: AddressPolicy = isPublicAddress): boolean {
  const host = hostname
    .replace(/^\[|\]$/g, '')
    .toLowerCase()
    .replace(/\.+$/, '');
  if (isIP(host) !== 0) return !allowed(host);
  return host === 'localhost' || !host.includes('.') || INTERNAL_SUFFIXES.test(`.${host}`);
}

/** A connection was refused because its address is not public. */
export class BlockedAddressError extends Error {
  readonly code = 'ERR_BLOCKED_ADDRESS';
  constructor(host: string, address: string) {
    super(address === host ? `${host} is not a public address` : `${host} resolves to non-public ${address}`);
    this.name = 'BlockedAddressError';
  }
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** The shape of `dns.lookup` (and of the `lookup` option of net, tls, http and https). */
export type LookupFunction = (
  hostname: string,
  options: LookupOneOptions | LookupAllOptions,
  callback: LookupCallback,
) => void;

const systemLookup: LookupFunction = (hostname, options, callback) =>
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => callback(err, addresses));

/**
 * A `lookup` for outbound connections that resolves with `resolve` (default: the system
 * resolver) and fails when any address the name has is not public; the connection then uses
 * only the addresses checked here, so a second answer (DNS rebinding) is never asked for.
 */
export function guardedLookup(
  resolve: LookupFunction = systemLookup,
  allowed: AddressPolicy = isPublicAddress,
): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (err, found) => {
      if (err) return callback(err, '');
      const list: LookupAddress[] =
        typeof found === 'string' ? [{ address: found, family: isIP(found) }] : found;
      const bad = list.find((a) => !allowed(a.address));
      if (bad || list.length === 0) {
        return callback(Object.assign(new BlockedAddressError(hostname, bad?.address ?? 'nothing')), '');
      }
      if ((options as LookupAllOptions).all) return callback(null, list);
      const first = list[0] as LookupAddress;
      callback(null, first.address, first.family);
    });
  };
}

/** Throws BlockedAddressError when an address a connection uses (or a URL's IP literal) is not public. */
export function checkConnectAddress(
  host: string,
  address: string | undefined,
  allowed: AddressPolicy = isPublicAddress,
): void {
  if (address === undefined || !allowed(address)) throw new BlockedAddressError(host, address ?? 'unknown');
}
