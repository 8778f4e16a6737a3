/**
 * The differential test's command model: fast-check arbitraries of valid text and meta
 * commands over a small pool of keys, their rendering (a CAS argument is resolved per
 * server from the CAS values that server showed for the key), and the normalisation of
 * replies before they are compared byte for byte.
 *
 * What normalisation allows, and why:
 *   - CAS values: each server numbers its own (memcached from one global counter, memraft
 *     from each group's Raft log). Per key, every CAS value shown is replaced by
 *     `#<order of first appearance>.<rank by value>`: two servers agree when they show the
 *     same equalities and the same order between the CAS values of each key.
 *   - TTLs and access ages (t, l, exp=, la=): memcached's clock ticks once a second, so a
 *     run that crosses a tick shows one second less (or more); they compare to within it.
 * Everything else must match byte for byte.
 *
 * Left out on purpose, where memcached 1.6.18 disagrees with the reference protocol text
 * (memraft follows the reference, and its own tests cover those cases): `ma` with `N` and
 * `q` (1.6.18 answers HD) or `t` (the reply shows t-1 for an item it just created), `ma`
 * with a vivify TTL (1.6.18 gives the new item none), `mg`
 * flag orders and combinations whose 1.6.18 answer depends on the order (see mgFlagsOf),
 * `ms` with `N` (1.6.18 never vivifies an append), meta
 * flags 1.6.18 does not know (mg/md E, md x, ms s, mg C), flush_all (it would reach other
 * runs' keys).
 */
import fc from 'fast-check';

/** A CAS argument: the last CAS this server showed for the key, or one no item has. */
export type CasRef = 'last' | 'bogus';

/** One generated command. */
export type Command =
  | { t: 'store'; cmd: 'set' | 'add' | 'replace' | 'append' | 'prepend'; key: number; flags: number; exp: number; value: string; noreply: boolean }
  | { t: 'cas'; key: number; flags: number; exp: number; value: string; cas: CasRef; noreply: boolean }
  | { t: 'get'; cmd: 'get' | 'gets'; keys: number[] }
  | { t: 'gat'; cmd: 'gat' | 'gats'; exp: number; keys: number[] }
  | { t: 'touch'; key: number; exp: number; noreply: boolean }
  | { t: 'delete'; key: number; noreply: boolean }
  | { t: 'arith'; cmd: 'incr' | 'decr'; key: number; delta: string; noreply: boolean }
  | { t: 'mg'; key: number; flags: string[] }
  | { t: 'ms'; key: number; value: string; flags: string[]; cas: CasRef | null }
  | { t: 'md'; key: number; flags: string[]; cas: CasRef | null }
  | { t: 'ma'; key: number; flags: string[]; cas: CasRef | null }
  | { t: 'mn' };

/** Keys per run: few, so commands meet the same items often. */
export const keysPerRun = 3;

const keyArb = fc.integer({ min: 0, max: keysPerRun - 1 });
// Exptimes that cannot expire during a run (0, 100 s, 1000 s) or are already past (-1).
const expArb = fc.constantFrom(0, 0, 100, 1000, -1);
const flagsArb = fc.constantFrom(0, 0, 1, 4294967295);
const valueArb = fc.constantFrom('', 'a', 'hello', '0', '7', '41', '18446744073709551615', '18446744073709551614', 'x y');
const deltaArb = fc.constantFrom('0', '1', '5', '18446744073709551615');
const casArb = fc.constantFrom<CasRef>('last', 'last', 'bogus');
const noreplyArb = fc.boolean();

/** A subset of `flags`, in a shuffled order (return flags come back in request order). */
function flagSet(flags: string[]): fc.Arbitrary<string[]> {
  return fc.shuffledSubarray(flags);
}

