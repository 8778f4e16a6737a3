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
 * A majority ring: every node sees a majority and no two see the same one. Along `ring`,
 * the cuts are symmetric where possible: a node talks with its k nearest neighbours on
 * each side, the smallest k with 2k+1 >= the majority m (5 nodes: one each side), as
 * Jepsen's majorities-ring. With 3 nodes that is impossible (everyone, or a matching that
 * leaves one node alone), so the cut is directed: node at position p hears only itself and
 * the next m-1 nodes along the ring (no two nodes can then exchange a round trip).
 */
export function majorityRingCuts(ring: readonly number[]): Link[] {
  const n = ring.length;
  const m = Math.floor(n / 2) + 1;
  const k = Math.ceil((m - 1) / 2);
  if (2 * k + 1 < n) return symmetricRingCuts(ring, k);
  const out: Link[] = [];
  for (let p = 0; p < n; p++) {
    const window = new Set<number>();
    for (let i = 0; i < m; i++) window.add(ring[(p + i) % n]!);
    for (const j of ring) if (!window.has(j)) out.push([j, ring[p]!]);
  }
  return out;
}

function symmetricRingCuts(ring: readonly number[], k: number): Link[] {
  const n = ring.length;
  const out: Link[] = [];
  for (let p = 0; p < n; p++) {
    for (let q = 0; q < n; q++) {
      const distance = Math.min(Math.abs(p - q), n - Math.abs(p - q));
      if (distance > k) out.push([ring[q]!, ring[p]!]);
    }
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
