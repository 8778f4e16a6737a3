/**
 * `memraft serve` configuration: a pure function from argv and environment to a validated
 * ServeConfig. No I/O here, so every flag rule is unit-testable and the cluster flags can
 * grow without touching the server wiring.
 *
 * Flag forms: `--name value`, `--name=value`, and for memcached's short flags also
 * `-m 64` / `-m64`. Every long flag has an environment equivalent `MEMRAFT_<NAME>`
 * (upper case, dashes to underscores, e.g. `MEMRAFT_MEMORY_MB`); argv wins over env.
 *
 * memcached's own flags work as a drop-in: `-p`, `-l`, `-m`, `-I`, `-c`, `-v`/`-vv`/`-vvv`;
 * `-t` and `-U 0` are accepted for scripts that pass them, and what memraft cannot do
 * (UDP, `-d` daemonizing) is a usage error that says what to do instead.
 */

import { readPodGeneration, withPodIdentity, type PodFlags } from './pod-identity.js';

/** An operating error for bad command-line input; the CLI prints it with usage and exits 2. */
export class UsageError extends Error {
  /** Stable code for callers that match on it. */
  readonly code = 'E_USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A host and port to listen on or connect to. */
export interface HostPort {
  host: string;
  port: number;
}

/** How durable Raft log writes are before they are acknowledged. */
export type FsyncMode = 'always' | 'never';

/** How the group leader confirms it may serve a read (DESIGN.md §2). */
export type ReadMode = 'read-index' | 'lease';

/** pino's level names. */
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** Everything `memraft serve` needs to start. */
export interface ServeConfig {
  /** Client (memcached protocol) listener. */
  listen: HostPort;
  /** `-m`: cache memory limit in MiB (memcached's limit_maxbytes / 1 MiB). */
  memoryMb: number;
  /** `-I`: largest item value in bytes. */
  itemBytesMax: number;
  /** `-c`: simultaneous client connections; more get `ERROR Too many open connections`. */
  connectionsMax: number;
  /** `--idle-timeout SECONDS` (memcached's `-o idle_timeout`): idle client connections are closed; 0 = never. */
  idleTimeoutMs: number;
  logLevel: LogLevel;
  /** `--log-format`: pino JSON lines (default, for collectors) or human lines (see log-format.ts). */
  logFormat: 'json' | 'pretty';
  /** Where node state lives (the Raft logs and snapshots in LevelDB). */
  dataDir: string;
  /**
   * `--standalone`: no Raft and nothing on disk, like memcached itself (a restart loses
   * everything). Without it and without cluster flags, `serve` runs the embedded default:
   * a durable single-node cluster with its data in `dataDir` (DESIGN.md section 8).
   */
  standalone: boolean;
  /** Cluster flags, accepted and stored now; null/empty when not given. */
  cluster: ClusterFlags;
  /** Client-port TLS and authentication (docs/security.md). */
  clientSecurity: ClientSecurity;
}

/** Certificate files of the client listener's TLS (memcached's -Z -o ssl_chain_cert,ssl_key,ssl_ca_cert). */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** With a CA, clients must present a certificate it signed. */
  caFile: string | null;
}

/** `--tls-*`, `--auth-file`: how the client port protects itself; null = off. */
export interface ClientSecurity {
  tls: TlsFiles | null;
  /**
   * `-Y`/`--auth-file`: memcached's `user:password` file. Text connections must first
   * send memcached's ASCII auth `set`; binary connections must pass SASL PLAIN.
   */
  authFile: string | null;
}

