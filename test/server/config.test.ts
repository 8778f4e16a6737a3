import { describe, expect, it } from 'vitest';
import { UsageError, envName, isClusterConfig, parseHostPort, parseServeArgs, parseSizeFlag } from '../../src/server/config.js';
import type { ServeConfig } from '../../src/server/config.js';

function serve(argv: string[], env: Record<string, string> = {}): ServeConfig {
  const parsed = parseServeArgs(argv, env);
  if (parsed.kind !== 'serve') throw new Error('expected a serve config');
  return parsed.config;
}

function usageError(argv: string[], env: Record<string, string> = {}): string {
  try {
    parseServeArgs(argv, env);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).code).toBe('E_USAGE');
    return (err as Error).message;
  }
  throw new Error(`expected a usage error for ${argv.join(' ')}`);
}

describe('parseServeArgs', () => {
  it('defaults to a durable single-node cluster on 127.0.0.1:11211', () => {
    const config = serve([]);
    expect(config.listen).toEqual({ host: '127.0.0.1', port: 11211 });
    expect(config.memoryMb).toBe(64);
    expect(config.itemBytesMax).toBe(1024 * 1024);
    expect(config.connectionsMax).toBe(1024);
    expect(config.logLevel).toBe('info');
    expect(config.dataDir).toBe('./memraft-data');
    expect(isClusterConfig(config)).toBe(true);
    expect(config.cluster.id).toBe('1');
    expect(config.cluster.initialCluster).toEqual([{ id: '1', peer: { host: '127.0.0.1', port: 0 } }]);
  });

  it('--standalone runs without Raft and refuses cluster flags', () => {
    const config = serve(['--standalone']);
    expect(isClusterConfig(config)).toBe(false);
    expect(config.cluster.initialCluster).toEqual([]);
    expect(() => serve(['--standalone', '--initial-cluster', '1=127.0.0.1:7001'])).toThrow(UsageError);
  });

  it('reads memcached-style short flags, attached or separate', () => {
    const config = serve(['-m', '1024', '-I2m', '-c', '10', '--listen', '0.0.0.0:1234']);
    expect(config.memoryMb).toBe(1024);
    expect(config.itemBytesMax).toBe(2 * 1024 * 1024);
    expect(config.connectionsMax).toBe(10);
    expect(config.listen).toEqual({ host: '0.0.0.0', port: 1234 });
  });

  it("reads memcached's -p and -l as the client listener, alone or together", () => {
    expect(serve(['-p', '11311']).listen).toEqual({ host: '127.0.0.1', port: 11311 });
    expect(serve(['-l', '0.0.0.0']).listen).toEqual({ host: '0.0.0.0', port: 11211 });
    expect(serve(['-l', '0.0.0.0', '-p', '11311']).listen).toEqual({ host: '0.0.0.0', port: 11311 });
    expect(serve(['-p11311', '-l10.0.0.5']).listen).toEqual({ host: '10.0.0.5', port: 11311 });
    expect(serve(['-l', '127.0.0.1:11311', '-p', '11311']).listen).toEqual({ host: '127.0.0.1', port: 11311 });
    expect(serve(['-l', '::1', '-p', '5000']).listen).toEqual({ host: '::1', port: 5000 });
    expect(serve(['-l', '[::1]']).listen).toEqual({ host: '::1', port: 11211 });
    expect(serve(['--listen', 'localhost', '--port=6000']).listen).toEqual({ host: 'localhost', port: 6000 });
    expect(serve(['-p', '7000'], { MEMRAFT_LISTEN: '0.0.0.0' }).listen).toEqual({ host: '0.0.0.0', port: 7000 });
    expect(serve([], { MEMRAFT_PORT: '7001' }).listen).toEqual({ host: '127.0.0.1', port: 7001 });
    expect(usageError(['-l', '127.0.0.1:5000', '-p', '6000'])).toMatch(/different ports/);
    expect(usageError(['-p', '70000'])).toMatch(/--port must be between 0 and 65535/);
    expect(usageError(['-p', 'http'])).toMatch(/--port must be a whole number/);
  });

  it('maps -v, -vv, -vvv onto --log-level info, debug, trace', () => {
    expect(serve(['-v']).logLevel).toBe('info');
    expect(serve(['-vv']).logLevel).toBe('debug');
    expect(serve(['-vvv']).logLevel).toBe('trace');
    expect(serve(['-v', '-v']).logLevel).toBe('debug');
    expect(serve(['-vvvv']).logLevel).toBe('trace');
    expect(serve(['--verbose']).logLevel).toBe('info');
    expect(serve(['-vv'], { MEMRAFT_LOG_LEVEL: 'warn' }).logLevel).toBe('debug');
    expect(serve(['-vv', '--log-level', 'warn']).logLevel).toBe('warn');
    expect(serve(['--log-level', 'warn', '-vvv']).logLevel).toBe('trace');
    expect(usageError(['-vx'])).toMatch(/takes no value/);
    expect(usageError(['--verbose=2'])).toMatch(/takes no value/);
  });

  it('accepts -t N and -U 0, and refuses UDP and -d with what to do instead', () => {
    const config = serve(['-t', '4', '-U', '0', '-p', '11211', '-m', '64']);
    expect(config.listen).toEqual({ host: '127.0.0.1', port: 11211 });
    expect(serve(['-t8', '-U0']).memoryMb).toBe(64);
    expect(usageError(['-t', '0'])).toMatch(/--threads must be between/);
    expect(usageError(['-U', '11211'])).toMatch(/^UDP is not supported: .*-U 0/);
    expect(usageError([], { MEMRAFT_UDP_PORT: '11211' })).toMatch(/UDP is not supported/);
    expect(usageError(['-d'])).toMatch(/^-d \(daemonize\) is not supported: .*process supervisor .*systemd.*scripts\/cluster\.sh/);
    expect(usageError(['--daemon', '-p', '11211'])).toMatch(/daemonize/);
  });

  it('reads long flags with = and the environment, argv winning', () => {
    const env = { MEMRAFT_MEMORY_MB: '128', MEMRAFT_LOG_LEVEL: 'debug', MEMRAFT_LISTEN: '127.0.0.1:5000' };
    const config = serve(['--memory-mb=256', '--item-size-max', '512k'], env);
    expect(config.memoryMb).toBe(256);
    expect(config.logLevel).toBe('debug');
    expect(config.listen.port).toBe(5000);
    expect(config.itemBytesMax).toBe(512 * 1024);
  });

  it('accepts and stores the cluster flags', () => {
    const config = serve([
      '--id', 'n1', '--peer-listen', '127.0.0.1:7001', '--admin-listen', '127.0.0.1:8001',
      '--initial-cluster', 'n1=127.0.0.1:7001,n2=127.0.0.1:7002', '--groups', '8', '--replicas', '3',
      '--fsync', 'never', '--read-mode', 'lease', '--data-dir', '/tmp/x',
    ]);
    expect(config.cluster.id).toBe('n1');
    expect(config.cluster.initialCluster).toEqual([
      { id: 'n1', peer: { host: '127.0.0.1', port: 7001 } },
      { id: 'n2', peer: { host: '127.0.0.1', port: 7002 } },
    ]);
    expect(config.cluster.groups).toBe(8);
    expect(config.cluster.peerAddresses).toEqual([]);
    expect(config.cluster.fsync).toBe('never');
    expect(config.cluster.readMode).toBe('lease');
    expect(config.dataDir).toBe('/tmp/x');
    expect(isClusterConfig(config)).toBe(true);
  });

  it('parses --peer-addresses like --initial-cluster', () => {
    const config = serve(['--id', '4', '--peer-listen', '127.0.0.1:7004', '--join', '127.0.0.1:7001', '--peer-addresses', '1=127.0.0.1:9001,2=[::1]:9002']);
    expect(config.cluster.peerAddresses).toEqual([
      { id: '1', peer: { host: '127.0.0.1', port: 9001 } },
      { id: '2', peer: { host: '::1', port: 9002 } },
    ]);
    expect(usageError(['--join', '127.0.0.1:1', '--peer-addresses', '127.0.0.1:9001'])).toMatch(/--peer-addresses entries must be ID=HOST:PORT/);
  });

  it('reads --zone (or MEMRAFT_ZONE); none means a zone of its own', () => {
    expect(serve(['--id', '4', '--peer-listen', '127.0.0.1:7004', '--join', '127.0.0.1:7001', '--zone', 'rack-1.a']).cluster.zone).toBe('rack-1.a');
    expect(serve([], { MEMRAFT_ZONE: 'eu-west-1b' }).cluster.zone).toBe('eu-west-1b');
    expect(serve([]).cluster.zone).toBeNull();
    expect(usageError(['--zone', 'a b'])).toMatch(/--zone: 1-64 letters/);
    expect(usageError(['--zone', ''])).toMatch(/--zone/);
  });

  it('takes the three peer TLS files together, or none', () => {
    expect(serve([]).cluster.peerTls).toBeNull();
    const config = serve(['--peer-tls-cert', 'n.pem', '--peer-tls-key', 'n.key', '--peer-tls-ca', 'ca.pem']);
    expect(config.cluster.peerTls).toEqual({ cert: 'n.pem', key: 'n.key', ca: 'ca.pem' });
    expect(usageError(['--peer-tls-cert', 'n.pem', '--peer-tls-key', 'n.key'])).toMatch(/needs all of --peer-tls-cert, --peer-tls-key and --peer-tls-ca/);
  });

  it('answers --help', () => {
    expect(parseServeArgs(['--help'], {})).toEqual({ kind: 'help' });
  });

  it('rejects bad flags with a usage error', () => {
    expect(usageError(['--bogus'])).toMatch(/unknown flag --bogus/);
    expect(usageError(['-z'])).toMatch(/unknown flag -z/);
    expect(usageError(['-m'])).toMatch(/needs a value/);
    expect(usageError(['-m', 'lots'])).toMatch(/whole number/);
    expect(usageError(['-c', '0'])).toMatch(/between/);
    expect(usageError(['--listen', 'nohost:port'])).toMatch(/HOST:PORT/);
    expect(usageError(['--listen', '127.0.0.1:70000'])).toMatch(/out of range/);
    expect(usageError(['--log-level', 'loud'])).toMatch(/one of/);
    expect(usageError(['-I', '10'])).toMatch(/at least/);
    expect(usageError(['-m', '1', '-I', '1m'])).toMatch(/half of the memory/);
    expect(usageError(['stray'])).toMatch(/unexpected argument/);
    expect(usageError(['--initial-cluster', 'a=127.0.0.1:1', '--join', '127.0.0.1:2'])).toMatch(/exclusive/);
    expect(usageError([], { MEMRAFT_MEMORY_MB: 'x' })).toMatch(/whole number/);
  });
});

describe('helpers', () => {
  it('parses sizes like memcached -I', () => {
    expect(parseSizeFlag('1m')).toBe(1048576);
    expect(parseSizeFlag('1024')).toBe(1024);
    expect(parseSizeFlag('64K')).toBe(65536);
    expect(() => parseSizeFlag('1.5m')).toThrow(UsageError);
  });

  it('parses host:port forms', () => {
    expect(parseHostPort(':11211', 'listen')).toEqual({ host: '127.0.0.1', port: 11211 });
    expect(parseHostPort('[::1]:11211', 'listen')).toEqual({ host: '::1', port: 11211 });
  });

  it('derives env names from long flags', () => {
    expect(envName('memory-mb')).toBe('MEMRAFT_MEMORY_MB');
  });
});
