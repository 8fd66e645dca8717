"""Failure reporting: status codes from the error table, the TrustedApp-Error
token (and detail only when enabled), one tagged log line per failure, the
Seraph legacy headers, TLS requirements, malformed credentials, and
configuration errors that name file, line and value."""

import re
import time

import pytest

import tasig
from conftest import App, PROTECTED_CONF


@pytest.fixture(scope="module")
def srv(shared_httpd, shared_app):
    return shared_httpd(apps=[shared_app])


LOG_LINE = re.compile(r"\[trustedapp:(warn|error)\] \[pid \d+:tid \d+\] \[client [^\]]+\] "
                      r"TA(\d{4}) ([a-z-]+): app=(\S+) client=(\S+) id=(\S+) (.+)$")


def failure_lines(srv):
    return [m for m in (LOG_LINE.search(line) for line in srv.error_log().splitlines()) if m]


def test_one_log_line_per_failure_with_request_id(srv, shared_app):
    before = len(failure_lines(srv))
    r = srv.signed("GET", "/rest/", shared_app, created=int(time.time()) + 999)
    assert r.status == 401
    deadline = time.time() + 5
    while len(failure_lines(srv)) == before and time.time() < deadline:
        time.sleep(0.05)
    new = failure_lines(srv)[before:]
    assert len(new) == 1
    level, code, token, app, client, log_id, detail = new[0].groups()
    assert (level, code, token, app, client) == ("warn", "3002", "clock-skew-future", "app1", "127.0.0.1")
    assert log_id != "-" and detail


@pytest.mark.parametrize("headers,token", [
    ([("Signature-Input", 'ta=("@method");created=1;keyid="app1"')], "signature-missing"),
    ([("Signature", "ta=:AAAA:")], "signature-input-missing"),
    ([("Signature-Input", "ta=(((("), ("Signature", "ta=:AAAA:")], "malformed-field"),
])
def test_malformed_credentials(srv, headers, token):
    r = srv.request("GET", "/rest/", headers)
    assert r.status == 401 and r.error == token


def test_oversized_signature_field(httpd, app):
    # httpd's own limit (8190) is raised so that the module's 8 KiB limit is reached.
    srv = httpd(apps=[app], global_conf="LimitRequestFieldSize 32000")
    r = srv.request("GET", "/rest/", [("Signature-Input", 'ta=("@method");created=1;keyid="app1"'),
                                      ("Signature", "ta=:" + "A" * 12000 + ":")])
    assert r.status == 401 and r.error == "field-too-large"


def test_status_codes_follow_the_error_table(srv, shared_app):
    # 401 carries the hints, 403 does not invite a retry with other credentials.
    r401 = srv.request("GET", "/rest/")
    assert r401.status == 401 and r401.headers.get("Accept-Signature")
    assert r401.headers.get("WWW-Authenticate", "").startswith("TrustedApp ")
    r403 = srv.signed("GET", "/rest/", shared_app, user="root")
    assert r403.status == 403 and r403.error == "user-denied"
    assert r403.headers.get("Accept-Signature") is None


def test_detail_header_is_single_printable_line(httpd, app):
    conf = PROTECTED_CONF + '<Location "/">\n  TrustedAppErrorDetail on\n</Location>\n'
    srv = httpd(conf=conf, apps=[app])
    r = srv.signed("GET", "/rest/", app, user="root")
    detail = r.headers.get("TrustedApp-Error-Detail")
    assert detail and "root" in detail
    assert all(0x20 <= ord(c) < 0x7f for c in detail)


def test_require_tls_over_plain_http(httpd, app):
    conf = PROTECTED_CONF + '<Location "/">\n  TrustedAppRequireTLS on\n</Location>\n'
    srv = httpd(conf=conf, apps=[app])
    r = srv.signed("GET", "/rest/", app)
    assert r.status == 403 and r.error == "tls-required"


def test_require_client_cert_over_plain_http(httpd, app):
    conf = PROTECTED_CONF + '<Location "/">\n  TrustedAppRequireClientCert on\n</Location>\n'
    srv = httpd(conf=conf, apps=[app])
    r = srv.signed("GET", "/rest/", app)
    assert r.status in (401, 403) and r.error in ("client-cert-missing", "tls-required")


def test_mtls_only_location_without_certificate(httpd, app):
    conf = PROTECTED_CONF + '<Location "/">\n  TrustedAppProtocols mtls\n</Location>\n'
    srv = httpd(conf=conf, apps=[app])
    r = srv.request("GET", "/rest/")
    assert r.status == 401 and r.error in ("no-credentials", "client-cert-missing")


def test_seraph_failure_carries_legacy_headers(httpd, app):
    conf = PROTECTED_CONF + '<Location "/">\n  TrustedAppProtocols seraph\n</Location>\n'
    srv = httpd(conf=conf, apps=[app])
    r = srv.request("GET", "/rest/", [
        ("X-Seraph-Trusted-App-ID", "nobody"), ("X-Seraph-Trusted-App-Version", "2"),
        ("X-Seraph-Trusted-App-Cert", "AAAA"), ("X-Seraph-Trusted-App-Key", "AAAA"),
        ("X-Seraph-Trusted-App-Magic", "AAAA"), ("X-Seraph-Trusted-App-Signature", "AAAA")])
    assert r.status == 401 and r.error
    assert r.headers.get("X-Seraph-Trusted-App-Status") == "ERROR"
    assert re.match(r"[A-Z_]+;", r.headers.get("X-Seraph-Trusted-App-Error", ""))


