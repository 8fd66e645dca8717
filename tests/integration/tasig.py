"""An independent, pure-Python RFC 9421 signer for this project's native profile.

Written from the RFC, not from the C library, so the integration tests check
two implementations against each other. Profile (docs/PROTOCOL.md):

  Signature-Input: ta=("@method" "@target-uri" "trustedapp-user" "content-digest");
                   created=...;expires=...;nonce="...";keyid="<application id>"
  Signature:       ta=:<base64>:

content-digest (RFC 9530) is covered when the request has a body.

Usable as a library (sign_request) and as a command line tool for scripts/demo.sh:

  python3 tasig.py --key app.pem --keyid app1 --user alice [--method GET]
                   [--body-file F] [--created N] [--expires N] URL
prints the header lines to add, one "Name: value" per line.
"""

import argparse
import base64
import hashlib
import os
import sys
import time
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

DEFAULT_LABEL = "ta"
DEFAULT_USER_HEADER = "TrustedApp-User"
ALGORITHMS = ("ed25519", "ecdsa-p256-sha256", "ecdsa-p384-sha384",
              "rsa-pss-sha512", "rsa-v1_5-sha256")


# ---------------------------------------------------------------- keys
def generate_key(alg="ed25519"):
    """A fresh private key object for one of ALGORITHMS."""
    if alg == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if alg == "ecdsa-p256-sha256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "ecdsa-p384-sha384":
        return ec.generate_private_key(ec.SECP384R1())
    if alg in ("rsa-pss-sha512", "rsa-v1_5-sha256"):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError("unsupported algorithm %r" % alg)


def private_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def public_pem(key):
    """SubjectPublicKeyInfo PEM of a private (or public) key."""
    pub = key.public_key() if hasattr(key, "public_key") else key
    return pub.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_private_key(pem):
    if isinstance(pem, str):
        pem = pem.encode()
    return serialization.load_pem_private_key(pem, password=None)


def default_alg(key):
    """The algorithm a key implies (RSA: rsa-pss-sha512 unless told otherwise)."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {"secp256r1": "ecdsa-p256-sha256", "secp384r1": "ecdsa-p384-sha384"}[key.curve.name]
    if isinstance(key, rsa.RSAPrivateKey):
        return "rsa-pss-sha512"
    raise ValueError("unsupported key type")


def raw_sign(key, alg, data):
    """RFC 9421 section 3.3 signature bytes over data."""
    if alg == "ed25519":
        return key.sign(data)
    if alg in ("ecdsa-p256-sha256", "ecdsa-p384-sha384"):
        h, size = (hashes.SHA256(), 32) if alg == "ecdsa-p256-sha256" else (hashes.SHA384(), 48)
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(h)))
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")   # raw r||s, not DER
    if alg == "rsa-pss-sha512":
        return key.sign(data, padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64),
                        hashes.SHA512())
    if alg == "rsa-v1_5-sha256":
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    raise ValueError("unsupported algorithm %r" % alg)


# ---------------------------------------------------------------- RFC 9530
def content_digest(body, alg="sha-256"):
    h = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}[alg](body).digest()
    return "%s=:%s:" % (alg, base64.b64encode(h).decode())


# ---------------------------------------------------------------- RFC 8941 bits
def sf_string(s):
    if any(ord(c) < 0x20 or ord(c) > 0x7e for c in s):
        raise ValueError("not representable as an sf-string: %r" % s)
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def signature_params(covered, params):
    """The @signature-params value: inner list + parameters in the given order."""
    inner = "(" + " ".join(sf_string(c) for c in covered) + ")"
    out = []
    for name, value in params:
        if isinstance(value, bool):
            out.append(";" + name if value else ";%s=?0" % name)
        elif isinstance(value, int):
            out.append(";%s=%d" % (name, value))
        else:
            out.append(";%s=%s" % (name, sf_string(value)))
    return inner + "".join(out)


# ---------------------------------------------------------------- message view
def normalize_authority(scheme, netloc):
    """host[:port] lower case with the scheme's default port dropped."""
    host = netloc.lower()
    default = {"http": "80", "https": "443"}.get(scheme)
    if host.endswith("]"):
        return host
    if ":" in host:
        h, port = host.rsplit(":", 1)
        if port == default:
            return h
    return host


