/**
 * The Kubernetes API as netdoctor uses it: the kubeconfig, context and credentials come from `@kubernetes/client-node`
 * (every auth method kubectl knows: certificates, tokens, exec plugins, OIDC), requests go out as plain HTTP(S) so the
 * objects come back byte for byte as the API server wrote them (the typed client would rename and drop fields).
 *
 * Errors are typed and read like kubectl's: an unreachable server names its address, a 401 says the credentials are
 * expired or invalid, a 403 repeats the API server's own sentence (which names the verb, the resource and the user)
 * and points at deploy/rbac.yaml.
 */
import { existsSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { InputError, NetdoctorError } from '../core/errors.js';

/** The live cluster could not be read (unreachable, refused, denied). Exit code 2, one line for the user. */
export class LiveError extends NetdoctorError {
  override name = 'LiveError';
}

/** The Kubernetes `Status` object the API server answers errors with. */
export interface KubeStatus {
  kind?: 'Status';
  apiVersion?: string;
  status?: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  code?: number;
  details?: { name?: string; kind?: string; group?: string; causes?: { reason?: string; message?: string }[] };
}

/** An error answer of the API server, with its Status. */
export class ApiError extends LiveError {
  override name = 'ApiError';
  constructor(
    message: string,
    readonly code: number,
    readonly status: KubeStatus | undefined,
  ) {
    super(message);
  }
  get reason(): string | undefined {
    return this.status?.reason;
  }
}

export interface KubeOptions {
  /** A kubeconfig file (default: $KUBECONFIG, else ~/.kube/config). */
  kubeconfig?: string;
  /** A context of the kubeconfig (default: its current-context). */
  context?: string;
}

/** Loads the kubeconfig the way kubectl finds it; a missing file or context is an InputError naming it. */
export function loadKubeConfig(opts: KubeOptions = {}): { kc: KubeConfig; source: string } {
  const kc = new KubeConfig();
  let source: string;
  if (opts.kubeconfig) {
    if (!existsSync(opts.kubeconfig)) throw new InputError('no such kubeconfig file (--kubeconfig)', opts.kubeconfig);
    source = opts.kubeconfig;
    loadFile(kc, source);
  } else if (process.env.KUBECONFIG) {
    const files = process.env.KUBECONFIG.split(delimiter).filter(Boolean);
    const present = files.filter((f) => existsSync(f));
    if (present.length === 0)
      throw new InputError(`no kubeconfig: KUBECONFIG names ${files.join(', ')}, and none of them exists`);
    source = present.join(delimiter);
    loadFile(kc, present[0] as string);
    for (const f of present.slice(1)) {
      const more = new KubeConfig();
      loadFile(more, f);
      kc.mergeConfig(more, true);
    }
  } else {
    const file = join(homedir(), '.kube', 'config');
    if (!existsSync(file))
      throw new InputError(
        `no kubeconfig: ${file} does not exist and KUBECONFIG is not set; give one with --kubeconfig FILE`,
      );
    source = file;
    loadFile(kc, file);
  }
  if (opts.context) {
    if (!kc.getContextObject(opts.context)) {
      const known = kc.getContexts().map((c) => c.name);
      throw new InputError(
        `no context "${opts.context}" in the kubeconfig (contexts: ${known.join(', ') || 'none'})`,
        source,
      );
    }
    kc.setCurrentContext(opts.context);
  }
  const current = kc.getCurrentContext();
  if (!current || !kc.getContextObject(current))
    throw new InputError(
      current
        ? `current-context "${current}" is not one of the kubeconfig's contexts; give one with --context`
        : 'the kubeconfig has no current-context; give one with --context',
      source,
    );
  if (!kc.getCurrentCluster())
    throw new InputError(`context "${current}" names a cluster the kubeconfig does not define`, source);
  return { kc, source };
}

function loadFile(kc: KubeConfig, file: string): void {
  try {
    kc.loadFromFile(file);
  } catch (e) {
    throw new InputError(`not a readable kubeconfig: ${(e as Error).message.split('\n')[0]}`, file);
  }
}

export interface RequestOptions {
  body?: unknown;
  /** Content type of the body (default application/json). */
  contentType?: string;
  timeoutMs?: number;
  /** For error messages: the verb and resource asked for (e.g. `list`, `pods`). */
  what?: { verb: string; resource: string };
}

/** Bound on one API request (a list page, a pod read); long enough for a slow API server under load. */
const REQUEST_TIMEOUT_MS = 30_000;

/** A connection to one API server with one identity. */
export class KubeApi {
  readonly server: string;
  readonly context: string;

  constructor(readonly kc: KubeConfig) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new InputError('the kubeconfig has no current cluster');
    this.server = cluster.server.replace(/\/+$/, '');
    this.context = kc.getCurrentContext();
  }

  /** Options for a request to `path` (auth headers, TLS material, agent), as client-node applies them. */
  async requestOptions(): Promise<https.RequestOptions> {
    const opts: https.RequestOptions = { headers: {} };
    try {
      await this.kc.applyToHTTPSOptions(opts);
    } catch (e) {
      throw new LiveError(
        `cannot get credentials for context "${this.context}": ${(e as Error).message.split('\n')[0]}`,
      );
    }
    return opts;
  }

  /** One request; resolves with the parsed JSON answer, rejects with an ApiError or LiveError. */
  async request<T = unknown>(method: string, path: string, ro: RequestOptions = {}): Promise<T> {
    const opts = await this.requestOptions();
    const url = new URL(this.server + path);
    const body = ro.body === undefined ? undefined : typeof ro.body === 'string' ? ro.body : JSON.stringify(ro.body);
    opts.method = method;
    const headers: http.OutgoingHttpHeaders = {
      ...(opts.headers as http.OutgoingHttpHeaders),
      Accept: 'application/json',
    };
    if (body !== undefined) {
      headers['Content-Type'] = ro.contentType ?? 'application/json';
      headers['Content-Length'] = Buffer.byteLength(body);
    }
    opts.headers = headers;
    const timeoutMs = ro.timeoutMs ?? REQUEST_TIMEOUT_MS;
    const mod = url.protocol === 'https:' ? https : http;
    const { code, text } = await new Promise<{ code: number; text: string }>((resolve, reject) => {
      const req = mod.request(url, opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ code: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (e) => reject(this.networkError(e)));
      });
      req.setTimeout(timeoutMs, () => {
        req.destroy(new LiveError(`the API server at ${this.server} did not answer within ${timeoutMs / 1000} s`));
      });
      req.on('error', (e) => reject(e instanceof LiveError ? e : this.networkError(e)));
      req.end(body);
    });
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (code >= 200 && code < 300) {
      if (parsed === undefined && text)
        throw new LiveError(`the API server at ${this.server} answered ${method} ${path} with something not JSON`);
      return parsed as T;
    }
    throw this.statusError(code, parsed as KubeStatus | undefined, text, ro.what);
  }

  networkError(e: Error): LiveError {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ECONNREFUSED'
        ? 'connection refused'
        : code === 'ENOTFOUND'
          ? 'no such host'
          : code === 'EHOSTUNREACH' || code === 'ENETUNREACH'
            ? 'no route to host'
            : code === 'ETIMEDOUT'
              ? 'connection timed out'
              : code === 'ECONNRESET'
                ? 'connection reset'
                : e.message;
    const tls = /certificate|self.signed|SSL|TLS/i.test(e.message)
      ? ' (TLS: the server certificate is not one the kubeconfig trusts)'
      : '';
    return new LiveError(`cannot reach the API server at ${this.server}: ${why}${tls}`);
  }

  /** The one line a user reads for an error answer. */
  statusError(
    code: number,
    status: KubeStatus | undefined,
    text: string,
    what?: { verb: string; resource: string },
  ): ApiError {
    const said = status?.message ?? text.trim().split('\n')[0] ?? '';
    let message: string;
    if (code === 401)
      message = `the API server at ${this.server} refused the credentials of context "${this.context}" (401 Unauthorized): they are expired or invalid; log in again or refresh the kubeconfig`;
    else if (code === 403 && /violates PodSecurity/.test(said))
      message = `Pod Security admission refused the pod: ${said} (the namespace needs the label pod-security.kubernetes.io/enforce=privileged)`;
    else if (code === 403 && !/\bcannot \S+ resource\b/.test(said) && said)
      message = `refused (403 Forbidden, not by RBAC: an admission controller or policy): ${said}`;
    else if (code === 403)
      message = `RBAC denied: ${said || `cannot ${what?.verb ?? 'access'} ${what?.resource ?? 'this resource'}`}${
        what ? ` (netdoctor needs "${what.verb}" on ${what.resource}; see deploy/rbac.yaml)` : ' (see deploy/rbac.yaml)'
      }`;
    else message = `${said || `HTTP ${code}`}${status?.reason ? ` (${status.reason})` : ` (HTTP ${code})`}`;
    return new ApiError(message, code, status);
  }
}

/** Opens the API of a kubeconfig/context. */
export function connect(opts: KubeOptions = {}): KubeApi {
  return new KubeApi(loadKubeConfig(opts).kc);
}