/** The Raft-cluster flags of DESIGN.md §8; a cluster executor reads them. */
export interface ClusterFlags {
  id: string | null;
  peerListen: HostPort | null;
  adminListen: HostPort | null;
  /** `--initial-cluster id=host:port,id=host:port`. */
  initialCluster: Array<{ id: string; peer: HostPort }>;
  /** `--join host:port`: any peer of an existing cluster. */
  join: HostPort | null;
  /** The peer address other nodes dial (default: this node's --initial-cluster entry, else --peer-listen); set by --hostname. */
  peerAdvertise: HostPort | null;
  /** A StatefulSet pod's ordinal and generation (--hostname; null otherwise): see pod-identity.ts. */
  pod: { ordinal: number; generation: number } | null;
  /** `--peer-addresses id=host:port,...`: dial these peers here, whatever address they advertise. */
  peerAddresses: Array<{ id: string; peer: HostPort }>;
  groups: number;
  replicas: number;
  fsync: FsyncMode;
  readMode: ReadMode;
  clusterSecret: string | null;
  /** `--max-moves N`: replica moves in flight at once (default 2). */
  maxMoves: number;
  /** `--dead-after DURATION`: a node silent this long is dead, its replicas re-created (default 30 s). */
  deadAfterMs: number;
  /** `--leader-timeout DURATION`: a request whose group leader is unreachable fails after this long (default 800 ms). */
  leaderTimeoutMs: number;
  /** `--drain-on-exit`: SIGTERM drains this node (moves its replicas away) before exiting. */
  drainOnExit: boolean;
  /** `--admin-token`: the bearer token admin mutations must carry (null: see adminTokenFile). */
  adminToken: string | null;
  /** `--admin-token-file`: a file holding that token (read at start). */
  adminTokenFile: string | null;
  /** `--zone NAME`: failure zone; no two replicas of a group share one (null: a zone of its own). */
  zone: string | null;
  /** `--peer-tls-cert/-key/-ca FILE`: peer links over TLS with mutual certificates (all three or none). */
  peerTls: PeerTlsFiles | null;
  /** TEST-ONLY, breaks linearizability: any replica answers gets from its local state. */
  unsafeStaleReads: boolean;
  /** TEST-ONLY, breaks durability: a leader acknowledges a set before it is committed. */
  unsafeAckBeforeCommit: boolean;
  /** TEST-ONLY, breaks durability: a replica acknowledges appends (and votes) before its fsync. */
  unsafeAckBeforeDurable: boolean;
  /** TEST-ONLY, breaks linearizability: a group leader answers gets from its local state, no ReadIndex round. */
  unsafeLeaderReadsWithoutReadIndex: boolean;
}

/** Paths of the PEM files of peer TLS: this node's certificate and key, and the cluster CA. */
export interface PeerTlsFiles {
  cert: string;
  key: string;
  ca: string;
}

/** True unless `--standalone`: every other configuration runs Raft (maybe on one node). */
export function isClusterConfig(config: ServeConfig): boolean {
  return !config.standalone;
}

