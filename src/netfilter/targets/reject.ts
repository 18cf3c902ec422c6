/** REJECT: drops and answers the sender with an ICMP error or a TCP reset. */
import type { ClientSees, RejectInfo } from '../../core/vocabulary.js';
import { defineTarget, TargetError } from './define.js';

/** Alias → the name iptables-save prints, with what the client sees. */
const V4: Record<string, [string, ClientSees]> = {
  'icmp-net-unreachable': ['icmp-net-unreachable', 'network unreachable'],
  'net-unreach': ['icmp-net-unreachable', 'network unreachable'],
  'icmp-host-unreachable': ['icmp-host-unreachable', 'no route to host'],
  'host-unreach': ['icmp-host-unreachable', 'no route to host'],
  'icmp-port-unreachable': ['icmp-port-unreachable', 'refused'],
  'port-unreach': ['icmp-port-unreachable', 'refused'],
  'icmp-proto-unreachable': ['icmp-proto-unreachable', 'protocol unreachable'],
  'proto-unreach': ['icmp-proto-unreachable', 'protocol unreachable'],
  'icmp-net-prohibited': ['icmp-net-prohibited', 'no route to host'],
  'net-prohib': ['icmp-net-prohibited', 'no route to host'],
  'icmp-host-prohibited': ['icmp-host-prohibited', 'no route to host'],
  'host-prohib': ['icmp-host-prohibited', 'no route to host'],
  'icmp-admin-prohibited': ['icmp-admin-prohibited', 'admin prohibited'],
  'admin-prohib': ['icmp-admin-prohibited', 'admin prohibited'],
  'tcp-reset': ['tcp-reset', 'refused'],
  'tcp-rst': ['tcp-reset', 'refused'],
};

const V6: Record<string, [string, ClientSees]> = {
  'icmp6-no-route': ['icmp6-no-route', 'network unreachable'],
  'no-route': ['icmp6-no-route', 'network unreachable'],
  'icmp6-adm-prohibited': ['icmp6-adm-prohibited', 'admin prohibited'],
  'adm-prohibited': ['icmp6-adm-prohibited', 'admin prohibited'],
  'icmp6-addr-unreachable': ['icmp6-addr-unreachable', 'no route to host'],
  'addr-unreach': ['icmp6-addr-unreachable', 'no route to host'],
  'icmp6-port-unreachable': ['icmp6-port-unreachable', 'refused'],
  'port-unreach': ['icmp6-port-unreachable', 'refused'],
  'icmp6-policy-fail': ['icmp6-policy-fail', 'admin prohibited'],
  'policy-fail': ['icmp6-policy-fail', 'admin prohibited'],
  'icmp6-reject-route': ['icmp6-reject-route', 'admin prohibited'],
  'reject-route': ['icmp6-reject-route', 'admin prohibited'],
  'tcp-reset': ['tcp-reset', 'refused'],
  'tcp-rst': ['tcp-reset', 'refused'],
};

export function rejectInfo(withText: string | undefined, family: 4 | 6): RejectInfo {
  const table = family === 4 ? V4 : V6;
  const key = withText ?? (family === 4 ? 'icmp-port-unreachable' : 'icmp6-port-unreachable');
  const hit = table[key];
  if (!hit) throw new TargetError(`unknown --reject-with "${key}"`);
  return { with: hit[0], clientSees: hit[1] };
}

export default defineTarget({
  name: 'REJECT',
  options: ['reject-with'],
  compile(opts, ctx) {
    const w = opts.find((o) => o.name === 'reject-with');
    const reject = rejectInfo(w?.values[0], ctx.family);
    const flow = { kind: 'reject' as const, reject };
    return { apply: () => flow, canonical: `-j REJECT --reject-with ${reject.with}` };
  },
});
