/** Output of `rules eval`: the JSON shape of the issue and a text answer that leads with the verdict. */
import { formatIp } from '../core/ip.js';
import type { Decisive } from '../core/vocabulary.js';
import type { Packet, Path } from '../netfilter/model.js';
import { protocolName } from '../netfilter/model.js';
import type { Branch, EvalResult, RuleRef } from '../netfilter/simulate.js';
import { style } from './style.js';

function packetJson(p: Packet) {
  return {
    proto: protocolName(p.proto),
    src: formatIp(p.src),
    ...(p.sport !== undefined ? { sport: p.sport } : {}),
    dst: formatIp(p.dst),
    ...(p.dport !== undefined ? { dport: p.dport } : {}),
    ...(p.mark ? { mark: `0x${p.mark.toString(16)}` } : {}),
  };
}

function branchJson(b: Branch) {
  return {
    verdict: b.verdict,
    decisive: b.decisive,
    ...(b.reject ? { reject: b.reject } : {}),
    choices: b.choices.map((c) => ({
      table: c.rule.table,
      chain: c.rule.chain,
      index: c.rule.index,
      taken: c.taken,
      why: c.why,
    })),
    matched: b.matched,
    rewrites: b.rewrites,
    packet: packetJson(b.packet),
    ...(b.uncertainWhy ? { uncertain: b.uncertainWhy } : {}),
  };
}

export function evalResultJson(r: EvalResult) {
  return {
    verdict: r.verdict,
    decisive: r.decisive,
    ...(r.reject ? { reject: r.reject } : {}),
    matched: r.matched,
    rewrites: r.rewrites,
    ...(r.branches.length > 1 ? { branches: r.branches.map(branchJson) } : {}),
    ...(r.verdict === 'uncertain' && r.branches[0]?.uncertainWhy
      ? { uncertain: r.branches.find((b) => b.uncertainWhy)?.uncertainWhy }
      : {}),
  };
}

export function decisiveText(d: Decisive | null): string {
  if (!d) return 'nothing decided';
  if (d.kind === 'rule') return `${d.table}/${d.chain} #${d.index}  ${d.text ?? ''}`;
  if (d.kind === 'policy')
    return d.chain ? `${d.table}/${d.chain} policy ${d.policy}` : (d.detail ?? `policy ${d.policy}`);
  return `${d.kind}: ${d.text ?? d.detail ?? ''}`;
}

function ruleLine(r: RuleRef): string {
  return `${r.table}/${r.chain} #${r.index}  ${r.text}`;
}

export function formatEvalText(r: EvalResult, pkt: Packet, path: Path, tty: boolean): string {
  const s = style(tty);
  const out: string[] = [];
  const flow = `${protocolName(pkt.proto)} ${formatIp(pkt.src)}${pkt.sport !== undefined ? `:${pkt.sport}` : ''} → ${formatIp(pkt.dst)}${pkt.dport !== undefined ? `:${pkt.dport}` : ''}`;
  const where = [pkt.in ? `in ${pkt.in}` : '', pkt.out ? `out ${pkt.out}` : '', pkt.state.toUpperCase()]
    .filter(Boolean)
    .join(', ');
  const colour = r.verdict === 'accept' ? s.green : r.verdict === 'uncertain' ? s.yellow : s.red;
  const verdict =
    r.verdict.toUpperCase() + (r.reject ? ` (${r.reject.with}: the client sees ${r.reject.clientSees})` : '');
  out.push(`${colour(s.bold(verdict))}  ${flow}  [${path}; ${where}]`);
  const one = r.branches.length === 1 ? r.branches[0] : undefined;
  const d = r.decisive;
  out.push(`  decided by  ${s.bold(decisiveText(d))}`);
  if (d?.source) out.push(`              ${s.dim(`${d.source.file}:${d.source.line}`)}`);
  if (d?.detail && d.kind === 'rule') out.push(`  why         ${d.detail}`);
  if (one) {
    if (one.matched.length) {
      out.push('  matched on the way:');
      for (const m of one.matched) out.push(`    ${ruleLine(m)}`);
    }
    if (one.rewrites.length) {
      out.push('  rewrites:');
      for (const w of one.rewrites) out.push(`    ${w.kind}: ${w.detail}`);
    }
  } else {
    out.push(`  ${r.branches.length} branches (the kernel chooses at random among them):`);
    r.branches.forEach((b, i) => {
      const c = b.verdict === 'accept' ? s.green : b.verdict === 'uncertain' ? s.yellow : s.red;
      const via = b.choices
        .filter((x) => x.taken === true || typeof x.taken === 'string')
        .map((x) => `${x.rule.chain} #${x.rule.index}`);
      const dn = b.rewrites.find((w) => w.kind === 'dnat');
      out.push(
        `    ${i + 1}. ${c(b.verdict.toUpperCase())}  ${decisiveText(b.decisive)}${dn ? `  (${dn.detail})` : ''}${via.length ? s.dim(`  via ${via.join(', ')}`) : ''}`,
      );
    });
  }
  return `${out.join('\n')}\n`;
}