/** The usage text printed with `--help` and after a usage error. */
export const serveUsage = `Usage: memraft serve [options]

  -l, --listen ADDR         client listener: HOST:PORT, [V6]:PORT, or a HOST alone with
                            the port from -p (default 127.0.0.1:11211)
  -p, --port PORT           client TCP port (default 11211)
  -m, --memory-mb MB        cache memory limit in MiB (default 64)
  -I, --item-size-max SIZE  largest item, bytes; accepts 512k, 1m (default 1m)
  -c, --max-connections N   max simultaneous client connections (default 1024)
  --idle-timeout SECONDS    close client connections idle this long (memcached's
                            -o idle_timeout; default 0: never)
  --log-level LEVEL         fatal|error|warn|info|debug|trace|silent (default info)
  -v, -vv, -vvv             memcached's verbosity: --log-level info, debug, trace
  --log-format FORMAT       json (default: one JSON object a line) or pretty (human lines)
  --data-dir DIR            node state directory (default ./memraft-data)
  --standalone              no Raft, nothing on disk: a plain memcached replacement

memcached flags accepted for compatibility:
  -t, --threads N           ignored: a node is one event-loop thread per process
  -U, --udp-port 0          only 0 (UDP off): memraft serves TCP only
  -d, --daemon              refused: run serve under a process supervisor (systemd, a
                            container runtime) or start a cluster with scripts/cluster.sh

With no cluster flags, serve runs a durable single-node cluster (node id 1) in --data-dir.

Cluster (Raft) flags:
  --id ID  --peer-listen HOST:PORT  --admin-listen [HOST:]PORT (no host: 127.0.0.1)
  --initial-cluster ID=HOST:PORT,...  --join HOST:PORT
  --peer-addresses ID=HOST:PORT,...  dial these peers at these addresses instead of
                            the ones they advertise (NAT, proxies; jepsen-lite's links)
  --groups N (default 16)  --replicas N (default 3)
  --fsync always|never (default always; never is unsafe)
  --read-mode read-index|lease (default read-index)
  --cluster-secret SECRET
  --peer-tls-cert FILE --peer-tls-key FILE --peer-tls-ca FILE
                            peer links over TLS: this node's certificate and key (PEM),
                            and the CA that signs every node's; each side verifies the
                            other's (the cluster secret is still checked)
  --max-moves N (default 2)  replica moves in flight at once
  --dead-after DURATION (default 30s; 500ms, 3s, 2m)  silent nodes' replicas are re-created
  --leader-timeout DURATION (default 800ms)  a request whose group has no reachable leader
                            answers SERVER_ERROR after this long (docs/availability.md)
  --drain-on-exit           on SIGTERM move this node's replicas away first (preStop)
  --admin-token TOKEN | --admin-token-file FILE
                            admin mutations (POST /ctl/*) need Authorization: Bearer
                            TOKEN; with neither they are refused (docs/security.md)

Client security (docs/security.md; SIGHUP reloads certificates and the auth file):
  --tls-cert FILE --tls-key FILE   serve the client port over TLS only
  --tls-ca FILE             require client certificates signed by this CA
  -Z -o ssl_chain_cert=FILE,ssl_key=FILE[,ssl_ca_cert=FILE]   memcached's spelling
  -Y, --auth-file FILE      user:password lines; text clients authenticate with
                            memcached's ASCII auth set, binary clients with SASL PLAIN
  -S, --sasl                accepted with --auth-file (SASL PLAIN is on with it)

Kubernetes StatefulSet (docs/kubernetes.md; usually MEMRAFT_HOSTNAME etc. from the pod spec):
  --hostname NAME-N         the pod name: node id N+1, peers from --peer-template
  --peer-template HOST:PORT peers' addresses with {ordinal}, e.g.
                            memraft-{ordinal}.memraft-headless:11300
  --initial-nodes N (default 3)  ordinals below N form the cluster; higher ones join
  --zone NAME               failure zone (host, rack, k8s zone): no two replicas of a group
                            in one zone while enough zones have up nodes (docs/membership.md)

Known-bad modes, FOR TESTING THE TESTS ONLY (jepsen-lite must catch them; never use them
with data you care about):
  --unsafe-stale-reads         any replica answers gets from its local state (no ReadIndex,
                               no forwarding): stale reads, not linearizable
  --unsafe-ack-before-commit   a group leader answers STORED to a set before it commits:
                               acknowledged writes are lost when that leader is cut off
  --unsafe-ack-before-durable  a replica acknowledges appends and votes before its fsync:
                               acknowledged writes are lost when every node dies at once
  --unsafe-leader-reads-without-readindex
                               a group leader answers gets from its local state without
                               confirming it still leads: a deposed leader serves stale reads

Every long flag also reads MEMRAFT_<NAME> from the environment (e.g. MEMRAFT_MEMORY_MB).`;

/** `verbosity`: memcached's -v, repeatable and stackable (-vv), mapped onto --log-level. */
type FlagKind = 'string' | 'flag' | 'verbosity';

interface FlagSpec {
  long: string;
  short?: string;
  kind: FlagKind;
}

