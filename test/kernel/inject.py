#!/usr/bin/env python3
"""Kernel oracle helper (see oracle.ts): runs inside the router namespace of one batch.

Reads one JSON config on stdin, then for each packet, one at a time:
  1. flushes the conntrack table (every packet starts from a clean table: no NAT binding or reply tuple left by an
     earlier packet), and for state 'established' inserts a conntrack entry through ctnetlink
     (status SEEN_REPLY|ASSURED, TCP state ESTABLISHED), so the packet is ctstate ESTABLISHED;
  2. for the legacy backend, snapshots the x_tables rule counters (getsockopt IPT_SO_GET_ENTRIES);
  3. sends the packet: input/forward packets as an Ethernet frame written on the peer end (in the peer namespace)
     of the veth whose router end is the packet's `in` interface; output packets from a raw IPPROTO_RAW socket in the
     router namespace, so they are locally generated (OUTPUT, routing, POSTROUTING);
  4. reads the nf_tables trace events (netlink group NFNLGRP_NFTRACE, the same events `nft monitor trace` and
     `xtables-monitor --trace` print) until the packet is finished: a drop/queue/stolen verdict, or the oracle's own
     last chain (priority 2147483000 on input and postrouting) is reached, or the wait runs out;
  5. for the legacy backend, reads the counters again and reports the per-rule deltas.
Writes one JSON line per packet on stdout. Every loop is bounded in count and time.
"""

import ctypes
import json
import os
import select
import socket
import struct
import sys
import time

CLONE_NEWNET = 0x40000000
NETLINK_NETFILTER = 12
SOL_NETLINK = 270
NETLINK_ADD_MEMBERSHIP = 1
NFNLGRP_NFTRACE = 9
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLA_F_NESTED = 0x8000
NFT_MSG_TRACE = (10 << 8) | 17
IPCTNL_MSG_CT_NEW = (1 << 8) | 0
IPCTNL_MSG_CT_DELETE = (1 << 8) | 2

FAMILIES = {0: 'unspec', 1: 'inet', 2: 'ip', 3: 'arp', 5: 'netdev', 7: 'bridge', 10: 'ip6'}
TRACE_TYPES = {1: 'policy', 2: 'return', 3: 'rule'}
VERDICTS = {0: 'drop', 1: 'accept', 2: 'stolen', 3: 'queue', 4: 'repeat', 5: 'stop', -1: 'continue', -2: 'break',
            -3: 'jump', -4: 'goto', -5: 'return'}
# queue is not final: with --queue-bypass and no listener the packet goes on (the quiet spell ends the wait)
TERMINAL = ('drop', 'stolen')

libc = ctypes.CDLL(None, use_errno=True)


def die(msg):
    sys.stdout.write(json.dumps({'fatal': msg}) + '\n')
    sys.stdout.flush()
    sys.exit(2)


def setns_fd(fd):
    if libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, 'setns: ' + os.strerror(e))


# ---------------------------------------------------------------- packet building

def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return (~s) & 0xFFFF


def l4(p, v6):
    """Transport header + payload, checksummed (pseudo header of the packet's own addresses)."""
    src, dst = p['srcb'], p['dstb']
    proto = p['protonum']
    if proto == 6:
        flags = p['tcpFlags']
        seq = 1000 + p['i']
        ack = 0 if not flags & 0x10 else 5000
        hdr = struct.pack('!HHIIBBHHH', p['sport'], p['dport'], seq, ack, 5 << 4, flags, 64240, 0, 0)
        payload = b''
    elif proto == 17:
        payload = b'ndk-oracle'
        hdr = struct.pack('!HHHH', p['sport'], p['dport'], 8 + len(payload), 0)
    else:
        t, code = p['icmpType'], p['icmpCode']
        if v6:
            echo_like = t in (128, 129)
        else:
            echo_like = t in (0, 8, 13, 14, 15, 16, 17, 18)
        if echo_like:
            rest = struct.pack('!HH', p['icmpId'], 1)
            payload = b'ndk-oracle-icmp!'
        else:
            # error-like message: carry the header of a (fictitious) packet from dst to src, as a router would
            rest = b'\0\0\0\0'
            if v6:
                inner = struct.pack('!IHBB16s16s', 6 << 28, 8, 17, 64, dst, src) + struct.pack('!HHHH', 53, 53, 8, 0)
            else:
                ih = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 28, 1, 0, 64, 17, 0, dst, src)
                ih = ih[:10] + struct.pack('!H', csum(ih)) + ih[12:]
                inner = ih + struct.pack('!HHHH', 53, 53, 8, 0)
            payload = inner
        hdr = struct.pack('!BBH', t, code, 0) + rest
    seg = hdr + payload
    if v6:
        ph = src + dst + struct.pack('!IBBBB', len(seg), 0, 0, 0, proto)
        c = csum(ph + seg)
    elif proto == 1:
        c = csum(seg)
    else:
        ph = src + dst + struct.pack('!BBH', 0, proto, len(seg))
        c = csum(ph + seg)
    if proto == 6:
        seg = seg[:16] + struct.pack('!H', c) + seg[18:]
    elif proto == 17:
        seg = seg[:6] + struct.pack('!H', c or 0xFFFF) + seg[8:]
    else:
        seg = seg[:2] + struct.pack('!H', c) + seg[4:]
    return seg


