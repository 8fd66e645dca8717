"""The module loads into a real apache2, its directives parse, and a protected
location answers unsigned and signed requests."""

import conftest
from conftest import App


def test_unsigned_request_is_refused_with_error_token(httpd, app):
    srv = httpd(apps=[app])
    r = srv.request("GET", "/rest/")
    assert r.status == 401
    assert r.error == "no-credentials"
    assert "TrustedApp" in r.headers.get("WWW-Authenticate", "")
    assert srv.wait_log(r"TA1001 no-credentials: app=- client=127\.0\.0\.1 id=\S+ ")


def test_public_location_needs_no_signature(httpd, app):
    srv = httpd(apps=[app])
    r = srv.request("GET", "/public/")
    assert r.status == 200
    assert r.body == b"content of /public\n"


def test_signed_request_reaches_the_handler_as_the_user(httpd, app):
    srv = httpd(apps=[app])
    r = srv.signed("GET", "/echo/x", app, user="alice")
    assert r.status == 200, (r.error, srv.error_log())
    e = r.echo
    assert e["user"] == "alice"
    assert e["auth_type"] == "TrustedApp"
    assert e["app_id"] == "app1"
    assert e["protocol"] == "native"


def test_static_file_served_to_signed_request(httpd, app):
    srv = httpd(apps=[app])
    r = srv.signed("GET", "/rest/", app)
    assert r.status == 200, (r.error, srv.error_log())
    assert r.body == b"content of /rest\n"


def test_configtest_accepts_every_directive(httpd, app):
    conf = conftest.PROTECTED_CONF + """
TrustedAppReplayCache shmcb
<Location "/rest">
  TrustedAppProtocols native seraph mtls
  TrustedAppClockSkew 10 600
  TrustedAppReplayProtection on
  TrustedAppReplayCacheFailure closed
  TrustedAppReplayCacheOverflow refuse
  TrustedAppTrustedProxy 10.0.0.0/8 192.168.*.* ::1
  TrustedAppProxyHeader Forwarded
  TrustedAppEveryHopMustMatch off
  TrustedAppPathPrefix /rest /secure
  TrustedAppUserHeader X-Acting-User
  TrustedAppRequireUser on
  TrustedAppErrorDetail on
  TrustedAppRequireTLS off
  TrustedAppForwardedProto on
  TrustedAppRequireClientCert off
  TrustedAppSeraphBaseURL https://jira.example.com/jira/
  TrustedAppSeraphInsecureVersions off
  TrustedAppSeraphRawPathMatch off
  TrustedAppMaxBodySize 65536
  Require trusted-app app1 app2
</Location>
"""
    srv = httpd(conf=conf, apps=[app], start=False)
    p = srv.configtest()
    assert p.returncode == 0, p.stderr
    assert srv.start().returncode == 0


def test_certificate_document_served_without_credentials(httpd, app):
    import json
    import tasig
    from conftest import registry_xml
    self_key = tasig.generate_key("ed25519")
    conf = "TrustedAppCertificatePath /.well-known/trustedapp-certificate\n" + conftest.PROTECTED_CONF
    srv = httpd(conf=conf, registry=registry_xml(app, self_id="jira:1234", self_key_file="self.key"),
                start=False)
    key_file = srv.root / "self.key"
    key_file.write_text(tasig.private_pem(self_key))
    os_chmod = __import__("os").chmod
    os_chmod(key_file, 0o600)
    assert srv.start().returncode == 0, srv.error_log()
    r = srv.request("GET", "/.well-known/trustedapp-certificate")
    assert r.status == 200, r.body
    assert r.headers["Content-Type"].startswith("application/json")
    doc = json.loads(r.body)
    assert doc["format"] == "trustedapp-certificate/1" and doc["id"] == "jira:1234"
    assert doc["keys"][0]["public_key"] == tasig.public_pem(self_key)
    assert "PRIVATE" not in r.body.decode()
    assert srv.request("POST", "/.well-known/trustedapp-certificate", body=b"").status == 405
    # Everything else stays protected.
    assert srv.request("GET", "/.well-known/other").status == 401