// The accepted flags; the long name is the key of the raw values and of the env name.
const flagSpecs: FlagSpec[] = [
  { long: 'listen', short: 'l', kind: 'string' },
  { long: 'port', short: 'p', kind: 'string' },
  { long: 'memory-mb', short: 'm', kind: 'string' },
  { long: 'item-size-max', short: 'I', kind: 'string' },
  { long: 'max-connections', short: 'c', kind: 'string' },
  { long: 'idle-timeout', kind: 'string' },
  { long: 'log-level', kind: 'string' },
  { long: 'log-format', kind: 'string' },
  { long: 'verbose', short: 'v', kind: 'verbosity' },
  { long: 'threads', short: 't', kind: 'string' },
  { long: 'udp-port', short: 'U', kind: 'string' },
  { long: 'daemon', short: 'd', kind: 'flag' },
  { long: 'data-dir', kind: 'string' },
  { long: 'standalone', kind: 'flag' },
  { long: 'id', kind: 'string' },
  { long: 'peer-listen', kind: 'string' },
  { long: 'admin-listen', kind: 'string' },
  { long: 'initial-cluster', kind: 'string' },
  { long: 'join', kind: 'string' },
  { long: 'peer-addresses', kind: 'string' },
  { long: 'hostname', kind: 'string' },
  { long: 'peer-template', kind: 'string' },
  { long: 'initial-nodes', kind: 'string' },
  { long: 'groups', kind: 'string' },
  { long: 'replicas', kind: 'string' },
  { long: 'fsync', kind: 'string' },
  { long: 'read-mode', kind: 'string' },
  { long: 'cluster-secret', kind: 'string' },
  { long: 'peer-tls-cert', kind: 'string' },
  { long: 'peer-tls-key', kind: 'string' },
  { long: 'peer-tls-ca', kind: 'string' },
  { long: 'max-moves', kind: 'string' },
  { long: 'dead-after', kind: 'string' },
  { long: 'leader-timeout', kind: 'string' },
  { long: 'drain-on-exit', kind: 'flag' },
  { long: 'admin-token', kind: 'string' },
  { long: 'admin-token-file', kind: 'string' },
  { long: 'tls-cert', kind: 'string' },
  { long: 'tls-key', kind: 'string' },
  { long: 'tls-ca', kind: 'string' },
  { long: 'enable-ssl', short: 'Z', kind: 'flag' },
  { long: 'extended', short: 'o', kind: 'string' },
  { long: 'auth-file', short: 'Y', kind: 'string' },
  { long: 'sasl', short: 'S', kind: 'flag' },
  { long: 'zone', kind: 'string' },
  { long: 'unsafe-stale-reads', kind: 'flag' },
  { long: 'unsafe-ack-before-commit', kind: 'flag' },
  { long: 'unsafe-ack-before-durable', kind: 'flag' },
  { long: 'unsafe-leader-reads-without-readindex', kind: 'flag' },
  { long: 'help', short: 'h', kind: 'flag' },
];

const logLevels: readonly string[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Log level for memcached's verbosity: -v, -vv, -vvv (and more) as a count of v's. */
const verbosityLevels: readonly LogLevel[] = ['info', 'debug', 'trace'];

/** Client port when neither -p nor --listen names one: memcached's. */
const clientPortDefault = 11211;

/** memcached's bounds for -I: at least 1 KiB, at most 1 GiB. */
const itemBytesMin = 1024;
const itemBytesLimit = 1024 * 1024 * 1024;

/** Raw flag values by long name, argv merged over env. */
type RawFlags = Map<string, string>;

/** Result of parsing: either a config, or a request for help. */
export type ParsedServe = { kind: 'serve'; config: ServeConfig } | { kind: 'help' };

/** Parses `serve`'s arguments (everything after the word `serve`) and the environment. */
export function parseServeArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ParsedServe {
  const raw = readEnv(env);
  readArgv(argv, raw);
  if (raw.has('help')) return { kind: 'help' };
  return { kind: 'serve', config: buildConfig(raw) };
}

/** The environment variable for a long flag name. */
export function envName(long: string): string {
  return 'MEMRAFT_' + long.toUpperCase().replace(/-/g, '_');
}

function readEnv(env: Readonly<Record<string, string | undefined>>): RawFlags {
  const raw: RawFlags = new Map();
  for (const spec of flagSpecs) {
    if (spec.kind !== 'string') continue;
    const value = env[envName(spec.long)];
    if (value !== undefined && value !== '') raw.set(spec.long, value);
  }
  return raw;
}

function readArgv(argv: readonly string[], raw: RawFlags): void {
  let verbosity = 0;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const { spec, inline } = matchFlag(arg);
    if (spec.kind === 'verbosity') {
      verbosity += verbosityOf(arg, inline);
      raw.set('log-level', verbosityLevels[Math.min(verbosity, verbosityLevels.length) - 1]!);
      continue;
    }
    if (spec.kind === 'flag') {
      if (inline !== null) throw new UsageError(`flag --${spec.long} takes no value`);
      raw.set(spec.long, 'true');
      continue;
    }
    let value = inline;
    if (value === null) {
      if (i + 1 >= argv.length) throw new UsageError(`flag ${arg} needs a value`);
      value = argv[++i]!;
    }
    // memcached's -o repeats: `-o a=1 -o b=2` is `-o a=1,b=2`.
    if (spec.long === 'extended' && raw.has('extended')) value = `${raw.get('extended')},${value}`;
    // The two ways of giving the admin token replace each other (argv over env, last wins).
    if (spec.long === 'admin-token') raw.delete('admin-token-file');
    if (spec.long === 'admin-token-file') raw.delete('admin-token');
    raw.set(spec.long, value);
  }
}

