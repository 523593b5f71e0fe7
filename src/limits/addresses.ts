// Where a request comes from, as the limits count it. An IPv6 host is usually given a whole /64
// (RFC 6177), so counting exact IPv6 addresses would let one host take a fresh count per
// request; IPv4 addresses are scarce and shared behind NAT, so they count one by one.
import net from 'node:net';

/** The network an address belongs to, for per-network locks: IPv4 /24, IPv6 /64. */
export function networkOf(ip: string): string {
  const address = unmapped(ip);
  if (net.isIPv4(address)) return `${address.split('.').slice(0, 3).join('.')}.0/24`;
  if (net.isIPv6(address)) return `${ipv6Prefix64(address)}::/64`;
  return address;
}

/** One source for per-address limits: an IPv4 address itself, an IPv6 address's /64. */
export function sourceOf(ip: string): string {
  const address = unmapped(ip);
  return net.isIPv6(address) ? `${ipv6Prefix64(address)}::/64` : address;
}

/** An IPv4 address written as IPv6 (::ffff:a.b.c.d, as dual-stack sockets report it) is IPv4. */
function unmapped(ip: string): string {
  return /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1] ?? ip;
}

/** The first four groups of an IPv6 address, "::" expanded, each without leading zeros. */
function ipv6Prefix64(address: string): string {
  const [head = '', tail = ''] = address.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = address.includes('::') && tail ? tail.split(':') : [];
  const groups = address.includes('::')
    ? [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups]
    : headGroups;
  return groups
    .slice(0, 4)
    .map((group) => Number.parseInt(group || '0', 16).toString(16))
    .join(':');
}
