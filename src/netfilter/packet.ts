/** Build a simulator packet from a question (`rules eval` flags, a `--packets` line, a trace hop). */
import { UsageError } from '../core/errors.js';
import { parseIp } from '../core/ip.js';
import { parseUint32 } from './matches/define.js';
import { type CtState, type Packet, type Path, parseProtocol } from './model.js';

export interface PacketQuestion {
  path?: Path;
  proto: string | number;
  src: string;
  dst: string;
  sport?: number | string;
  dport?: number | string;
  icmpType?: number;
  icmpCode?: number;
  in?: string;
  out?: string;
  state?: CtState | string;
  mark?: number | string;
  ctmark?: number | string;
  tcpFlags?: number;
  length?: number;
}

const STATES: CtState[] = ['new', 'established', 'related', 'invalid', 'untracked'];
export const PATHS: Path[] = ['input', 'forward', 'output'];

function port(v: number | string | undefined, what: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`${what} "${v}" is not a port (0-65535)`);
  return n;
}

export function makePacket(q: PacketQuestion): Packet {
  const proto = typeof q.proto === 'number' ? q.proto : parseProtocol(q.proto);
  if (proto === undefined) throw new UsageError(`unknown protocol "${q.proto}" (use tcp, udp, icmp or a number)`);
  const src = parseIp(q.src ?? '');
  if (!src) throw new UsageError(`source "${q.src}" is not an IP address`);
  const dst = parseIp(q.dst ?? '');
  if (!dst) throw new UsageError(`destination "${q.dst}" is not an IP address`);
  if (src.family !== dst.family) throw new UsageError('source and destination are of different IP families');
  const state = (q.state ?? 'new').toLowerCase() as CtState;
  if (!STATES.includes(state)) throw new UsageError(`state "${q.state}" is not one of ${STATES.join(', ')}`);
  const toMark = (v: number | string | undefined) => {
    if (v === undefined || v === '') return 0;
    try {
      return typeof v === 'number' ? v >>> 0 : parseUint32(v);
    } catch {
      throw new UsageError(`mark "${v}" is not a 32-bit number`);
    }
  };
  const pkt: Packet = {
    family: src.family,
    proto: proto === 1 && src.family === 6 ? 58 : proto,
    src,
    dst,
    state,
    mark: toMark(q.mark),
    ctmark: toMark(q.ctmark),
  };
  if (pkt.proto === 6 || pkt.proto === 17 || pkt.proto === 132 || pkt.proto === 136) {
    const sp = port(q.sport, 'source port');
    const dp = port(q.dport, 'destination port');
    // An unspecified source port is an ephemeral one.
    pkt.sport = sp ?? 40000;
    if (dp === undefined) throw new UsageError('a TCP/UDP packet needs a destination port (--dport)');
    pkt.dport = dp;
  }
  if (pkt.proto === 6) pkt.tcpFlags = q.tcpFlags ?? (state === 'new' ? 0x02 : 0x10);
  if (pkt.proto === 1 || pkt.proto === 58) {
    const echo = pkt.proto === 1 ? (state === 'established' ? 0 : 8) : state === 'established' ? 129 : 128;
    pkt.icmpType = q.icmpType ?? echo;
    pkt.icmpCode = q.icmpCode ?? 0;
  }
  if (q.in) pkt.in = q.in;
  if (q.out) pkt.out = q.out;
  if (q.length !== undefined) pkt.length = q.length;
  return pkt;
}