class Message:
    """What the signer needs to know of a request."""

    def __init__(self, method, url, headers=()):
        parts = urlsplit(url)
        self.method = method
        self.scheme = parts.scheme.lower()
        self.authority = normalize_authority(self.scheme, parts.netloc)
        # Keep the raw target exactly as it will be sent (no re-encoding).
        rest = url.split("://", 1)[1]
        slash = rest.find("/")
        qmark = rest.find("?")
        if slash < 0 or (0 <= qmark < slash):
            target = "/" + (rest[qmark:] if qmark >= 0 else "")
        else:
            target = rest[slash:]
        target = target.split("#", 1)[0]
        self.path, sep, query = target.partition("?")
        self.path = self.path or "/"
        self.query = query if sep else None
        self.headers = list(headers)

    def field(self, name):
        values = [v.strip() for n, v in self.headers if n.lower() == name.lower()]
        if not values:
            return None
        return ", ".join(values)

    def component(self, name):
        if name == "@method":
            return self.method
        if name == "@target-uri":
            return "%s://%s%s" % (self.scheme, self.authority,
                                  self.path + ("?" + self.query if self.query is not None else ""))
        if name == "@authority":
            return self.authority
        if name == "@scheme":
            return self.scheme
        if name == "@path":
            return self.path
        if name == "@query":
            return "?" + (self.query or "")
        if name == "@request-target":
            return self.path + ("?" + self.query if self.query is not None else "")
        if name.startswith("@"):
            raise ValueError("component %s is not supported by this signer" % name)
        return self.field(name)


def signature_base(msg, covered, params):
    lines = []
    for c in covered:
        value = msg.component(c)
        if value is None:
            raise ValueError("covered component %s is absent" % c)
        lines.append('"%s": %s' % (c, value))
    sp = signature_params(covered, params)
    lines.append('"@signature-params": ' + sp)
    return "\n".join(lines), sp


def wire_bytes(text):
    """The bytes a str header value becomes on the wire (http.client: latin-1)."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


# ---------------------------------------------------------------- the profile
class Signed:
    """Result of sign_request: the headers to send and the base, for debugging."""

    def __init__(self, headers, base, signature):
        self.headers = headers       # list of (name, value), in send order
        self.base = base
        self.signature = signature   # raw bytes

    def as_dict(self):
        return dict(self.headers)


def sign_request(method, url, key, keyid, user=None, body=None, headers=(),
                 created=None, expires=None, ttl=60, nonce=None, label=DEFAULT_LABEL,
                 covered=None, alg=None, include_alg=False, user_header=DEFAULT_USER_HEADER,
                 digest_alg="sha-256", tag=None, params_order=None):
    """Sign a request per the native profile.

    headers: extra request headers (name, value) that are sent; the user
    header and Content-Digest are added here. Returns Signed; send
    headers + signed.headers. created/expires are seconds since the epoch,
    expires=False leaves it out, nonce=False leaves it out.
    """
    if isinstance(key, (str, bytes)):
        key = load_private_key(key)
    alg = alg or default_alg(key)
    out = []
    if user is not None:
        out.append((user_header, user))
    if body:
        out.append(("Content-Digest", content_digest(body, digest_alg)))
    msg = Message(method, url, list(headers) + out)
    if covered is None:
        covered = ["@method", "@target-uri"]
        if user is not None:
            covered.append(user_header.lower())
        if body:
            covered.append("content-digest")
    now = int(time.time())
    created = now if created is None else created
    params = [("created", created)]
    if expires is not False:
        params.append(("expires", created + ttl if expires is None else expires))
    if nonce is not False:
        params.append(("nonce", nonce or base64.urlsafe_b64encode(os.urandom(18)).decode()))
    params.append(("keyid", keyid))
    if include_alg:
        params.append(("alg", alg))
    if tag is not None:
        params.append(("tag", tag))
    if params_order:
        params = sorted(params, key=lambda kv: params_order.index(kv[0]))
    base, sp = signature_base(msg, covered, params)
    sig = raw_sign(key, alg, wire_bytes(base))
    out.append(("Signature-Input", "%s=%s" % (label, sp)))
    out.append(("Signature", "%s=:%s:" % (label, base64.b64encode(sig).decode())))
    return Signed(out, base, sig)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Sign an HTTP request (RFC 9421, mod_trustedapp profile)")
    ap.add_argument("--key", required=True, help="private key PEM file")
    ap.add_argument("--keyid", required=True, help="application id")
    ap.add_argument("--user", help="acting user")
    ap.add_argument("--method", default="GET")
    ap.add_argument("--body-file")
    ap.add_argument("--created", type=int)
    ap.add_argument("--expires", type=int)
    ap.add_argument("--ttl", type=int, default=60)
    ap.add_argument("url")
    a = ap.parse_args(argv)
    with open(a.key, "rb") as f:
        key = load_private_key(f.read())
    body = None
    if a.body_file:
        with open(a.body_file, "rb") as f:
            body = f.read()
    signed = sign_request(a.method, a.url, key, a.keyid, user=a.user, body=body,
                          created=a.created, expires=a.expires, ttl=a.ttl)
    for name, value in signed.headers:
        print("%s: %s" % (name, value))
    return 0


if __name__ == "__main__":
    sys.exit(main())
