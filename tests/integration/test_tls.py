"""Mutual TLS with a real mod_ssl on loopback, the PKI made by the tests with
the openssl CLI (tls_pki.py): client certificates good, expired, revoked (CRL,
SSLCARevocationCheck chain) and from another CA; the certificate alone as the
application's identity (the acting user from the user header, believed only
because the channel is authenticated), certificate + signature together,
subject + issuer binding; TrustedAppRequireTLS directly and behind a
TLS-terminating proxy (TrustedAppForwardedProto)."""

import http.client
import ssl

import pytest
from xml.sax.saxutils import quoteattr

from conftest import App, registry_xml
import tasig
import tls_pki

# Good client certificates; make_pki adds "expired", "revoked" and "other-ca".
CLIENTS = ("good", "stranger", "bound", "subj", "wrongiss")


class CertApp(App):
    """An App whose <client-cert> may bind a subject (+ issuer) instead of a fingerprint."""

    def __init__(self, app_id, subject=None, issuer=None, **kw):
        super().__init__(app_id, **kw)
        self.subject, self.issuer = subject, issuer

    def xml(self):
        x = super().xml()
        if self.subject:
            attrs = " subject=%s" % quoteattr(self.subject)
            if self.issuer:
                attrs += " issuer=%s" % quoteattr(self.issuer)
            x = x.replace("  </application>", "    <client-cert%s/>\n  </application>" % attrs)
        return x


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return tls_pki.make_pki(tmp_path_factory.mktemp("pki"), clients=CLIENTS)


@pytest.fixture(scope="module")
def apps(pki):
    return {
        "cert": App("cert-app", protocols="mtls", cert_sha256=pki.sha256("good")),
        "subj": CertApp("subj-app", protocols="mtls", subject=pki.subject("subj"),
                        issuer=pki.issuer("subj")),
        # Right subject, wrong issuer: must not match.
        "wrongiss": CertApp("wrongiss-app", protocols="mtls", subject=pki.subject("wrongiss"),
                            issuer="CN=TA Other CA,O=TA Tests"),
        # Registered, but its certificate comes from a CA mod_ssl does not trust.
        "other": App("other-app", protocols="mtls", cert_sha256=pki.sha256("other-ca")),
        "bound": App("bound-app", protocols="rfc9421", cert_sha256=pki.sha256("bound")),
        "signer": App("signer-app"),
    }


def _conf(pki, verify="optional"):
    # The CRL applies to the test CA only: with optional_no_ca, a certificate
    # from another CA would fail "no CRL" instead of reaching the module.
    crl = ('SSLCARevocationFile "%s/crl.pem"\nSSLCARevocationCheck chain' % pki.dir
           if verify == "optional" else "")
    return """
SSLEngine on
SSLProtocol -all +TLSv1.2 +TLSv1.3
SSLCertificateFile "{d}/server.pem"
SSLCertificateKeyFile "{d}/server.key"
SSLCACertificateFile "{d}/ca.pem"
{crl}
SSLVerifyClient {verify}
SSLVerifyDepth 2
LogLevel ssl:info
TrustedAppRegistry "@REGISTRY@"
<Location "/">
  AuthType TrustedApp
  Require valid-user
</Location>
<Location "/echo/mtls/">
  TrustedAppProtocols mtls
</Location>
<Location "/echo/anon/">
  TrustedAppProtocols mtls
  TrustedAppRequireUser off
</Location>
<Location "/echo/bound/">
  TrustedAppRequireClientCert on
</Location>
<Location "/echo/tls/">
  TrustedAppRequireTLS on
</Location>
""".format(d=pki.dir, verify=verify, crl=crl)


def _server(shared_httpd, pki, apps, verify="optional"):
    # mod_ssl reads certificates, keys and the CRL in the parent (root).
    srv = shared_httpd(conf=_conf(pki, verify), registry=registry_xml(*apps.values()),
                       modules=["ssl"])
    srv.tls_context = pki.context()
    return srv


@pytest.fixture(scope="module")
def strict(shared_httpd, pki, apps):
    return _server(shared_httpd, pki, apps)


def _handshake_refused(srv, pki, client):
    """The request with this client certificate never gets an HTTP answer."""
    with pytest.raises((ssl.SSLError, ConnectionError, http.client.RemoteDisconnected)) as e:
        srv.request("GET", "/echo/mtls/", [("TrustedApp-User", "bob")],
                    context=pki.context(client))
    return e.value