const mgFlags = ['v', 'c', 'f', 's', 't', 'k', 'h', 'l', 'q', 'O9', 'u'];
const mgModifiers = ['T100', 'T0', 'T-1', 'N100', 'N0', 'R30', 'R2000'];

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant('store' as const), cmd: fc.constantFrom('set' as const, 'set' as const, 'add' as const, 'replace' as const, 'append' as const, 'prepend' as const), key: keyArb, flags: flagsArb, exp: expArb, value: valueArb, noreply: noreplyArb }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('cas' as const), key: keyArb, flags: flagsArb, exp: expArb, value: valueArb, cas: casArb, noreply: noreplyArb }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('get' as const), cmd: fc.constantFrom('get' as const, 'gets' as const), keys: fc.array(keyArb, { minLength: 1, maxLength: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('gat' as const), cmd: fc.constantFrom('gat' as const, 'gats' as const), exp: expArb, keys: fc.array(keyArb, { minLength: 1, maxLength: 2 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('touch' as const), key: keyArb, exp: expArb, noreply: noreplyArb }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('delete' as const), key: keyArb, noreply: noreplyArb }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('arith' as const), cmd: fc.constantFrom('incr' as const, 'decr' as const), key: keyArb, delta: deltaArb, noreply: noreplyArb }) },
  {
    weight: 5,
    arbitrary: fc.record({
      t: fc.constant('mg' as const),
      key: keyArb,
      flags: fc.tuple(fc.shuffledSubarray(mgModifiers, { maxLength: 2 }), flagSet(mgFlags)).map(([m, f]) => mgFlagsOf(m, f)),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('ms' as const),
      key: keyArb,
      value: valueArb,
      // No N: 1.6.18 does not vivify an append (the reference text, which memraft follows, does).
      flags: fc.tuple(flagSet(['c', 'k', 'O7', 'q', 'I']), fc.subarray(['T100', 'T-1', 'F5', 'ME', 'MA', 'MP', 'MR', 'MS'], { maxLength: 2 })).map(([a, b]) => [...a, ...uniqueLetters(b)]),
      cas: fc.option(casArb, { nil: null }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('md' as const),
      key: keyArb,
      flags: fc.tuple(flagSet(['q', 'k', 'O5', 'I']), fc.subarray(['T30'], { maxLength: 1 })).map(([a, b]) => [...a, ...b]),
      cas: fc.option(casArb, { nil: null }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('ma' as const),
      key: keyArb,
      // N0 and never N with q: memcached 1.6.18 gives an item it creates no TTL and answers
      // it HD despite q, where the reference text (which memraft follows) says otherwise.
      flags: fc
        .tuple(flagSet(['v', 't', 'c', 'k', 'q', 'O3']), fc.subarray(['N0', 'J13', 'D7', 'T100', 'MI', 'MD', 'M+', 'M-'], { maxLength: 3 }))
        .map(([a, b]) => [...a, ...uniqueLetters(b)])
        // and the reply of an item ma N creates shows t-1 in 1.6.18 whatever T says.
        .map((f) => (f.includes('N0') ? f.filter((x) => x !== 'q' && x !== 't') : f)),
      cas: fc.option(casArb, { nil: null }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ t: 'mn' as const }) },
);

/**
 * An mg's flags, modifiers first. memcached 1.6.18 applies its flags in the order given (a
 * t before T shows the old TTL, a T before N is ignored) where the reference text orders
 * nothing; memraft reports what the command leaves (t after T) and T only on a hit, as the
 * text says. So: modifiers first, never N with T, no t with N alone (1.6.18 shows t-1 for
 * the item N just created with a TTL) nor with T-1 (1.6.18 shows a wrapped number).
 */
function mgFlagsOf(modifiers: string[], flags: string[]): string[] {
  let m = uniqueLetters(modifiers);
  if (m.some((x) => x[0] === 'T')) m = m.filter((x) => x[0] !== 'N');
  const hideTtl = m.some((x) => x[0] === 'N' || x === 'T-1');
  return [...m, ...(hideTtl ? flags.filter((x) => x !== 't') : flags)];
}

/** Drops later flags whose letter was already given (meta commands refuse duplicate flags). */
function uniqueLetters(flags: string[]): string[] {
  const seen = new Set<string>();
  return flags.filter((f) => !seen.has(f[0]!) && seen.add(f[0]!) !== undefined);
}

/** A run: a short sequence of commands. */
export const runArb = fc.array(commandArb, { minLength: 1, maxLength: 25 });

/** What a server showed so far, to resolve CAS arguments and to normalise CAS values. */
export class ServerView {
  /** Per key name: CAS values in order of first appearance. */
  private readonly casByKey = new Map<string, string[]>();
  /** Per key name: the last CAS value shown. */
  private readonly lastCas = new Map<string, string>();

  /** The CAS argument for `key`. */
  casArg(key: string, ref: CasRef): string {
    // No server reaches this value within a test run.
    const bogus = '9999999999';
    return ref === 'bogus' ? bogus : (this.lastCas.get(key) ?? bogus);
  }

  /** Records a CAS value shown for `key` and returns its normalised token. */
  token(key: string, cas: string): string {
    let seen = this.casByKey.get(key);
    if (seen === undefined) {
      seen = [];
      this.casByKey.set(key, seen);
    }
    if (!seen.includes(cas)) seen.push(cas);
    this.lastCas.set(key, cas);
    const rank = [...seen].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0)).indexOf(cas);
    return `#${seen.indexOf(cas)}.${rank}`;
  }
}

