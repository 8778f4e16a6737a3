#!/usr/bin/env node
// A fenced lock on memraft in the raw meta protocol, over plain sockets (docs/locks.md).
//
//   node examples/locks/raw-protocol.mjs --servers 127.0.0.1:11211,127.0.0.1:11212
//
// Every command and reply is printed (`>` sent, `<` received), so the output is the
// protocol transcript of Kleppmann's scenario: A takes the lock and stalls past the TTL,
// B takes it with a higher token and writes, A's late write is refused by the fence, A's
// release does nothing, B renews and releases. The last line is a JSON summary.
import net from 'node:net';

/** One connection; `request(text)` sends a command and resolves with its reply lines. */
class Conn {
  constructor(name, address) {
    const [host, port] = address.split(':');
    this.name = name;
    this.socket = net.connect(Number(port), host);
    this.buffer = '';
    this.waiting = null;
    this.socket.setEncoding('utf8');
    this.socket.on('data', (d) => {
      this.buffer += d;
      this.poll();
    });
    this.ready = new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
  }

  /** Sends `text` (CRLF-terminated lines) and waits for a complete reply: a status line, or VA/VALUE ... with its data. */
  request(text) {
    for (const line of text.split('\r\n').filter((l) => l !== '')) console.log(`${this.name} > ${line}`);
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.socket.write(text);
      this.poll();
    });
  }

  poll() {
    if (this.waiting === null) return;
    const lines = this.buffer.split('\r\n');
    if (lines.length < 2) return;
    const first = lines[0];
    let count = 1;
    if (first.startsWith('VA ')) count = 2; // meta value: the data line follows
    else if (first.startsWith('VALUE ')) count = 3; // text value: data line, then END
    if (lines.length <= count) return;
    const reply = lines.slice(0, count);
    this.buffer = lines.slice(count).join('\r\n');
    for (const line of reply) console.log(`${this.name} < ${line}`);
    const resolve = this.waiting;
    this.waiting = null;
    resolve(reply);
  }

  close() {
    this.socket.end();
  }
}

/** The flags of a meta reply line ("HD c42" -> { c: '42' }). */
const flags = (line) => Object.fromEntries(line.split(' ').slice(1).map((t) => [t[0], t.slice(1)]));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const data = (key, value, rest) => `ms ${key} ${Buffer.byteLength(value)} ${rest}\r\n${value}\r\n`;

// ---- the recipe -------------------------------------------------------------------------

/** Acquire: `ms <lock> S T<ttl> ME c` (mode E = add) answers `HD c<cas>`, the token; NS when held. */
async function acquire(conn, lockKey, owner, ttlSec) {
  const [line] = await conn.request(data(lockKey, owner, `T${ttlSec} ME c`));
  return line.startsWith('HD') ? flags(line).c : null;
}

/** Renew: `ms <lock> S T<ttl> C<token> c` (same value) answers the new token; EX/NF when lost. */
async function renew(conn, lockKey, owner, token, ttlSec) {
  const [line] = await conn.request(data(lockKey, owner, `T${ttlSec} C${token} c`));
  return line.startsWith('HD') ? flags(line).c : null;
}

/** Release: `md <lock> C<token>`: HD, or EX/NF when the lock is no longer ours. */
async function release(conn, lockKey, token) {
  const [line] = await conn.request(`md ${lockKey} C${token}\r\n`);
  return line === 'HD';
}

/** The fenced write: `mg <res> v c`, then `ms <res> S C<cas>` only if the stored token <= ours (absent: `ms ... ME`). */
async function fencedWrite(conn, resourceKey, token, payload) {
  for (;;) {
    const reply = await conn.request(`mg ${resourceKey} v c\r\n`);
    const value = `${token}:${payload}`;
    if (reply[0] === 'EN') {
      const [line] = await conn.request(data(resourceKey, value, 'ME'));
      if (line === 'HD') return 'accepted';
      continue;
    }
    const stored = BigInt(reply[1].split(':')[0]);
    if (stored > BigInt(token)) return 'refused';
    const [line] = await conn.request(data(resourceKey, value, `C${flags(reply[0]).c}`));
    if (line === 'HD') return 'accepted';
  }
}

// ---- the scenario -----------------------------------------------------------------------

async function acquireWait(conn, lockKey, owner, ttlSec) {
  for (let tries = 0; tries < 400; tries++) {
    const token = await acquire(conn, lockKey, owner, ttlSec);
    if (token !== null) return token;
    await sleep(100);
  }
  throw new Error(`${owner}: no lock`);
}

async function main() {
  const args = process.argv.slice(2);
  const at = (flag, fallback) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : fallback);
  const servers = at('--servers', '127.0.0.1:11211').split(',');
  const name = at('--name', 'raw');
  const ttlSec = Number(at('--ttl', '2'));
  const lockKey = `lock:${name}`;
  const resourceKey = `resource:${name}`;
  const a = new Conn('A', servers[0]);
  const b = new Conn('B', servers[1 % servers.length]);
  await Promise.all([a.ready, b.ready]);

  const tokenA = await acquireWait(a, lockKey, `A-${process.pid}`, ttlSec);
  const aWrite = await fencedWrite(a, resourceKey, tokenA, 'A first');
  console.log(`# A holds the lock with token ${tokenA} (write ${aWrite}) and stalls for ${ttlSec + 1} s`);
  const stall = sleep((ttlSec + 1) * 1000);
  const bHeldOff = (await acquire(b, lockKey, `B-${process.pid}`, ttlSec * 4)) === null;
  console.log(`# B tries at once: ${bHeldOff ? 'NS, the lock is held' : 'got it?!'}; B waits for the TTL to run out`);
  await sleep(ttlSec * 1000);
  // B's own TTL is longer, so that a slow machine cannot expire B's lock before its renew below.
  const ttlB = ttlSec * 4;
  const tokenB = await acquireWait(b, lockKey, `B-${process.pid}`, ttlB);
  const bWrite = await fencedWrite(b, resourceKey, tokenB, 'B first');
  await stall;
  console.log(`# A wakes up, still believing it holds the lock, and writes with token ${tokenA}`);
  const aLateWrite = await fencedWrite(a, resourceKey, tokenA, 'A after its pause');
  const aRelease = await release(a, lockKey, tokenA);
  console.log(`# B renews, writes with the new token, releases`);
  const tokenB2 = await renew(b, lockKey, `B-${process.pid}`, tokenB, ttlB);
  const bWrite2 = tokenB2 === null ? 'lost' : await fencedWrite(b, resourceKey, tokenB2, 'B after renew');
  const bRelease = tokenB2 !== null && (await release(b, lockKey, tokenB2));
  const final = await a.request(`mg ${resourceKey} v\r\n`);
  a.close();
  b.close();
  console.log(JSON.stringify({ tokenA, aWrite, bHeldOff, tokenB, bWrite, aLateWrite, aRelease, tokenB2, bWrite2, bRelease, finalValue: final[1] ?? null }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
