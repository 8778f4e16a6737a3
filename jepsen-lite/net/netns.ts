/**
 * `--net netns`: the run's network made of Linux network namespaces, faults made in the
 * kernel with nftables, so nodes see what a real cut does to TCP (retransmission backoff,
 * dropped SYNs, half-open connections), which the proxies of net/network.ts cannot show.
 *
 * Layout (names carry the harness's pid and a random tag, so concurrent runs never meet,
 * and the stale ones of a crashed harness are found and removed by the next start):
 *
 *   root namespace = the clients' (the workload, admin HTTP polls, the harness itself)
 *     jl<tag>  veth 10.A.B.254/24 ----+
 *                                     |  namespace jl-<pid>-<tag>-sw: bridge br0, ports c0, n1..nN
 *   namespace jl-<pid>-<tag>-n1: eth0 10.A.B.1/24 --+
 *   namespace jl-<pid>-<tag>-n2: eth0 10.A.B.2/24 --+   (one veth per node into the "switch")
 *   ...
 *
 * Each node runs inside its namespace (`ip netns exec`, which execs: the child's pid is the
 * node's, so kill -9 and SIGSTOP reach it) and listens on its own address; every node uses
 * the same ports. A cut of link i->j is an nftables rule in node j's namespace dropping
 * what arrives from i's address (table `inet jepsen`, hook input; see applyRules for why
 * not at i): a symmetric partition cuts both directions, a one-way cut one. Clients are
 * never cut. `loss` drops that share of
 * node-to-node packets (nftables numgen); `delay` needs the kernel's netem qdisc and is
 * refused where the kernel lacks it (start() says so).
 *
 * Root is needed (CI runs as root); without it start() refuses with one clear line.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import type { Link } from './network.js';
import type { LinkMode, ProxyStats } from './proxy.js';

/** Prefix of every namespace this harness creates: jl-<pid>-<tag>-<role>. */
const nsPrefix = 'jl-';

/** Why netns mode cannot run here, or null when it can. */
export function netnsUnavailable(): string | null {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return '--net netns needs root (network namespaces, veth pairs and nftables rules); run as root or use --net proxy';
  }
  for (const tool of ['ip', 'nft']) {
    const r = spawnSync(tool, ['-V'], { stdio: 'ignore' });
    if (r.error !== undefined) return `--net netns needs the ${tool} command (Debian: apt-get install iproute2 nftables)`;
  }
  return null;
}

/** Removes the namespaces (and with them their veth pairs) of harness processes that are gone. */
export function removeStaleNamespaces(): string[] {
  const removed: string[] = [];
  for (const name of listNamespaces()) {
    const m = /^jl-(\d+)-/.exec(name);
    if (m === null || pidAlive(Number(m[1]))) continue;
    if (run(['ip', 'netns', 'del', name], true)) removed.push(name);
  }
  return removed;
}

/** The namespaces of one run. */
export class NetnsNetwork {
  readonly kind = 'netns';
  private readonly sw: string;
  private readonly rootVeth: string;
  private closed = false;
  /** The link cuts in effect, by "from>to". */
  private cuts = new Set<string>();
  private lossP = 0;
  private readonly exitHook = (): void => this.removeNow();

  private constructor(
    readonly nodeIds: number[],
    private readonly tag: string,
    /** The first two octets after 10.: the run's /24 is 10.A.B.0/24. */
    private readonly subnet: string,
  ) {
    this.sw = `${nsPrefix}${process.pid}-${tag}-sw`;
    this.rootVeth = `jl${tag}`;
  }

  /** Creates the switch, one namespace per node, and the clients' veth; removes stale ones first. */
  static start(nodeIds: number[]): NetnsNetwork {
    const why = netnsUnavailable();
    if (why !== null) throw new Error(why);
    removeStaleNamespaces();
    const tag = crypto.randomBytes(3).toString('hex');
    const net = new NetnsNetwork([...nodeIds].sort((a, b) => a - b), tag, freeSubnet());
    process.once('exit', net.exitHook);
    try {
      net.create();
    } catch (err) {
      net.removeNow();
      throw err;
    }
    return net;
  }

