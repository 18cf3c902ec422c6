/**
 * A binary prefix trie: one level per address bit, values on the node of their prefix. A lookup walks the bits of one
 * address once (32 or 128 steps at most) and yields every prefix that contains it, longest first, which is what the
 * kernel's FIB lookup needs: it backtracks to a shorter prefix when no route of the longest one is usable.
 */
import type { Cidr, Ip, IpFamily } from '../core/ip.js';

interface Node<T> {
  zero?: Node<T>;
  one?: Node<T>;
  values?: T[];
}

export interface PrefixMatch<T> {
  prefix: number;
  values: readonly T[];
}

/** The address as 32-bit words, most significant first, so bits can be read without bigint arithmetic. */
function words(family: IpFamily, value: number | bigint): number[] {
  if (family === 4) return [value as number];
  const v = value as bigint;
  return [
    Number((v >> 96n) & 0xffffffffn),
    Number((v >> 64n) & 0xffffffffn),
    Number((v >> 32n) & 0xffffffffn),
    Number(v & 0xffffffffn),
  ];
}

const bit = (w: number[], i: number) => ((w[i >> 5] as number) >>> (31 - (i & 31))) & 1;

export class PrefixTrie<T> {
  private readonly root: Node<T> = {};
  private count = 0;

  constructor(readonly family: IpFamily) {}

  get size(): number {
    return this.count;
  }

  /** Add a value under a prefix; values of one prefix keep their insertion order. */
  insert(cidr: Cidr, value: T): void {
    if (cidr.family !== this.family) throw new Error(`IPv${cidr.family} prefix in an IPv${this.family} trie`);
    const w = words(cidr.family, cidr.network);
    let node = this.root;
    for (let i = 0; i < cidr.prefix; i++) {
      if (bit(w, i)) {
        node.one ??= {};
        node = node.one;
      } else {
        node.zero ??= {};
        node = node.zero;
      }
    }
    node.values ??= [];
    node.values.push(value);
    this.count++;
  }

  /** Every prefix holding values that contains the address, longest first. */
  matches(ip: Ip): PrefixMatch<T>[] {
    if (ip.family !== this.family) return [];
    const w = words(ip.family, ip.value);
    const max = ip.family === 4 ? 32 : 128;
    const found: PrefixMatch<T>[] = [];
    let node: Node<T> | undefined = this.root;
    for (let i = 0; node; i++) {
      if (node.values) found.push({ prefix: i, values: node.values });
      if (i === max) break;
      node = bit(w, i) ? node.one : node.zero;
    }
    return found.reverse();
  }

  /** The values of exactly this prefix. */
  get(cidr: Cidr): readonly T[] {
    if (cidr.family !== this.family) return [];
    const w = words(cidr.family, cidr.network);
    let node: Node<T> | undefined = this.root;
    for (let i = 0; node && i < cidr.prefix; i++) node = bit(w, i) ? node.one : node.zero;
    return node?.values ?? [];
  }
}