# ------------------------------------------------------------ certificate alone (mtls)
def test_certificate_alone_identifies_app_user_from_header(strict, pki):
    r = strict.request("GET", "/echo/mtls/", [("TrustedApp-User", "bob")], context=pki.context("good"))
    assert r.status == 200, (r.error, strict.error_log())
    assert (r.echo["app_id"], r.echo["protocol"], r.echo["user"]) == ("cert-app", "mtls", "bob")


def test_certificate_alone_without_user_header(strict, pki):
    r = strict.request("GET", "/echo/mtls/", context=pki.context("good"))
    assert r.status == 401 and r.error == "user-missing"
    r = strict.request("GET", "/echo/anon/", context=pki.context("good"))
    assert r.status == 200 and r.echo["user"] == "cert-app"


def test_certificate_alone_user_rules_still_apply(strict, pki):
    r = strict.request("GET", "/echo/mtls/", [("TrustedApp-User", "root")], context=pki.context("good"))
    assert r.status == 403 and r.error == "user-denied"


def test_unregistered_and_missing_certificate(strict, pki):
    r = strict.request("GET", "/echo/mtls/", [("TrustedApp-User", "bob")], context=pki.context("stranger"))
    assert r.status == 401 and r.error == "client-cert-unknown"
    r = strict.request("GET", "/echo/mtls/", [("TrustedApp-User", "bob")])
    assert r.status == 401 and r.error == "no-credentials"


def test_signed_app_not_identified_by_certificate_alone(strict, pki):
    # bound-app is registered for signatures only (protocols="rfc9421").
    r = strict.request("GET", "/echo/mtls/", [("TrustedApp-User", "bob")], context=pki.context("bound"))
    assert r.status == 403 and r.error == "app-not-authorized"


# ------------------------------------------------------------ subject + issuer binding
def test_subject_and_issuer_binding(strict, pki):
    r = strict.request("GET", "/echo/mtls/", [("TrustedApp-User", "bob")], context=pki.context("subj"))
    assert r.status == 200, (r.error, strict.error_log())
    assert r.echo["app_id"] == "subj-app"


def test_subject_with_wrong_issuer_is_unknown(strict, pki):
    r = strict.request("GET", "/echo/mtls/", [("TrustedApp-User", "bob")], context=pki.context("wrongiss"))
    assert r.status == 401 and r.error == "client-cert-unknown"


# ------------------------------------------------------------ certificates mod_ssl refuses
def test_expired_certificate_refused_in_handshake(strict, pki):
    _handshake_refused(strict, pki, "expired")
    assert strict.wait_log(r"Certificate Verification: Error \(10\): certificate has expired")


def test_revoked_certificate_refused_by_crl(strict, pki):
    _handshake_refused(strict, pki, "revoked")
    assert strict.wait_log(r"Certificate Verification: Error \(23\): certificate revoked")


def test_other_ca_certificate_refused_in_handshake(strict, pki):
    _handshake_refused(strict, pki, "other-ca")
    assert strict.wait_log(r"Certificate Verification: Error \(2[01]\)")


def test_unverified_certificate_is_never_an_identity(shared_httpd, pki, apps):
    # optional_no_ca lets the handshake finish with SSL_CLIENT_VERIFY=FAILED:
    # the module must ignore that certificate even though its fingerprint is registered.
    srv = _server(shared_httpd, pki, apps, verify="optional_no_ca")
    r = srv.request("GET", "/echo/mtls/", [("TrustedApp-User", "bob")], context=pki.context("other-ca"))
    assert r.status == 401 and r.error == "no-credentials", (r.error, srv.error_log())
    r = srv.signed("GET", "/echo/bound/", apps["bound"], context=pki.context("other-ca"))
    assert r.status == 401 and r.error == "client-cert-missing"
    r = srv.request("GET", "/echo/mtls/", [("TrustedApp-User", "bob")], context=pki.context("good"))
    assert r.status == 200 and r.echo["app_id"] == "cert-app"


def test_tls_1_2_is_accepted(strict, pki):
    ctx = pki.context("good", max_version=ssl.TLSVersion.TLSv1_2)
    r = strict.request("GET", "/echo/mtls/", [("TrustedApp-User", "bob")], context=ctx)
    assert r.status == 200 and r.echo["app_id"] == "cert-app"


# ------------------------------------------------------------ signature + required certificate
def test_signature_plus_required_certificate(strict, pki, apps):
    a = apps["bound"]
    r = strict.signed("GET", "/echo/bound/", a, context=pki.context("bound"))
    assert r.status == 200, (r.error, strict.error_log())
    assert r.echo["app_id"] == "bound-app" and r.echo["protocol"] == "native"


