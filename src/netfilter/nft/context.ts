/**
 * What compiling one nft rule needs to know: the table's family and sets, where to report problems, and the caches
 * that let identical expressions compile once (kube-proxy repeats the same few thousands of times).
 */
import type { NodeEnv, Packet } from '../model.js';
import type { CompiledSet } from './sets.js';
import type { Got, NftType } from './types.js';

export type NftFamily = 'ip' | 'ip6' | 'inet' | 'arp' | 'bridge' | 'netdev';

/** A compiled left-hand side: reads one value from the packet. */
export interface Getter {
  type: NftType;
  /** nft syntax (`ip saddr`, `meta l4proto`, `ct state`). */
  text: string;
  get(pkt: Packet, env: NodeEnv): Got;
  /** Set on `ip daddr` / `ip6 daddr`: a rule that requires one destination can be indexed by it. */
  dstAddr?: boolean;
  /** numgen/jhash: every value is a possible outcome the kernel picks. */
  random?: boolean;
}

export interface CompileContext {
  family: NftFamily;
  /** The table's label (`inet firewalld`), for messages. */
  table: string;
  /** A named set or map of this table, compiled for the given key types (undefined when there is no such set). */
  namedSet(name: string, keyTypes: NftType[]): CompiledSet | undefined;
  /** Report a problem with the rule being compiled. */
  issue(severity: 'error' | 'warning', message: string): void;
  /** Report an expression kind netdoctor does not model (`what`: a noun phrase): one warning per kind and table. */
  unsupported(kind: string, what: string): void;
  /** Names of this table's chains, to check jump targets. */
  hasChain(name: string): boolean;
  /** Compiled left-hand sides by a short key (`payload ip daddr`): the same few are used by every rule. */
  getters: Map<string, Getter>;
}
