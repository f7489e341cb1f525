"""TLS origin and client for the live ssl-bump test (tests/tls_inspection.rs).

  tls_probe.py origin ADDR PORT CERT KEY
      A threaded TLS server presenting CERT; answers any request with 200.
      Prints "ready" once it listens, runs until killed.

  tls_probe.py probe PROXY_PORT TRUST_PEM HOST...
      For each HOST, CONNECT HOST:443 through the proxy on 127.0.0.1, then a
      TLS handshake with SNI HOST that trusts only the certificates in
      TRUST_PEM (the origin's and the proxy CA's). Prints one JSON object:
      {HOST: {"status": CONNECT status, "issuer": CN of the issuer,
              "names": subject CN and DNS names, "http": status of a GET
              sent inside the tunnel, "squid_error": its X-Squid-Error,
              "from_origin": whether the origin answered, "error": text}}.
"""

import concurrent.futures
import json
import socket
import socketserver
import ssl
import sys


def origin(addr, port, cert, key):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            self.request.settimeout(10)
            try:
                with context.wrap_socket(self.request, server_side=True) as tls:
                    tls.recv(4096)
                    tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\norigin")
            except (OSError, ssl.SSLError) as e:
                print("origin: %s" % e, file=sys.stderr, flush=True)

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    with Server((addr, port), Handler) as server:
        print("ready", flush=True)
        server.serve_forever()


def cn(rdns):
    for rdn in rdns:
        for key, value in rdn:
            if key == "commonName":
                return value
    return ""


def probe_one(proxy_port, trust, host):
    result = {"status": 0, "issuer": "", "names": [], "error": ""}
    try:
        raw = socket.create_connection(("127.0.0.1", proxy_port), timeout=15)
    except OSError as e:
        result["error"] = "proxy: %s" % e
        return result
    with raw:
        raw.sendall(("CONNECT %s:443 HTTP/1.1\r\nHost: %s:443\r\n\r\n" % (host, host)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = raw.recv(1)
            if not chunk:
                break
            head += chunk
        parts = head.split(b" ", 2)
        result["status"] = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        if result["status"] != 200:
            return result
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        # The chain must verify against the test's two anchors; which one
        # it chains to is what the test reads from the issuer.
        context.check_hostname = False
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(trust)
        try:
            with context.wrap_socket(raw, server_hostname=host) as tls:
                cert = tls.getpeercert()
                result["issuer"] = cn(cert.get("issuer", ()))
                names = [cn(cert.get("subject", ()))]
                names += [v for k, v in cert.get("subjectAltName", ()) if k == "DNS"]
                result["names"] = names
                request = "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host
                tls.sendall(request.encode())
                answer = b""
                while len(answer) < 65536:
                    chunk = tls.recv(4096)
                    if not chunk:
                        break
                    answer += chunk
                head, _, body = answer.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                status = lines[0].split(" ")
                result["http"] = int(status[1]) if len(status) > 1 and status[1].isdigit() else 0
                result["squid_error"] = "".join(
                    l.split(":", 1)[1].strip() for l in lines[1:] if l.lower().startswith("x-squid-error:")
                )
                result["from_origin"] = body == b"origin"
        except (OSError, ssl.SSLError) as e:
            result["error"] = str(e)
    return result


def probe(proxy_port, trust, hosts):
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        results = dict(zip(hosts, pool.map(lambda h: probe_one(proxy_port, trust, h), hosts)))
    print(json.dumps(results, sort_keys=True))


if __name__ == "__main__":
    if sys.argv[1] == "origin":
        origin(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
    elif sys.argv[1] == "probe":
        probe(int(sys.argv[2]), sys.argv[3], sys.argv[4:])
    else:
        sys.exit("usage: tls_probe.py origin ADDR PORT CERT KEY | probe PROXY_PORT TRUST_PEM HOST...")
