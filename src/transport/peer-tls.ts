/**
 * Peer TLS (--peer-tls-cert, --peer-tls-key, --peer-tls-ca): every peer connection is TLS
 * with certificates on both sides, each signed by the cluster's CA and verified by the other
 * side, before the HMAC handshake even starts (which stays: the secret and the certificate
 * are two separate proofs). A node without a certificate from the CA gets no further than
 * the TLS handshake, in either direction.
 *
 * The CA is the cluster's own (a private CA per cluster), so a certificate it signed is what
 * makes a node a peer: host names are not checked, since peers are dialled at whatever
 * address they advertise or --peer-addresses names (NAT, proxies), which a certificate
 * cannot list in advance.
 */
import net from 'node:net';
import tls from 'node:tls';

/** PEM contents (not paths) of this node's certificate, its key, and the cluster CA. */
export interface PeerTlsOptions {
  cert: string | Buffer;
  key: string | Buffer;
  ca: string | Buffer;
}

/** A connecting socket and the event after which it can carry the handshake. */
export interface PeerDial {
  socket: net.Socket;
  /** 'connect' for plain TCP, 'secureConnect' once TLS verified both certificates. */
  readyEvent: 'connect' | 'secureConnect';
}

/** Dials a peer, over TLS when `options` are given. */
export function dialPeer(addr: { host: string; port: number }, options: PeerTlsOptions | undefined): PeerDial {
  if (options === undefined) return { socket: net.connect({ host: addr.host, port: addr.port, noDelay: true }), readyEvent: 'connect' };
  const socket = tls.connect({
    host: addr.host, port: addr.port,
    cert: options.cert, key: options.key, ca: options.ca,
    rejectUnauthorized: true,
    // The CA signature is the check (see the module doc), not the name in the certificate.
    checkServerIdentity: () => undefined,
    ...(net.isIP(addr.host) === 0 ? { servername: addr.host } : {}),
  });
  socket.setNoDelay(true);
  return { socket, readyEvent: 'secureConnect' };
}

/**
 * A listener for peer connections: `onConnection` gets plain sockets, or TLS sockets whose
 * client certificate the CA signed. `onRefused` hears of TLS handshakes that failed.
 */
export function createPeerServer(
  options: PeerTlsOptions | undefined,
  onConnection: (socket: net.Socket) => void,
  onRefused: (why: string, remote: string) => void,
): net.Server {
  if (options === undefined) return net.createServer(onConnection);
  const server = tls.createServer(
    { cert: options.cert, key: options.key, ca: options.ca, requestCert: true, rejectUnauthorized: true },
    onConnection,
  );
  server.on('tlsClientError', (err, socket) => onRefused(`TLS handshake failed: ${err.message}`, `${socket.remoteAddress}:${socket.remotePort}`));
  return server;
}
