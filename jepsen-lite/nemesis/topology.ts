/**
 * Which directed links a network fault cuts (pure). A link [i, j] is the traffic node i
 * sends to node j; cutting it black-holes that direction only.
 */
import { linksBetween, type Link } from '../net/network.js';

/** Cuts that isolate each of `alone` from every other node. */
export function isolateCuts(nodes: readonly number[], alone: readonly number[]): Link[] {
  const out: Link[] = [];
  for (const a of alone) out.push(...linksBetween([a], nodes.filter((x) => x !== a)));
  return dedupe(out);
}

/** Cuts of two halves that cannot talk to each other. */
export function partitionCuts(halves: readonly [readonly number[], readonly number[]]): Link[] {
  return linksBetween(halves[0], halves[1]);
}

/**
 * A majority ring: along `ring`, node at position p hears only the m = n/2+1 nodes starting
 * at p (itself and the next ones), so every node sees a majority and no two see the same
 * one. The cut is directed: node p does not receive from nodes outside its window.
 */
export function majorityRingCuts(ring: readonly number[]): Link[] {
  const n = ring.length;
  const m = Math.floor(n / 2) + 1;
  const out: Link[] = [];
  for (let p = 0; p < n; p++) {
    const window = new Set<number>();
    for (let k = 0; k < m; k++) window.add(ring[(p + k) % n]!);
    for (const j of ring) if (!window.has(j)) out.push([j, ring[p]!]);
  }
  return out;
}

/** A bridge: two sides that cannot talk, and one node in the middle that talks to both. */
export function bridgeCuts(order: readonly number[]): Link[] {
  const mid = Math.floor(order.length / 2);
  return linksBetween(order.slice(0, mid), order.slice(mid + 1));
}

function dedupe(links: Link[]): Link[] {
  const seen = new Set<string>();
  return links.filter(([a, b]) => {
    const k = `${a}>${b}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
