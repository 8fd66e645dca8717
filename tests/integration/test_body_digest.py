"""Request-body integrity (RFC 9530 Content-Digest, sha-256 and sha-512):
the module hashes the body as it streams, keeps 64 KiB in memory and spools
the rest to an unlinked temporary file, and lets the handler see the body
only after the digest matched. The handler here is a CGI script that hashes
what it receives and records that it ran, so the tests see both that an
intact body reaches the application byte for byte (Content-Length and
chunked, small and 40 MB) and that a tampered or truncated one never does."""

import glob
import hashlib
import http.client
import os
import socket
import time

import pytest

import tasig

HASH_CGI = r"""#!/usr/bin/python3
import hashlib, os, sys
h = hashlib.sha256()
n = 0
while True:
    b = sys.stdin.buffer.read(1 << 16)
    if not b:
        break
    h.update(b)
    n += len(b)
with open(os.environ["TA_RUNS"], "a") as f:
    f.write("%d\n" % n)
sys.stdout.write("Content-Type: text/plain\r\n\r\nlen=%d\nsha256=%s\n" % (n, h.hexdigest()))
"""

CONF = """
TrustedAppRegistry "@REGISTRY@"
ScriptAlias /cgi/ "@ROOT@/cgi/"
ScriptAlias /small/ "@ROOT@/cgi/"
SetEnv TA_RUNS "@ROOT@/runs/log"
<Location "/">
  AuthType TrustedApp
  Require valid-user
</Location>
<Location "/small/">
  TrustedAppMaxBodySize 100000
</Location>
ScriptAlias /limited/ "@ROOT@/cgi/"
<Location "/limited/">
  LimitRequestBody 50000
</Location>
"""

MB = 1024 * 1024


def start_with_cgi(s):
    """Installs the hashing CGI script in a not yet started server and starts it."""
    (s.root / "cgi").mkdir()
    (s.root / "cgi" / "hash").write_text(HASH_CGI)
    os.chmod(s.root / "cgi" / "hash", 0o755)
    (s.root / "runs").mkdir()
    os.chmod(s.root / "runs", 0o777)
    p = s.start()
    assert p.returncode == 0, p.stderr + s.error_log()
    return s


@pytest.fixture(scope="module")
def srv(shared_httpd, shared_app):
    s = shared_httpd(conf=CONF, apps=[shared_app], modules=["cgi"], start=False)
    return s if s.running else start_with_cgi(s)


def runs(srv):
    """Body lengths the CGI handler saw, one per run."""
    try:
        return [int(x) for x in (srv.root / "runs" / "log").read_text().split()]
    except FileNotFoundError:
        return []


def sign(srv, app, path, body, digest_alg="sha-256"):
    return tasig.sign_request("POST", srv.url(path), app.key, app.id, user="alice", body=body,
                              digest_alg=digest_alg).headers


