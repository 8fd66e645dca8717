"""Legacy Atlassian Seraph trusted-apps protocol through a real apache2.

The requests are produced by an independent Python signer (below), checked
byte for byte against the request Atlassian's Java library produced
(shared/reference/seraph/v2-vector), so these tests exercise the C verifier
against a second implementation, not against itself.
"""

import base64
import os
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from conftest import App

VECTOR = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "seraph" / "v2-vector"
MAGIC = "-1159983122"
VEC_URL = "http://jira.example.com:8080/rest/api/2/issue/ABC-1?expand=names&x=%20y"
VEC_CREATED_MS = 1795563728057
VEC_SIG = ("pcs68uuD9v1i7BCJDLg8sOk2WSrerzA4Xc/Vk/1RupZ+AtGRSQbzvQJyoXW4Vp5QW7r/Byh3RciuRByLHdXhX+1jwiH1iAKny4Zh"
           "WsEO2KXu7NjZHyi/8xMwdi3uVghJ7eRb3TC/55PhTbDpe3RPpC6e9nAdRlDfJN5TdJH3USU=")
TV1_MAGIC = ("fsmX64ZCz6swbr1jf2sarttjIlTdnvLtLTaCSYgQqXhAmPq4J3IBwHR1I5GghZmfDRbpvNXNS2chXswBDtf8am+LV+u2EqcaPr6Vva"
             "UZORBtcMtPEuY6a2SJtlOE53LXYhqdQD60Q3l2uElfI0GaZIUN1FbB7rx6h0KB4EWejZc=")


# ------------------------------------------------------------ Python signer
def rc4(key, data):
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) & 0xFF
        s[i], s[j] = s[j], s[i]
    i = j = 0
    out = bytearray()
    for byte in data:
        i = (i + 1) & 0xFF
        j = (j + s[i]) & 0xFF
        s[i], s[j] = s[j], s[i]
        out.append(byte ^ s[(s[i] + s[j]) & 0xFF])
    return bytes(out)


def raw_rsa_private(key, data):
    """Textbook RSA with the private key (Java "RSA/NONE/NoPadding" ENCRYPT), modulus-length output."""
    nums = key.private_numbers()
    n = nums.public_numbers.n
    size = (n.bit_length() + 7) // 8
    return pow(int.from_bytes(data, "big"), nums.d, n).to_bytes(size, "big")


def seraph_headers(key, app_id, user, url, version=2, created_ms=None, rc4_key=None):
    """The headers atlassian-trusted-apps-core sends (PROTOCOL-NOTES.md section 14)."""
    ts = str(int(time.time() * 1000) if created_ms is None else created_ms)
    b64 = lambda b: base64.b64encode(b).decode()
    headers = [("X-Seraph-Trusted-App-ID", app_id)]
    plain = ("%s\n%s" % (ts, user) if version == 0 else "%s\n%s\n%s" % (ts, user, MAGIC)).encode()
    if version == 3:
        headers.append(("X-Seraph-Trusted-App-Cert", b64(plain)))
    else:
        k = rc4_key
        while k is None or k[0] == 0:
            k = os.urandom(16)
        headers.append(("X-Seraph-Trusted-App-Cert", b64(rc4(k, plain))))
        headers.append(("X-Seraph-Trusted-App-Key", b64(raw_rsa_private(key, k))))
    if version >= 1:
        headers.append(("X-Seraph-Trusted-App-Version", str(version)))
    if version in (1, 2):
        headers.append(("X-Seraph-Trusted-App-Magic", b64(raw_rsa_private(key, MAGIC.encode()))))
    if version >= 2:
        base = "%s\n%s" % (ts, url) + ("\n%s" % user if version == 3 else "")
        sig = key.sign(base.encode(), padding.PKCS1v15(), hashes.SHA1())
        headers.append(("X-Seraph-Trusted-App-Signature", b64(sig)))
    return headers


def test_python_signer_reproduces_the_java_vector():
    key = serialization.load_pem_private_key((VECTOR / "priv.pem").read_bytes(), None)
    rc4_key = bytes.fromhex((VECTOR / "key.hex").read_text().strip())
    h = dict(seraph_headers(key, "myAppId", "fred", VEC_URL, created_ms=VEC_CREATED_MS, rc4_key=rc4_key))
    assert h["X-Seraph-Trusted-App-Magic"] == TV1_MAGIC
    assert h["X-Seraph-Trusted-App-Signature"] == VEC_SIG
    assert base64.b64decode(h["X-Seraph-Trusted-App-Cert"]) == (VECTOR / "c.bin").read_bytes()
    assert base64.b64decode(h["X-Seraph-Trusted-App-Key"]) == (VECTOR / "k.bin").read_bytes()


