"""Native RFC 9421 profile end to end: algorithms, signature and key failures,
time checks, coverage and the body digest, through the real module."""

import time

import pytest

import tasig
from conftest import App


@pytest.fixture(scope="module")
def app():
    """One application for the module, so tests share a server (shared_httpd)."""
    return App("app1")


@pytest.mark.parametrize("alg", tasig.ALGORITHMS)
def test_every_algorithm_is_accepted(httpd, alg):
    a = App("app-" + alg.replace("_", "-"), alg=alg)
    srv = httpd(apps=[a])
    r = srv.signed("GET", "/echo/a?x=1&y=%2F", a, user="bob", alg=alg)
    assert r.status == 200, (r.error, srv.error_log())
    assert r.echo["user"] == "bob"
    assert r.echo["app_id"] == a.id


def test_wrong_key_is_bad_signature(shared_httpd, app):
    srv = shared_httpd(apps=[app])
    other = tasig.generate_key("ed25519")
    s = tasig.sign_request("GET", srv.url("/rest/"), other, app.id, user="alice")
    r = srv.request("GET", "/rest/", s.headers)
    assert r.status == 401 and r.error == "bad-signature"
    assert srv.wait_log(r"TA2006 bad-signature: app=app1 client=127\.0\.0\.1 ")


def test_tampered_user_header_is_bad_signature(shared_httpd, app):
    srv = shared_httpd(apps=[app])
    s = tasig.sign_request("GET", srv.url("/echo/"), app.key, app.id, user="alice")
    headers = [(n, "mallory" if n == "TrustedApp-User" else v) for n, v in s.headers]
    r = srv.request("GET", "/echo/", headers)
    assert r.status == 401 and r.error == "bad-signature"


def test_signature_for_another_path_is_refused(shared_httpd, app):
    srv = shared_httpd(apps=[app])
    s = tasig.sign_request("GET", srv.url("/rest/"), app.key, app.id, user="alice")
    r = srv.request("GET", "/secure/", s.headers)
    assert r.status == 401 and r.error == "bad-signature"


def test_signature_for_another_method_is_refused(shared_httpd, app):
    srv = shared_httpd(apps=[app])
    s = tasig.sign_request("GET", srv.url("/echo/"), app.key, app.id, user="alice")
    r = srv.request("DELETE", "/echo/", s.headers)
    assert r.status == 401 and r.error == "bad-signature"


def test_unknown_app(shared_httpd, app):
    srv = shared_httpd(apps=[app])
    s = tasig.sign_request("GET", srv.url("/rest/"), app.key, "nobody", user="alice")
    r = srv.request("GET", "/rest/", s.headers)
    assert r.status == 401 and r.error == "unknown-app"
    assert srv.wait_log(r"TA2001 unknown-app: app=nobody ")


def test_disabled_app(httpd):
    a = App("off", enabled=False)
    srv = httpd(apps=[a])
    r = srv.signed("GET", "/rest/", a)
    assert r.status == 401 and r.error == "app-disabled"


def test_expired_signature(shared_httpd, app):
    srv = shared_httpd(apps=[app])
    now = int(time.time())
    r = srv.signed("GET", "/rest/", app, created=now - 120, expires=now - 60)
    assert r.status == 401 and r.error == "signature-expired"


def test_created_too_far_in_the_future(shared_httpd, app):
    srv = shared_httpd(apps=[app])
    r = srv.signed("GET", "/rest/", app, created=int(time.time()) + 300, ttl=60)
    assert r.status == 401 and r.error == "clock-skew-future"


def test_created_older_than_app_timeout(httpd):
    a = App("short", timeout_ms=5000)
    srv = httpd(apps=[a])
    now = int(time.time())
    r = srv.signed("GET", "/rest/", a, created=now - 30, expires=now + 60)
    assert r.status == 401 and r.error == "clock-skew-past"


def test_future_skew_directive_edges(httpd, app):
    conf = """
TrustedAppRegistry "@REGISTRY@"
<Location "/">
  AuthType TrustedApp
  Require valid-user
  TrustedAppClockSkew 100
</Location>
"""
    srv = httpd(conf=conf, apps=[app])
    now = int(time.time())
    assert srv.signed("GET", "/rest/", app, created=now + 90, ttl=60).status == 200
    r = srv.signed("GET", "/rest/", app, created=now + 130, ttl=60)
    assert r.status == 401 and r.error == "clock-skew-future"


def test_past_limit_caps_app_timeout(httpd, app):
    conf = """
TrustedAppRegistry "@REGISTRY@"
<Location "/">
  AuthType TrustedApp
  Require valid-user
  TrustedAppClockSkew 30 10
</Location>
"""
    srv = httpd(conf=conf, apps=[app])       # the app allows 300 s
    now = int(time.time())
    assert srv.signed("GET", "/rest/", app, created=now - 3, expires=now + 60).status == 200
    r = srv.signed("GET", "/rest/", app, created=now - 40, expires=now + 60)
    assert r.status == 401 and r.error == "clock-skew-past"