def send(srv, path, headers, body, chunked=False, chunk=300 * 1024):
    """POST with Content-Length (default) or Transfer-Encoding: chunked."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
    try:
        conn.putrequest("POST", path, skip_accept_encoding=True)
        for n, v in headers:
            conn.putheader(n, v)
        if chunked:
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            for i in range(0, len(body), chunk):
                part = body[i:i + chunk]
                conn.send(b"%x\r\n%s\r\n" % (len(part), part))
            conn.send(b"0\r\n\r\n")
        else:
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
        r = conn.getresponse()
        return r.status, r.getheader("TrustedApp-Error"), r.read()
    finally:
        conn.close()


def hashed(resp_body):
    kv = dict(line.split("=", 1) for line in resp_body.decode().split())
    return int(kv["len"]), kv["sha256"]


def body_of(n, seed=b"body"):
    # Deterministic, not compressible into a pattern a bug could hide behind.
    out = bytearray()
    block = hashlib.sha512(seed).digest()
    while len(out) < n:
        block = hashlib.sha512(block).digest()
        out += block * 64
    return bytes(out[:n])


# ------------------------------------------------------------ intact bodies reach the handler
@pytest.mark.parametrize("size", [1, 1000, 64 * 1024, 64 * 1024 + 1, 3 * MB])
@pytest.mark.parametrize("alg", ["sha-256", "sha-512"])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_intact_body_reaches_handler(srv, shared_app, size, alg, chunked):
    body = body_of(size, b"%d" % size)
    status, err, resp = send(srv, "/cgi/hash", sign(srv, shared_app, "/cgi/hash", body, alg), body,
                             chunked=chunked, chunk=7 * 1024)
    assert status == 200, (err, srv.error_log()[-2000:])
    assert hashed(resp) == (size, hashlib.sha256(body).hexdigest())


@pytest.mark.parametrize("chunked,alg", [(False, "sha-256"), (True, "sha-512")],
                         ids=["content-length", "chunked"])
def test_large_body_memory_stays_bounded(httpd, shared_app, chunked, alg):
    """40 MB through the digest check: the worker's peak RSS must not grow by
    the body size. A fresh server each, so one run's peak cannot hide another's."""
    srv = start_with_cgi(httpd(conf=CONF, apps=[shared_app], modules=["cgi"], start=False))

    def children():
        out = {}
        for st in glob.glob("/proc/[0-9]*/status"):
            try:
                f = dict(line.split(":", 1) for line in open(st).read().splitlines() if ":" in line)
            except OSError:
                continue
            if int(f["PPid"]) == srv.proc.pid and "VmHWM" in f:
                out[int(f["Pid"])] = int(f["VmHWM"].split()[0]) * 1024
        return out

    small = body_of(100)
    for _ in range(3):   # warm the worker's allocators
        assert send(srv, "/cgi/hash", sign(srv, shared_app, "/cgi/hash", small), small)[0] == 200
    before = children()
    body = body_of(40 * MB, b"big")
    t = time.time()
    status, err, resp = send(srv, "/cgi/hash", sign(srv, shared_app, "/cgi/hash", body, alg), body,
                             chunked=chunked, chunk=MB)
    assert status == 200, (err, srv.error_log()[-2000:])
    assert hashed(resp) == (len(body), hashlib.sha256(body).hexdigest())
    after = children()
    assert before.keys() & after.keys(), "the worker process changed during the test"
    growth = max(after[p] - before[p] for p in before if p in after)
    assert growth < 12 * MB, "worker peak RSS grew by %d bytes for a 40 MB body" % growth
    assert time.time() - t < 30


def test_spool_files_are_not_left_behind(srv, shared_app):
    body = body_of(MB)
    assert send(srv, "/cgi/hash", sign(srv, shared_app, "/cgi/hash", body), body)[0] == 200
    tmp = os.environ.get("TMPDIR") or "/tmp"
    assert glob.glob(os.path.join(tmp, "trustedapp-body-*")) == []


def test_large_body_to_lua_handler(srv, shared_app):
    # Another reader of the replayed body (ap_get_client_block via mod_lua).
    body = body_of(300 * 1024)
    status, err, resp = send(srv, "/echo/", sign(srv, shared_app, "/echo/", body), body)
    assert status == 200, err
    assert b"body_len=%d\n" % len(body) in resp


BACKEND_CONF = """
ScriptAlias /cgi/ "@ROOT@/cgi/"
SetEnv TA_RUNS "@ROOT@/runs/log"
<Location "/">
  Require all granted
</Location>
"""

FRONT_CONF = """
TrustedAppRegistry "@REGISTRY@"
<Location "/api/">
  AuthType TrustedApp
  Require valid-user
  ProxyPass "http://127.0.0.1:%d/"