# ------------------------------------------------------------ through apache2
def seraph_conf(extra=""):
    return """
TrustedAppRegistry "@REGISTRY@"
<Location "/">
  AuthType TrustedApp
  AuthName "trusted applications"
  TrustedAppProtocols seraph
  %s
  Require valid-user
</Location>
<Location "/public">
  Require all granted
</Location>
""" % extra


def seraph_app(app_id="confluence:5749012", **kw):
    kw.setdefault("timeout_ms", 10000)
    return App(app_id, alg="rsa-v1_5-sha256", protocols="seraph", **kw)


def send(srv, app, path, user="fred", sign_url=None, key=None, method="GET", **kw):
    headers = seraph_headers(key or app.key, app.id, user, sign_url or srv.url(path), **kw)
    return srv.request(method, path, headers)


def legacy_error(r):
    return r.headers.get("X-Seraph-Trusted-App-Error") or ""


def assert_refused(r, code, status=(401, 403)):
    assert r.status in status, r
    assert r.headers.get("X-Seraph-Trusted-App-Status") == "ERROR"
    assert legacy_error(r).startswith(code + ";\t"), legacy_error(r)
    assert "\r" not in legacy_error(r) and "\n" not in legacy_error(r)


def test_v2_accepted_sets_remote_user(httpd):
    app = seraph_app()
    srv = httpd(conf=seraph_conf(), apps=[app])
    r = send(srv, app, "/echo/issue?jql=project%3DABC&x=%20y")
    assert r.status == 200, (r, srv.error_log()[-2000:])
    assert r.echo["user"] == "fred"
    assert r.echo["app_id"] == app.id
    assert r.echo["protocol"] == "seraph"
    assert "X-Seraph-Trusted-App-Error" not in r.headers


def test_v3_accepted(httpd):
    app = seraph_app()
    srv = httpd(conf=seraph_conf(), apps=[app])
    r = send(srv, app, "/echo/v3", user="j\u00f6rg", version=3)
    assert r.status == 200, (r, srv.error_log()[-2000:])
    assert r.echo["user"] == "j\u00f6rg"
    r = send(srv, app, "/echo/v3", version=3)
    assert r.status == 200, (r, srv.error_log()[-2000:])


def test_url_signature_mismatch(httpd):
    app = seraph_app()
    srv = httpd(conf=seraph_conf(), apps=[app])
    r = send(srv, app, "/echo/a", sign_url=srv.url("/echo/b"))
    assert_refused(r, "BAD_SIGNATURE")
    # the query is part of the signed URL, byte for byte
    r = send(srv, app, "/echo/a?x=%20y", sign_url=srv.url("/echo/a?x=+y"))
    assert_refused(r, "BAD_SIGNATURE")


def test_missing_signature_in_v2(httpd):
    app = seraph_app()
    srv = httpd(conf=seraph_conf(), apps=[app])
    headers = [h for h in seraph_headers(app.key, app.id, "fred", srv.url("/echo/x"))
               if h[0] != "X-Seraph-Trusted-App-Signature"]
    r = srv.request("GET", "/echo/x", headers)
    assert_refused(r, "BAD_SIGNATURE")
    assert legacy_error(r) == "BAD_SIGNATURE;\tMissing signature in a v2 request;\t[]"


def test_external_base_url_behind_a_proxy(httpd):
    app = seraph_app()
    srv = httpd(conf=seraph_conf('TrustedAppSeraphBaseURL "https://jira.example.com/jira"'), apps=[app])
    r = send(srv, app, "/echo/x?q=1", sign_url="https://jira.example.com/jira/echo/x?q=1")
    assert r.status == 200, (r, srv.error_log()[-2000:])
    assert r.echo["user"] == "fred"
    # what the backend itself would have reconstructed is now wrong
    r = send(srv, app, "/echo/x?q=1")
    assert_refused(r, "BAD_SIGNATURE")


