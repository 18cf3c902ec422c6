/**
 * The echo server behind netdoctor's echo protocol: TCP and UDP on one port, answering every connection or datagram
 * with the pod's name, so a probe through a ClusterIP learns which endpoint answered.
 *
 * In the lab it is a file in the lab's work directory, started with `ip netns exec <pod> node <file> <pod> <port>
 * <ready-file>`: it writes the ready file once both sockets listen, and exits by itself when its own file is gone (the
 * lab's work directory is removed by `down`). In a live probe pod it runs as `node -e <source>` with the name and port
 * in NETDOCTOR_ECHO_NAME and NETDOCTOR_ECHO_PORT; the pod's readiness probe and its own deadline bound its life.
 */

export const ECHO_AGENT_FILE = 'echo-agent.cjs';

export const ECHO_AGENT_SOURCE = `'use strict';
const fs = require('node:fs');
const net = require('node:net');
const dgram = require('node:dgram');

const fromFile = require.main === module;
const [name, portText, readyFile] = fromFile
  ? process.argv.slice(2)
  : [process.env.NETDOCTOR_ECHO_NAME, process.env.NETDOCTOR_ECHO_PORT];
const port = Number(portText);
const answer = Buffer.from(name + '\\n');
let listening = 0;
const ready = () => {
  if (++listening === 2 && readyFile) fs.writeFileSync(readyFile, String(process.pid));
};

// Both families where the kernel has IPv6 (an IPv6 or dual-stack pod), IPv4 alone where it has not.
function serveTcp(host) {
  const tcp = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.setTimeout(5000, () => socket.destroy());
    socket.end(answer);
  });
  tcp.on('error', (e) => {
    if (host === '::' && (e.code === 'EAFNOSUPPORT' || e.code === 'EADDRNOTAVAIL')) return serveTcp('0.0.0.0');
    console.error('tcp: ' + e.message);
    process.exit(1);
  });
  tcp.listen(port, host, ready);
}

function serveUdp(type) {
  const udp = dgram.createSocket(type === 'udp6' ? { type, ipv6Only: false } : type);
  udp.on('message', (_msg, from) => udp.send(answer, from.port, from.address));
  udp.on('error', (e) => {
    if (type === 'udp6' && (e.code === 'EAFNOSUPPORT' || e.code === 'EADDRNOTAVAIL')) {
      udp.close();
      return serveUdp('udp4');
    }
    console.error('udp: ' + e.message);
    process.exit(1);
  });
  udp.bind(port, type === 'udp6' ? '::' : '0.0.0.0', ready);
}

serveTcp('::');
serveUdp('udp6');

process.on('SIGTERM', () => process.exit(0));
if (fromFile)
  setInterval(() => {
    if (!fs.existsSync(__filename)) process.exit(0);
  }, 5000);
`;
