/**
 * A small memcached text-protocol client over net.Socket for the workloads: one request
 * at a time, an explicit timeout per op. A timeout or a broken connection destroys the
 * client (the op's outcome is unknown); the caller makes a new one.
 */
import net from 'node:net';

/** Where a node's client port is. */
export interface Endpoint {
  host: string;
  port: number;
}

/** A parsed reply. */
export type Reply =
  | { kind: 'value'; value: string | null; cas: string | null }
  | { kind: 'stored' }
  | { kind: 'not_stored' }
  | { kind: 'exists' }
  | { kind: 'not_found' }
  | { kind: 'deleted' }
  | { kind: 'touched' }
  /** `MN`: the answer to the meta no-op `mn` (a fence after requests that answer nothing). */
  | { kind: 'noop' }
  | { kind: 'number'; value: string }
  /** A multi-key get: the value of each key with a VALUE line (request order); keys absent from it missed. */
  | { kind: 'values'; values: Map<string, string> }
  /** A meta reply line: HD/NS/EX/NF and its return flags (`c` = the CAS, when asked for). */
  | { kind: 'meta'; code: 'HD' | 'NS' | 'EX' | 'NF'; flags: { [flag: string]: string } }
  | { kind: 'server_error'; message: string }
  | { kind: 'client_error'; message: string }
  | { kind: 'error' };

/** Why an op has no reply: its outcome is unknown. */
export class ClientError extends Error {
  constructor(
    readonly code: 'E_TIMEOUT' | 'E_CONNECTION' | 'E_PROTOCOL' | 'E_CLOSED',
    message: string,
  ) {
    super(message);
    this.name = 'ClientError';
  }
}

/** What kind of reply the outstanding request expects. */
export type Expect = 'retrieval' | 'line' | 'meta-get' | 'multi-retrieval';

/** One request of a pipeline: its wire text and the reply it expects. */
export interface PipelinedRequest {
  text: string;
  expect: Expect;
  /** The key a retrieval asks for (its VALUE line must name it). */
  key?: string;
  /** The keys a multi-retrieval asks for, in request order. */
  keys?: readonly string[];
}

interface Outstanding {
  expect: Expect;
  /** The key a retrieval asked for (its VALUE line must name it). */
  key?: string;
  /** The keys a multi-retrieval asked for. */
  keys?: readonly string[];
  resolve: (r: Reply) => void;
  reject: (e: ClientError) => void;
  timer: NodeJS.Timeout;
}

const crlf = Buffer.from('\r\n');

/** One connection to one node. */
export class McClient {
  private buffer: Buffer = Buffer.alloc(0);
  /** Requests sent and not yet answered, oldest first (more than one only in a pipeline). */
  private outstanding: Outstanding[] = [];
  private failed: ClientError | null = null;

