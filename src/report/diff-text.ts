/** The text report of `diff`: one line per difference (what differs and what it changes), then both sides' evidence. */
import type { Evidence } from '../core/vocabulary.js';
import type { DiffAllResult, Difference, DiffResult } from '../diff/types.js';
import { style } from './style.js';

function evidenceLine(e: Evidence): string {
  const where = e.kind === 'rule' && e.table ? `${e.table}/${e.chain} #${e.index}  ` : `${e.kind}: `;
  return `${e.node ? `${e.node}  ` : ''}${where}${e.text}`;
}

function differenceLines(d: Difference, tty: boolean): string[] {
  const s = style(tty);
  const out = [`${s.yellow(d.kind)}  ${s.bold(d.title)}`];
  if (d.moreClasses)
    out.push(
      `  ${s.dim(`(${d.moreClasses} more packet class${d.moreClasses === 1 ? '' : 'es'} differ; --format json lists the first ones)`)}`,
    );
  if (d.detail) out.push(`  ${s.dim(d.detail)}`);
  for (const side of [d.a, d.b]) {
    if (side.evidence.length === 0) out.push(`    ${side.node}  ${s.dim('(nothing)')}`);
    for (const e of side.evidence) out.push(`    ${evidenceLine(e)}`);
  }
  return out;
}

export function formatDiffText(r: DiffResult, tty: boolean): string {
  const s = style(tty);
  const out: string[] = [];
  for (const d of r.differences) out.push(...differenceLines(d, tty), '');
  for (const n of r.notCompared) out.push(s.dim(`not compared: ${n.kind}: ${n.reason}`));
  const n = r.differences.length;
  out.push(
    n === 0
      ? s.green(`No difference in behaviour between ${r.a} and ${r.b}.`)
      : `${n} difference${n === 1 ? '' : 's'} between ${r.a} and ${r.b}.`,
  );
  return `${out.join('\n')}\n`;
}

export function formatDiffAllText(r: DiffAllResult, tty: boolean): string {
  const s = style(tty);
  const out: string[] = [];
  for (const o of r.oddOnesOut) {
    out.push(
      s.bold(
        `${o.node} differs from ${o.differsFrom.length} of the ${o.comparedWith.length} peers it was compared with (${o.comparedWith.join(', ')})${o.reference ? `; against ${o.reference}:` : ''}`,
      ),
      '',
    );
    for (const d of o.differences) out.push(...differenceLines(d, tty).map((l) => `  ${l}`), '');
  }
  if (r.undecided)
    out.push(
      `${r.undecided.join(' and ')} differ, and with two nodes there is no majority to tell which one is odd: run \`netdoctor diff <bundle> --nodes ${r.undecided.join(',')}\`.`,
    );
  else if (r.oddOnesOut.length === 0) out.push(s.green(`All ${r.nodes.length} nodes behave alike.`));
  else
    out.push(
      `Odd one${r.oddOnesOut.length === 1 ? '' : 's'} out (${r.oddOnesOut.length} of ${r.nodes.length} nodes): ${r.oddOnesOut.map((o) => o.node).join(', ')}`,
    );
  return `${out.join('\n')}\n`;
}
