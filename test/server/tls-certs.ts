/**
 * Test certificates made with the `openssl` command into a temporary directory: a CA, a
 * server certificate for 127.0.0.1 and a client certificate signed by it, and a rogue CA
 * with a client certificate of its own (what a client that is not ours would present).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** Paths of the generated files. */
export interface TestCerts {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  rogueClientCert: string;
  rogueClientKey: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function makeCa(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', ...ecKey, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`]);
}

/** A key and a certificate for `cn`, signed by the CA `ca`, with `ext` as its extensions. */
export function makeLeaf(dir: string, ca: string, name: string, cn: string, ext: string): void {
  fs.writeFileSync(path.join(dir, `${name}.ext`), ext + '\n');
  openssl(dir, ['req', ...ecKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`]);
}

/** Generates the whole set into `dir`. */
export function makeTestCerts(dir: string): TestCerts {
  makeCa(dir, 'ca');
  makeCa(dir, 'rogue-ca');
  makeLeaf(dir, 'ca', 'server', 'memraft-node', 'subjectAltName=IP:127.0.0.1,DNS:localhost');
  makeLeaf(dir, 'ca', 'client', 'memraft-client', 'extendedKeyUsage=clientAuth');
  makeLeaf(dir, 'rogue-ca', 'rogue-client', 'memraft-client', 'extendedKeyUsage=clientAuth');
  const at = (f: string): string => path.join(dir, f);
  return {
    dir,
    caCert: at('ca.crt'),
    serverCert: at('server.crt'),
    serverKey: at('server.key'),
    clientCert: at('client.crt'),
    clientKey: at('client.key'),
    rogueClientCert: at('rogue-client.crt'),
    rogueClientKey: at('rogue-client.key'),
  };
}