/** How many v's one -v, -vv, -vvv or --verbose adds. */
function verbosityOf(arg: string, inline: string | null): number {
  if (inline === null) return 1;
  if (!arg.startsWith('--') && /^v+$/.test(inline)) return 1 + inline.length;
  throw new UsageError(`flag ${arg} takes no value (use -v, -vv or -vvv)`);
}

function matchFlag(arg: string): { spec: FlagSpec; inline: string | null } {
  if (arg.startsWith('--')) {
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    const spec = flagSpecs.find((s) => s.long === name);
    if (spec === undefined) throw new UsageError(`unknown flag --${name}`);
    return { spec, inline: eq < 0 ? null : arg.slice(eq + 1) };
  }
  if (arg.startsWith('-') && arg.length >= 2) {
    const spec = flagSpecs.find((s) => s.short === arg[1]);
    if (spec === undefined) throw new UsageError(`unknown flag ${arg}`);
    return { spec, inline: arg.length > 2 ? arg.slice(2) : null };
  }
  throw new UsageError(`unexpected argument ${JSON.stringify(arg)}`);
}

function buildConfig(raw: RawFlags): ServeConfig {
  const memoryMb = parseIntFlag(raw, 'memory-mb', 64, 1, 1024 * 1024);
  const itemBytesMax = parseSizeFlag(raw.get('item-size-max') ?? '1m');
  if (itemBytesMax > (memoryMb * 1024 * 1024) / 2) {
    throw new UsageError('item size max (-I) cannot be larger than half of the memory limit (-m)');
  }
  checkMemcachedOnlyFlags(raw);
  return {
    listen: resolveListen(raw),
    memoryMb,
    itemBytesMax,
    connectionsMax: parseIntFlag(raw, 'max-connections', 1024, 1, 1_000_000),
    idleTimeoutMs: parseIntFlag(raw, 'idle-timeout', 0, 0, 86_400 * 30) * 1000,
    logLevel: parseChoice(raw, 'log-level', logLevels, 'info') as LogLevel,
    logFormat: parseChoice(raw, 'log-format', ['json', 'pretty'], 'json') as 'json' | 'pretty',
    dataDir: raw.get('data-dir') ?? './memraft-data',
    standalone: raw.has('standalone'),
    cluster: withEmbeddedDefault(withPodIdentity(buildClusterFlags(raw), podFlags(raw)), raw),
    clientSecurity: buildClientSecurity(raw),
  };
}

/** memcached's `-o` keys memraft takes (TLS only); anything else is a usage error. */
const extendedOptionKeys: readonly string[] = ['ssl_chain_cert', 'ssl_key', 'ssl_ca_cert'];

/**
 * TLS from `--tls-*` or memcached's `-Z -o ssl_chain_cert=..,ssl_key=..,ssl_ca_cert=..`
 * (the long flags win), and the auth file. A half-given pair is an error, not plaintext.
 */
