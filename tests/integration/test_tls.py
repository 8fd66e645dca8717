"""TLS facts from mod_ssl: TrustedAppRequireTLS, client certificates as the
sole credential (mtls) and as a binding required in addition to a signature.
A throw-away CA, server and client certificates are made with `cryptography`."""

import datetime
import hashlib
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import App


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject, issuer, pub, signer, ca=False, san_ip=None, client=False):
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
         .public_key(pub).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=5))
         .not_valid_after(now + datetime.timedelta(days=1))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if san_ip:
        import ipaddress
        b = b.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(san_ip))]),
                            critical=False)
    if client:
        b = b.add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]),
                            critical=False)
    return b.sign(signer, hashes.SHA256())


def _pem_key(k):
    return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                           serialization.NoEncryption())


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("test CA", "test CA", ca_key.public_key(), ca_key, ca=True)
    srv_key = ec.generate_private_key(ec.SECP256R1())
    srv = _cert("127.0.0.1", "test CA", srv_key.public_key(), ca_key, san_ip="127.0.0.1")
    out = {"dir": d, "ca": d / "ca.pem"}
    out["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (d / "server.pem").write_bytes(srv.public_bytes(serialization.Encoding.PEM))
    (d / "server.key").write_bytes(_pem_key(srv_key))
    for name in ("client1", "client2"):
        k = ec.generate_private_key(ec.SECP256R1())
        c = _cert(name, "test CA", k.public_key(), ca_key, client=True)
        (d / (name + ".pem")).write_bytes(c.public_bytes(serialization.Encoding.PEM))
        (d / (name + ".key")).write_bytes(_pem_key(k))
        out[name + "_sha256"] = hashlib.sha256(c.public_bytes(serialization.Encoding.DER)).hexdigest()
    return out


def _context(pki, client=None):
    ctx = ssl.create_default_context(cafile=str(pki["ca"]))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if client:
        ctx.load_cert_chain(str(pki["dir"] / (client + ".pem")), str(pki["dir"] / (client + ".key")))
    return ctx


def _tls_conf(pki, location_extra):
    return """
SSLEngine on
SSLCertificateFile "{d}/server.pem"
SSLCertificateKeyFile "{d}/server.key"
SSLCACertificateFile "{d}/ca.pem"
SSLVerifyClient optional
SSLVerifyDepth 2
TrustedAppRegistry "@REGISTRY@"
<Location "/">
  AuthType TrustedApp
  Require valid-user
{extra}
</Location>
""".format(d=pki["dir"], extra=location_extra)


def _server(httpd, pki, apps, extra):
    # mod_ssl reads the certificates and keys in the parent, before switching user.
    srv = httpd(conf=_tls_conf(pki, extra), apps=apps, modules=["ssl"], start=False)
    p = srv.start()
    assert p.returncode == 0, p.stderr + srv.error_log()
    srv.tls_context = _context(pki)
    return srv


def test_signed_request_over_tls_with_require_tls(httpd, pki, app):
    srv = _server(httpd, pki, [app], "  TrustedAppRequireTLS on")
    r = srv.signed("GET", "/echo/", app)
    assert r.status == 200, (r.error, srv.error_log())
    assert r.echo["user"] == "alice"


def test_client_certificate_identifies_app(httpd, pki):
    a = App("cert-app", protocols="mtls", cert_sha256=pki["client1_sha256"])
    srv = _server(httpd, pki, [a], "  TrustedAppProtocols mtls\n  TrustedAppRequireUser off")
    r = srv.request("GET", "/echo/", context=_context(pki, "client1"))
    assert r.status == 200, (r.error, srv.error_log())
    assert r.echo["app_id"] == "cert-app" and r.echo["protocol"] == "mtls"
    assert r.echo["user"] == "cert-app"


def test_client_certificate_with_user_header(httpd, pki):
    a = App("cert-app", protocols="mtls", cert_sha256=pki["client1_sha256"])
    srv = _server(httpd, pki, [a], "  TrustedAppProtocols mtls")
    r = srv.request("GET", "/echo/", [("TrustedApp-User", "bob")], context=_context(pki, "client1"))
    assert r.status == 200 and r.echo["user"] == "bob"


def test_unregistered_client_certificate(httpd, pki):
    a = App("cert-app", protocols="mtls", cert_sha256=pki["client1_sha256"])
    srv = _server(httpd, pki, [a], "  TrustedAppProtocols mtls\n  TrustedAppRequireUser off")
    r = srv.request("GET", "/echo/", context=_context(pki, "client2"))
    assert r.status == 401 and r.error == "client-cert-unknown"
    r = srv.request("GET", "/echo/")
    assert r.status == 401 and r.error == "no-credentials"


def test_signature_plus_required_client_certificate(httpd, pki):
    a = App("bound", cert_sha256=pki["client1_sha256"])
    srv = _server(httpd, pki, [a], "  TrustedAppRequireClientCert on")
    assert srv.signed("GET", "/rest/", a, context=_context(pki, "client1")).status == 200
    r = srv.signed("GET", "/rest/", a, context=_context(pki, "client2"))
    assert r.status == 403 and r.error == "client-cert-mismatch"
    r = srv.signed("GET", "/rest/", a)
    assert r.status == 401 and r.error == "client-cert-missing"