def build_ip(p, ttl):
    v6 = p['v6']
    seg = l4(p, v6)
    if v6:
        # the flow label carries the packet's marker (IPv6 has no IP ID)
        return struct.pack('!IHBB16s16s', (6 << 28) | (p['ipid'] & 0xFFFFF), len(seg), p['protonum'], ttl,
                           p['srcb'], p['dstb']) + seg
    h = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(seg), p['ipid'], 0, ttl, p['protonum'], 0, p['srcb'],
                    p['dstb'])
    h = h[:10] + struct.pack('!H', csum(h)) + h[12:]
    return h + seg


# ---------------------------------------------------------------- netlink

def nla(t, data):
    ln = 4 + len(data)
    return struct.pack('=HH', ln, t) + data + b'\0' * ((4 - ln % 4) % 4)


def nest(t, *parts):
    return nla(t | NLA_F_NESTED, b''.join(parts))


def parse_attrs(buf, off, end):
    out = {}
    n = 0
    while off + 4 <= end and n < 4096:
        n += 1
        ln, t = struct.unpack_from('=HH', buf, off)
        if ln < 4:
            break
        out[t & 0x3FFF] = bytes(buf[off + 4:off + ln])
        off += (ln + 3) & ~3
    return out


class Netlink:
    def __init__(self):
        self.s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        self.s.bind((0, 0))
        self.seq = int(time.time()) & 0xFFFF

    def request(self, mtype, flags, family, attrs):
        self.seq += 1
        body = struct.pack('=BBH', family, 0, 0) + attrs
        msg = struct.pack('=IHHII', 16 + len(body), mtype, flags | NLM_F_REQUEST | NLM_F_ACK, self.seq, 0) + body
        self.s.send(msg)
        deadline = time.monotonic() + 2.0
        for _ in range(64):
            r, _, _ = select.select([self.s], [], [], max(0.0, deadline - time.monotonic()))
            if not r:
                return 'netlink: no answer'
            data = self.s.recv(65536)
            off = 0
            while off + 16 <= len(data):
                ln, t, _f, seq, _pid = struct.unpack_from('=IHHII', data, off)
                if ln < 16:
                    break
                if seq == self.seq and t == NLMSG_ERROR:
                    err = struct.unpack_from('=i', data, off + 16)[0]
                    return None if err == 0 else os.strerror(-err)
                off += (ln + 3) & ~3
        return 'netlink: no ack'


def ct_tuple(p, reply):
    v6 = p['v6']
    a, b = (p['dstb'], p['srcb']) if reply else (p['srcb'], p['dstb'])
    ipn = nest(1, nla(3 if v6 else 1, a), nla(4 if v6 else 2, b))
    proto = p['protonum']
    parts = [nla(1, struct.pack('B', proto))]
    if proto in (6, 17):
        sp, dp = (p['dport'], p['sport']) if reply else (p['sport'], p['dport'])
        parts += [nla(2, struct.pack('!H', sp)), nla(3, struct.pack('!H', dp))]
    else:
        t = p['icmpType']
        if reply:
            t = {8: 0, 13: 14, 15: 16, 17: 18, 128: 129}.get(t, t)
        base = 7 if v6 else 4
        parts += [nla(base, struct.pack('!H', p['icmpId'])), nla(base + 1, struct.pack('B', t)),
                  nla(base + 2, struct.pack('B', p['icmpCode']))]
    return ipn + nest(2, *parts)


