"""pymemcache over TLS against memraft: set, get and cas through every node given.

Usage: pymemcache-tls.py CA_CERT CLIENT_CERT CLIENT_KEY PORT [PORT ...]
Prints one JSON object with what each node answered; exits 0 unless a call raised.
"""
import json
import ssl
import sys

from pymemcache.client.base import Client

ca, cert, key, *ports = sys.argv[1:]
context = ssl.create_default_context(cafile=ca)
context.load_cert_chain(cert, key)
out = {}
for i, port in enumerate(ports):
    client = Client(("127.0.0.1", int(port)), tls_context=context, connect_timeout=10, timeout=10)
    k = "py-tls-%d" % i
    stored = client.set(k, b"v%d" % i, noreply=False)
    got = client.get(k)
    value, cas = client.gets(k)
    swapped = client.cas(k, b"w%d" % i, cas, noreply=False)
    stale = client.cas(k, b"x%d" % i, cas, noreply=False)
    # Read back through the next node: the write went through the cluster, not one cache.
    other = Client(("127.0.0.1", int(ports[(i + 1) % len(ports)])), tls_context=context, connect_timeout=10, timeout=10)
    out[port] = {
        "stored": stored,
        "got": got.decode() if got is not None else None,
        "cas_ok": swapped,
        "cas_stale": stale,
        "next_node_reads": other.get(k).decode(),
        "cipher": client.sock.cipher()[1],
    }
    client.close()
    other.close()
print(json.dumps(out))