def test_missing_nonce_with_replay_protection(shared_httpd, app):
    srv = shared_httpd(apps=[app])
    r = srv.signed("GET", "/rest/", app, nonce=False)
    assert r.status == 401 and r.error == "parameter-missing"


def get_covering(srv, app, target, covered):
    """GET target as alice, signed over exactly the covered components."""
    s = tasig.sign_request("GET", srv.url(target), app.key, app.id, user="alice", covered=covered)
    return srv.request("GET", target, s.headers)


def test_user_header_not_covered(shared_httpd, app):
    srv = shared_httpd(apps=[app])
    r = get_covering(srv, app, "/rest/", ["@method", "@target-uri"])
    assert r.status == 401 and r.error == "coverage-insufficient"


def test_target_not_covered(shared_httpd, app):
    srv = shared_httpd(apps=[app])
    r = get_covering(srv, app, "/rest/", ["@method", "trustedapp-user"])
    assert r.status == 401 and r.error == "coverage-insufficient"


def test_authority_path_query_coverage_is_accepted(shared_httpd, app):
    srv = shared_httpd(apps=[app])
    r = get_covering(srv, app, "/echo/q?a=b",
                     ["@method", "@authority", "@path", "@query", "trustedapp-user"])
    assert r.status == 200, (r.error, srv.error_log())


@pytest.mark.parametrize("host, signed_authority", [
    ("127.0.0.1:80", "127.0.0.1"),            # the scheme's default port is dropped
    ("Example.TEST:80", "example.test"),      # and the name lower-cased
    ("EXAMPLE.test:8080", "example.test:8080"),  # another port ending in 0 is kept
    ("example.test:443", "example.test:443"),    # 443 is only https's default
])
def test_target_uri_authority_from_the_host_header(shared_httpd, app, host, signed_authority):
    """@target-uri is signed with the Host the client sent, normalised as
    RFC 9421 and RFC 3986 6.2.3 ask; the module must derive the same."""
    srv = shared_httpd(apps=[app])
    s = tasig.sign_request("GET", "http://%s/echo/h" % signed_authority, app.key, app.id, user="alice")
    r = srv.request("GET", "/echo/h", [("Host", host)] + s.headers)
    assert r.status == 200, (r.error, srv.error_log())
    # signed for the host as sent with the default port: a different authority
    if signed_authority != host.lower():
        s = tasig.sign_request("GET", "http://%s/echo/h" % host.lower().replace(":80", ":81"), app.key,
                               app.id, user="alice")
        r = srv.request("GET", "/echo/h", [("Host", host)] + s.headers)
        assert (r.status, r.error) == (401, "bad-signature")


def test_alg_parameter_must_match_registered_key(httpd):
    a = App("rsa", alg="rsa-pss-sha512")
    srv = httpd(apps=[a])
    assert srv.signed("GET", "/rest/", a, include_alg=True).status == 200
    r = srv.signed("GET", "/rest/", a, alg="rsa-v1_5-sha256", include_alg=True)
    assert r.status == 401 and r.error == "alg-mismatch"


def test_post_body_with_content_digest(shared_httpd, app):
    srv = shared_httpd(apps=[app])
    body = b'{"issue": "TA-1", "text": "' + b"x" * 5000 + b'"}'
    r = srv.signed("POST", "/echo/post", app, body=body,
                   headers=[("Content-Type", "application/json")])
    assert r.status == 200, (r.error, srv.error_log())
    assert r.echo["body_len"] == str(len(body))


def test_post_body_sha512_digest(shared_httpd, app):
    srv = shared_httpd(apps=[app])
    body = b"hello"
    r = srv.signed("POST", "/echo/post", app, body=body, digest_alg="sha-512")
    assert r.status == 200, (r.error, srv.error_log())
    assert r.echo["body_len"] == "5"


def test_body_not_matching_digest(shared_httpd, app):
    srv = shared_httpd(apps=[app])
    s = tasig.sign_request("POST", srv.url("/echo/post"), app.key, app.id, user="alice",
                           body=b"original")
    r = srv.request("POST", "/echo/post", s.headers, b"tampered")
    assert r.status == 400 and r.error == "digest-mismatch"


def test_body_without_digest(shared_httpd, app):
    srv = shared_httpd(apps=[app])
    s = tasig.sign_request("POST", srv.url("/echo/post"), app.key, app.id, user="alice")
    r = srv.request("POST", "/echo/post", s.headers, b"unsigned body")
    assert r.status == 401 and r.error == "digest-missing"


def test_body_over_max_size(httpd, app):
    conf = """
TrustedAppRegistry "@REGISTRY@"
<Location "/">
  AuthType TrustedApp
  Require valid-user
  TrustedAppMaxBodySize 1000
</Location>
"""
    srv = httpd(conf=conf, apps=[app])
    assert srv.signed("POST", "/echo/p", app, body=b"a" * 1000).status == 200
    r = srv.signed("POST", "/echo/p", app, body=b"a" * 1001)
    assert r.status == 413 and r.error == "body-too-large"