function buildClientSecurity(raw: RawFlags): ClientSecurity {
  const extended = parseExtendedOptions(raw.get('extended'));
  if (extended.size > 0 && !raw.has('enable-ssl')) {
    throw new UsageError('-o ssl_* options need -Z (enable TLS), as in memcached; or use --tls-cert/--tls-key');
  }
  const certFile = raw.get('tls-cert') ?? extended.get('ssl_chain_cert') ?? null;
  const keyFile = raw.get('tls-key') ?? extended.get('ssl_key') ?? null;
  const caFile = raw.get('tls-ca') ?? extended.get('ssl_ca_cert') ?? null;
  if (raw.has('enable-ssl') && (certFile === null || keyFile === null)) {
    throw new UsageError('-Z needs a certificate and a key: -o ssl_chain_cert=FILE,ssl_key=FILE (or --tls-cert FILE --tls-key FILE)');
  }
  if ((certFile === null) !== (keyFile === null)) throw new UsageError('--tls-cert and --tls-key go together');
  if (caFile !== null && certFile === null) throw new UsageError('--tls-ca needs --tls-cert and --tls-key (client certificates are checked over TLS)');
  const authFile = raw.get('auth-file') ?? null;
  if (raw.has('sasl') && authFile === null) {
    throw new UsageError('-S/--sasl needs -Y/--auth-file FILE: SASL PLAIN checks the user:password lines of that file');
  }
  return { tls: certFile === null || keyFile === null ? null : { certFile, keyFile, caFile }, authFile };
}

/** `key=value,key=value` of memcached's -o, keeping only the keys memraft understands. */
function parseExtendedOptions(value: string | undefined): Map<string, string> {
  const options = new Map<string, string>();
  if (value === undefined) return options;
  for (const part of value.split(',')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    if (!extendedOptionKeys.includes(key) || eq < 0) {
      throw new UsageError(`-o ${part}: memraft takes only ${extendedOptionKeys.map((k) => k + '=FILE').join(', ')}`);
    }
    options.set(key, part.slice(eq + 1));
  }
  return options;
}

/**
 * memcached flags memraft takes without using: -t (one event-loop thread per process
 * whatever it says) and -U 0. What memraft cannot do is a usage error naming the alternative.
 */
function checkMemcachedOnlyFlags(raw: RawFlags): void {
  if (raw.has('daemon')) {
    throw new UsageError(
      '-d (daemonize) is not supported: run memraft serve in the foreground under a process supervisor ' +
        '(systemd, a container runtime), or start a cluster with scripts/cluster.sh, which runs the nodes in the background',
    );
  }
  parseIntFlag(raw, 'threads', 1, 1, 1024);
  if (parseIntFlag(raw, 'udp-port', 0, 0, 65535) !== 0) {
    throw new UsageError(`UDP is not supported: memraft serves memcached over TCP only; leave -U out or pass -U 0, got -U ${raw.get('udp-port')}`);
  }
}

/**
 * The client listener from --listen/-l and -p, memcached's pair: -l names the address (with
 * or without a port), -p the port. Two different ports are an error rather than a silent pick.
 */
function resolveListen(raw: RawFlags): HostPort {
  const listen = raw.get('listen');
  const address = listen === undefined ? { host: '127.0.0.1', port: null } : parseListenAddress(listen);
  if (!raw.has('port')) return { host: address.host, port: address.port ?? clientPortDefault };
  const port = parseIntFlag(raw, 'port', clientPortDefault, 0, 65535);
  if (address.port !== null && address.port !== port) {
    throw new UsageError(`-p ${port} and --listen ${listen} name different ports; give the port once`);
  }
  return { host: address.host, port };
}

/** `HOST:PORT`, `[V6]:PORT`, `:PORT`, or an address alone: `HOST`, `[V6]`, `V6` (port null). */
function parseListenAddress(value: string): { host: string; port: number | null } {
  const bracketed = /^\[([^\]]+)\]$/.exec(value);
  if (bracketed !== null) return { host: bracketed[1]!, port: null };
  const bareV6 = /^[0-9a-fA-F:.]*:[0-9a-fA-F:.]*:[0-9a-fA-F:.]*$/.test(value);
  if (bareV6 || (value !== '' && !value.includes(':'))) return { host: value, port: null };
  return parseHostPort(value, 'listen');
}

