"""Helpers for the hardening tests (test_hostile_inputs.py, test_load_fault.py):
byte-exact requests over raw sockets, signed with tasig, and the checks that
the error log leaks neither signatures nor key material."""

import base64
import re
import socket

import tasig


class RawResponse:
    """Status, lower-cased headers and body of one raw exchange."""

    def __init__(self, data):
        self.data = data
        head, _, self.body = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        m = re.match(rb"HTTP/1\.[01] (\d{3})", lines[0]) if lines and lines[0] else None
        self.status = int(m.group(1)) if m else None
        self.headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if sep:
                self.headers.setdefault(name.decode("latin-1").strip().lower(),
                                        value.decode("latin-1").strip())

    @property
    def error(self):
        return self.headers.get("trustedapp-error")

    def __repr__(self):
        return "<RawResponse %s error=%s>" % (self.status, self.error)


def exchange(srv, data, timeout=10):
    """Sends bytes, reads until the server closes (KeepAlive is off in the harness)."""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=timeout) as s:
        s.sendall(data)
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        chunks = []
        while True:
            try:
                b = s.recv(65536)
            except ConnectionResetError:
                break
            if not b:
                break
            chunks.append(b)
    return RawResponse(b"".join(chunks))


def to_bytes(v):
    if isinstance(v, bytes):
        return v
    return tasig.wire_bytes(v)


def build(srv, method, target, headers, body=None, host=True, content_length=True):
    """Request bytes; header names/values may be str or bytes, sent unchanged."""
    out = [to_bytes("%s %s HTTP/1.1" % (method, target) if isinstance(target, str) else
                    method.encode() + b" " + target + b" HTTP/1.1")]
    names = {to_bytes(n).lower() for n, _ in headers}
    if host and b"host" not in names:
        out.append(b"Host: 127.0.0.1:%d" % srv.port)
    for n, v in headers:
        out.append(to_bytes(n) + b": " + to_bytes(v))
    if body is not None and content_length and b"content-length" not in names \
            and b"transfer-encoding" not in names:
        out.append(b"Content-Length: %d" % len(body))
    out.append(b"Connection: close")
    return b"\r\n".join(out) + b"\r\n\r\n" + (body or b"")


def sign(srv, method, target, app, user="alice", body=None, headers=(), **kw):
    """tasig signature for this server's URL; returns the Signed object."""
    if isinstance(target, bytes):
        target = target.decode("latin-1")
    return tasig.sign_request(method, srv.url(target), app.key, app.id, user=user, body=body,
                              headers=headers, **kw)


def signed_bytes(srv, method, target, app, user="alice", body=None, headers=(), mutate=None,
                 **kw):
    """A correctly signed request, optionally mutated: mutate(list of (name, value)) ->
    list. Returns (bytes, Signed)."""
    s = sign(srv, method, target, app, user=user, body=body, headers=headers, **kw)
    hdrs = list(headers) + list(s.headers)
    if mutate:
        hdrs = mutate(hdrs)
    return build(srv, method, target, hdrs, body), s


def replace_header(name, value):
    """mutate= helper: replace every field of this name with one value."""
    def m(hdrs):
        out = [(n, v) for n, v in hdrs if to_bytes(n).lower() != to_bytes(name).lower()]
        return out + [(name, value)]
    return m


def drop_header(name):
    def m(hdrs):
        return [(n, v) for n, v in hdrs if to_bytes(n).lower() != to_bytes(name).lower()]
    return m


def add_header(name, value):
    def m(hdrs):
        return list(hdrs) + [(name, value)]
    return m


def windows(text, width=16):
    """Every substring of this width: a leak of any part of a secret is found."""
    return {text[i:i + width] for i in range(0, max(1, len(text) - width + 1))}


def key_material(app):
    """Base64 lines of the application's public and private key PEMs."""
    lines = []
    for pem in (tasig.public_pem(app.key), tasig.private_pem(app.key)):
        if isinstance(pem, bytes):
            pem = pem.decode()
        lines += [l for l in pem.splitlines() if l and not l.startswith("-----")]
    return lines


def leaks(log, signatures=(), apps=(), width=16):
    """Secrets (base64 of signature bytes, PEM lines) found in the log text."""
    found = []
    for sig in signatures:
        if isinstance(sig, bytes):
            sig = base64.b64encode(sig).decode()
        for w in windows(sig, width):
            if w in log:
                found.append(("signature", w))
                break
    for app in apps:
        for line in key_material(app):
            for w in windows(line, width):
                if w in log:
                    found.append(("key of %s" % app.id, w))
                    break
    return found
