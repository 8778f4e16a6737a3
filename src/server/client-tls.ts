/**
 * TLS for the client port (memcached's `-Z`): the listener is a tls.Server on the same
 * address; every connection must complete a TLS handshake before a byte of the memcached
 * protocol is read. With a CA file, clients must present a certificate it signed (memcached's
 * ssl_verify_mode=2). A plaintext client fails the handshake: its socket is destroyed and
 * nothing else is touched. SIGHUP re-reads the files into a new secure context
 * (tls.Server.setSecureContext): new connections use it, open ones keep theirs.
 */
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import type { TlsFiles } from './config.js';

/** The key, certificate chain and CA read from `files` (throws if one cannot be read). */
export function readTlsContext(files: TlsFiles): tls.SecureContextOptions {
  return {
    key: fs.readFileSync(files.keyFile),
    cert: fs.readFileSync(files.certFile),
    ...(files.caFile === null ? {} : { ca: fs.readFileSync(files.caFile) }),
  };
}

/** Reads and parses the files once, so a missing file or a bad PEM stops startup with its own error. */
export function checkTlsFiles(files: TlsFiles): void {
  tls.createSecureContext(readTlsContext(files));
}

/** A client listener: plain TCP, or TLS when `files` is given. */
export function createClientListener(files: TlsFiles | null, onSocket: (socket: net.Socket) => void): net.Server {
  // Half-open allowed: a client that sends and shuts down its side still gets every reply.
  if (files === null) return net.createServer({ allowHalfOpen: true, noDelay: true }, onSocket);
  const requireCert = files.caFile !== null;
  const server = tls.createServer(
    {
      ...readTlsContext(files),
      allowHalfOpen: true,
      noDelay: true,
      requestCert: requireCert,
      rejectUnauthorized: requireCert,
      minVersion: 'TLSv1.2',
    },
    onSocket,
  );
  return server;
}

/** Loads the files again into the running TLS listener. */
export function reloadTlsContext(listener: net.Server, files: TlsFiles): void {
  (listener as tls.Server).setSecureContext(readTlsContext(files));
}