/**
 * No cluster flags: the embedded default, a single-node cluster (node 1) whose peer
 * listener takes any free loopback port, since no other node dials it. `--standalone`
 * keeps the cluster flags empty (no Raft).
 */
function withEmbeddedDefault(cluster: ClusterFlags, raw: RawFlags): ClusterFlags {
  const asked = cluster.initialCluster.length > 0 || cluster.join !== null || cluster.peerListen !== null;
  if (raw.has('standalone')) {
    if (asked) throw new UsageError('--standalone runs without Raft: it takes no cluster flags');
    return cluster;
  }
  if (asked) return cluster;
  return { ...cluster, id: cluster.id ?? '1', initialCluster: [{ id: cluster.id ?? '1', peer: { host: '127.0.0.1', port: 0 } }] };
}

/** The Kubernetes StatefulSet flags (src/server/pod-identity.ts). */
function podFlags(raw: RawFlags): PodFlags {
  const hostname = raw.get('hostname');
  return {
    hostname,
    peerTemplate: raw.get('peer-template'),
    initialNodes: parseIntFlag(raw, 'initial-nodes', 3, 1, 4096),
    // The one file read while parsing: which node this pod is depends on its volume's past.
    generation: hostname === undefined ? 0 : readPodGeneration(raw.get('data-dir') ?? './memraft-data'),
  };
}

function buildClusterFlags(raw: RawFlags): ClusterFlags {
  const optionalHostPort = (name: string): HostPort | null => {
    const value = raw.get(name);
    return value === undefined ? null : parseHostPort(value, name);
  };
  const initial = raw.get('initial-cluster');
  const join = optionalHostPort('join');
  if (initial !== undefined && join !== null) throw new UsageError('--initial-cluster and --join are exclusive');
  if (raw.get('admin-token') === '') throw new UsageError('--admin-token must not be empty');
  return {
    id: raw.get('id') ?? null,
    peerListen: optionalHostPort('peer-listen'),
    // A bare port binds loopback: the admin listener is never public unless a host says so.
    adminListen: /^[0-9]{1,5}$/.test(raw.get('admin-listen') ?? '') ? parseHostPort(`:${raw.get('admin-listen')}`, 'admin-listen') : optionalHostPort('admin-listen'),
    initialCluster: initial === undefined ? [] : parseMemberList(initial, 'initial-cluster'),
    join,
    peerAdvertise: null,
    pod: null,
    peerAddresses: raw.has('peer-addresses') ? parseMemberList(raw.get('peer-addresses')!, 'peer-addresses') : [],
    groups: parseIntFlag(raw, 'groups', 16, 1, 4096),
    replicas: parseIntFlag(raw, 'replicas', 3, 1, 7),
    fsync: parseChoice(raw, 'fsync', ['always', 'never'], 'always') as FsyncMode,
    readMode: parseChoice(raw, 'read-mode', ['read-index', 'lease'], 'read-index') as ReadMode,
    clusterSecret: raw.get('cluster-secret') ?? null,
    peerTls: parsePeerTls(raw),
    maxMoves: parseIntFlag(raw, 'max-moves', 2, 1, 64),
    deadAfterMs: parseDurationFlag(raw.get('dead-after') ?? '30s', 'dead-after'),
    leaderTimeoutMs: parseDurationFlag(raw.get('leader-timeout') ?? '800ms', 'leader-timeout'),
    drainOnExit: raw.has('drain-on-exit'),
    adminToken: raw.get('admin-token') ?? null,
    adminTokenFile: raw.get('admin-token-file') ?? null,
    zone: parseZone(raw.get('zone')),
    unsafeStaleReads: raw.has('unsafe-stale-reads'),
    unsafeAckBeforeCommit: raw.has('unsafe-ack-before-commit'),
    unsafeAckBeforeDurable: raw.has('unsafe-ack-before-durable'),
    unsafeLeaderReadsWithoutReadIndex: raw.has('unsafe-leader-reads-without-readindex'),
  };
}

