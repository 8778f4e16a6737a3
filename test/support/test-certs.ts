/**
 * Throwaway certificates for TLS tests, made with the `openssl` command line in a temp
 * directory: a CA, and certificates it signs (for 127.0.0.1 and localhost, client and server
 * use). Each call makes fresh keys, so two CAs never trust each other's certificates.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Paths of a certificate and its key, and their PEM contents. */
export interface CertFiles {
  cert: string;
  key: string;
  certPem: Buffer;
  keyPem: Buffer;
}

/** A CA that signs certificates in its own temp directory. */
export class TestCa {
  readonly dir: string;
  readonly ca: CertFiles;
  private serial = 1;

  constructor(readonly name: string) {
    this.dir = mkdtempSync(path.join(os.tmpdir(), `memraft-ca-${name}-`));
    const key = path.join(this.dir, 'ca.key');
    const cert = path.join(this.dir, 'ca.pem');
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
      '-days', '2', '-subj', `/CN=memraft test CA ${name}`]);
    this.ca = { cert, key, certPem: readFileSync(cert), keyPem: readFileSync(key) };
  }

  /** A certificate for `cn` signed by this CA, good as a TLS client and server on loopback. */
  issue(cn: string): CertFiles {
    const key = path.join(this.dir, `${cn}.key`);
    const csr = path.join(this.dir, `${cn}.csr`);
    const cert = path.join(this.dir, `${cn}.pem`);
    const ext = path.join(this.dir, `${cn}.ext`);
    writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${cn}`]);
    openssl(['x509', '-req', '-in', csr, '-CA', this.ca.cert, '-CAkey', this.ca.key, '-set_serial', String(this.serial++),
      '-days', '2', '-out', cert, '-extfile', ext]);
    return { cert, key, certPem: readFileSync(cert), keyPem: readFileSync(key) };
  }

  /** Removes the directory with every key. */
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}