ICMP_REQUEST_OF_REPLY = {0: 8, 14: 13, 16: 15, 18: 17, 129: 128}


def ct_insert(nl, p):
    q = p
    if p['protonum'] in (1, 58) and p['icmpType'] in ICMP_REQUEST_OF_REPLY:
        # conntrack tracks an ICMP query only from its request (a reply type in the original direction leaves the
        # packet INVALID): the entry is the request's, and this reply travels in its REPLY direction
        q = dict(p, srcb=p['dstb'], dstb=p['srcb'], icmpType=ICMP_REQUEST_OF_REPLY[p['icmpType']])
    attrs = nest(1, ct_tuple(q, False)) + nest(2, ct_tuple(q, True))
    # IPS_SEEN_REPLY | IPS_ASSURED | IPS_CONFIRMED: without CONFIRMED this kernel answers EBUSY (status bits
    # it considers unchangeable differ from the new entry's)
    attrs += nla(3, struct.pack('!I', 0x2 | 0x4 | 0x8))
    attrs += nla(7, struct.pack('!I', 300))  # CTA_TIMEOUT
    if p['protonum'] == 6:
        attrs += nest(4, nest(1, nla(1, struct.pack('B', 3))))  # CTA_PROTOINFO_TCP_STATE = ESTABLISHED
    if p.get('ctMark') is not None:
        attrs += nla(8, struct.pack('!I', p['ctMark'] & 0xFFFFFFFF))
    return nl.request(IPCTNL_MSG_CT_NEW, NLM_F_CREATE | NLM_F_EXCL, 10 if p['v6'] else 2, attrs)


def ct_flush(nl):
    return nl.request(IPCTNL_MSG_CT_DELETE, 0, 0, b'')


class Tracer:
    def __init__(self):
        self.s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        try:
            self.s.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)  # SO_RCVBUFFORCE
        except OSError:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.s.bind((0, 0))
        self.s.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, NFNLGRP_NFTRACE)
        self.s.setblocking(False)
        self.overrun = False

    def read(self, timeout):
        """Trace events available within `timeout` seconds (at most one recv batch)."""
        r, _, _ = select.select([self.s], [], [], timeout)
        if not r:
            return []
        events = []
        for _ in range(256):
            try:
                data = self.s.recv(1 << 20)
            except BlockingIOError:
                break
            except OSError as e:  # ENOBUFS: events were lost
                if e.errno == 105:
                    self.overrun = True
                    continue
                raise
            off = 0
            while off + 16 <= len(data):
                ln, t = struct.unpack_from('=IH', data, off)
                if ln < 16:
                    break
                if t == NFT_MSG_TRACE:
                    events.append(self.decode(data, off + 16, off + ln))
                off += (ln + 3) & ~3
        return events

    @staticmethod
    def decode(buf, off, end):
        fam = buf[off]
        a = parse_attrs(buf, off + 4, end)
        ev = {'family': FAMILIES.get(fam, str(fam))}
        if 1 in a:
            ev['table'] = a[1].rstrip(b'\0').decode()
        if 2 in a:
            ev['chain'] = a[2].rstrip(b'\0').decode()
        if 3 in a:
            ev['handle'] = struct.unpack('!Q', a[3])[0]
        if 4 in a:
            ev['type'] = TRACE_TYPES.get(struct.unpack('!I', a[4])[0], '?')
        if 5 in a:
            v = parse_attrs(a[5], 0, len(a[5]))
            if 1 in v:
                code = struct.unpack('!i', v[1])[0]
                if code >= 0:
                    code &= 0xFF  # NF_QUEUE carries the queue number, NF_DROP an errno in the upper bits
                ev['verdict'] = VERDICTS.get(code, str(code))
            if 2 in v:
                ev['target'] = v[2].rstrip(b'\0').decode()
        if 6 in a:
            ev['id'] = struct.unpack('!I', a[6])[0]
        if 8 in a:
            ev['nh'] = a[8]
        if 10 in a:
            ev['iif'] = struct.unpack('!I', a[10])[0]
        if 12 in a:
            ev['oif'] = struct.unpack('!I', a[12])[0]
        if 14 in a:
            ev['mark'] = struct.unpack('!I', a[14])[0]
        if 16 in a:
            code = struct.unpack('!I', a[16])[0] & 0xFF
            ev['policy'] = VERDICTS.get(code, str(code))
        return ev