  private constructor(
    private readonly socket: net.Socket,
    private readonly timeoutMs: number,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail(new ClientError('E_CONNECTION', err.message)));
    socket.on('close', () => this.fail(new ClientError('E_CONNECTION', 'connection closed')));
  }

  /**
   * Connects to `to`: a port on 127.0.0.1, or a host and port (a node in its own network
   * namespace, --net netns). Rejects on error or after `connectTimeoutMs`; each op then may
   * take `opTimeoutMs`.
   */
  static connect(to: number | Endpoint, opTimeoutMs: number, connectTimeoutMs = opTimeoutMs): Promise<McClient> {
    const { host, port } = typeof to === 'number' ? { host: '127.0.0.1', port: to } : to;
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ClientError('E_TIMEOUT', 'connect timed out'));
      }, connectTimeoutMs);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new ClientError('E_CONNECTION', err.message));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new McClient(socket, opTimeoutMs));
      });
    });
  }

  /** Whether the connection broke (make a new client). */
  get broken(): boolean {
    return this.failed !== null;
  }

  /** `get key`: the value, or null when absent. */
  get(key: string): Promise<Reply> {
    return this.request(`get ${key}\r\n`, 'retrieval', key);
  }

  /** `gets key`: the value and its CAS token. */
  gets(key: string): Promise<Reply> {
    return this.request(`gets ${key}\r\n`, 'retrieval', key);
  }

  /** `mg key v k`: the value (`VA n k<key>` + data) or null (`EN`), in the meta protocol. */
  metaGet(key: string): Promise<Reply> {
    return this.request(`mg ${key} v k\r\n`, 'meta-get', key);
  }

  /** `mg key c v k`: like metaGet, with the item's CAS (`VA n c<cas> k<key>`) in the reply's `cas`. */
  metaGetCas(key: string): Promise<Reply> {
    return this.request(`mg ${key} c v k\r\n`, 'meta-get', key);
  }

  /** `ma key [MD] D<delta> v k`: incr (decr) in the meta protocol: the new value (`VA n k<key>` + digits), NF when absent. */
  metaArith(key: string, delta: number | string, incr: boolean): Promise<Reply> {
    return this.request(`ma ${key}${incr ? '' : ' MD'} D${delta} v k\r\n`, 'meta-get', key);
  }

  /** `get k1 k2 ...`: the values of the keys that hit (a `values` reply). */
  multiGet(keys: readonly string[]): Promise<Reply> {
    if (this.failed !== null) return Promise.reject(this.failed);
    if (this.outstanding.length > 0) return Promise.reject(new ClientError('E_PROTOCOL', 'one request at a time'));
    const [reply] = this.send([{ text: `get ${keys.join(' ')}\r\n`, expect: 'multi-retrieval', keys }]);
    return reply!;
  }

  /** `ms key n T<ttl>`: a plain set in the meta protocol (`HD`). */
  metaSet(key: string, value: string, ttlSec = 0): Promise<Reply> {
    return this.request(`ms ${key} ${Buffer.byteLength(value)} T${ttlSec}\r\n${value}\r\n`, 'line');
  }

  /** `set key 0 <ttl> n`. */
  set(key: string, value: string, ttlSec = 0): Promise<Reply> {
    return this.request(`set ${key} 0 ${ttlSec} ${Buffer.byteLength(value)}\r\n${value}\r\n`, 'line');
  }

  /** `replace key 0 0 n`: NOT_STORED when absent. */
  replace(key: string, value: string): Promise<Reply> {
    return this.request(`replace ${key} 0 0 ${Buffer.byteLength(value)}\r\n${value}\r\n`, 'line');
  }

  /** `touch key 0`: TOUCHED, NOT_FOUND when absent. */
  touch(key: string): Promise<Reply> {
    return this.request(`touch ${key} 0\r\n`, 'line');
  }

  /** `decr key delta`: the new value (floored at 0), NOT_FOUND when absent. */
  decr(key: string, delta: number | string): Promise<Reply> {
    return this.request(`decr ${key} ${delta}\r\n`, 'line');
  }

  /** `add key 0 0 n`: NOT_STORED when present. */
  add(key: string, value: string): Promise<Reply> {
    return this.request(`add ${key} 0 0 ${Buffer.byteLength(value)}\r\n${value}\r\n`, 'line');
  }

  /** `append key 0 0 n`: NOT_STORED when absent. */
  append(key: string, value: string): Promise<Reply> {
    return this.request(`append ${key} 0 0 ${Buffer.byteLength(value)}\r\n${value}\r\n`, 'line');
  }

  /** `prepend key 0 0 n`: NOT_STORED when absent. */
  prepend(key: string, value: string): Promise<Reply> {
    return this.request(`prepend ${key} 0 0 ${Buffer.byteLength(value)}\r\n${value}\r\n`, 'line');
  }

  /** `cas key 0 0 n token`: EXISTS when the token is stale, NOT_FOUND when absent. */
  cas(key: string, value: string, token: string): Promise<Reply> {
    return this.request(`cas ${key} 0 0 ${Buffer.byteLength(value)} ${token}\r\n${value}\r\n`, 'line');
  }

  /** `incr key delta`: the new value, NOT_FOUND when absent. */
  incr(key: string, delta: number | string): Promise<Reply> {
    return this.request(`incr ${key} ${delta}\r\n`, 'line');
  }

  /** `ms key S<n> T<ttl> ME c`: add with a TTL, answering the new CAS (`HD c<cas>`), NS when present. */
  metaAdd(key: string, value: string, ttlSec: number): Promise<Reply> {
    return this.request(`ms ${key} ${Buffer.byteLength(value)} T${ttlSec} ME c\r\n${value}\r\n`, 'line');
  }

  /** `ms key S<n> T<ttl> C<cas> c`: set only while the CAS matches (EX otherwise, NF when absent), answering the new CAS. */
  metaSetIfCas(key: string, value: string, ttlSec: number, cas: string): Promise<Reply> {
    return this.request(`ms ${key} ${Buffer.byteLength(value)} T${ttlSec} C${cas} c\r\n${value}\r\n`, 'line');
  }

  /** `md key C<cas>`: delete only while the CAS matches: HD, EX (another CAS) or NF. */
  metaDeleteIfCas(key: string, cas: string): Promise<Reply> {
    return this.request(`md ${key} C${cas}\r\n`, 'line');
  }

  /** `delete key`: DELETED or NOT_FOUND. */
  delete(key: string): Promise<Reply> {
    return this.request(`delete ${key}\r\n`, 'line');
  }

  /** Closes the connection. */
  close(): void {
    this.fail(new ClientError('E_CLOSED', 'client closed'));
  }

  private request(text: string, expect: Expect, key?: string): Promise<Reply> {
    if (this.failed !== null) return Promise.reject(this.failed);
    if (this.outstanding.length > 0) return Promise.reject(new ClientError('E_PROTOCOL', 'one request at a time'));
    const [reply] = this.send([{ text, expect, ...(key === undefined ? {} : { key }) }]);
    return reply!;
  }

  /**
   * Pipelined requests: all of them in one write, before any reply (as clients that
   * pipeline do); one promise per request, settled in order as the replies arrive. The
   * connection's one timeout covers the whole pipeline.
   */
  pipeline(requests: readonly PipelinedRequest[]): Array<Promise<Reply>> {
    if (this.failed !== null) return requests.map(() => Promise.reject(this.failed));
    if (this.outstanding.length > 0) return requests.map(() => Promise.reject(new ClientError('E_PROTOCOL', 'one request at a time')));
    return this.send(requests);
  }

  private send(requests: readonly PipelinedRequest[]): Array<Promise<Reply>> {
    const timer = setTimeout(() => this.fail(new ClientError('E_TIMEOUT', `no reply within ${this.timeoutMs} ms`)), this.timeoutMs);
    const replies = requests.map(
      (r) =>
        new Promise<Reply>((resolve, reject) => {
          const o: Outstanding = { expect: r.expect, resolve, reject, timer };
          if (r.key !== undefined) o.key = r.key;
          if (r.keys !== undefined) o.keys = r.keys;
          this.outstanding.push(o);
        }),
    );
    this.socket.write(requests.map((r) => r.text).join(''));
    return replies;
  }

  private fail(err: ClientError): void {
    if (this.failed !== null) return;
    this.failed = err;
    this.socket.destroy();
    const waiting = this.outstanding;
    this.outstanding = [];
    for (const o of waiting) {
      clearTimeout(o.timer);
      o.reject(err);
    }
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    while (this.buffer.length > 0) {
      const o = this.outstanding[0];
      if (o === undefined) return this.fail(new ClientError('E_PROTOCOL', 'bytes from the server that no request asked for'));
      let parsed: { reply: Reply; used: number } | null;
      try {
        parsed = parseReply(this.buffer, o);
      } catch (err) {
        return this.fail(new ClientError('E_PROTOCOL', (err as Error).message));
      }
      if (parsed === null) return;
      this.buffer = this.buffer.subarray(parsed.used);
      this.outstanding.shift();
      if (this.outstanding.length === 0) clearTimeout(o.timer);
      o.resolve(parsed.reply);
    }
  }
}

