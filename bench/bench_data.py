#!/usr/bin/env python3
"""Test data for bench/run.sh: keys, pre-signed requests and registries.

  bench_data.py keygen ALG OUT_PREFIX
      writes OUT_PREFIX.key (PKCS#8) and OUT_PREFIX.pub (SPKI PEM)
  bench_data.py sign --key K --keyid ID --url URL --count N --threads T OUT_PREFIX
      N requests signed with unique nonces (tests/integration/tasig.py, the
      project's independent RFC 9421 signer), split into T files
      OUT_PREFIX.0 .. OUT_PREFIX.(T-1), one request per line:
      Signature-Input<TAB>Signature   (the user header is constant: BENCH_USER)
  bench_data.py registry --fillers N --app ID:ALG:PUBFILE [--app ...]
                         [--many-patterns COUNT] OUT
      a registry with N filler applications (distinct ed25519 keys, their own
      IPs and paths) plus the benchmark applications, which may reach every
      path from loopback; with --many-patterns the benchmark applications get
      COUNT IP patterns and COUNT path prefixes, the matching ones last.
  bench_data.py smoke --port P --key K --keyid ID
      checks that the server works before anything is measured: /open 200,
      /protected unsigned 401, /protected signed 200. Exit 1 with the reason.
"""

import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))
import tasig  # noqa: E402

BENCH_USER = "bench-user"
# Signatures stay valid for the whole run (the app timeout below is 1 hour).
TTL = 3600


def cmd_keygen(a):
    key = tasig.generate_key(a.alg)
    Path(a.out + ".key").write_text(tasig.private_pem(key))
    Path(a.out + ".pub").write_text(tasig.public_pem(key))
    return 0


_worker_key = None


def _init_worker(pem):
    global _worker_key
    _worker_key = tasig.load_private_key(pem)


def _sign_chunk(job):
    url, keyid, alg, count, created = job
    lines = []
    for _ in range(count):
        s = tasig.sign_request("GET", url, _worker_key, keyid, user=BENCH_USER,
                               created=created, ttl=TTL, alg=alg).as_dict()
        lines.append("%s\t%s\n" % (s["Signature-Input"], s["Signature"]))
    return lines


def cmd_sign(a):
    pem = Path(a.key).read_text()
    alg = a.alg or tasig.default_alg(tasig.load_private_key(pem))
    created = int(time.time())
    per_thread = -(-a.count // a.threads)
    procs = max(1, min(a.procs, os.cpu_count() or 1))
    chunk = 2000
    with multiprocessing.Pool(procs, initializer=_init_worker, initargs=(pem,)) as pool:
        for t in range(a.threads):
            jobs = []
            left = per_thread
            while left > 0:
                n = min(chunk, left)
                jobs.append((a.url, a.keyid, alg, n, created))
                left -= n
            with open("%s.%d" % (a.out, t), "w") as f:
                for lines in pool.imap(_sign_chunk, jobs):
                    f.writelines(lines)
    return 0


def _filler_pems(n):
    from cryptography.hazmat.primitives.asymmetric import ed25519
    for _ in range(n):
        yield tasig.public_pem(ed25519.Ed25519PrivateKey.generate())


def _app_xml(app_id, alg, pem, ips, paths, timeout_ms):
    parts = ["  <application id=%s name=%s enabled=\"true\">" % (quoteattr(app_id), quoteattr(app_id)),
             '    <key alg="%s">\n%s    </key>' % (alg, escape(pem)),
             "    <timeout>%d</timeout>" % timeout_ms]
    parts += ["    <ip>%s</ip>" % escape(ip) for ip in ips]
    parts += ["    <path>%s</path>" % escape(p) for p in paths]
    parts.append("  </application>\n")
    return "\n".join(parts)


def cmd_registry(a):
    with open(a.out, "w") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n'
                '<registry xmlns="urn:mod-trustedapp:registry:1" version="1">\n')
        for i, pem in enumerate(_filler_pems(a.fillers)):
            f.write(_app_xml("filler-%06d" % i, "ed25519", pem,
                             ["10.%d.%d.0/24" % ((i >> 8) & 255, i & 255)],
                             ["/filler/%d" % i], 300000))
        for spec in a.app:
            app_id, alg, pub = spec.split(":", 2)
            ips, paths = ["127.0.0.1", "::1"], ["/"]
            if a.many_patterns:
                n = a.many_patterns
                # non-matching entries first, so a linear matcher would pay for all of them
                ips = ["10.%d.%d.%d" % ((i >> 16) & 255, (i >> 8) & 255, i & 255)
                       for i in range(1, n - 1)] + ["192.0.2.0/24", "127.0.0.1"]
                paths = ["/p%05d" % i for i in range(n - 1)] + ["/protected"]
            f.write(_app_xml(app_id, alg, Path(pub).read_text(), ips, paths, TTL * 1000))
        f.write("</registry>\n")
    return 0


def _get(port, path, headers=()):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=dict(headers))
        r = conn.getresponse()
        r.read()
        return r.status, r.getheader("TrustedApp-Error")
    finally:
        conn.close()


def cmd_smoke(a):
    url = "http://127.0.0.1:%d/protected" % a.port
    key = tasig.load_private_key(Path(a.key).read_text())
    signed = tasig.sign_request("GET", url, key, a.keyid, user=BENCH_USER, ttl=TTL)
    checks = [("/open without credentials", "/open", (), 200),
              ("/protected without credentials", "/protected", (), 401),
              ("/protected signed by %s" % a.keyid, "/protected", signed.headers, 200)]
    for what, path, headers, want in checks:
        try:
            status, error = _get(a.port, path, headers)
        except OSError as e:
            print("smoke: %s: %s" % (what, e), file=sys.stderr)
            return 1
        if status != want:
            print("smoke: %s answered %d (TrustedApp-Error: %s), expected %d"
                  % (what, status, error, want), file=sys.stderr)
            return 1
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    k = sub.add_parser("keygen")
    k.add_argument("alg", choices=tasig.ALGORITHMS)
    k.add_argument("out")
    s = sub.add_parser("sign")
    s.add_argument("--key", required=True)
    s.add_argument("--keyid", required=True)
    s.add_argument("--alg")
    s.add_argument("--url", required=True)
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--procs", type=int, default=os.cpu_count() or 1)
    s.add_argument("out")
    r = sub.add_parser("registry")
    r.add_argument("--fillers", type=int, default=0)
    r.add_argument("--app", action="append", default=[], help="ID:ALG:PUBLIC_PEM_FILE")
    r.add_argument("--many-patterns", type=int, default=0)
    r.add_argument("out")
    m = sub.add_parser("smoke")
    m.add_argument("--port", type=int, required=True)
    m.add_argument("--key", required=True)
    m.add_argument("--keyid", required=True)
    a = ap.parse_args(argv)
    return {"keygen": cmd_keygen, "sign": cmd_sign, "registry": cmd_registry,
            "smoke": cmd_smoke}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
