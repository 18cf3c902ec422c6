/**
 * `pods/exec` over WebSocket, the way kubectl does it: the command goes in the query string, the streams are
 * multiplexed on one connection by the channel subprotocols — `v5.channel.k8s.io` (can close stdin),
 * `v4.channel.k8s.io` (exit status as a Status object), and their `base64` variants for servers or proxies that only
 * pass text frames. Binary frames start with the channel byte (0 stdin, 1 stdout, 2 stderr, 3 error/status, 255 close);
 * base64 text frames start with the channel digit. A refused upgrade (403, 404, 400 for a pod that is not running) is
 * read like any API error, from its Status body.
 */
import WebSocket from 'ws';
import { ApiError, type KubeApi, type KubeStatus, LiveError } from './api.js';

export const EXEC_PROTOCOLS = [
  'v5.channel.k8s.io',
  'v4.channel.k8s.io',
  'v4.base64.channel.k8s.io',
  'base64.channel.k8s.io',
  'channel.k8s.io',
];

export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;
export const STATUS = 3;
export const CLOSE = 255;

export interface ExecOptions {
  namespace: string;
  pod: string;
  container?: string;
  command: readonly string[];
  /** Sent on stdin; with v5 stdin is closed after it, with older protocols the command must not wait for EOF. */
  stdin?: Buffer | string;
  onStdout: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  /** Aborts the connection (the remote command is killed by the kubelet when the stream goes away). */
  signal?: AbortSignal;
}

export interface ExecResult {
  /** The protocol the server chose. */
  protocol: string;
  /** The Status on the error channel (Success, or Failure with the exit code); undefined when none came. */
  status?: KubeStatus;
  /** The command's exit code, read from the Status. */
  exitCode?: number;
}

function exitCodeOf(status: KubeStatus | undefined): number | undefined {
  if (!status) return undefined;
  if (status.status === 'Success') return 0;
  const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
  return cause?.message !== undefined ? Number(cause.message) : undefined;
}

/** Runs a command in a pod's container; resolves when the server closes the stream. */
export async function execInPod(api: KubeApi, o: ExecOptions): Promise<ExecResult> {
  const q = new URLSearchParams();
  for (const c of o.command) q.append('command', c);
  if (o.container) q.set('container', o.container);
  q.set('stdout', 'true');
  q.set('stderr', 'true');
  if (o.stdin !== undefined) q.set('stdin', 'true');
  const path = `/api/v1/namespaces/${encodeURIComponent(o.namespace)}/pods/${encodeURIComponent(o.pod)}/exec?${q}`;
  const url = (api.server + path).replace(/^http/, 'ws');
  const opts = await api.requestOptions();

  if (o.signal?.aborted) throw new LiveError('exec aborted');
  return new Promise<ExecResult>((resolve, reject) => {
    const ws = new WebSocket(url, EXEC_PROTOCOLS, {
      ...(opts as WebSocket.ClientOptions),
      headers: opts.headers as Record<string, string>,
      handshakeTimeout: 30_000,
      perMessageDeflate: false,
    });
    let status: KubeStatus | undefined;
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      o.signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve({ protocol: ws.protocol, status, exitCode: exitCodeOf(status) });
    };
    const onAbort = () => {
      // terminate() before the handshake ends emits 'error', which the handler below absorbs (settled by then).
      ws.terminate();
      finish(new LiveError('exec aborted'));
    };
    o.signal?.addEventListener('abort', onAbort);

    ws.on('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: KubeStatus | undefined;
        try {
          parsed = JSON.parse(text) as KubeStatus;
        } catch {
          parsed = undefined;
        }
        finish(api.statusError(res.statusCode ?? 0, parsed, text, { verb: 'create', resource: 'pods/exec' }));
      });
    });
    ws.on('error', (e) => finish(e instanceof ApiError ? e : api.networkError(e)));
    ws.on('open', () => {
      if (!EXEC_PROTOCOLS.includes(ws.protocol)) {
        ws.terminate();
        finish(new LiveError(`the API server chose no exec stream protocol this netdoctor speaks (${ws.protocol})`));
        return;
      }
      if (o.stdin === undefined) return;
      const data = Buffer.isBuffer(o.stdin) ? o.stdin : Buffer.from(o.stdin);
      const base64 = ws.protocol.includes('base64');
      // Frames of at most 32 KiB, as kubectl sends them.
      for (let i = 0; i < data.length; i += 32 * 1024) {
        const part = data.subarray(i, i + 32 * 1024);
        if (base64) ws.send(`${STDIN}${part.toString('base64')}`);
        else ws.send(Buffer.concat([Buffer.from([STDIN]), part]));
      }
      if (ws.protocol === 'v5.channel.k8s.io') ws.send(Buffer.from([CLOSE, STDIN]));
    });
    ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      if (buf.length === 0) return;
      let channel: number;
      let payload: Buffer;
      if (isBinary) {
        channel = buf[0] as number;
        payload = buf.subarray(1);
      } else {
        // base64 protocols: a text frame, "<digit><base64>".
        channel = (buf[0] as number) - 0x30;
        payload = Buffer.from(buf.subarray(1).toString('latin1'), 'base64');
      }
      if (channel === STDOUT) o.onStdout(payload);
      else if (channel === STDERR) o.onStderr?.(payload);
      else if (channel === STATUS) {
        if (payload.length === 0) return;
        try {
          status = JSON.parse(payload.toString('utf8')) as KubeStatus;
        } catch {
          // v1 channel.k8s.io sends plain text on the error channel
          status = { status: 'Failure', message: payload.toString('utf8') };
        }
      }
    });
    ws.on('close', () => finish());
  });
}