function parseReply(buf: Buffer, o: Outstanding): { reply: Reply; used: number } | null {
  switch (o.expect) {
    case 'retrieval':
      return parseRetrieval(buf, o.key);
    case 'meta-get':
      return parseMetaGet(buf, o.key);
    case 'multi-retrieval':
      return parseMultiRetrieval(buf, o.keys ?? []);
    case 'line':
      return parseLine(buf);
  }
}

/** One reply line (storage, incr, delete, touch, mn, errors); null when incomplete. */
export function parseLine(buf: Buffer): { reply: Reply; used: number } | null {
  const end = buf.indexOf(crlf);
  if (end < 0) return null;
  const line = buf.toString('latin1', 0, end);
  return { reply: lineReply(line), used: end + 2 };
}

function lineReply(line: string): Reply {
  switch (line) {
    case 'STORED':
      return { kind: 'stored' };
    case 'NOT_STORED':
      return { kind: 'not_stored' };
    case 'EXISTS':
      return { kind: 'exists' };
    case 'NOT_FOUND':
      return { kind: 'not_found' };
    case 'DELETED':
      return { kind: 'deleted' };
    case 'TOUCHED':
      return { kind: 'touched' };
    case 'MN':
      return { kind: 'noop' };
    case 'ERROR':
      return { kind: 'error' };
  }
  const error = errorReply(line);
  if (error !== null) return error;
  const meta = /^(HD|NS|EX|NF)((?: \S+)*)$/.exec(line);
  if (meta !== null) {
    const flags: { [flag: string]: string } = {};
    for (const token of meta[2]!.split(' ').filter((t) => t !== '')) flags[token[0]!] = token.slice(1);
    return { kind: 'meta', code: meta[1] as 'HD' | 'NS' | 'EX' | 'NF', flags };
  }
  if (/^[0-9]+$/.test(line)) return { kind: 'number', value: line };
  throw new Error(`unexpected reply line ${JSON.stringify(line)}`);
}

