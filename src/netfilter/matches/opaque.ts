/**
 * Matches whose outcome depends on state a snapshot does not hold. Rate limits and recent lists change per packet,
 * so the kernel may go either way (`random`: both branches are followed); the others depend on sockets, owners, MAC
 * addresses or payload netdoctor cannot see (`unknown`: the verdict becomes uncertain if it matters).
 */
import { defineMatch, type MatchModule, randomChoice, unknownChoice } from './define.js';

function opaque(name: string, kind: 'random' | 'unknown' | 'always', why: string): MatchModule {
  const choice = kind === 'random' ? randomChoice(`${name}: ${why}`) : unknownChoice(`${name}: ${why}`);
  return defineMatch({
    name,
    options: ['*'],
    compile(opts, ctx) {
      const all = [...opts];
      // Defaults the kernel fills in and iptables-save prints, so that both spellings compare equal.
      if (name === 'recent' && !all.some((o) => o.name === 'mask'))
        all.push({
          name: 'mask',
          negated: false,
          values: [ctx.family === 4 ? '255.255.255.255' : 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
        });
      const text = all.map(
        (o) => `${o.negated ? '! ' : ''}--${o.name}${o.values.length ? ` ${o.values.join(' ')}` : ''}`,
      );
      const canonical = `-m ${name} ${text.sort().join(' ')}`.trim();
      return { test: kind === 'always' ? () => true : () => choice, canonical };
    },
  });
}

const RANDOM: Record<string, string> = {
  limit: 'the rate limit may or may not have run out',
  hashlimit: 'the rate limit may or may not have run out',
  recent: 'depends on the recent-address list',
  connlimit: 'depends on the number of open connections',
  quota: 'depends on the bytes already counted',
  connbytes: 'depends on the bytes already sent on the connection',
  time: 'depends on the time of day',
};

const UNKNOWN: Record<string, string> = {
  socket: 'depends on the sockets open on the node',
  rpfilter: 'depends on the reverse route',
  mac: 'the MAC address is not known',
  owner: 'the sending process is not known',
  helper: 'the conntrack helper is not known',
  u32: 'payload bytes are not known',
  string: 'payload bytes are not known',
  bpf: 'a BPF program decides',
  cgroup: 'the sending cgroup is not known',
  ipvs: 'IPVS connection state is not known',
  realm: 'the route realm is not known',
  devgroup: 'interface groups are not known',
  cpu: 'the receiving CPU is not known',
  ecn: 'ECN bits are not known',
  esp: 'IPsec SPI is not known',
  ah: 'IPsec SPI is not known',
  frag: 'fragment headers are not known',
  hbh: 'IPv6 extension headers are not known',
  rt: 'IPv6 extension headers are not known',
  ipv6header: 'IPv6 extension headers are not known',
  sctp: 'SCTP chunks are not modelled',
  dccp: 'DCCP is not modelled',
  ttl: 'the TTL is not known',
  hl: 'the hop limit is not known',
  tos: 'the TOS byte is not known',
  dscp: 'the DSCP field is not known',
  connlabel: 'connection labels are not known',
  cluster: 'cluster hashing is not modelled',
  osf: 'OS fingerprinting is not modelled',
  condition: 'the condition is not known',
  geoip: 'GeoIP data is not known',
  tcpmss: 'the TCP MSS option is not known',
  ipcomp: 'IPsec is not modelled',
  l2tp: 'L2TP is not modelled',
  nfacct: 'accounting object',
};

export const opaqueModules: MatchModule[] = [
  ...Object.entries(RANDOM).map(([n, why]) => opaque(n, 'random', why)),
  ...Object.entries(UNKNOWN).map(([n, why]) => opaque(n, n === 'nfacct' ? 'always' : 'unknown', why)),
];

/** A module netdoctor has never heard of: its outcome is unknown. */
export function unknownModule(name: string): MatchModule {
  return opaque(name, 'unknown', 'netdoctor does not know this match');
}
