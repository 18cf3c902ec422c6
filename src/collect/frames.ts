/**
 * The collector's framing, read incrementally from Buffers. A frame is
 *
 *   @@netdoctor <kind> <id> <exit> <bytes>\n   then exactly <bytes> raw bytes, then one \n
 *
 * `<id>` may hold spaces (file paths do): kind is the first word, exit and bytes the last two. The payload is taken by
 * length, so it may hold any bytes, including lines that look like headers. Text outside frames (an ssh banner, a
 * sudo lecture) is skipped and reported, never mistaken for data.
 */

export interface Frame {
  kind: string;
  id: string;
  exit: number;
  payload: Buffer;
  /** 1-based line of the header in the whole output. */
  line: number;
}

export interface FrameProblem {
  line: number;
  message: string;
}

const MAGIC = '@@netdoctor ';
/** A header longer than this is not a header (paths are far shorter). */
const MAX_HEADER = 64 * 1024;
const NL = 0x0a;

type State = 'header' | 'payload' | 'trailer';

function countNewlines(buf: Buffer, from: number, to: number): number {
  let n = 0;
  let i = buf.indexOf(NL, from);
  while (i !== -1 && i < to) {
    n++;
    i = buf.indexOf(NL, i + 1);
  }
  return n;
}

export interface FrameHeader {
  kind: string;
  id: string;
  exit: number;
  bytes: number;
}

/** Parses a header line (without its newline); undefined when it is not one. */
export function parseHeader(line: string): FrameHeader | undefined {
  if (!line.startsWith(MAGIC)) return undefined;
  const words = line.slice(MAGIC.length).split(' ');
  if (words.length < 4) return undefined;
  const kind = words[0];
  const bytesText = words[words.length - 1];
  const exitText = words[words.length - 2];
  const id = words.slice(1, -2).join(' ');
  if (!/^[a-z][a-z-]*$/.test(kind) || !/^\d+$/.test(bytesText) || !/^-?\d+$/.test(exitText) || id === '')
    return undefined;
  return { kind, id, exit: Number(exitText), bytes: Number(bytesText) };
}

/**
 * Push chunks as they arrive, then call `end()`. Frames and problems are handed to the callbacks in order. Memory
 * holds one frame's payload at a time.
 */
export class FrameReader {
  private state: State = 'header';
  private headerParts: Buffer[] = [];
  private headerLength = 0;
  private current: Omit<Frame, 'payload'> | undefined;
  private remaining = 0;
  private payloadParts: Buffer[] = [];
  /** Lines consumed so far (the line number of the next byte is `line`). */
  private line = 1;
  private skippedBytes = 0;
  private skippedFrom = 0;
  private overlong = false;
  frames = 0;

  constructor(
    private readonly onFrame: (frame: Frame) => void,
    private readonly onProblem: (problem: FrameProblem) => void,
  ) {}

  push(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.state === 'header') {
        const nl = chunk.indexOf(NL, pos);
        const end = nl === -1 ? chunk.length : nl;
        if (!this.overlong) {
          if (this.headerLength + (end - pos) > MAX_HEADER) {
            this.overlong = true;
            this.headerLength += end - pos;
            this.headerParts = [];
          } else {
            this.headerParts.push(chunk.subarray(pos, end));
            this.headerLength += end - pos;
          }
        } else this.headerLength += end - pos;
        if (nl === -1) return;
        pos = nl + 1;
        this.endOfHeaderLine();
      } else if (this.state === 'payload') {
        const take = Math.min(this.remaining, chunk.length - pos);
        const part = chunk.subarray(pos, pos + take);
        this.payloadParts.push(part);
        this.line += countNewlines(chunk, pos, pos + take);
        this.remaining -= take;
        pos += take;
        if (this.remaining === 0) this.state = 'trailer';
      } else {
        // trailer: the newline after the payload, printed so the raw output stays readable.
        if (chunk[pos] === NL) {
          pos++;
          this.line++;
        } else if (this.current) {
          this.onProblem({
            line: this.line,
            message: `frame "${this.current.kind} ${this.current.id}" is not followed by a newline`,
          });
        }
        this.finishFrame();
      }
    }
  }

  /** Call once the output is complete: reports a frame cut off in the middle and text after the last frame. */
  end(): void {
    if (this.state === 'header' && this.headerLength > 0) this.endOfHeaderLine();
    this.flushSkipped();
    if (this.state === 'payload' && this.current) {
      const got = this.payloadParts.reduce((n, b) => n + b.length, 0);
      this.onProblem({
        line: this.current.line,
        message: `the output ends inside frame "${this.current.kind} ${this.current.id}" (${got} of ${got + this.remaining} bytes): it was cut off`,
      });
      this.current = undefined;
      this.payloadParts = [];
      this.state = 'header';
    } else if (this.state === 'trailer') this.finishFrame();
  }

  private endOfHeaderLine(): void {
    const length = this.headerLength;
    const text = this.overlong ? '' : Buffer.concat(this.headerParts).toString('utf8');
    this.headerParts = [];
    this.headerLength = 0;
    this.overlong = false;
    const startLine = this.line;
    this.line++;
    const header = parseHeader(text);
    if (!header) {
      if (this.skippedBytes === 0) this.skippedFrom = startLine;
      this.skippedBytes += length + 1;
      return;
    }
    this.flushSkipped();
    this.current = { kind: header.kind, id: header.id, exit: header.exit, line: startLine };
    this.remaining = header.bytes;
    this.payloadParts = [];
    this.state = header.bytes === 0 ? 'trailer' : 'payload';
  }

  private finishFrame(): void {
    const frame = this.current;
    const payload = this.payloadParts.length === 1 ? this.payloadParts[0] : Buffer.concat(this.payloadParts);
    this.current = undefined;
    this.payloadParts = [];
    this.state = 'header';
    if (!frame) return;
    this.frames++;
    // A subarray of a chunk keeps the whole chunk alive; copy small payloads out of big chunks.
    this.onFrame({ ...frame, payload: payload.length < 4096 ? Buffer.from(payload) : payload });
  }

  private flushSkipped(): void {
    if (this.skippedBytes === 0) return;
    this.onProblem({
      line: this.skippedFrom,
      message: `skipped ${this.skippedBytes} bytes that are not collector frames`,
    });
    this.skippedBytes = 0;
  }
}