function errorReply(line: string): Reply | null {
  if (line.startsWith('SERVER_ERROR')) return { kind: 'server_error', message: line.slice(13) };
  if (line.startsWith('CLIENT_ERROR')) return { kind: 'client_error', message: line.slice(13) };
  if (line === 'ERROR') return { kind: 'error' };
  return null;
}

/**
 * A get/gets reply of one key: VALUE ... END, END, or an error line; null when incomplete.
 * Throws on a malformed reply: a VALUE line naming another key than `key` (when given), flags,
 * byte count or CAS that are not numbers, a data block not ending where its byte count says.
 */
export function parseRetrieval(buf: Buffer, key?: string): { reply: Reply; used: number } | null {
  const end = buf.indexOf(crlf);
  if (end < 0) return null;
  const line = buf.toString('latin1', 0, end);
  if (line === 'END') return { reply: { kind: 'value', value: null, cas: null }, used: end + 2 };
  const error = errorReply(line);
  if (error !== null) return { reply: error, used: end + 2 };
  const parts = line.split(' ');
  if (parts[0] !== 'VALUE' || parts.length < 4 || parts.length > 5) throw new Error(`unexpected retrieval line ${JSON.stringify(line)}`);
  if (key !== undefined && parts[1] !== key) throw new Error(`a get of ${JSON.stringify(key)} answered a VALUE of ${JSON.stringify(parts[1])}`);
  if (!parts.slice(2).every((p) => /^[0-9]+$/.test(p))) throw new Error(`malformed VALUE line ${JSON.stringify(line)}`);
  const bytes = Number(parts[3]);
  const dataStart = end + 2;
  const endLine = dataStart + bytes + 2;
  if (buf.length < endLine + 5) return null;
  if (buf.toString('latin1', endLine - 2, endLine) !== '\r\n') throw new Error(`the data block of ${JSON.stringify(parts[1])} does not end after its ${bytes} bytes`);
  if (buf.toString('latin1', endLine, endLine + 5) !== 'END\r\n') throw new Error('a single-key get answered more than one value');
  return { reply: { kind: 'value', value: buf.toString('utf8', dataStart, dataStart + bytes), cas: parts[4] ?? null }, used: endLine + 5 };
}

/**
 * An `mg key v k` (or `mg key c v k`, `ma key ... v k`) reply: `VA <n> [c<cas>] k<key>` then
 * n bytes of data, `EN` (absent), a status line (`HD`/`NS`/`EX`/`NF` ...: ma's NF, or one
 * that the caller then finds unexpected), or an error line; null when incomplete. Throws on a
 * malformed reply (another key, a wrong byte count, a CAS that is not a number).
 */
