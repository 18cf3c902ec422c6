/** Reading a snapshot's records as text, whether they were kept as UTF-8 or, for odd bytes, as base64. */
import type { CommandRecord, FileRecord } from './schema.js';

/**
 * The text of a command's stdout for parsers: `stdout`, or the base64 bytes decoded with U+FFFD for the invalid
 * sequences. One odd byte (an interface name, an iptables comment) must not make the whole output look empty.
 */
export function stdoutText(record: CommandRecord): string {
  return record.stdoutBase64 !== undefined
    ? Buffer.from(record.stdoutBase64, 'base64').toString('utf8')
    : record.stdout;
}

/** The text of a file record, decoded the same way; undefined when the file could not be read. */
export function fileText(record: FileRecord): string | undefined {
  return record.contentBase64 !== undefined
    ? Buffer.from(record.contentBase64, 'base64').toString('utf8')
    : record.content;
}
