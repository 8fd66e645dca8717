"""Helpers for the trustapp-admin integration tests (test_tool_*.py).

Everything runs on 127.0.0.1: servers are Python threads, certificates come
from tls_pki.py (CA, self_signed, fingerprint_sha256). The binary is
$TA_BUILD_DIR/tools/trustapp-admin (default <repo>/build/release).
"""

import http.server
import json
import os
import socket
import ssl
import subprocess
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def binary():
    d = os.environ.get("TA_BUILD_DIR")
    path = (Path(d) if d else REPO / "build" / "release") / "tools" / "trustapp-admin"
    if not path.is_file():
        raise RuntimeError("trustapp-admin not built at %s (set TA_BUILD_DIR)" % path)
    return str(path)


def clean_env(extra=None):
    """The environment without proxies or a registry override, plus extra."""
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy",
                                "trustapp_registry")}
    env.update(extra or {})
    return env


class Result:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr
        self._json = None

    @property
    def json(self):
        if self._json is None:
            self._json = json.loads(self.out)
        return self._json

    @property
    def token(self):
        return (self.json.get("error") or {}).get("token")

    def __repr__(self):
        return "rc=%d\nstdout:\n%s\nstderr:\n%s" % (self.rc, self.out, self.err)


def run(*args, env=None, timeout=60, stdin=None):
    proc = subprocess.run([binary()] + [str(a) for a in args], capture_output=True, text=True,
                          env=clean_env(env), timeout=timeout, input=stdin)
    return Result(proc)


def run_json(*args, **kw):
    return run("--json", *args, **kw)


# ---------------------------------------------------------------- servers

class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def date_time_string(self, timestamp=None):
        # tests of clock-skew diagnosis shift the server's Date header
        import time
        return super().date_time_string(time.time() + self.server.date_offset)

    def _answer(self):
        routes = self.server.routes
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.requests.append({"method": self.command, "path": self.path,
                                     "headers": dict(self.headers.items()), "body": body})
        route = routes.get(self.path.split("?")[0]) or routes.get("*")
        if route is None:
            status, headers, payload = 404, {}, b"not found"
        else:
            status, headers, payload = route(self) if callable(route) else route
        if isinstance(payload, str):
            payload = payload.encode()
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _answer


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # failed handshakes are the point of several tests


class HTTPSServer:
    """HTTPS (or plain HTTP when cert is None) server on 127.0.0.1 in a thread.
    routes: path -> (status, headers, body) or callable(handler) -> same."""

    def __init__(self, cert=None, key=None, routes=None, client_ca=None, chain_extra=None):
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.routes = routes if routes is not None else {"*": (200, {"Content-Type": "text/plain"}, "ok")}
        self.httpd.requests = []
        self.httpd.date_offset = 0
        if cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            if chain_extra:
                bundle = Path(str(cert) + ".chain")
                bundle.write_text(Path(cert).read_text() + Path(chain_extra).read_text())
                cert = bundle
            ctx.load_cert_chain(str(cert), str(key))
            if client_ca:
                ctx.verify_mode = ssl.CERT_REQUIRED
                ctx.load_verify_locations(str(client_ca))
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.requests = self.httpd.requests
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def _read_head(conn):
    """Reads until the end of a request head or EOF; returns what arrived."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


class _Listener:
    """A loopback TCP listener; its _loop runs in a daemon thread while the
    object is used as a context manager."""

    def __init__(self, backlog):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(backlog)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        raise NotImplementedError

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        # close() alone leaves a socket that a thread is blocked in accept() on
        # listening (the call holds a reference); shutdown() stops it and wakes
        # the thread, so the port really is closed afterwards.
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(timeout=5)


class RawServer(_Listener):
    """TCP listener with a scripted behaviour per connection:
    'silent' (never answers), 'reset' (closes with RST), 'proxy407' (answers a
    CONNECT with 407), 'tunnel' (a working CONNECT proxy)."""

    def __init__(self, mode):
        super().__init__(16)
        self.mode = mode
        self.conns = []
        self.seen = []
        self._stop = False

    def _loop(self):
        import struct
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.mode == "silent":
                self.conns.append(conn)
            elif self.mode == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                try:
                    conn.recv(1024)
                except OSError:
                    pass
                conn.close()
            elif self.mode == "tunnel":
                threading.Thread(target=self._tunnel, args=(conn,), daemon=True).start()
            elif self.mode == "proxy407":
                conn.settimeout(5)
                try:
                    data = _read_head(conn)
                    self.seen.append(data.decode("latin-1"))
                    conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                                 b"Proxy-Authenticate: Basic realm=\"test\"\r\n"
                                 b"Content-Length: 0\r\n\r\n")
                except OSError:
                    pass
                conn.close()

    def _tunnel(self, conn):
        conn.settimeout(10)
        try:
            data = _read_head(conn)
            if b"\r\n\r\n" not in data:
                return
            self.seen.append(data.decode("latin-1"))
            host, port = data.split(b" ")[1].decode().rsplit(":", 1)
            up = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            head, rest = data.split(b"\r\n\r\n", 1)
            if rest:
                up.sendall(rest)

            def pump(a, b):
                try:
                    while True:
                        chunk = a.recv(65536)
                        if not chunk:
                            break
                        b.sendall(chunk)
                except OSError:
                    pass
                finally:
                    for s in (a, b):
                        try:
                            s.shutdown(socket.SHUT_RDWR)
                        except OSError:
                            pass

            threading.Thread(target=pump, args=(up, conn), daemon=True).start()
            pump(conn, up)
        except (OSError, ValueError):
            conn.close()

    def __exit__(self, *exc):
        self._stop = True
        super().__exit__(*exc)
        for c in self.conns:
            c.close()


# ---------------------------------------------------------------- registries

def write_registry(path, apps_xml="", self_xml=""):
    Path(path).write_text('<?xml version="1.0" encoding="UTF-8"?>\n'
                          '<registry xmlns="urn:mod-trustedapp:registry:1" version="1">\n'
                          + self_xml + apps_xml + '</registry>\n')
    return Path(path)


class OldTLSServer(_Listener):
    """A TLS server that only speaks TLS 1.0/1.1 (to test the >= 1.2 floor)."""

    def __init__(self, cert, key):
        import warnings
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.set_ciphers("DEFAULT@SECLEVEL=0")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self.ctx.minimum_version = ssl.TLSVersion.TLSv1
            self.ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        self.ctx.load_cert_chain(str(cert), str(key))
        super().__init__(8)

    def _loop(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            try:
                self.ctx.wrap_socket(conn, server_side=True).close()
            except (OSError, ssl.SSLError):
                conn.close()