export function parseMetaGet(buf: Buffer, key?: string): { reply: Reply; used: number } | null {
  const end = buf.indexOf(crlf);
  if (end < 0) return null;
  const line = buf.toString('latin1', 0, end);
  if (line === 'EN' || line.startsWith('EN ')) return { reply: { kind: 'value', value: null, cas: null }, used: end + 2 };
  const error = errorReply(line);
  if (error !== null) return { reply: error, used: end + 2 };
  if (/^(HD|NS|EX|NF)( |$)/.test(line)) return { reply: lineReply(line), used: end + 2 };
  const m = /^VA ([0-9]+)((?: \S+)*)$/.exec(line);
  if (m === null) throw new Error(`unexpected mg reply line ${JSON.stringify(line)}`);
  const echoed = m[2]!.split(' ').find((t) => t.startsWith('k'))?.slice(1);
  if (key !== undefined && echoed !== key) throw new Error(`an mg of ${JSON.stringify(key)} answered for ${JSON.stringify(echoed ?? null)}`);
  const cas = m[2]!.split(' ').find((t) => t.startsWith('c'))?.slice(1) ?? null;
  if (cas !== null && !/^[0-9]+$/.test(cas)) throw new Error(`malformed CAS in ${JSON.stringify(line)}`);
  const bytes = Number(m[1]);
  const dataStart = end + 2;
  if (buf.length < dataStart + bytes + 2) return null;
  if (buf.toString('latin1', dataStart + bytes, dataStart + bytes + 2) !== '\r\n') throw new Error(`the mg data of ${JSON.stringify(key)} does not end after its ${bytes} bytes`);
  return { reply: { kind: 'value', value: buf.toString('utf8', dataStart, dataStart + bytes), cas }, used: dataStart + bytes + 2 };
}

/**
 * A `get k1 k2 ...` reply: a VALUE line and data block for each key that hit, in request
 * order (misses say nothing), then END; or, as memcached does when a multi-get fails midway,
 * an error line in place of END after the values sent so far (a `server_error` /
 * `client_error` reply then: the values before it are dropped, the caller fails every key).
 * null when incomplete. Throws on a malformed reply: a VALUE line for a key not asked for,
 * out of request order or twice, a data block not ending where its byte count says.
 */
export function parseMultiRetrieval(buf: Buffer, keys: readonly string[]): { reply: Reply; used: number } | null {
  const values = new Map<string, string>();
  let at = 0;
  let next = 0;
  for (;;) {
    const end = buf.indexOf(crlf, at);
    if (end < 0) return null;
    const line = buf.toString('latin1', at, end);
    if (line === 'END') return { reply: { kind: 'values', values }, used: end + 2 };
    const error = errorReply(line);
    if (error !== null) return { reply: error, used: end + 2 };
    const parts = line.split(' ');
    if (parts[0] !== 'VALUE' || parts.length !== 4) throw new Error(`unexpected multi-get line ${JSON.stringify(line)}`);
    const key = parts[1]!;
    const index = keys.indexOf(key, next);
    if (index < 0) throw new Error(`a get of ${JSON.stringify(keys.join(' '))} answered a VALUE of ${JSON.stringify(key)} ${keys.includes(key) ? 'out of order or twice' : 'not asked for'}`);
    if (!/^[0-9]+$/.test(parts[2]!) || !/^[0-9]+$/.test(parts[3]!)) throw new Error(`malformed VALUE line ${JSON.stringify(line)}`);
    next = index + 1;
    const bytes = Number(parts[3]);
    const dataStart = end + 2;
    if (buf.length < dataStart + bytes + 2) return null;
    if (buf.toString('latin1', dataStart + bytes, dataStart + bytes + 2) !== '\r\n') throw new Error(`the data block of ${JSON.stringify(key)} does not end after its ${bytes} bytes`);
    values.set(key, buf.toString('utf8', dataStart, dataStart + bytes));
    at = dataStart + bytes + 2;
  }
}