</Location>
"""


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_spooled_body_reaches_a_proxied_backend(httpd, shared_app, chunked):
    backend = start_with_cgi(httpd(conf=BACKEND_CONF, modules=["cgi"], start=False, name="backend"))
    front = httpd(conf=FRONT_CONF % backend.port, apps=[shared_app], modules=["proxy", "proxy_http"],
                  name="front")
    body = body_of(5 * MB, b"proxied")
    status, err, resp = send(front, "/api/cgi/hash", sign(front, shared_app, "/api/cgi/hash", body),
                             body, chunked=chunked)
    assert status == 200, (err, front.error_log()[-2000:])
    assert hashed(resp) == (len(body), hashlib.sha256(body).hexdigest())


# ------------------------------------------------------------ tampered bodies never do
@pytest.mark.parametrize("size,at", [(1000, 10), (3 * MB, 100), (3 * MB, 3 * MB - 1)],
                         ids=["small", "large-early", "large-last-byte"])
@pytest.mark.parametrize("alg", ["sha-256", "sha-512"])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_tampered_body_refused_before_handler(srv, shared_app, size, at, alg, chunked):
    body = body_of(size, b"t")
    headers = sign(srv, shared_app, "/cgi/hash", body, alg)
    tampered = body[:at] + bytes([body[at] ^ 1]) + body[at + 1:]
    seen = len(runs(srv))
    status, err, _ = send(srv, "/cgi/hash", headers, tampered, chunked=chunked, chunk=64 * 1024)
    assert (status, err) == (400, "digest-mismatch")
    assert len(runs(srv)) == seen, "the handler ran on a tampered body"


def test_longer_body_than_signed_refused(srv, shared_app):
    body = body_of(200 * 1024)
    headers = sign(srv, shared_app, "/cgi/hash", body)
    seen = len(runs(srv))
    assert send(srv, "/cgi/hash", headers, body + b"x")[:2] == (400, "digest-mismatch")
    assert send(srv, "/cgi/hash", headers, body + b"x", chunked=True)[:2] == (400, "digest-mismatch")
    assert len(runs(srv)) == seen


def _raw(srv, head, data):
    """Sends head + data, half-closes (a truncated upload), returns (status, error token)."""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as s:
        s.sendall(head + data)
        s.shutdown(socket.SHUT_WR)
        resp = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            resp += b
    first, _, rest = resp.partition(b"\r\n")
    err = None
    for line in rest.split(b"\r\n"):
        if line.lower().startswith(b"trustedapp-error:"):
            err = line.split(b":", 1)[1].strip().decode()
    return int(first.split()[1]), err


def _head(srv, headers, extra):
    lines = ["POST /cgi/hash HTTP/1.1", "Host: 127.0.0.1:%d" % srv.port] + \
            ["%s: %s" % hv for hv in headers] + extra
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.mark.parametrize("size", [1000, 2 * MB])
def test_truncated_content_length_body(srv, shared_app, size):
    body = body_of(size, b"trunc")
    head = _head(srv, sign(srv, shared_app, "/cgi/hash", body), ["Content-Length: %d" % size])
    seen = len(runs(srv))
    assert _raw(srv, head, body[:size // 2]) == (400, "digest-mismatch")
    assert len(runs(srv)) == seen


@pytest.mark.parametrize("size", [1000, 2 * MB])
def test_truncated_chunked_body(srv, shared_app, size):
    body = body_of(size, b"trunc")
    head = _head(srv, sign(srv, shared_app, "/cgi/hash", body), ["Transfer-Encoding: chunked"])
    half = body[:size // 2]
    seen = len(runs(srv))
    # A chunk cut short, and whole chunks without the last-chunk.
    assert _raw(srv, head, b"%x\r\n%s" % (size, half)) == (400, "digest-mismatch")
    assert _raw(srv, head, b"%x\r\n%s\r\n" % (len(half), half)) == (400, "digest-mismatch")
    assert len(runs(srv)) == seen


# ------------------------------------------------------------ digest missing / invalid / too large
def test_body_without_content_digest_refused(srv, shared_app):
    body = body_of(5000)
    headers = tasig.sign_request("POST", srv.url("/cgi/hash"), shared_app.key, shared_app.id,
                                 user="alice").headers
    seen = len(runs(srv))
    assert send(srv, "/cgi/hash", headers, body)[:2] == (401, "digest-missing")
    assert send(srv, "/cgi/hash", headers, body, chunked=True)[:2] == (401, "digest-missing")
    assert len(runs(srv)) == seen


def test_content_digest_not_covered_refused(srv, shared_app):
    body = body_of(5000)
    headers = tasig.sign_request("POST", srv.url("/cgi/hash"), shared_app.key, shared_app.id,
                                 user="alice", body=body,
                                 covered=["@method", "@target-uri", "trustedapp-user"]).headers
    assert send(srv, "/cgi/hash", headers, body)[:2] == (401, "coverage-insufficient")


def test_unsupported_digest_algorithm_refused(srv, shared_app):
    body = body_of(5000)
    bad = [("Content-Digest", "md5=:%s:" % "AAAAAAAAAAAAAAAAAAAAAA==")]
    headers = tasig.sign_request("POST", srv.url("/cgi/hash"), shared_app.key, shared_app.id,
                                 user="alice", headers=bad,
                                 covered=["@method", "@target-uri", "trustedapp-user",
                                          "content-digest"]).headers
    assert send(srv, "/cgi/hash", bad + headers, body)[:2] == (401, "digest-invalid")


def test_body_over_max_size(srv, shared_app):
    body = body_of(200 * 1024)
    headers = sign(srv, shared_app, "/small/hash", body)
    seen = len(runs(srv))
    assert send(srv, "/small/hash", headers, body, chunked=True, chunk=16 * 1024)[:2] \
        == (413, "body-too-large")
    # Content-Length over the limit is refused before the body is read at all.
    head = ("POST /small/hash HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\nContent-Length: %d\r\n\r\n"
            % (srv.port, "\r\n".join("%s: %s" % hv for hv in headers), 10 ** 12)).encode()
    assert _raw(srv, head, b"") == (413, "body-too-large")
    assert len(runs(srv)) == seen
    small = body_of(90000)
    status, err, resp = send(srv, "/small/hash", sign(srv, shared_app, "/small/hash", small), small)
    assert status == 200 and hashed(resp)[0] == len(small)


def test_body_over_httpd_limit_refused_by_httpd_with_the_token(srv, shared_app):
    """LimitRequestBody is enforced by httpd's own input filter while the module
    reads the body: httpd answers 413 itself, that answer names body-too-large,
    the handler never runs and the module logs the same code."""
    body = body_of(120 * 1024)
    headers = sign(srv, shared_app, "/limited/hash", body)
    seen = len(runs(srv))
    assert send(srv, "/limited/hash", headers, body, chunked=True, chunk=16 * 1024)[:2] \
        == (413, "body-too-large")
    assert send(srv, "/limited/hash", headers, body)[:2] == (413, "body-too-large")
    assert len(runs(srv)) == seen
    line = "TA5008 body-too-large: app=%s client=127.0.0.1" % shared_app.id
    for _ in range(50):
        log = srv.error_log()
        if "answered 413" in log and line in log:
            break
        time.sleep(0.1)
    assert any(line in l and "httpd's input filter refused it (too large" in l
               and l.endswith("and answered 413") for l in log.splitlines()), log[-2000:]
    small = body_of(40000)
    status, err, resp = send(srv, "/limited/hash", sign(srv, shared_app, "/limited/hash", small), small)
    assert status == 200 and hashed(resp)[0] == len(small)


@pytest.mark.parametrize("value,ok", [("0", True), ("4294967296", True), ("4294967297", False),
                                      ("1e6", False), ("64M", False)])
def test_max_body_size_bounds(httpd, shared_app, value, ok):
    conf = CONF.replace("TrustedAppMaxBodySize 100000", "TrustedAppMaxBodySize %s" % value)
    srv = httpd(conf=conf, apps=[shared_app], modules=["cgi"], start=False)
    p = srv.configtest()
    assert (p.returncode == 0) == ok, p.stderr
    if not ok:
        assert "TrustedAppMaxBodySize" in p.stderr and value in p.stderr


def test_default_max_body_size_is_64_mib(srv, shared_app):
    body = b"x"
    headers = sign(srv, shared_app, "/cgi/hash", body)
    head = _head(srv, headers, ["Content-Length: %d" % (64 * MB + 1)])
    assert _raw(srv, head, b"") == (413, "body-too-large")
