/**
 * Read the files a user gives (`iptables-save`, `ip6tables-save`, `nft -j list ruleset`, `ipset save` output, in any
 * mix) into one ruleset and the ipsets its rules refer to.
 */
import type { ParseIssue } from '../core/errors.js';
import type { Backend, IpSet, Ruleset } from '../netfilter/model.js';
import { parseIpsetSave } from './ipset-save.js';
import { parseIptablesSave } from './iptables-save.js';
import { parseNftJson } from './nft-json.js';

export interface RulesInput {
  /** The name used in messages (a file path, `nodes/a.json:iptables-save`...). */
  name: string;
  text: string;
  /** What the text is, when the caller knows; otherwise it is recognised from its content. */
  kind?: 'iptables-save' | 'nft-json' | 'ipset-save';
  backend?: Backend;
  family?: 4 | 6;
}

export interface LoadedRules {
  ruleset: Ruleset;
  ipsets: Map<string, IpSet>;
}

export function sniffKind(text: string): RulesInput['kind'] {
  const head = text.slice(0, 2048).trimStart();
  if (head.startsWith('{')) return 'nft-json';
  if (/^(create|add) \S+ /m.test(head) && !/^\*/m.test(head)) return 'ipset-save';
  return 'iptables-save';
}

export interface LoadOptions {
  /** Compile every iptables rule now, so that every problem is reported at once (else rules compile when used). */
  eager?: boolean;
}

export function loadRules(inputs: RulesInput[], options: LoadOptions = {}): LoadedRules {
  const ruleset: Ruleset = { tables: [], issues: [], files: [] };
  const ipsets = new Map<string, IpSet>();
  const issues: ParseIssue[] = ruleset.issues;
  let skipped: { file: string; tables: string[] } | undefined;
  let sawIptables = false;
  for (const input of inputs) {
    ruleset.files.push(input.name);
    const kind = input.kind ?? sniffKind(input.text);
    if (kind === 'nft-json') {
      const r = parseNftJson(input.text, input.name);
      ruleset.tables.push(...r.tables);
      issues.push(...r.issues);
      if (r.skippedIptablesNft.length) skipped = { file: input.name, tables: r.skippedIptablesNft };
    } else if (kind === 'ipset-save') {
      const r = parseIpsetSave(input.text, input.name);
      for (const [k, v] of r.sets) ipsets.set(k, v);
      issues.push(...r.issues);
    } else {
      sawIptables = true;
      const r = parseIptablesSave(input.text, {
        file: input.name,
        ...(options.eager ? { eager: true } : {}),
        ...(input.backend ? { backend: input.backend } : {}),
        ...(input.family ? { family: input.family } : {}),
      });
      ruleset.tables.push(...r.tables);
      issues.push(...r.issues);
    }
  }
  if (skipped && !sawIptables)
    issues.push({
      file: skipped.file,
      line: 1,
      severity: 'warning',
      message: `the nft dump holds iptables-nft tables (${skipped.tables.join(', ')}) that are read from iptables-save output, and none was given: those rules are left out`,
    });
  return { ruleset, ipsets };
}