/** The three peer TLS files, or null; one or two of them alone is a usage error. */
function parsePeerTls(raw: RawFlags): PeerTlsFiles | null {
  const cert = raw.get('peer-tls-cert');
  const key = raw.get('peer-tls-key');
  const ca = raw.get('peer-tls-ca');
  if (cert === undefined && key === undefined && ca === undefined) return null;
  if (cert === undefined || key === undefined || ca === undefined) {
    throw new UsageError('peer TLS needs all of --peer-tls-cert, --peer-tls-key and --peer-tls-ca');
  }
  return { cert, key, ca };
}

function parseIntFlag(raw: RawFlags, name: string, fallback: number, min: number, max: number): number {
  const value = raw.get(name);
  if (value === undefined) return fallback;
  if (!/^[0-9]+$/.test(value)) throw new UsageError(`--${name} must be a whole number, got ${JSON.stringify(value)}`);
  const n = Number(value);
  if (n < min || n > max) throw new UsageError(`--${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

function parseChoice(raw: RawFlags, name: string, choices: readonly string[], fallback: string): string {
  const value = raw.get(name) ?? fallback;
  if (!choices.includes(value)) throw new UsageError(`--${name} must be one of ${choices.join('|')}, got ${JSON.stringify(value)}`);
  return value;
}

/** Parses a byte size the way memcached's -I does: a number with an optional k/m/g suffix. */
export function parseSizeFlag(value: string): number {
  const match = /^([0-9]+)([kKmMgG]?)$/.exec(value);
  if (match === null) throw new UsageError(`item size max must be a size like 1048576, 512k or 1m, got ${JSON.stringify(value)}`);
  const unit = match[2]!.toLowerCase();
  const scale = unit === 'k' ? 1024 : unit === 'm' ? 1024 * 1024 : unit === 'g' ? 1024 * 1024 * 1024 : 1;
  const bytes = Number(match[1]) * scale;
  if (bytes < itemBytesMin) throw new UsageError(`item size max must be at least ${itemBytesMin} bytes`);
  if (bytes > itemBytesLimit) throw new UsageError(`item size max cannot be larger than 1 GiB`);
  return bytes;
}

/** Parses `host:port`, `[v6]:port` or `:port` (host defaults to 127.0.0.1). */
export function parseHostPort(value: string, name: string): HostPort {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):([0-9]{1,5})$/.exec(value);
  if (match === null) throw new UsageError(`--${name} must be HOST:PORT, got ${JSON.stringify(value)}`);
  const port = Number(match[3]);
  if (port > 65535) throw new UsageError(`--${name} port out of range: ${port}`);
  const host = match[1] ?? (match[2] === '' ? '127.0.0.1' : match[2]!);
  return { host, port };
}

/** `ID=HOST:PORT,...` (--initial-cluster, --peer-addresses). */
function parseMemberList(value: string, name: string): Array<{ id: string; peer: HostPort }> {
  return value.split(',').map((part) => {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new UsageError(`--${name} entries must be ID=HOST:PORT, got ${JSON.stringify(part)}`);
    return { id: part.slice(0, eq), peer: parseHostPort(part.slice(eq + 1), name) };
  });
}

/** A duration like 500ms, 3s, 2m (a bare number is seconds), in ms. */
function parseDurationFlag(value: string, name: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m)?$/.exec(value);
  if (match === null) throw new UsageError(`--${name} must be a duration like 500ms, 30s or 2m, got ${JSON.stringify(value)}`);
  const unitMs = match[2] === 'ms' ? 1 : match[2] === 'm' ? 60_000 : 1000;
  const ms = Math.round(Number(match[1]) * unitMs);
  if (ms < 100) throw new UsageError(`--${name} must be at least 100ms`);
  return ms;
}

/** `--zone`: 1-64 characters of letters, digits and . _ - (null when not given). */
function parseZone(zone: string | undefined): string | null {
  if (zone === undefined) return null;
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(zone)) throw new UsageError(`--zone: 1-64 letters, digits, '.', '_' or '-', got ${JSON.stringify(zone)}`);
  return zone;
}
