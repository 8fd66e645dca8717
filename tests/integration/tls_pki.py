"""A throw-away PKI for the TLS integration tests, made with the openssl CLI
(`openssl req` / `openssl ca`), as an operator would: a test CA with a CRL,
a second unrelated CA, a server certificate for 127.0.0.1 and client
certificates that are good, expired, revoked or issued by the other CA.

    pki = make_pki(directory, clients=("good", "stranger"))
    pki.path("good.pem"), pki.key("good"), pki.sha256("good"), pki.subject("good")
    pki.context(client="good")  -> ssl.SSLContext trusting the test CA
"""

import hashlib
import ssl
import subprocess
from pathlib import Path

OPENSSL = "openssl"
CURVE = "prime256v1"   # EC keys: fast to make, accepted by every TLS stack here
ORG = "TA Tests"

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
default_days = 2
default_crl_days = 2
policy = policy_any
unique_subject = no
copy_extensions = none
[ policy_any ]
organizationName = optional
commonName = supplied
[ client_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
[ server_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1
[ req ]
distinguished_name = req_dn
prompt = no
[ req_dn ]
CN = unused
"""


def _run(*args, cwd=None):
    p = subprocess.run([OPENSSL] + list(args), capture_output=True, text=True, cwd=cwd)
    if p.returncode != 0:
        raise RuntimeError("openssl %s failed: %s%s" % (" ".join(args), p.stdout, p.stderr))
    return p.stdout


class CA:
    """One certificate authority kept in its own directory (openssl ca layout)."""

    def __init__(self, root, name, cn):
        self.dir = Path(root) / name
        (self.dir / "issued").mkdir(parents=True)
        (self.dir / "index.txt").write_text("")
        (self.dir / "serial").write_text("1000\n")
        (self.dir / "crlnumber").write_text("1000\n")
        self.cnf = self.dir / "ca.cnf"
        self.cnf.write_text(CA_CNF.format(dir=self.dir))
        self.cert = self.dir / "ca.pem"
        _run("req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:" + CURVE,
             "-nodes", "-keyout", str(self.dir / "ca.key"), "-out", str(self.cert), "-days", "2",
             "-subj", "/O=%s/CN=%s" % (ORG, cn), "-config", str(self.cnf),
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")

    def issue(self, out_dir, name, cn, ext, start=None, end=None):
        """Key + CSR + certificate signed by this CA; start/end as YYYYMMDDHHMMSSZ."""
        key, csr, pem = (Path(out_dir) / (name + s) for s in (".key", ".csr", ".pem"))
        _run("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:" + CURVE, "-nodes",
             "-keyout", str(key), "-out", str(csr), "-subj", "/O=%s/CN=%s" % (ORG, cn),
             "-config", str(self.cnf))
        args = ["ca", "-batch", "-config", str(self.cnf), "-extensions", ext, "-notext",
                "-in", str(csr), "-out", str(pem)]
        if start:
            args += ["-startdate", start]
        if end:
            args += ["-enddate", end]
        _run(*args)
        return pem

    def revoke(self, pem):
        _run("ca", "-config", str(self.cnf), "-revoke", str(pem))

    def crl(self, out):
        _run("ca", "-config", str(self.cnf), "-gencrl", "-out", str(out))
        return out


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
        """Lower-case hex SHA-256 of the certificate's DER (what the registry stores)."""
        der = ssl.PEM_cert_to_DER_cert(self.cert(name).read_text())
        return hashlib.sha256(der).hexdigest()

    def _name(self, name, which):
        out = _run("x509", "-in", str(self.cert(name)), "-noout", "-" + which, "-nameopt", "RFC2253")
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
    `clients` (good certificates), plus "expired", "revoked" and "other-ca"."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    ca = CA(d, "ca", "TA Test CA")
    other = CA(d, "other", "TA Other CA")
    (d / "ca.pem").write_bytes(ca.cert.read_bytes())
    (d / "other-ca.pem").write_bytes(other.cert.read_bytes())
    ca.issue(d, "server", "127.0.0.1", "server_ext")
    for name in clients:
        ca.issue(d, name, "client-" + name, "client_ext")
    ca.issue(d, "expired", "client-expired", "client_ext", start="20200101000000Z",
             end="20200102000000Z")
    ca.revoke(ca.issue(d, "revoked", "client-revoked", "client_ext"))
    ca.crl(d / "crl.pem")
    other.issue(d, "other-ca", "client-other", "client_ext")
    return PKI(d)