# ---------------------------------------------------------------- legacy x_tables counters

class XTables:
    """Reads a legacy x_tables table blob: the layout once (chains, rule indexes, targets), then counters."""
    HOOKS4 = ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING']

    def __init__(self, v6):
        self.v6 = v6
        fam = socket.AF_INET6 if v6 else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_RAW, socket.IPPROTO_RAW)
        self.level = 41 if v6 else 0  # SOL_IPV6 / SOL_IP
        if v6:
            self.esize, self.o_flags, self.o_toff, self.o_noff, self.o_cnt, self.goto_flag = 168, 131, 140, 142, 152, 4
        else:
            self.esize, self.o_flags, self.o_toff, self.o_noff, self.o_cnt, self.goto_flag = 112, 82, 88, 90, 96, 2

    def getsockopt(self, opt, buf):
        ln = ctypes.c_uint(len(buf))
        cbuf = ctypes.create_string_buffer(bytes(buf), len(buf))
        if libc.getsockopt(self.sock.fileno(), self.level, opt, cbuf, ctypes.byref(ln)) != 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))
        return cbuf.raw[:ln.value]

    def info(self, name):
        raw = self.getsockopt(64, name.encode().ljust(84, b'\0'))
        valid = struct.unpack_from('=I', raw, 32)[0]
        hooks = struct.unpack_from('=5I', raw, 36)
        under = struct.unpack_from('=5I', raw, 56)
        num, size = struct.unpack_from('=II', raw, 76)
        return valid, hooks, under, num, size

    def entries(self, name, size):
        buf = name.encode().ljust(32, b'\0') + struct.pack('=I', size) + b'\0' * 4 + b'\0' * size
        return self.getsockopt(65, buf)[40:]

    def layout(self, name):
        valid, hooks, under, _num, size = self.info(name)
        blob = self.entries(name, size)
        hook_at = {hooks[h]: self.HOOKS4[h] for h in range(5) if valid & (1 << h)}
        under_at = {under[h]: self.HOOKS4[h] for h in range(5) if valid & (1 << h)}
        ents = []
        off = 0
        chain, idx = None, 0
        for _ in range(1000000):
            if off >= len(blob):
                break
            toff, noff = struct.unpack_from('=HH', blob, off + self.o_toff)
            flags = blob[off + self.o_flags]
            tsize = struct.unpack_from('=H', blob, off + toff)[0]
            tname = blob[off + toff + 2:off + toff + 31].split(b'\0')[0].decode()
            e = {'off': off, 'next': off + noff}
            if off in hook_at:
                chain, idx = hook_at[off], 0
            if tname == 'ERROR':
                chain, idx = blob[off + toff + 32:off + toff + 64].split(b'\0')[0].decode(), 0
                e['kind'] = 'head'
                e['chain'] = chain
            else:
                e['chain'] = chain
                if tname == '':
                    verdict = struct.unpack_from('=i', blob, off + toff + 32)[0]
                    if verdict >= 0:
                        e['jumpoff'] = verdict
                        e['target'] = 'goto' if flags & self.goto_flag else 'jump'
                    else:
                        e['target'] = {-1: 'DROP', -2: 'ACCEPT', -4: 'QUEUE', -5: 'RETURN'}.get(verdict, str(verdict))
                else:
                    e['target'] = tname
                if off in under_at:
                    e['kind'] = 'policy'
                else:
                    nxt = off + noff
                    # a user chain ends with an unconditional RETURN right before the next chain head
                    is_end = False
                    if e.get('target') == 'RETURN' and nxt < len(blob) and chain not in self.HOOKS4:
                        ntoff = struct.unpack_from('=H', blob, nxt + self.o_toff)[0]
                        nname = blob[nxt + ntoff + 2:nxt + ntoff + 31].split(b'\0')[0].decode()
                        is_end = nname == 'ERROR'
                    if is_end:
                        e['kind'] = 'end'
                    else:
                        idx += 1
                        e['kind'] = 'rule'
                        e['index'] = idx
            ents.append(e)
            if noff <= 0:
                break
            off += noff
        first_rule_of = {}
        for k, e in enumerate(ents):
            if e['kind'] == 'head' and k + 1 < len(ents):
                first_rule_of[ents[k + 1]['off']] = e['chain']
        for e in ents:
            if 'jumpoff' in e:
                tgt = first_rule_of.get(e['jumpoff'])
                if tgt is None:
                    nxt = e['next']
                    e['target'] = 'CONTINUE' if e['jumpoff'] == nxt else 'jump?'
                else:
                    e['jumpto'] = tgt
                del e['jumpoff']
        return [e for e in ents if e['kind'] != 'head'], size

    def counters(self, name, size, ents):
        blob = self.entries(name, size)
        o = self.o_cnt
        return [struct.unpack_from('=Q', blob, e['off'] + o)[0] for e in ents]