  /** Namespace of node `id`. */
  nsOf(id: number): string {
    return `${nsPrefix}${process.pid}-${this.tag}-n${id}`;
  }

  /** The address node `id` listens on (every port of it). */
  hostOf(id: number): string {
    return `10.${this.subnet}.${id}`;
  }

  /** The command that runs `file args` inside node `id`'s namespace. */
  command(id: number, file: string, args: string[]): [string, string[]] {
    return ['ip', ['netns', 'exec', this.nsOf(id), file, ...args]];
  }

  /** Node `id`'s --initial-cluster: every member at its own address. */
  initialClusterOf(_id: number, members: readonly number[], peerPorts: Map<number, number>): string {
    return members.map((j) => `${j}=${this.hostOf(j)}:${peerPorts.get(j)}`).join(',');
  }

  /** No address overrides are needed: every node is reached at its own address. */
  peerAddressesOf(_id: number): string {
    return '';
  }

  /** Where a joining node dials node `via`. */
  joinAddressOf(_id: number, via: number, peerPorts: Map<number, number>): string {
    return `${this.hostOf(via)}:${peerPorts.get(via)}`;
  }

  /** Every directed link. */
  links(): Link[] {
    const out: Link[] = [];
    for (const from of this.nodeIds) for (const to of this.nodeIds) if (from !== to) out.push([from, to]);
    return out;
  }

  /** Sets one link's mode (drop or pass; other modes apply to every link, see setAll). */
  setLink(link: Link, mode: LinkMode): void {
    const k = key(link[0], link[1]);
    if (mode.kind === 'drop') this.cuts.add(k);
    else this.cuts.delete(k);
    this.applyRules([link[1]]);
  }

  /** Drops exactly the given links; every other link passes. */
  cut(links: readonly Link[]): void {
    this.cuts = new Set(links.map(([a, b]) => key(a, b)));
    this.lossP = 0;
    this.applyRules(this.nodeIds);
  }

  /** Sets every link to `mode`: pass, drop, or loss (a share of packets dropped). */
  setAll(mode: LinkMode): void {
    switch (mode.kind) {
      case 'pass':
        return this.heal();
      case 'drop':
        this.cuts = new Set(this.links().map(([a, b]) => key(a, b)));
        this.lossP = 0;
        break;
      case 'loss':
        this.cuts = new Set();
        this.lossP = mode.lossP;
        break;
      case 'delay':
      case 'reset':
        throw new Error(`--net netns cannot ${mode.kind} links: this kernel has no netem qdisc (use --net proxy for the ${mode.kind} nemesis)`);
    }
    this.applyRules(this.nodeIds);
  }

  /** Every link back to pass. */
  heal(): void {
    this.cuts = new Set();
    this.lossP = 0;
    this.applyRules(this.nodeIds);
  }

  /** The proxies' counters have no equivalent here (the kernel forwards): zeros. */
  stats(): ProxyStats {
    return { connections: 0, bytesForwarded: 0, bytesDropped: 0, resets: 0 };
  }

  /** Bytes per link are not counted in this mode. */
  linkBytes(): Record<string, number> {
    return {};
  }

  /** Removes every namespace of the run (their veth pairs go with them). */
  async close(): Promise<void> {
    this.removeNow();
  }

  /** Synchronous removal (also the process exit hook). */
  removeNow(): void {
    if (this.closed) return;
    this.closed = true;
    process.off('exit', this.exitHook);
    for (const id of this.nodeIds) run(['ip', 'netns', 'del', this.nsOf(id)], true);
    run(['ip', 'netns', 'del', this.sw], true);
    run(['ip', 'link', 'del', this.rootVeth], true);
  }