def test_insecure_versions_refused_by_default(httpd):
    app = seraph_app()
    srv = httpd(conf=seraph_conf(), apps=[app])
    for version in (0, 1):
        r = send(srv, app, "/echo/x", version=version)
        assert_refused(r, "BAD_PROTOCOL_VERSION")
    r = srv.request("GET", "/echo/x", [(n, "abc" if n.endswith("Version") else v)
                                       for n, v in seraph_headers(app.key, app.id, "fred", srv.url("/echo/x"))])
    assert_refused(r, "BAD_PROTOCOL_VERSION")


def test_insecure_versions_when_enabled(httpd):
    app = seraph_app()
    srv = httpd(conf=seraph_conf("TrustedAppSeraphInsecureVersions on"), apps=[app])
    for version in (0, 1):
        r = send(srv, app, "/echo/x", version=version)
        assert r.status == 200, (version, r, srv.error_log()[-2000:])
        assert r.echo["user"] == "fred"


def test_certificate_age(httpd):
    app = seraph_app(timeout_ms=10000)
    srv = httpd(conf=seraph_conf(), apps=[app])
    now = int(time.time() * 1000)
    assert_refused(send(srv, app, "/echo/x", created_ms=now - 60000), "OLD_CERT")
    # legacy clients stamp their certificates 900 s ahead and reuse them
    r = send(srv, app, "/echo/x", created_ms=now + 890000)
    assert r.status == 200, (r, srv.error_log()[-2000:])
    r = send(srv, app, "/echo/x", created_ms=now + 1000000)
    assert r.status == 401
    assert r.headers.get("X-Seraph-Trusted-App-Status") == "ERROR"


def test_unknown_app_and_wrong_key(httpd):
    app = seraph_app()
    other = seraph_app("jira:1")
    srv = httpd(conf=seraph_conf(), apps=[app])
    assert_refused(send(srv, other, "/echo/x"), "APP_UNKNOWN")
    assert_refused(send(srv, app, "/echo/x", key=other.key), "BAD_MAGIC")


def test_garbage_headers(httpd):
    app = seraph_app()
    srv = httpd(conf=seraph_conf(), apps=[app])
    good = seraph_headers(app.key, app.id, "fred", srv.url("/echo/x"))
    for name, value in (("X-Seraph-Trusted-App-Cert", "!!!!"),
                        ("X-Seraph-Trusted-App-Key", "A" * 5000),
                        ("X-Seraph-Trusted-App-Signature", "QR==")):
        r = srv.request("GET", "/echo/x", [(n, value if n == name else v) for n, v in good])
        assert r.status == 401, (name, r)
        assert r.headers.get("X-Seraph-Trusted-App-Status") == "ERROR"
    r = srv.request("GET", "/echo/x", [h for h in good if h[0] != "X-Seraph-Trusted-App-ID"])
    assert_refused(r, "APP_ID_NOT_FOUND")


def test_policy_refusals_use_legacy_codes(httpd):
    app_ip = seraph_app("app-ip", ips=("10.0.0.0/8",))
    app_path = seraph_app("app-path", paths=("/rest",))
    app_user = seraph_app("app-user", users_deny=("fred",))
    srv = httpd(conf=seraph_conf(), apps=[app_ip, app_path, app_user])
    r = send(srv, app_ip, "/echo/x")
    assert_refused(r, "BAD_REMOTE_IP")
    assert '"127.0.0.1"' in legacy_error(r)
    assert_refused(send(srv, app_path, "/echo/x"), "BAD_URL")
    assert_refused(send(srv, app_user, "/echo/x"), "PERMISSION_DENIED")
    assert_refused(send(srv, app_user, "/echo/x", user="admin"), "PERMISSION_DENIED")


def test_no_seraph_attempt_has_no_seraph_headers(httpd):
    app = seraph_app()
    srv = httpd(conf=seraph_conf(), apps=[app])
    r = srv.request("GET", "/echo/x", [("X-Seraph-Trusted-App-ID", app.id)])
    assert r.status == 401
    assert "X-Seraph-Trusted-App-Status" not in r.headers
    assert srv.request("GET", "/public/").status == 200