def test_signature_with_another_apps_certificate(strict, pki, apps):
    for client in ("good", "stranger"):
        r = strict.signed("GET", "/echo/bound/", apps["bound"], context=pki.context(client))
        assert r.status == 403 and r.error == "client-cert-mismatch", client


def test_signature_without_certificate(strict, pki, apps):
    r = strict.signed("GET", "/echo/bound/", apps["bound"])
    assert r.status == 401 and r.error == "client-cert-missing"
    # An application with no registered certificate cannot meet the requirement.
    r = strict.signed("GET", "/echo/bound/", apps["signer"], context=pki.context("good"))
    assert r.status == 403 and r.error == "client-cert-mismatch"


def test_certificate_without_signature_where_signature_is_required(strict, pki):
    r = strict.request("GET", "/echo/bound/", [("TrustedApp-User", "bob")], context=pki.context("bound"))
    assert r.status == 401 and r.error == "no-credentials"


# ------------------------------------------------------------ TrustedAppRequireTLS
def test_require_tls_over_tls(strict, apps):
    r = strict.signed("GET", "/echo/tls/", apps["signer"])
    assert r.status == 200 and r.echo["user"] == "alice"


PROXY = "127.0.0.2"   # the TLS-terminating proxy's address (loopback alias)

PLAIN_CONF = """
TrustedAppRegistry "@REGISTRY@"
<Location "/">
  AuthType TrustedApp
  Require valid-user
  TrustedAppRequireTLS on
  TrustedAppTrustedProxy {proxy}
</Location>
<Location "/echo/fp/">
  TrustedAppForwardedProto on
</Location>
<Location "/echo/fwd/">
  TrustedAppForwardedProto on
  TrustedAppProxyHeader Forwarded
</Location>
<Location "/echo/untrusted/">
  TrustedAppForwardedProto on
  TrustedAppTrustedProxy 127.0.0.3
</Location>
""".format(proxy=PROXY)


@pytest.fixture(scope="module")
def plain(shared_httpd):
    app = App("proxied", ips=("127.0.0.0/8", "192.0.2.0/24"))
    return shared_httpd(conf=PLAIN_CONF, apps=[app]), app


@pytest.mark.parametrize("path,source,headers,status,error", [
    # TrustedAppForwardedProto off (default): only the connection counts.
    ("/echo/", PROXY, [("X-Forwarded-Proto", "https")], 403, "tls-required"),
    ("/echo/", None, [], 403, "tls-required"),
    # On, from the trusted proxy.
    ("/echo/fp/", PROXY, [("X-Forwarded-Proto", "https")], 200, None),
    ("/echo/fp/", PROXY, [("X-Forwarded-Proto", "HTTPS")], 200, None),
    ("/echo/fp/", PROXY, [("X-Forwarded-Proto", "http")], 403, "tls-required"),
    ("/echo/fp/", PROXY, [], 403, "tls-required"),
    ("/echo/fp/", PROXY, [("X-Forwarded-Proto", "https, http")], 403, "tls-required"),
    ("/echo/fp/", PROXY, [("X-Forwarded-Proto", "https;x")], 403, "tls-required"),
    ("/echo/fp/", PROXY, [("X-Forwarded-Proto", "https"), ("X-Forwarded-Proto", "http")],
     403, "tls-required"),
    # On, but the peer is not a trusted proxy: its claim is ignored.
    ("/echo/fp/", None, [("X-Forwarded-Proto", "https")], 403, "tls-required"),
    ("/echo/untrusted/", PROXY, [("X-Forwarded-Proto", "https")], 403, "tls-required"),
    # RFC 7239 Forwarded proto=.
    ("/echo/fwd/", PROXY, [("Forwarded", "for=192.0.2.7;proto=https")], 200, None),
    ("/echo/fwd/", PROXY, [("Forwarded", 'for="192.0.2.7";proto="https";by=x')], 200, None),
    ("/echo/fwd/", PROXY, [("Forwarded", "for=192.0.2.7;proto=http")], 403, "tls-required"),
    ("/echo/fwd/", PROXY, [("Forwarded", "for=192.0.2.7")], 403, "tls-required"),
    ("/echo/fwd/", PROXY, [("Forwarded", "for=192.0.2.7;proto=https, for=192.0.2.8;proto=http")],
     403, "tls-required"),
    ("/echo/fwd/", PROXY, [("X-Forwarded-Proto", "https")], 403, "tls-required"),
    ("/echo/fwd/", None, [("Forwarded", "for=192.0.2.7;proto=https")], 403, "tls-required"),
])
def test_require_tls_behind_proxy(plain, path, source, headers, status, error):
    srv, app = plain
    r = srv.signed("GET", path, app, headers=headers, source=source)
    assert r.status == status and r.error == error, (r.status, r.error, srv.error_log()[-2000:])


