/**
 * The run's node-to-node network: one LinkProxy per directed link i->j (the connection
 * node i dials to node j). Each node gets its own --initial-cluster view in which peer j is
 * the proxy of link i->j, so the harness decides what every link delivers.
 */
import { Rng } from '../random.js';
import { LinkProxy, passMode, type LinkMode, type ProxyStats } from './proxy.js';

/** A directed link: traffic from node `from` to node `to`. */
export type Link = readonly [from: number, to: number];

/** All proxies of an n-node cluster (node ids 1..n). */
export class Network {
  readonly kind = 'proxy';
  private readonly proxies = new Map<string, LinkProxy>();

  private constructor(readonly nodeIds: number[]) {}

  /** Starts a proxy for every directed link towards the nodes' real peer ports. */
  static async start(peerPorts: Map<number, number>, seed: number): Promise<Network> {
    const ids = [...peerPorts.keys()].sort((a, b) => a - b);
    const net = new Network(ids);
    const rng = new Rng(seed);
    for (const from of ids) {
      for (const to of ids) {
        if (from === to) continue;
        const proxy = new LinkProxy({ host: '127.0.0.1', port: peerPorts.get(to)! }, rng.fork(from * 1000 + to));
        await proxy.start();
        net.proxies.set(key(from, to), proxy);
      }
    }
    return net;
  }

  /** Node `id`'s --initial-cluster over `members`: itself at its real peer port, every peer through its proxy. */
  initialClusterOf(id: number, members: readonly number[], peerPorts: Map<number, number>): string {
    return members.map((j) => `${j}=127.0.0.1:${j === id ? peerPorts.get(j) : this.proxy(id, j).port}`).join(',');
  }

  /**
   * Node `id`'s --peer-addresses: every other node through the proxy of its link, so that
   * nodes that join later, whose addresses the cluster learns from the meta state, are
   * reached through the harness too.
   */
  peerAddressesOf(id: number): string {
    return this.nodeIds.filter((j) => j !== id).map((j) => `${j}=127.0.0.1:${this.proxy(id, j).port}`).join(',');
  }

  /** The address node `id` listens on: every node is on loopback in this mode. */
  hostOf(_id: number): string {
    return '127.0.0.1';
  }

  /** The command that runs node `id`: as it is. */
  command(_id: number, file: string, args: string[]): [string, string[]] {
    return [file, args];
  }

  /** Where a joining node `id` dials node `via`: through the proxy of their link. */
  joinAddressOf(id: number, via: number, _peerPorts: Map<number, number>): string {
    return `127.0.0.1:${this.proxy(id, via).port}`;
  }

  /** The proxy of link from->to. */
  proxy(from: number, to: number): LinkProxy {
    const p = this.proxies.get(key(from, to));
    if (p === undefined) throw new Error(`no link ${from}->${to}`);
    return p;
  }

  /** Every directed link. */
  links(): Link[] {
    const out: Link[] = [];
    for (const from of this.nodeIds) for (const to of this.nodeIds) if (from !== to) out.push([from, to]);
    return out;
  }

  /** Sets one link's mode. */
  setLink(link: Link, mode: LinkMode): void {
    this.proxy(link[0], link[1]).setMode(mode);
  }

  /** Black-holes exactly the given links; every other link passes. */
  cut(links: readonly Link[]): void {
    const cutSet = new Set(links.map(([a, b]) => key(a, b)));
    for (const [k, p] of this.proxies) p.setMode(cutSet.has(k) ? { kind: 'drop' } : passMode);
  }

  /** Sets every link to `mode`. */
  setAll(mode: LinkMode): void {
    for (const p of this.proxies.values()) p.setMode(mode);
  }

  /** Every link back to pass. */
  heal(): void {
    this.setAll(passMode);
  }

  /** Counters summed over all links. */
  stats(): ProxyStats {
    const sum: ProxyStats = { connections: 0, bytesForwarded: 0, bytesDropped: 0, resets: 0 };
    for (const p of this.proxies.values()) {
      sum.connections += p.stats.connections;
      sum.bytesForwarded += p.stats.bytesForwarded;
      sum.bytesDropped += p.stats.bytesDropped;
      sum.resets += p.stats.resets;
    }
    return sum;
  }

  /** Bytes each directed link forwarded, by "from>to" (links that carried nothing left out). */
  linkBytes(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, p] of this.proxies) if (p.stats.bytesForwarded > 0) out[k] = p.stats.bytesForwarded;
    return out;
  }

  /** Closes every proxy. */
  async close(): Promise<void> {
    await Promise.all([...this.proxies.values()].map((p) => p.close()));
  }
}

function key(from: number, to: number): string {
  return `${from}>${to}`;
}

/** Both directions of every pair that crosses between `a` and `b`: a symmetric partition. */
export function linksBetween(a: readonly number[], b: readonly number[]): Link[] {
  const out: Link[] = [];
  for (const x of a) {
    for (const y of b) {
      if (x === y) continue;
      out.push([x, y], [y, x]);
    }
  }
  return out;
}
