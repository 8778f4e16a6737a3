/**
 * Quorum arithmetic over majority and joint (two-majority) configurations, as in etcd's
 * quorum/. A joint config needs a majority of both halves; an empty outgoing half always agrees.
 */

/** Outcome of a vote count. */
export type VoteResult = 'won' | 'lost' | 'pending';

const scratch: number[] = [];

/** Committed index of a majority config: the highest index acked by a majority. */
export function majorityCommitted(voters: ReadonlySet<number>, ackedIndex: (id: number) => number | undefined): number {
  const n = voters.size;
  if (n === 0) return Number.MAX_SAFE_INTEGER; // An empty config agrees to everything (joint math).
  if (n === 1) {
    for (const id of voters) return ackedIndex(id) ?? 0;
  }
  // Insertion sort (descending) into a reused scratch array: called on every ack, with
  // small n; avoids an allocation and a comparator call per element.
  const srt = scratch;
  let len = 0;
  for (const id of voters) {
    const v = ackedIndex(id) ?? 0;
    let j = len++;
    while (j > 0 && srt[j - 1]! < v) {
      srt[j] = srt[j - 1]!;
      j--;
    }
    srt[j] = v;
  }
  // With n voters, the (n/2 + 1)-th highest index is on a majority.
  return srt[n >> 1]!;
}

/** Vote result of a majority config; `votes(id)` is true (yes), false (no) or undefined (missing). */
export function majorityVoteResult(voters: ReadonlySet<number>, votes: (id: number) => boolean | undefined): VoteResult {
  if (voters.size === 0) return 'won';
  let yes = 0;
  let missing = 0;
  for (const id of voters) {
    const v = votes(id);
    if (v === undefined) missing++;
    else if (v) yes++;
  }
  const q = (voters.size >> 1) + 1;
  if (yes >= q) return 'won';
  if (yes + missing >= q) return 'pending';
  return 'lost';
}

/** A joint config: [incoming, outgoing]; outgoing is empty outside joint consensus. */
export type JointConfig = [Set<number>, Set<number>];

/** Committed index of a joint config: the lower of the two halves. */
export function jointCommitted(cfg: JointConfig, ackedIndex: (id: number) => number | undefined): number {
  const a = majorityCommitted(cfg[0], ackedIndex);
  if (cfg[1].size === 0) return a;
  return Math.min(a, majorityCommitted(cfg[1], ackedIndex));
}

/** Vote result of a joint config: won only if both halves won, lost if either lost. */
export function jointVoteResult(cfg: JointConfig, votes: (id: number) => boolean | undefined): VoteResult {
  const r1 = majorityVoteResult(cfg[0], votes);
  const r2 = majorityVoteResult(cfg[1], votes);
  if (r1 === r2) return r1;
  if (r1 === 'lost' || r2 === 'lost') return 'lost';
  return 'pending';
}

/** Every voter id of a joint config, sorted. */
export function jointIds(cfg: JointConfig): number[] {
  const ids = new Set<number>(cfg[0]);
  for (const id of cfg[1]) ids.add(id);
  return [...ids].sort((a, b) => a - b);
}
