/**
 * From the collector's framed output to a NodeSnapshot. Transport-neutral: the local and netns runs feed it chunks as
 * they arrive; SSH, a pod's exec stream or a file a user saved can feed it the same way, or in one Buffer through
 * `parseCollectorOutput`.
 */
import { isUtf8 } from 'node:buffer';
import { VERSION } from '../cli/version.js';
import { InputError, type ParseIssue } from '../core/errors.js';
import { type CommandRecord, type FileRecord, NODE_SNAPSHOT_SCHEMA, type NodeSnapshot } from '../snapshot/schema.js';
import { COMMAND_LINES } from './commands.js';
import { type Frame, FrameReader } from './frames.js';

export type Transport = NodeSnapshot['collector']['transport'];

export interface CollectorOutputMeta {
  transport: Transport;
  /** The namespace, host or pod it ran in. */
  target?: string;
  /** The node name to record; default: the hostname the script printed. */
  nodeName?: string;
  /** Name of the output in problem reports (a file name, `netns foo`). */
  source?: string;
  /** Problems found on the way (text outside frames, a cut-off output); the rest is kept. */
  onIssue?: (issue: ParseIssue) => void;
  /** Called when the collector starts a command (its id), for progress reports. */
  onCommand?: (id: string) => void;
}

interface PendingCommand {
  record: CommandRecord;
  line: number;
  hasStdout: boolean;
  hasStderr: boolean;
}

/** Decodes bytes that should be UTF-8; undefined when they are not. */
function utf8(buf: Buffer): string | undefined {
  return isUtf8(buf) ? buf.toString('utf8') : undefined;
}

/** Assembles frames into a snapshot. Feed it with `push`, then call `finish`. */
export class SnapshotAssembler {
  private readonly reader: FrameReader;
  private readonly meta = new Map<string, string>();
  private readonly commands = new Map<string, PendingCommand>();
  private readonly files: Record<string, FileRecord> = {};
  private complete = false;
  private readonly source: string;
  /** The id of the command the collector is running now (for timeouts). */
  running: string | undefined;

  constructor(private readonly opts: CollectorOutputMeta) {
    this.source = opts.source ?? 'collector output';
    this.reader = new FrameReader(
      (f) => this.frame(f),
      (p) => this.issue(p.line, p.message, 'warning'),
    );
  }

  push(chunk: Buffer): void {
    this.reader.push(chunk);
  }

  private issue(line: number, message: string, severity: ParseIssue['severity']): void {
    this.opts.onIssue?.({ file: this.source, line, severity, message });
  }

  private command(id: string, line: number): PendingCommand {
    let c = this.commands.get(id);
    if (!c) {
      c = {
        record: { command: COMMAND_LINES.get(id) ?? id, stdout: '', stderr: '', exitCode: 0 },
        line,
        hasStdout: false,
        hasStderr: false,
      };
      this.commands.set(id, c);
    }
    return c;
  }

  private frame(f: Frame): void {
    switch (f.kind) {
      case 'meta':
        this.meta.set(f.id, f.payload.toString('utf8'));
        return;
      case 'cmd': {
        const c = this.command(f.id, f.line);
        c.record.command = f.payload.toString('utf8');
        this.running = f.id;
        this.opts.onCommand?.(f.id);
        return;
      }
      case 'stdout': {
        const c = this.command(f.id, f.line);
        c.hasStdout = true;
        c.record.exitCode = f.exit;
        const text = utf8(f.payload);
        if (text === undefined) {
          c.record.stdout = '';
          c.record.stdoutBase64 = f.payload.toString('base64');
        } else c.record.stdout = text;
        return;
      }
      case 'stderr': {
        const c = this.command(f.id, f.line);
        c.hasStderr = true;
        c.record.exitCode = f.exit;
        // The schema keeps stderr as text only: invalid bytes become U+FFFD (it is a message, not data).
        c.record.stderr = f.payload.toString('utf8');
        this.running = undefined;
        return;
      }
      case 'missing': {
        const c = this.command(f.id, f.line);
        c.hasStdout = c.hasStderr = true;
        c.record.exitCode = f.exit;
        c.record.missing = true;
        this.running = undefined;
        return;
      }
      case 'file': {
        const text = utf8(f.payload);
        this.files[f.id] = text === undefined ? { contentBase64: f.payload.toString('base64') } : { content: text };
        return;
      }
      case 'file-error':
        this.files[f.id] = { error: f.payload.toString('utf8').trim() || `exit code ${f.exit}` };
        return;
      case 'end':
        this.complete = true;
        return;
      default:
        // A newer collector may print kinds this version does not know: keep going.
        this.issue(f.line, `unknown frame kind "${f.kind}" (id ${f.id}) ignored`, 'warning');
    }
  }

  /** Ends the input and returns the snapshot. Throws when the input held no collector frames at all. */
  finish(): NodeSnapshot {
    this.reader.end();
    if (this.reader.frames === 0)
      throw new InputError(
        'not the output of the netdoctor collector (no "@@netdoctor" frames); run the script from `netdoctor collect --print-script`',
        this.opts.source,
      );
    const commands: Record<string, CommandRecord> = {};
    for (const [id, c] of this.commands) {
      if (!c.hasStdout || !c.hasStderr) {
        this.issue(c.line, `the output ends before "${id}" finished; its result is left out`, 'error');
        continue;
      }
      commands[id] = c.record;
    }
    if (!this.complete)
      this.issue(0, 'the output has no end frame: it was cut off, and what follows the last frame is missing', 'error');
    const format = this.meta.get('format');
    if (format !== undefined && format !== '1')
      this.issue(
        0,
        `collector format ${format} is newer than this netdoctor reads (1); results may be incomplete`,
        'warning',
      );

    const node = this.opts.nodeName ?? this.meta.get('hostname')?.trim();
    if (!node)
      throw new InputError('the collector output names no host; give the node name (--node)', this.opts.source);
    const collector: NodeSnapshot['collector'] = {
      version: this.meta.get('version') || VERSION,
      transport: this.opts.transport,
    };
    if (this.opts.target !== undefined) collector.target = this.opts.target;
    const date = this.meta.get('date');
    return {
      schemaVersion: NODE_SNAPSHOT_SCHEMA,
      kind: 'NodeSnapshot',
      node,
      collectedAt: date && !Number.isNaN(Date.parse(date)) ? date : new Date().toISOString(),
      collector,
      commands,
      files: this.files,
    };
  }

  /** The uid the collector ran as, when it said. */
  get uid(): string | undefined {
    return this.meta.get('uid');
  }
}

/**
 * Parses the collector's complete output (from any transport: SSH, a pod's exec stream, a saved file). Problems that
 * leave the rest readable go to `meta.onIssue`; output with no frames at all is an InputError.
 */
export function parseCollectorOutput(buf: Buffer, meta: CollectorOutputMeta): NodeSnapshot {
  const assembler = new SnapshotAssembler(meta);
  assembler.push(buf);
  return assembler.finish();
}