def test_replay_protection_makes_each_signed_url_single_use(httpd):
    app = seraph_app()
    srv = httpd(conf=seraph_conf("TrustedAppReplayProtection on"), apps=[app])
    headers = seraph_headers(app.key, app.id, "fred", srv.url("/echo/x"))
    r = srv.request("GET", "/echo/x", headers)
    assert r.status == 200, (r, srv.error_log()[-2000:])
    r = srv.request("GET", "/echo/x", headers)
    assert r.status == 401
    assert r.error == "replay"
    assert legacy_error(r).startswith("SYSTEM;\t")
    # the captured request re-encrypted for another user has the same replay key
    r = srv.request("GET", "/echo/x", substitute_user(headers, app.key, "alice"))
    assert r.status == 401 and r.error == "replay"


def test_v2_user_substitution_without_replay_protection(httpd):
    """Documents the protocol's weakness (docs/SERAPH.md): v2 does not sign the user."""
    app = seraph_app()
    srv = httpd(conf=seraph_conf(), apps=[app])
    headers = seraph_headers(app.key, app.id, "fred", srv.url("/echo/x"))
    r = srv.request("GET", "/echo/x", substitute_user(headers, app.key, "alice"))
    assert r.status == 200
    assert r.echo["user"] == "alice"


def substitute_user(headers, key, user):
    """What anyone holding the public key can do with a captured v2 request."""
    h = dict(headers)
    pub = key.public_key().public_numbers()
    wrapped = int.from_bytes(base64.b64decode(h["X-Seraph-Trusted-App-Key"]), "big")
    k = pow(wrapped, pub.e, pub.n).to_bytes(16, "big")
    plain = rc4(k, base64.b64decode(h["X-Seraph-Trusted-App-Cert"])).split(b"\n")
    plain[1] = user.encode()
    h["X-Seraph-Trusted-App-Cert"] = base64.b64encode(rc4(k, b"\n".join(plain))).decode()
    return list(h.items())


def test_success_status_header(httpd):
    app = seraph_app()
    srv = httpd(conf=seraph_conf(), apps=[app])
    r = send(srv, app, "/echo/x")
    assert r.status == 200
    assert r.headers.get("X-Seraph-Trusted-App-Status") == "OK"


def test_bad_signature_names_the_expected_url(httpd):
    app = seraph_app()
    srv = httpd(conf=seraph_conf(), apps=[app])
    r = send(srv, app, "/echo/a?q=1", sign_url="http://elsewhere/echo/a?q=1")
    assert_refused(r, "BAD_SIGNATURE")
    assert legacy_error(r).endswith('["%s"]' % srv.url("/echo/a?q=1"))


def test_location_without_seraph_ignores_the_headers(httpd):
    app = App("confluence:1", alg="rsa-v1_5-sha256")   # no protocols attribute: any
    conf = seraph_conf().replace("TrustedAppProtocols seraph", "TrustedAppProtocols native")
    srv = httpd(conf=conf, apps=[app])
    r = send(srv, app, "/echo/x")
    assert r.status == 401
    assert r.error == "no-credentials"
    assert "X-Seraph-Trusted-App-Status" not in r.headers
    # both protocols on one location
    srv2 = httpd(conf=seraph_conf().replace("TrustedAppProtocols seraph", "TrustedAppProtocols native seraph"),
                 apps=[app])
    r = send(srv2, app, "/echo/x")
    assert r.status == 200, (r, srv2.error_log()[-2000:])
    assert r.echo["user"] == "fred"


def test_app_not_registered_for_seraph(httpd):
    app = App("native-only", alg="rsa-v1_5-sha256", protocols="rfc9421")
    srv = httpd(conf=seraph_conf(), apps=[app])
    r = send(srv, app, "/echo/x")
    assert r.status in (401, 403)
    assert r.headers.get("X-Seraph-Trusted-App-Status") == "ERROR"


def test_raw_path_match_is_seraph_exact(httpd):
    app = seraph_app(paths=("/ec",))
    strict = httpd(conf=seraph_conf(), apps=[app])
    raw = httpd(conf=seraph_conf("TrustedAppSeraphRawPathMatch on"), apps=[app])
    # segment boundaries: /ec does not cover /echo
    assert_refused(send(strict, app, "/echo/x"), "BAD_URL")
    # Seraph's own raw startsWith does (the documented weakness of the compat mode)
    r = send(raw, app, "/echo/x")
    assert r.status == 200, (r, raw.error_log()[-2000:])
    assert r.echo["user"] == "fred"