  private create(): void {
    const sw = this.sw;
    const base = `10.${this.subnet}`;
    run(['ip', 'netns', 'add', sw]);
    run(['ip', '-n', sw, 'link', 'set', 'lo', 'up']);
    run(['ip', '-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
    run(['ip', '-n', sw, 'link', 'set', 'br0', 'up']);
    run(['ip', 'link', 'add', this.rootVeth, 'type', 'veth', 'peer', 'name', 'c0', 'netns', sw]);
    run(['ip', 'addr', 'add', `${base}.254/24`, 'dev', this.rootVeth]);
    run(['ip', 'link', 'set', this.rootVeth, 'up']);
    run(['ip', '-n', sw, 'link', 'set', 'c0', 'master', 'br0']);
    run(['ip', '-n', sw, 'link', 'set', 'c0', 'up']);
    for (const id of this.nodeIds) {
      const ns = this.nsOf(id);
      run(['ip', 'netns', 'add', ns]);
      run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
      run(['ip', '-n', sw, 'link', 'add', `n${id}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      run(['ip', '-n', sw, 'link', 'set', `n${id}`, 'master', 'br0']);
      run(['ip', '-n', sw, 'link', 'set', `n${id}`, 'up']);
      run(['ip', '-n', ns, 'addr', 'add', `${base}.${id}/24`, 'dev', 'eth0']);
      run(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
    }
    this.applyRules(this.nodeIds);
  }

  /**
   * Writes the nftables table of each listed node's namespace from the cuts and loss in
   * effect. A cut of link i->j drops, in j's namespace (hook input), what arrives from i: the
   * packets leave i and vanish on the way, so i's TCP sees real loss and backs off its
   * retransmissions exponentially. (Dropped in i's own output hook instead, the kernel takes
   * it for local congestion and retries every 500 ms without backing off, which hides the
   * behaviour a real cut causes.)
   */
  private applyRules(ids: readonly number[]): void {
    if (this.closed) return;
    for (const to of ids) {
      const dropped = this.nodeIds.filter((from) => from !== to && this.cuts.has(key(from, to))).map((from) => this.hostOf(from));
      const peers = this.nodeIds.filter((from) => from !== to).map((from) => this.hostOf(from));
      const rules: string[] = [];
      if (dropped.length > 0) rules.push(`ip saddr { ${dropped.join(', ')} } drop`);
      if (this.lossP > 0 && peers.length > 0) {
        rules.push(`ip saddr { ${peers.join(', ')} } numgen random mod 1000 < ${Math.round(this.lossP * 1000)} drop`);
      }
      // Declaring the table first makes the delete succeed when it does not exist yet.
      const script = [
        'table inet jepsen {}',
        'delete table inet jepsen',
        'table inet jepsen {',
        '  chain in {',
        '    type filter hook input priority 0; policy accept;',
        ...rules.map((r) => `    ${r}`),
        '  }',
        '}',
      ].join('\n');
      execFileSync('ip', ['netns', 'exec', this.nsOf(to), 'nft', '-f', '-'], { input: script, stdio: ['pipe', 'ignore', 'pipe'] });
    }
  }
}

function key(from: number, to: number): string {
  return `${from}>${to}`;
}

/** Runs a command; throws with its stderr unless `tolerant` (then returns whether it worked). */
function run(argv: string[], tolerant = false): boolean {
  const r = spawnSync(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status === 0) return true;
  if (tolerant) return false;
  throw new Error(`${argv.join(' ')} failed: ${(r.stderr ?? '').trim() || r.error?.message || `exit ${r.status}`}`);
}

function listNamespaces(): string[] {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (r.status !== 0) return [];
  return r.stdout.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(nsPrefix));
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A 10.A.B.0/24 not in use by any address or route of the root namespace: "A.B". */
function freeSubnet(): string {
  const used = spawnSync('ip', ['-4', '-o', 'route', 'show', 'table', 'all'], { encoding: 'utf8' }).stdout + spawnSync('ip', ['-4', '-o', 'addr'], { encoding: 'utf8' }).stdout;
  for (let tries = 0; tries < 100; tries++) {
    const a = 100 + crypto.randomInt(100);
    const b = crypto.randomInt(256);
    if (!used.includes(`10.${a}.${b}.`)) return `${a}.${b}`;
  }
  throw new Error('no free 10.x.y.0/24 subnet for --net netns');
}
