// Measures what the cache's item representation costs: fills N items (14-byte keys,
// 100-byte values, as the benchmark does) into one CacheStateMachine and prints the
// process RSS and heap before and after. Not a test; run it by hand after `npm run build`:
//   node --expose-gc test/cache/memory-footprint.mjs [items=1000000] [dist dir=dist]
//
// Measured on the shared 2-core box (node 20.20, 1M items; throughput is noisy there):
//   Map<string,slot> + key and value strings: RSS 351-370 MB, 315-334 B/item, heap 197 MB
//   one key+value string per item + typed-array hash index: RSS 287-290 MB, 248-250 B/item,
//     heap 144 MB, sets 318k/s, reads 280-450k/s, snapshot 152 MB in ~1 s, restore ~2 s.
//   memcached 1.6 for the same fill: ~195 MB.
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const count = Number(process.argv[2] ?? 1_000_000);
const distDir = resolve(process.argv[3] ?? 'dist');
const { CacheStateMachine } = await import(pathToFileURL(`${distDir}/cache/state-machine.js`).href);

function usageMb() {
  globalThis.gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss / 2 ** 20, heap: m.heapUsed / 2 ** 20, external: (m.external + m.arrayBuffers) / 2 ** 20 };
}

const machine = new CacheStateMachine({ memoryBytesMax: 64 * 2 ** 30, itemBytesMax: 2 ** 20 });
const before = usageMb();
const value = Buffer.alloc(100, 'v');
const key = Buffer.alloc(14);
const started = process.hrtime.bigint();
for (let i = 0; i < count; i++) {
  key.write(`k${String(i).padStart(13, '0')}`, 'latin1');
  machine.apply({ type: 'store', mode: 'set', key, flags: 0, exptime: 0, value }, i + 1, 1_700_000_000_000);
}
const fillMs = Number(process.hrtime.bigint() - started) / 1e6;
const after = usageMb();
const readStarted = process.hrtime.bigint();
for (let i = 0; i < count; i++) {
  key.write(`k${String(i).padStart(13, '0')}`, 'latin1');
  machine.read({ type: 'get', key }, 1_700_000_000_000);
}
const readMs = Number(process.hrtime.bigint() - readStarted) / 1e6;
const snapStarted = process.hrtime.bigint();
const snapshot = machine.snapshot();
const snapshotMs = Number(process.hrtime.bigint() - snapStarted) / 1e6;
const restoreStarted = process.hrtime.bigint();
const copy = new CacheStateMachine({ memoryBytesMax: 64 * 2 ** 30, itemBytesMax: 2 ** 20 });
copy.restore(snapshot);
const restoreMs = Number(process.hrtime.bigint() - restoreStarted) / 1e6;
const stats = machine.stats();
console.log(JSON.stringify({
  items: stats.curr_items,
  statBytes: stats.bytes,
  rssBeforeMb: before.rss.toFixed(1),
  rssAfterMb: after.rss.toFixed(1),
  heapAfterMb: after.heap.toFixed(1),
  externalAfterMb: after.external.toFixed(1),
  rssBytesPerItem: (((after.rss - before.rss) * 2 ** 20) / count).toFixed(1),
  setsPerSec: Math.round(count / (fillMs / 1000)),
  readsPerSec: Math.round(count / (readMs / 1000)),
  snapshotMb: (snapshot.length / 2 ** 20).toFixed(1),
  snapshotMs: Math.round(snapshotMs),
  restoreMs: Math.round(restoreMs),
  restoredItems: copy.stats().curr_items,
}));