def _chunked(srv, s, body):
    head = "POST /echo/c HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nTransfer-Encoding: chunked\r\n" % srv.port
    head += "".join("%s: %s\r\n" % hv for hv in s.headers) + "Connection: close\r\n\r\n"
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 300]), body[i:i + 300])
                       for i in range(0, len(body), 300)) + b"0\r\n\r\n"
    return srv.raw(head.encode() + chunked)


def test_chunked_body_is_checked_against_digest(shared_httpd, app):
    # (mod_lua cannot read chunked bodies, so the echo shows body_len=0; the
    # digest check itself reads the whole chunked body.)
    srv = shared_httpd(apps=[app])
    body = b"chunked body " * 100
    s = tasig.sign_request("POST", srv.url("/echo/c"), app.key, app.id, user="alice", body=body)
    status, resp = _chunked(srv, s, body)
    assert status == 200, resp[:300]
    s = tasig.sign_request("POST", srv.url("/echo/c"), app.key, app.id, user="alice", body=body)
    status, resp = _chunked(srv, s, body[:-1] + b"!")
    assert status == 400 and b"TrustedApp-Error: digest-mismatch" in resp


def test_rotated_key_both_valid(httpd):
    new_key = tasig.generate_key("ed25519")
    a = App("rot", extra_keys=[(tasig.public_pem(new_key), "ed25519", None, None)])
    srv = httpd(apps=[a])
    assert srv.signed("GET", "/rest/", a).status == 200
    s = tasig.sign_request("GET", srv.url("/rest/"), new_key, "rot", user="alice")
    assert srv.request("GET", "/rest/", s.headers).status == 200


def test_key_outside_validity_window(httpd):
    a = App("old")
    # Only key: expired last year.
    a_xml_key = tasig.public_pem(a.key)
    a.key_override = a_xml_key
    srv_registry = ('<?xml version="1.0"?>\n<registry xmlns="urn:mod-trustedapp:registry:1" '
                    'version="1">\n  <application id="old">\n    <key alg="ed25519" '
                    'not-after="2020-01-01T00:00:00Z">\n%s    </key>\n    <ip>127.0.0.1</ip>\n'
                    '    <path>/</path>\n  </application>\n</registry>\n' % a_xml_key)
    srv = httpd(registry=srv_registry)
    r = srv.signed("GET", "/rest/", a)
    assert r.status == 401 and r.error == "key-not-valid"


def test_error_detail_header_only_when_enabled(httpd, app):
    conf = """
TrustedAppRegistry "@REGISTRY@"
<Location "/">
  AuthType TrustedApp
  Require valid-user
</Location>
<Location "/rest">
  TrustedAppErrorDetail on
</Location>
"""
    srv = httpd(conf=conf, apps=[app])
    r = srv.signed("GET", "/secure/", app, created=int(time.time()) + 3000)
    assert r.error == "clock-skew-future"
    assert r.headers.get("TrustedApp-Error-Detail") is None
    r = srv.signed("GET", "/rest/", app, created=int(time.time()) + 3000)
    assert r.error == "clock-skew-future"
    assert r.headers.get("TrustedApp-Error-Detail")


def test_accept_signature_hint_on_401(shared_httpd, app):
    srv = shared_httpd(apps=[app])
    r = srv.request("GET", "/rest/")
    assert r.status == 401
    hint = r.headers.get("Accept-Signature", "")
    assert "@method" in hint and "trustedapp-user" in hint.lower()


def test_signature_never_logged(shared_httpd, app):
    srv = shared_httpd(apps=[app])
    other = tasig.generate_key("ed25519")
    s = tasig.sign_request("GET", srv.url("/rest/"), other, app.id, user="alice")
    srv.request("GET", "/rest/", s.headers)
    sig_b64 = s.as_dict()["Signature"].split(":")[1]
    srv.wait_log("TA2006")
    assert sig_b64[:20] not in srv.error_log()


def test_checked_body_reaches_a_proxied_backend(httpd, app):
    # The module buffers the body to check Content-Digest and hands it on:
    # mod_proxy must forward it unchanged to the backend.
    backend = httpd(conf='<Location "/">\n  Require all granted\n</Location>\n', name="backend")
    conf = PROXY_FRONT % (backend.port, backend.port)
    front = httpd(conf=conf, apps=[app], modules=["proxy", "proxy_http"], name="front")
    body = bytes(range(256)) * 40
    r = front.signed("POST", "/api/echo/x", app, body=body,
                     headers=[("Content-Type", "application/octet-stream")])
    assert r.status == 200, (r.status, r.error, front.error_log()[-500:])
    assert r.echo["body_len"] == str(len(body))


PROXY_FRONT = """
TrustedAppRegistry "@REGISTRY@"
<Location "/api">
  AuthType TrustedApp
  Require valid-user
  ProxyPass "http://127.0.0.1:%d"
  ProxyPassReverse "http://127.0.0.1:%d"
</Location>
"""