def test_legacy_seraph_certificate_document_served(httpd, app):
    """TrustedAppSeraphCertificatePath: the /admin/appTrustCertificate text a
    Jira-style peer fetches: id, base64 SPKI DER of the RSA <self> key, protocol
    version 2, the magic; the native document is served from the same key."""
    import base64
    import json
    import tasig
    from cryptography.hazmat.primitives import serialization
    from conftest import registry_xml
    self_key = tasig.generate_key("rsa-v1_5-sha256")
    conf = ("TrustedAppCertificatePath /.well-known/trustedapp-certificate rsa-v1_5-sha256\n"
            "TrustedAppSeraphCertificatePath /admin/appTrustCertificate\n" + conftest.PROTECTED_CONF)
    srv = httpd(conf=conf, registry=registry_xml(app, self_id="jira:1234", self_key_file="self.key"),
                start=False)
    key_file = srv.root / "self.key"
    key_file.write_text(tasig.private_pem(self_key))
    __import__("os").chmod(key_file, 0o600)
    assert srv.start().returncode == 0, srv.error_log()
    r = srv.request("GET", "/admin/appTrustCertificate")
    assert r.status == 200, r.body
    assert r.headers["Content-Type"].startswith("text/plain")
    lines = r.body.decode().split("\n")
    assert len(lines) == 4 and lines[0] == "jira:1234" and lines[2] == "2", lines
    spki = self_key.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
    assert base64.b64decode(lines[1]) == spki
    assert "PRIVATE" not in r.body.decode()
    assert srv.request("POST", "/admin/appTrustCertificate", body=b"").status == 405
    doc = json.loads(srv.request("GET", "/.well-known/trustedapp-certificate").body)
    assert doc["id"] == "jira:1234" and doc["keys"][0]["public_key"] == tasig.public_pem(self_key)


def test_legacy_document_alone_needs_no_algorithm(httpd, app):
    import tasig
    from conftest import registry_xml
    self_key = tasig.generate_key("rsa-pss-sha512")
    conf = "TrustedAppSeraphCertificatePath /admin/appTrustCertificate\n" + conftest.PROTECTED_CONF
    srv = httpd(conf=conf, registry=registry_xml(app, self_id="jira:2", self_key_file="self.key"),
                start=False)
    (srv.root / "self.key").write_text(tasig.private_pem(self_key))
    assert srv.start().returncode == 0, srv.error_log()
    r = srv.request("GET", "/admin/appTrustCertificate")
    assert r.status == 200 and r.body.decode().split("\n")[0] == "jira:2"


def test_legacy_document_needs_an_rsa_self_key(httpd, app):
    import tasig
    from conftest import registry_xml
    conf = "TrustedAppSeraphCertificatePath /admin/appTrustCertificate\n" + conftest.PROTECTED_CONF
    srv = httpd(conf=conf, registry=registry_xml(app, self_id="jira:1", self_key_file="self.key"),
                start=False)
    (srv.root / "self.key").write_text(tasig.private_pem(tasig.generate_key("ed25519")))
    srv.expect_log(r"TrustedAppSeraphCertificatePath /admin/appTrustCertificate is not served: "
                   r"the legacy document needs an RSA <self> key")
    assert srv.start().returncode == 0
    assert srv.request("GET", "/admin/appTrustCertificate").status == 404


def test_certificate_document_without_self_is_not_served(httpd, app):
    conf = "TrustedAppCertificatePath /cert\n" + conftest.PROTECTED_CONF
    srv = httpd(conf=conf, apps=[app])
    srv.expect_log(r"TA9003 config: TrustedAppCertificatePath /cert is not served: the registry has no <self")
    assert srv.request("GET", "/cert").status == 404


def test_conf_example_is_valid(httpd, app):
    """conf-examples/trustedapp.conf as shipped (module paths and file locations adapted)."""
    text = (conftest.REPO / "conf-examples" / "trustedapp.conf").read_text()
    lines = [l for l in text.splitlines() if not l.startswith("LoadModule")]
    text = "\n".join(lines)
    text = text.replace("/etc/apache2/trustedapp/registry.xml", "@REGISTRY@")
    text = text.replace("${APACHE_RUN_DIR}", "@ROOT@/run")
    srv = httpd(conf=text, apps=[app], start=False)
    srv.expect_log(r"TrustedAppCertificatePath /\.well-known/trustedapp-certificate is not served")
    assert srv.configtest().returncode == 0
    assert srv.start().returncode == 0
    assert srv.request("GET", "/rest/").error == "no-credentials"
    assert srv.signed("GET", "/rest/", app).status == 200
