/** The small set of typed errors netdoctor raises. Each carries a one-line message for the user. */

export class NetdoctorError extends Error {
  override name = 'NetdoctorError';
}

/** Bad command-line use: unknown option value, missing argument. Exit code 2. */
export class UsageError extends NetdoctorError {
  override name = 'UsageError';
}

/** Input that cannot be read at all (missing file, not a List, unknown schema). Exit code 2. */
export class InputError extends NetdoctorError {
  override name = 'InputError';
  constructor(
    message: string,
    readonly file?: string,
    readonly line?: number,
  ) {
    super(file ? `${file}${line ? `:${line}` : ''}: ${message}` : message);
  }
}

/** A problem in a parsed input that was kept going past: which file, which line, why. */
export interface ParseIssue {
  file: string;
  line: number;
  severity: 'error' | 'warning';
  message: string;
  /** The offending text, shortened. */
  text?: string;
}