/** The wire bytes of `c` for a server, keys named `${prefix}${n}`. */
export function render(c: Command, prefix: string, view: ServerView): string {
  const k = (n: number): string => `${prefix}${n}`;
  const nr = (noreply: boolean): string => (noreply ? ' noreply' : '');
  const meta = (flags: string[], cas: CasRef | null, key: string): string =>
    [...flags, ...(cas === null ? [] : [`C${view.casArg(key, cas)}`])].map((f) => ' ' + f).join('');
  switch (c.t) {
    case 'store':
      return `${c.cmd} ${k(c.key)} ${c.flags} ${c.exp} ${c.value.length}${nr(c.noreply)}\r\n${c.value}\r\n`;
    case 'cas':
      return `cas ${k(c.key)} ${c.flags} ${c.exp} ${c.value.length} ${view.casArg(k(c.key), c.cas)}${nr(c.noreply)}\r\n${c.value}\r\n`;
    case 'get':
      return `${c.cmd} ${c.keys.map(k).join(' ')}\r\n`;
    case 'gat':
      return `${c.cmd} ${c.exp} ${c.keys.map(k).join(' ')}\r\n`;
    case 'touch':
      return `touch ${k(c.key)} ${c.exp}${nr(c.noreply)}\r\n`;
    case 'delete':
      return `delete ${k(c.key)}${nr(c.noreply)}\r\n`;
    case 'arith':
      return `${c.cmd} ${k(c.key)} ${c.delta}${nr(c.noreply)}\r\n`;
    case 'mg':
      return `mg ${k(c.key)}${meta(c.flags, null, k(c.key))}\r\n`;
    case 'ms':
      return `ms ${k(c.key)} ${c.value.length}${meta(c.flags, c.cas, k(c.key))}\r\n${c.value}\r\n`;
    case 'md':
      return `md ${k(c.key)}${meta(c.flags, c.cas, k(c.key))}\r\n`;
    case 'ma':
      return `ma ${k(c.key)}${meta(c.flags, c.cas, k(c.key))}\r\n`;
    case 'mn':
      return 'mn\r\n';
  }
}

/** Seconds that may differ by memcached's clock tick: 999 and 1000 compare equal. */
function seconds(n: string): string {
  const v = Number(n);
  return v <= 1 ? '0~' : `${Math.round(v / 10) * 10}~`;
}

/**
 * The reply with CAS values replaced by per-key tokens and times rounded (module doc).
 * `metaKey` is the key of a meta command (its reply lines do not name it).
 */
export function normalise(reply: string, metaKey: string | null, view: ServerView): string {
  const lines = reply.split('\r\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const value = /^VALUE (\S+) (\d+) (\d+) (\d+)$/.exec(line);
    if (value !== null) {
      lines[i] = `VALUE ${value[1]} ${value[2]} ${value[3]} ${view.token(value[1]!, value[4]!)}`;
      continue;
    }
    const me = /^ME (\S+) exp=(-?\d+) la=(\d+) cas=(\d+) (.*)$/.exec(line);
    if (me !== null) {
      const exp = me[2] === '-1' ? '-1' : seconds(me[2]!);
      lines[i] = `ME ${me[1]} exp=${exp} la=${seconds(me[3]!)} cas=${view.token(me[1]!, me[4]!)} ${me[5]}`;
      continue;
    }
    if (metaKey !== null && /^(VA|HD|EN|NF|NS|EX) ?/.test(line)) {
      lines[i] = line
        .split(' ')
        .map((tok, j) => {
          if (j === 0) return tok;
          if (/^c\d+$/.test(tok)) return 'c' + view.token(metaKey, tok.slice(1));
          if (/^t\d+$/.test(tok)) return 't' + seconds(tok.slice(1));
          if (/^l\d+$/.test(tok)) return 'l' + seconds(tok.slice(1));
          return tok;
        })
        .join(' ');
    }
  }
  return lines.join('\r\n');
}
