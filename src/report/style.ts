/** Terminal styling: colours only when writing to a terminal and NO_COLOR is not set. */
export interface Style {
  bold(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  dim(s: string): string;
}

const wrap = (code: string) => (s: string) => `\x1b[${code}m${s}\x1b[0m`;
const plain = (s: string) => s;

export function style(tty: boolean): Style {
  const on = tty && !process.env.NO_COLOR;
  return on
    ? { bold: wrap('1'), red: wrap('31'), green: wrap('32'), yellow: wrap('33'), dim: wrap('2') }
    : { bold: plain, red: plain, green: plain, yellow: plain, dim: plain };
}