def test_no_registry_for_server_is_a_500(httpd, app):
    conf = ('<Location "/">\n  AuthType TrustedApp\n  Require valid-user\n</Location>\n')
    srv = httpd(conf=conf, apps=[app])
    srv.expect_log(r"\[trustedapp:error\].*TA9003 config: .*no TrustedAppRegistry")
    r = srv.request("GET", "/rest/")
    assert r.status == 500 and r.error == "config"


def test_vhost_uses_its_own_registry(httpd):
    a, b = App("main-app"), App("vhost-app")
    srv = httpd(apps=[a], start=False)
    (srv.root / "vhost-registry.xml").write_text(
        __import__("conftest").registry_xml(b))
    srv.conf_body = (PROTECTED_CONF + "<VirtualHost 127.0.0.1:%d>\n  ServerName vhost.test\n"
                     "  TrustedAppRegistry \"@ROOT@/vhost-registry.xml\"\n</VirtualHost>\n"
                     "<VirtualHost 127.0.0.1:%d>\n  ServerName 127.0.0.1\n</VirtualHost>\n"
                     % (srv.port, srv.port))
    srv.write_conf()
    assert srv.start().returncode == 0, srv.error_log()
    # Default vhost (first) is vhost.test? No: name-based, Host picks the vhost.
    sb = tasig.sign_request("GET", "http://vhost.test/rest/", b.key, b.id, user="alice")
    r = srv.request("GET", "/rest/", [("Host", "vhost.test")] + sb.headers)
    assert r.status == 200, (r.error, srv.error_log())
    sa = tasig.sign_request("GET", "http://vhost.test/rest/", a.key, a.id, user="alice")
    r = srv.request("GET", "/rest/", [("Host", "vhost.test")] + sa.headers)
    assert r.status == 401 and r.error == "unknown-app"
    sa = tasig.sign_request("GET", srv.url("/rest/"), a.key, a.id, user="alice")
    assert srv.request("GET", "/rest/", sa.headers).status == 200


@pytest.mark.parametrize("directive,value", [
    ("TrustedAppClockSkew", "soon"),
    ("TrustedAppClockSkew", "30 0"),
    ("TrustedAppReplayCacheFailure", "maybe"),
    ("TrustedAppProxyHeader", "X-Real-IP"),
    ("TrustedAppProtocols", "kerberos"),
    ("TrustedAppUserHeader", "Bad:Header"),
    ("TrustedAppSeraphBaseURL", "ftp://jira.example.com"),
    ("TrustedAppMaxBodySize", "-5"),
])
def test_bad_directive_values_name_file_line_value(httpd, app, directive, value):
    conf = PROTECTED_CONF + '<Location "/rest">\n  %s %s\n</Location>\n' % (directive, value)
    srv = httpd(conf=conf, apps=[app], start=False)
    p = srv.configtest()
    assert p.returncode != 0
    lines = srv.conf_path.read_text().splitlines()
    line_no = [i + 1 for i, l in enumerate(lines) if l.strip().startswith(directive)][0]
    assert "%s:%d" % (srv.conf_path, line_no) in p.stderr, p.stderr
    assert directive in p.stderr


def test_seraph_insecure_versions_warns_at_startup(httpd, app):
    conf = PROTECTED_CONF + ('<Location "/rest">\n  TrustedAppProtocols seraph\n'
                             '  TrustedAppSeraphInsecureVersions on\n</Location>\n')
    srv = httpd(conf=conf, apps=[app])
    assert srv.wait_log(r"\[trustedapp:warn\].*TrustedAppSeraphInsecureVersions on at \S+httpd.conf:\d+")


def test_module_loaded_but_unused_costs_nothing(httpd):
    srv = httpd(conf='<Location "/">\n  Require all granted\n</Location>\n')
    assert srv.request("GET", "/rest/").status == 200


def test_error_document_outside_the_protected_area(httpd, app):
    """A local ErrorDocument for 401 is served with the 401 status, and the
    module's answer survives httpd's internal redirect to it: the error token
    and WWW-Authenticate are still sent. Accepted requests are untouched."""
    srv = httpd(conf=PROTECTED_CONF + "ErrorDocument 401 /public/denied.html\n", apps=[app])
    (srv.docroot / "public" / "denied.html").write_text("custom denial page\n")
    r = srv.request("GET", "/rest/")
    assert r.status == 401 and b"custom denial page" in r.body, r.body
    assert r.error == "no-credentials"
    assert r.headers.get("WWW-Authenticate", "").startswith("TrustedApp realm=")
    r = srv.signed("GET", "/rest/", app)
    assert r.status == 200 and b"content of /rest" in r.body
    assert not re.search(r"\[(\w+:)?(error|crit|alert|emerg)\]", srv.error_log())


def test_error_document_inside_the_protected_area(httpd, app):
    """An ErrorDocument that itself needs authentication is not served to a
    refused request (the internal redirect inherits the refusal): httpd falls
    back to its own 401 body, with the module's headers, without a 500 or a
    loop. The one refusal is logged once."""
    srv = httpd(conf=PROTECTED_CONF + "ErrorDocument 401 /rest/denied.html\n", apps=[app])
    (srv.docroot / "rest" / "denied.html").write_text("custom denial page\n")
    r = srv.request("GET", "/rest/api/")
    assert r.status == 401 and b"custom denial page" not in r.body, r.body
    assert r.error == "no-credentials"
    assert r.headers.get("WWW-Authenticate", "").startswith("TrustedApp realm=")
    assert srv.wait_log(r"TA1001 no-credentials: ")
    time.sleep(0.2)
    assert len(re.findall(r"TA1001 no-credentials: ", srv.error_log())) == 1, srv.error_log()
    assert not re.search(r"\[(\w+:)?(error|crit|alert|emerg)\]", srv.error_log())
