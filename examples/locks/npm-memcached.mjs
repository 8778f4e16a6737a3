#!/usr/bin/env node
// A fenced lock on memraft with the `memcached` npm client (docs/locks.md).
//
//   node examples/locks/npm-memcached.mjs --servers 127.0.0.1:11211,127.0.0.1:11212,127.0.0.1:11213
//
// Plays Kleppmann's scenario: client A takes the lock and then stalls (a GC pause) longer
// than the TTL; the lock expires, client B takes it with a higher token and writes the
// resource; A wakes up and tries to write: the resource refuses A's lower token. Then three
// workers, one per server, take turns on the lock. The last line printed is a JSON summary.
import Memcached from 'memcached';

// ---- the recipe -------------------------------------------------------------------------

const call = (client, method, ...args) =>
  new Promise((resolve, reject) => client[method](...args, (err, result) => (err && !err.notStored ? reject(err) : resolve(err ? false : result))));

/**
 * Acquire: `add` with a TTL (stores only if the key is absent), then `gets` for the CAS,
 * which is the fencing token. The value is a unique owner id: if `gets` shows someone
 * else's, our lock already expired and was taken. Returns the token (a decimal string) or null.
 */
export async function acquire(client, lockKey, owner, ttlSec) {
  if (!(await call(client, 'add', lockKey, owner, ttlSec))) return null; // NOT_STORED: held
  const got = await call(client, 'gets', lockKey);
  return got && got[lockKey] === owner ? String(got.cas) : null;
}

/** Renew: a `cas` of the same value with a new TTL; the item's new CAS is the new token. Null when lost. */
export async function renew(client, lockKey, owner, token, ttlSec) {
  if (!(await call(client, 'cas', lockKey, owner, token, ttlSec))) return null; // EXISTS / NOT_FOUND: lost
  const got = await call(client, 'gets', lockKey);
  return got && got[lockKey] === owner ? String(got.cas) : null;
}

/**
 * Release: only while the lock still carries our token. The text protocol's `delete` takes
 * no CAS, so this is a `cas` with a negative TTL (the item expires at once); with the meta
 * protocol it is `md <key> C<token>` (see raw-protocol.mjs).
 */
export async function release(client, lockKey, owner, token) {
  return (await call(client, 'cas', lockKey, owner, token, -1)) === true;
}

/**
 * The protected resource: its value is "<token>:<data>". A write is accepted only with a
 * token at least as high as the stored one, with `gets` + `cas` so that nothing slips in
 * between (EXISTS: someone wrote meanwhile, look again). Returns 'accepted' or 'refused'.
 */
export async function fencedWrite(client, resourceKey, token, data) {
  for (;;) {
    const got = await call(client, 'gets', resourceKey);
    const value = `${token}:${data}`;
    if (!got || got[resourceKey] === undefined) {
      if (await call(client, 'add', resourceKey, value, 0)) return 'accepted';
      continue; // someone created it first
    }
    const stored = BigInt(String(got[resourceKey]).split(':')[0]);
    if (stored > BigInt(token)) return 'refused'; // a later holder already wrote
    if (await call(client, 'cas', resourceKey, value, got.cas, 0)) return 'accepted';
  }
}

// ---- the demonstration ------------------------------------------------------------------

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function acquireWait(client, lockKey, owner, ttlSec, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const token = await acquire(client, lockKey, owner, ttlSec);
    if (token !== null) return token;
    if (Date.now() > deadline) throw new Error(`${owner}: no lock within ${timeoutMs} ms`);
    await sleep(50);
  }
}

async function main() {
  const args = process.argv.slice(2);
  const at = (flag, fallback) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : fallback);
  const servers = at('--servers', '127.0.0.1:11211').split(',');
  const name = at('--name', 'demo');
  const ttlSec = Number(at('--ttl', '2'));
  const lockKey = `lock:${name}`;
  const resourceKey = `resource:${name}`;
  const clients = servers.map((s) => new Memcached(s, { retries: 0, timeout: 5000, reconnect: 1000 }));
  const clientA = clients[0];
  const clientB = clients[1 % clients.length];
  const log = (line) => console.log(line);
  const run = String(process.pid);

  const tokenA = await acquireWait(clientA, lockKey, `A-${run}`, ttlSec);
  log(`A acquired ${lockKey}, token ${tokenA}; A's write: ${await fencedWrite(clientA, resourceKey, tokenA, 'A first')}`);
  log(`A stalls for ${ttlSec + 1} s (longer than the ${ttlSec} s TTL)...`);
  const stall = sleep((ttlSec + 1) * 1000);
  // B's own TTL is longer, so that a slow machine cannot expire B's lock before its renew below.
  const ttlB = ttlSec * 4;
  const tokenB = await acquireWait(clientB, lockKey, `B-${run}`, ttlB);
  const bWrite = await fencedWrite(clientB, resourceKey, tokenB, 'B first');
  log(`B acquired ${lockKey} after A's lock expired, token ${tokenB}; B's write: ${bWrite}`);
  await stall;
  const aLateWrite = await fencedWrite(clientA, resourceKey, tokenA, 'A after its pause');
  const aRenew = await renew(clientA, lockKey, `A-${run}`, tokenA, ttlSec);
  const aRelease = await release(clientA, lockKey, `A-${run}`, tokenA);
  log(`A wakes up, still believing it holds the lock: its write with token ${tokenA} is ${aLateWrite}; renew: ${aRenew ?? 'lost'}; release: ${aRelease}`);
  const tokenB2 = await renew(clientB, lockKey, `B-${run}`, tokenB, ttlB);
  const bWrite2 = tokenB2 === null ? 'lost' : await fencedWrite(clientB, resourceKey, tokenB2, 'B after renew');
  const bRelease = tokenB2 !== null && (await release(clientB, lockKey, `B-${run}`, tokenB2));
  log(`B renews (token ${tokenB2}), writes (${bWrite2}) and releases (${bRelease})`);

  // Three workers, one per server, five holds each (a 10 s TTL: no stalls here).
  const tokens = [];
  let accepted = 0;
  await Promise.all(clients.slice(0, 3).map(async (client, w) => {
    for (let i = 0; i < 5; i++) {
      const owner = `W${w}-${i}-${run}`;
      const token = await acquireWait(client, lockKey, owner, 10);
      tokens.push(BigInt(token));
      if ((await fencedWrite(client, resourceKey, token, owner)) === 'accepted') accepted++;
      await release(client, lockKey, owner, token);
    }
  }));
  const final = await call(clientA, 'gets', resourceKey);
  const finalToken = String(final[resourceKey]).split(':')[0];
  const maxToken = tokens.reduce((a, b) => (b > a ? b : a), 0n);
  log(`workers: ${tokens.length} holds, ${accepted} writes accepted; the resource holds token ${finalToken}`);
  for (const c of clients) c.end();
  console.log(JSON.stringify({
    tokenA, tokenB, tokenB2, bWrite, aLateWrite, aRenew, aRelease, bWrite2, bRelease,
    holds: tokens.length, accepted, finalToken, maxToken: String(maxToken), tokens: tokens.map(String),
  }));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
