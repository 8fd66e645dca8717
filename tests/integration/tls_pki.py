"""The one throw-away PKI builder of the integration tests, made with the
openssl CLI (`openssl req` / `openssl ca`), as an operator would.

For any test (test_tool_*.py among them):
    ca = CA(root, "Test Root CA")               # subject CN=Test Root CA
    cert, key = ca.issue("good", ["DNS:localhost", "IP:127.0.0.1"],
                         start="-20d", end="-2d")  # or YYYYMMDDHHMMSSZ dates
    self_signed(root, "selfsigned", sans), fingerprint_sha256(cert)

For the mod_ssl tests (test_tls.py): a test CA with a CRL, a second unrelated
CA, a server certificate for 127.0.0.1 and client certificates that are good,
expired, revoked or issued by the other CA.
    pki = make_pki(directory, clients=("good", "stranger"))
    pki.path("good.pem"), pki.key("good"), pki.sha256("good"), pki.subject("good")
    pki.context(client="good")  -> ssl.SSLContext trusting the test CA
"""

import datetime
import ssl
import subprocess
from pathlib import Path

OPENSSL = "openssl"
CURVE = "prime256v1"   # EC P-256 keys: fast to make, accepted by every TLS stack here
ORG = "TA Tests"

# Extended key usages of a leaf certificate.
SERVER = "serverAuth"
CLIENT = "clientAuth"
SERVER_AND_CLIENT = "serverAuth,clientAuth"

# `openssl req` needs a config; this one keeps the system's openssl.cnf out.
REQ_CNF = """
[ req ]
distinguished_name = req_dn
prompt = no
[ req_dn ]
CN = unused
[ ca_ext ]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
[ self_signed_ext ]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
basicConstraints = critical, CA:TRUE
"""

CA_CNF = """
[ ca ]
default_ca = test_ca
[ test_ca ]
dir = {dir}
database = {dir}/index.txt
serial = {dir}/serial
crlnumber = {dir}/crlnumber
new_certs_dir = {dir}/issued
certificate = {dir}/ca.pem
private_key = {dir}/ca.key
default_md = sha256
default_crl_days = 2
policy = policy_any
unique_subject = no
email_in_dn = no
copy_extensions = none
[ policy_any ]
organizationName = optional
commonName = supplied
""" + REQ_CNF


def _run(*args):
    cmd = [OPENSSL] + [str(a) for a in args]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("%s failed: %s%s" % (" ".join(cmd), p.stdout, p.stderr))
    return p.stdout


def _new_key(key, out, subject, config, *args):
    """A fresh EC key and, from `openssl req` with args, a CSR or (-x509) a certificate."""
    _run("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:" + CURVE, "-nodes",
         "-keyout", key, "-out", out, "-subj", subject, "-config", config, *args)


def _openssl_date(spec):
    """An offset in days from now ("-1d", "+30d") or an openssl date (YYYYMMDDHHMMSSZ)."""
    if spec.endswith("d"):
        t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=int(spec[:-1]))
        return t.strftime("%Y%m%d%H%M%SZ")
    return spec


