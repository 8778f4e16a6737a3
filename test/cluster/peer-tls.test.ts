/**
 * Peer TLS with mutual certificates (--peer-tls-cert/-key/-ca): a 3-node process cluster
 * whose peer links are TLS serves; a 4th node whose certificate another CA signed cannot
 * join (it knows the cluster secret and trusts the cluster's CA), and the three keep
 * serving; a peer that speaks plain TCP to a TLS peer port gets nowhere, even with the secret.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakePeer } from '../support/fake-peer.js';
import { TestCa } from '../support/test-certs.js';
import { freePorts, removeTempDirs, tempDir } from './helpers.js';
import { mainJs, ProcessCluster, repoRoot, terminateAll, TextClient } from './process-cluster.js';

describe('peer TLS', () => {
  const clusterCa = new TestCa('cluster');
  const otherCa = new TestCa('other');
  const nodeCert = clusterCa.issue('node');
  const strangerCert = otherCa.issue('stranger');
  let cluster: ProcessCluster;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    cluster = await ProcessCluster.start(3, ['--peer-tls-cert', nodeCert.cert, '--peer-tls-key', nodeCert.key, '--peer-tls-ca', clusterCa.ca.cert]);
  }, 90_000);

  afterAll(async () => {
    await terminateAll(children);
    await cluster?.stop();
    await removeTempDirs();
    clusterCa.remove();
    otherCa.remove();
  });

  it('serves over TLS peer links: a set through one node is read through every other', async () => {
    const writer = await TextClient.connect(cluster.clientPort(1));
    expect(await writer.set('tls-key', 'over-tls')).toBe('STORED\r\n');
    writer.close();
    for (let id = 2; id <= 3; id++) {
      const reader = await TextClient.connect(cluster.clientPort(id));
      expect(await reader.get('tls-key')).toBe('over-tls');
      reader.close();
    }
  });

  it('refuses a plain-TCP peer and a peer with another CA\'s certificate, even with the secret', async () => {
    const port = cluster.ports.peer[0]!;
    await expect(FakePeer.connect({ port, nodeId: 9, serverId: 1, timeoutMs: 5000 })).rejects.toThrow();
    const stranger = { cert: strangerCert.certPem, key: strangerCert.keyPem, ca: clusterCa.ca.certPem };
    await expect(FakePeer.connect({ port, nodeId: 9, serverId: 1, tls: stranger, timeoutMs: 5000 })).rejects.toThrow();
    // The same fake peer with the cluster's certificate gets through: the refusals were the certificates.
    const member = { cert: nodeCert.certPem, key: nodeCert.keyPem, ca: clusterCa.ca.certPem };
    const peer = await FakePeer.connect({ port, nodeId: 9, serverId: 1, tls: member });
    peer.destroy();
  });

  it('a 4th node with a certificate from another CA cannot join, and the three keep serving', async () => {
    const [client, peer, admin] = await freePorts(3);
    const dir = await tempDir('stranger');
    const args = [
      mainJs, 'serve', '--id', '4', '--listen', `127.0.0.1:${client}`, '--peer-listen', `127.0.0.1:${peer}`,
      '--admin-listen', `127.0.0.1:${admin}`, '--join', `127.0.0.1:${cluster.ports.peer[0]}`,
      '--data-dir', path.join(dir, 'node-4'), '--log-level', 'warn',
      '--peer-tls-cert', strangerCert.cert, '--peer-tls-key', strangerCert.key, '--peer-tls-ca', clusterCa.ca.cert,
    ];
    const child = spawn(process.execPath, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let log = '';
    child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    // Its join attempts fail at the TLS handshake; node 1 logs the refusals.
    const deadline = Date.now() + 30_000;
    while (!/join attempt failed/.test(log) || !/TLS handshake failed/.test(cluster.logOf(1))) {
      if (Date.now() > deadline) throw new Error(`no refused join seen.\nnode 4:\n${log}\nnode 1:\n${cluster.logOf(1).slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const status = (await cluster.status(1)) as unknown as { meta: { nodes: Array<{ id: number }> } };
    expect(status.meta.nodes.map((n) => n.id).sort()).toEqual([1, 2, 3]);
    for (let id = 1; id <= 3; id++) {
      const c = await TextClient.connect(cluster.clientPort(id));
      expect(await c.set(`after-${id}`, 'still-serving')).toBe('STORED\r\n');
      expect(await c.get(`after-${id}`)).toBe('still-serving');
      c.close();
    }
    child.kill('SIGKILL');
    await once(child, 'exit');
  }, 60_000);
});
