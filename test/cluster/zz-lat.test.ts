import { it } from 'vitest';
import { clusterPorts, getOp, run, setOp, startInProcess, tempDir, until } from './helpers.js';
it('latency', async () => {
  const ports = await clusterPorts(3);
  const dir = await tempDir('lat');
  const nodes = await Promise.all([1, 2, 3].map((id) => startInProcess(id, ports, dir, ['--groups', '16', ...(process.env.FS ? ['--fsync', 'never'] : [])])));
  await until(() => nodes.every((n) => n.host.allGroupsHaveLeaders()), 'leaders');
  await new Promise((r) => setTimeout(r, 2000));
  const lat: Record<string, number[]> = { set: [], get: [] };
  const t0 = performance.now();
  let n = 0;
  await Promise.all(Array.from({ length: 48 }, async (_, c) => { for (let i = 0; i < 100; i++) { const t = performance.now(); const w = i % 10 === 0; await run(nodes[c % 3]!, [w ? setOp(`c${c}-${i}`, 'v'.repeat(100)) : getOp(`c${c}-${i - 1}`)]); lat[w ? 'set' : 'get']!.push(performance.now() - t); n++; } }));
  console.log('concurrent ops/s', (n / ((performance.now() - t0) / 1000)).toFixed(0));
  for (const k of ['set', 'get']) { const l = lat[k]!.sort((a, b) => a - b); console.log(k, 'p50', l[l.length >> 1]!.toFixed(2), 'p90', l[Math.floor(l.length * 0.9)]!.toFixed(2), 'p99', l[Math.floor(l.length * 0.99)]!.toFixed(2)); }
  console.log(nodes.map((x) => x.host.metrics.fsyncSeconds.quantile(0.5)));
  await Promise.all(nodes.map((x) => x.close()));
}, 60000);