class CA:
    """One certificate authority kept in its own directory (openssl ca layout):
    leaf validity dates can be chosen, certificates revoked and a CRL made.
    Its subject is CN=cn (default: name), under O=org when org is given;
    the leaves it issues carry the same O."""

    def __init__(self, root, name, cn=None, org=None, days=30):
        self.dir = Path(root) / name
        self.org = org
        (self.dir / "issued").mkdir(parents=True)
        (self.dir / "index.txt").write_text("")
        (self.dir / "serial").write_text("1000\n")
        (self.dir / "crlnumber").write_text("1000\n")
        self.cnf = self.dir / "ca.cnf"
        self.cnf.write_text(CA_CNF.format(dir=self.dir))
        self.key = self.dir / "ca.key"
        self.cert = self.dir / "ca.pem"
        _new_key(self.key, self.cert, self._subject(cn or name), self.cnf,
                 "-x509", "-days", str(days), "-extensions", "ca_ext")

    def _subject(self, cn):
        return ("/O=%s/CN=%s" % (self.org, cn)) if self.org else "/CN=%s" % cn

    def issue(self, name, sans=(), cn=None, usage=SERVER_AND_CLIENT, start="-1d", end="+30d",
              out_dir=None):
        """Key + CSR + certificate signed by this CA, written as name.key/.csr/.pem
        in out_dir (default: the CA's directory); subject CN=cn (default: name);
        usage is the extendedKeyUsage; start/end as _openssl_date takes them.
        Returns (cert, key) paths."""
        d = Path(out_dir) if out_dir else self.dir
        key, csr, cert, ext = (d / (name + s) for s in (".key", ".csr", ".pem", ".ext"))
        lines = ["basicConstraints = critical, CA:FALSE", "keyUsage = critical, digitalSignature",
                 "extendedKeyUsage = " + usage]
        if sans:
            lines.append("subjectAltName = " + ",".join(sans))
        ext.write_text("\n".join(lines) + "\n")
        _new_key(key, csr, self._subject(cn or name), self.cnf)
        _run("ca", "-batch", "-config", self.cnf, "-extfile", ext, "-notext", "-in", csr,
             "-out", cert, "-startdate", _openssl_date(start), "-enddate", _openssl_date(end))
        return cert, key

    def revoke(self, cert):
        _run("ca", "-config", self.cnf, "-revoke", cert)

    def crl(self, out):
        _run("ca", "-config", self.cnf, "-gencrl", "-out", out)
        return out


def self_signed(root, name, sans, days=2):
    """A self-signed certificate (CA:TRUE, as openssl makes them) for CN=name
    with the given SANs. Returns (cert, key) paths."""
    root = Path(root)
    cnf = root / (name + ".cnf")
    cnf.write_text(REQ_CNF)
    cert, key = root / (name + ".pem"), root / (name + ".key")
    _new_key(key, cert, "/CN=%s" % name, cnf, "-x509", "-days", str(days),
             "-extensions", "self_signed_ext", "-addext", "subjectAltName=%s" % ",".join(sans))
    return cert, key


def fingerprint_sha256(cert_path):
    """Lower-case hex SHA-256 of the (first) certificate's DER, what the registry stores."""
    out = _run("x509", "-in", cert_path, "-noout", "-fingerprint", "-sha256")
    return out.strip().split("=", 1)[1].replace(":", "").lower()


class PKI:
    def __init__(self, directory):
        self.dir = Path(directory)

    def path(self, name):
        return self.dir / name

    def key(self, name):
        return self.dir / (name + ".key")

    def cert(self, name):
        return self.dir / (name + ".pem")

    def sha256(self, name):
        return fingerprint_sha256(self.cert(name))

    def _name(self, name, which):
        out = _run("x509", "-in", self.cert(name), "-noout", "-" + which, "-nameopt", "RFC2253")
        return out.strip().split("=", 1)[1]

    def subject(self, name):
        """RFC 2253 subject, as mod_ssl's SSL_CLIENT_S_DN shows it."""
        return self._name(name, "subject")

    def issuer(self, name):
        return self._name(name, "issuer")

    def context(self, client=None, max_version=None):
        ctx = ssl.create_default_context(cafile=str(self.path("ca.pem")))
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if max_version:
            ctx.maximum_version = max_version
        if client:
            ctx.load_cert_chain(str(self.cert(client)), str(self.key(client)))
        return ctx


def make_pki(directory, clients=("good",)):
    """Test CA + CRL, another CA, server cert, and clients: every name in
    `clients` (good certificates), plus "expired", "revoked" and "other-ca"
    (a client of the other CA)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    ca = CA(d, "ca", cn="TA Test CA", org=ORG)
    other = CA(d, "other", cn="TA Other CA", org=ORG)
    (d / "ca.pem").write_bytes(ca.cert.read_bytes())
    ca.issue("server", ["IP:127.0.0.1"], cn="127.0.0.1", usage=SERVER, out_dir=d)
    for name in clients:
        ca.issue(name, cn="client-" + name, usage=CLIENT, out_dir=d)
    ca.issue("expired", cn="client-expired", usage=CLIENT, start="20200101000000Z",
             end="20200102000000Z", out_dir=d)
    revoked, _ = ca.issue("revoked", cn="client-revoked", usage=CLIENT, out_dir=d)
    ca.revoke(revoked)
    ca.crl(d / "crl.pem")
    other.issue("other-ca", cn="client-other", usage=CLIENT, out_dir=d)
    return PKI(d)