# ---------------------------------------------------------------- main

def main():
    t_start = time.monotonic()
    cfg = json.loads(sys.stdin.read())
    ttl = cfg['ttl']
    wait_s = cfg['waitMs'] / 1000.0
    quiet_s = cfg.get('quietMs', 50) / 1000.0
    deadline_all = time.monotonic() + cfg['budgetMs'] / 1000.0
    self_fd = os.open('/proc/self/ns/net', os.O_RDONLY)
    peer_fd = os.open(cfg['peerNetns'], os.O_RDONLY)

    # one AF_PACKET socket in the peer namespace, frames addressed to a peer end with sendto (closing an AF_PACKET
    # socket waits for an RCU grace period: one socket per interface made the exit take ~15 ms per interface)
    psocks = {}
    setns_fd(peer_fd)
    try:
        psock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        for itf in cfg['ifaces']:
            psocks[itf['name']] = (itf['peer'], bytes.fromhex(itf['rmac'].replace(':', '')),
                                   bytes.fromhex(itf['pmac'].replace(':', '')))
    finally:
        setns_fd(self_fd)

    raw4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    raw6 = None
    nl = Netlink()
    tracer = Tracer()
    ifnames = {i: n for i, n in socket.if_nameindex()}

    legacy = []
    for fam, names in (('ip', cfg.get('legacy4', [])), ('ip6', cfg.get('legacy6', []))):
        if not names:
            continue
        xt = XTables(fam == 'ip6')
        for name in names:
            ents, size = xt.layout(name)
            legacy.append({'family': fam, 'table': name, 'xt': xt, 'ents': ents, 'size': size})
    layout_out = []
    for t in legacy:
        layout_out.append({'family': t['family'], 'table': t['table'], 'entries': [
            {k: v for k, v in e.items() if k in ('chain', 'kind', 'index', 'target', 'jumpto')} for e in t['ents']]})
    sys.stdout.write(json.dumps({'layout': layout_out, 'ifnames': ifnames,
                                 'setupMs': round((time.monotonic() - t_start) * 1000, 3)}) + '\n')
    sys.stdout.flush()

    def read_counters():
        return [t['xt'].counters(t['table'], t['size'], t['ents']) for t in legacy]

    before = read_counters() if legacy else []
    tracer.read(0.0)  # drop anything stale

    for p in cfg['packets']:
        t0 = time.monotonic()
        res = {'i': p['i']}
        if t0 > deadline_all:
            res['error'] = 'oracle time budget exhausted before this packet'
            sys.stdout.write(json.dumps(res) + '\n')
            continue
        p['srcb'] = socket.inet_pton(socket.AF_INET6 if p['v6'] else socket.AF_INET, p['src'])
        p['dstb'] = socket.inet_pton(socket.AF_INET6 if p['v6'] else socket.AF_INET, p['dst'])
        err = ct_flush(nl)
        if err:
            res['error'] = 'conntrack flush: ' + err
        elif p['state'] == 'established':
            err = ct_insert(nl, p)
            if err:
                res['error'] = 'conntrack insert: ' + err
        if 'error' in res:
            sys.stdout.write(json.dumps(res) + '\n')
            continue
        pkt = build_ip(p, ttl)
        stale = tracer.read(0.0)  # events of earlier packets that came late are not this packet's
        res['stale'] = len(stale)
        try:
            if p['path'] == 'output':
                if p['v6']:
                    if raw6 is None:
                        raw6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
                    raw6.sendto(pkt, (p['dst'], 0))
                else:
                    raw4.sendto(pkt, (p['dst'], 0))
            else:
                peer, rmac, pmac = psocks[p['in']]
                etype = 0x86DD if p['v6'] else 0x0800
                psock.sendto(rmac + pmac + struct.pack('!H', etype) + pkt, (peer, etype))
        except OSError as e:
            # a locally generated packet that netfilter drops makes sendto() fail with EPERM: that is a verdict
            if not (p['path'] == 'output' and e.errno == 1):
                res['error'] = 'send: ' + str(e)
                sys.stdout.write(json.dumps(res) + '\n')
                continue
            res['sendEperm'] = True
        # collect this packet's events: an invocation of a base chain belongs to the packet when its dumped network
        # header carries the packet's marker (IP ID / IPv6 flow label); the other events of that invocation share its id
        ids = set()
        events = []
        done = None
        deadline = time.monotonic() + wait_s
        last_event = None
        for _ in range(100000):
            now = time.monotonic()
            if now >= deadline:
                break
            # netfilter runs synchronously in the sender's softirq: once the packet's events have started, a quiet
            # spell means the packet is gone (dropped outside netfilter, e.g. no route)
            if last_event is not None and now - last_event > quiet_s:
                break
            got = tracer.read(min(0.005, deadline - now))
            if got:
                last_event = time.monotonic()
            for ev in got:
                nh = ev.get('nh')
                if nh is not None:
                    if p['v6']:
                        mine = len(nh) >= 40 and nh[0] >> 4 == 6 and (struct.unpack_from('!I', nh, 0)[0] & 0xFFFFF) == (
                            p['ipid'] & 0xFFFFF)
                    else:
                        mine = len(nh) >= 20 and nh[0] >> 4 == 4 and struct.unpack_from('!H', nh, 4)[0] == p['ipid']
                    if mine:
                        ids.add(ev.get('id'))
                    elif ev.get('id') in ids:
                        ids.discard(ev.get('id'))
                if ev.get('id') not in ids:
                    continue
                if nh is not None:
                    ev['ttl'] = nh[7] if p['v6'] else nh[8]
                    ev['dump'] = True
                    del ev['nh']
                if 'iif' in ev:
                    ev['iif'] = ifnames.get(ev['iif'], str(ev['iif']))
                if 'oif' in ev:
                    ev['oif'] = ifnames.get(ev['oif'], str(ev['oif']))
                events.append(ev)
                if ev.get('table') == cfg['oracleTable'] and ev.get('chain', '').startswith('fin'):
                    done = 'fin'
                elif ev.get('verdict') in TERMINAL or ev.get('policy') in TERMINAL:
                    done = 'nft-' + (ev.get('verdict') if ev.get('verdict') in TERMINAL else ev.get('policy'))
            if done:
                break
            if legacy and events:
                after = read_counters()
                dropped = False
                for t, b, a in zip(legacy, before, after):
                    for e, x, y in zip(t['ents'], b, a):
                        if y != x and e.get('target') in ('DROP', 'REJECT'):
                            dropped = True
                if dropped:
                    done = 'legacy-drop'
                    break
        res['done'] = done
        res['events'] = events
        if tracer.overrun:
            res['overrun'] = True
            tracer.overrun = False
        if legacy:
            after = read_counters()
            deltas = []
            for ti, (t, b, a) in enumerate(zip(legacy, before, after)):
                for ei, (x, y) in enumerate(zip(b, a)):
                    if y != x:
                        deltas.append([ti, ei, y - x])
            res['deltas'] = deltas
            before = after
        res['ms'] = round((time.monotonic() - t0) * 1000, 3)
        sys.stdout.write(json.dumps(res) + '\n')
        sys.stdout.flush()
    sys.stdout.write(json.dumps({'end': True, 'ms': round((time.monotonic() - t_start) * 1000, 3)}) + '\n')
    sys.stdout.flush()
    for sk in [raw4, raw6, nl.s, tracer.s, psock]:
        if sk is not None:
            sk.close()


if __name__ == '__main__':
    try:
        main()
    except Exception as exc:  # noqa: BLE001 - reported to the caller as a fatal error
        die('%s: %s' % (type(exc).__name__, exc))