# ------------------------------------------------------------ body digest through mod_ssl's input filter
def test_spooled_body_over_tls(strict, pki, apps):
    body = bytes(range(256)) * 4096   # 1 MiB: spooled, replayed through the TLS connection
    r = strict.signed("POST", "/echo/bound/", apps["bound"], body=body, context=pki.context("bound"))
    assert r.status == 200, (r.error, strict.error_log()[-2000:])
    assert r.echo["body_len"] == str(len(body))
    s = tasig.sign_request("POST", strict.url("/echo/bound/"), apps["bound"].key,
                           "bound-app", user="alice", body=body, digest_alg="sha-512")
    r = strict.request("POST", "/echo/bound/", s.headers, body[:-1] + b"!", context=pki.context("bound"))
    assert r.status == 400 and r.error == "digest-mismatch"


def test_certificate_alone_body_needs_no_digest(strict, pki):
    # Documented in docs/MTLS.md: TLS itself protects the body in this mode.
    body = b"x" * 5000
    r = strict.request("POST", "/echo/mtls/", [("TrustedApp-User", "bob")], body=body,
                       context=pki.context("good"))
    assert r.status == 200 and r.echo["body_len"] == "5000"


def test_behind_proxy_client_signs_the_https_url(httpd):
    # The client signs the URL it used (https://...); httpd behind the proxy is
    # told its public scheme with ServerName https://..., as docs/MTLS.md says.
    app = App("proxied", ips=("127.0.0.0/8",))
    conf = PLAIN_CONF
    srv = httpd(conf=conf, apps=[app], start=False)
    srv.conf_body = conf + "ServerName https://127.0.0.1:%d\n" % srv.port
    srv.write_conf()
    assert srv.start().returncode == 0, srv.error_log()
    url = "https://127.0.0.1:%d/echo/fp/" % srv.port
    s = tasig.sign_request("GET", url, app.key, app.id, user="alice")
    r = srv.request("GET", "/echo/fp/", s.headers + [("X-Forwarded-Proto", "https")], source=PROXY)
    assert r.status == 200, (r.error, srv.error_log()[-2000:])
    r = srv.request("GET", "/echo/fp/", tasig.sign_request("GET", url, app.key, app.id, user="alice")
                    .headers + [("X-Forwarded-Proto", "https")])
    assert r.status == 403 and r.error == "tls-required"


PER_LOCATION_CONF = """
SSLEngine on
SSLProtocol -all +TLSv1.2 +TLSv1.3
SSLCertificateFile "{d}/server.pem"
SSLCertificateKeyFile "{d}/server.key"
SSLCACertificateFile "{d}/ca.pem"
SSLCARevocationFile "{d}/crl.pem"
SSLCARevocationCheck chain
SSLVerifyClient none
TrustedAppRegistry "@REGISTRY@"
<Location "/echo/">
  SSLVerifyClient require
  SSLVerifyDepth 2
  AuthType TrustedApp
  Require valid-user
</Location>
<Location "/echo/mtls/">
  TrustedAppProtocols mtls
</Location>
<Location "/echo/bound/">
  TrustedAppRequireClientCert on
</Location>
"""


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3],
                         ids=["tls1.2-renegotiation", "tls1.3-post-handshake"])
def test_client_certificate_requested_per_location(shared_httpd, pki, apps, version):
    # SSLVerifyClient require inside a Location: mod_ssl asks for the
    # certificate (renegotiation or post-handshake auth) before the module runs,
    # also when a body (buffered by mod_ssl) is then checked against its digest.
    srv = shared_httpd(conf=PER_LOCATION_CONF.format(d=pki.dir),
                       registry=registry_xml(*apps.values()), modules=["ssl"])
    srv.tls_context = pki.context()
    ctx = pki.context("good", max_version=version)
    ctx.post_handshake_auth = True
    r = srv.request("GET", "/echo/mtls/", [("TrustedApp-User", "bob")], context=ctx)
    assert r.status == 200 and r.echo["app_id"] == "cert-app", (r.error, srv.error_log()[-2000:])
    ctx = pki.context("bound", max_version=version)
    ctx.post_handshake_auth = True
    body = b"b" * 50000
    r = srv.signed("POST", "/echo/bound/", apps["bound"], body=body, context=ctx)
    assert r.status == 200 and r.echo["body_len"] == "50000", (r.error, srv.error_log()[-2000:])
