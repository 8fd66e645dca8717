"""The acting user: REMOTE_USER on success, per-application allow/deny rules,
the built-in refusal of root/admin, the user header, and removal of
client-supplied look-alikes of what the module exports."""

import re

import pytest

import tasig
from conftest import App, PROTECTED_CONF


@pytest.fixture(scope="module")
def plain():
    return App("plain")


@pytest.fixture(scope="module")
def srv(shared_httpd, plain):
    return shared_httpd(apps=[plain])


def test_user_becomes_remote_user(srv, plain):
    r = srv.signed("GET", "/echo/", plain, user="jdoe")
    assert r.status == 200 and r.echo["user"] == "jdoe"
    assert srv.wait_log(r"TA0000 ok: app=plain client=127\.0\.0\.1 id=\S+ user=jdoe ")


def test_utf8_user(srv, plain):
    # Non-ASCII travels as UTF-8 bytes; http.client sends str headers as latin-1,
    # so send bytes the server reads as UTF-8 and sign the same bytes.
    user = "j\u00fcrgen"
    raw = user.encode("utf-8").decode("latin-1")
    r = srv.signed("GET", "/echo/", plain, user=raw)
    assert r.status == 200, r.error
    assert r.echo["user"] == user


@pytest.mark.parametrize("user", ["root", "admin", "administrator"])
def test_builtin_denied_users(srv, plain, user):
    r = srv.signed("GET", "/rest/", plain, user=user)
    assert r.status == 403 and r.error == "user-denied"


def test_user_allow_list_with_wildcard(httpd):
    a = App("svc", users_allow=["svc-*", "carol"])
    srv = httpd(apps=[a])
    assert srv.signed("GET", "/rest/", a, user="svc-build").status == 200
    assert srv.signed("GET", "/rest/", a, user="carol").status == 200
    r = srv.signed("GET", "/rest/", a, user="alice")
    assert r.status == 403 and r.error == "user-denied"
    assert srv.wait_log(r"TA4004 user-denied: app=svc ")


def test_user_deny_list_wins(httpd):
    a = App("deny", users_allow=["b*"], users_deny=["bob"])
    srv = httpd(apps=[a])
    assert srv.signed("GET", "/rest/", a, user="bill").status == 200
    assert srv.signed("GET", "/rest/", a, user="bob").error == "user-denied"


def test_admin_when_explicitly_allowed(httpd):
    a = App("ops", users_allow=["admin"])
    srv = httpd(apps=[a])
    assert srv.signed("GET", "/rest/", a, user="admin").status == 200


def test_missing_user(srv, plain):
    r = srv.signed("GET", "/rest/", plain, user=None)
    assert r.status == 401 and r.error == "user-missing"


def test_overlong_user(srv, plain):
    r = srv.signed("GET", "/rest/", plain, user="u" * 300)
    assert r.status == 401 and r.error == "user-invalid"


def test_no_user_allowed_when_not_required(httpd, app):
    conf = PROTECTED_CONF + '<Location "/">\n  TrustedAppRequireUser off\n</Location>\n'
    srv = httpd(conf=conf, apps=[app])
    r = srv.signed("GET", "/echo/", app, user=None)
    assert r.status == 200, r.error
    assert r.echo["user"] == "app1"        # the application acts as itself
    r = srv.signed("GET", "/echo/", app, user="alice")
    assert r.echo["user"] == "alice"


def test_custom_user_header(httpd, app):
    conf = PROTECTED_CONF + '<Location "/">\n  TrustedAppUserHeader X-Acting-User\n</Location>\n'
    srv = httpd(conf=conf, apps=[app])
    r = srv.signed("GET", "/echo/", app, user="dave", user_header="X-Acting-User")
    assert r.status == 200 and r.echo["user"] == "dave"
    # The default header is not consulted there.
    r = srv.signed("GET", "/echo/", app, user="dave")
    assert r.status == 401 and r.error == "user-missing"


def test_lookalike_headers_are_removed(srv, plain):
    r = srv.signed("GET", "/echo/", plain, user="alice",
                   headers=[("TrustedApp-Id", "evil"), ("Remote-User", "root")])
    assert r.status == 200
    assert r.echo["hdr_app_id"] == ""
    assert r.echo["app_id"] == "plain"


def test_lookalike_spellings_are_removed(srv, plain):
    # Any case, '_' for '-' (CGI makes both the same variable), and a legacy
    # credential name of any length.
    forged = [("trustedapp_protocol", "x"), ("REMOTE-USER", "root"), ("X_Remote_User", "root"),
              ("TRUSTEDAPP-NAME", "x"), ("X-Seraph-Trusted-App-" + "Z" * 70, "x")]
    kept = [("TrustedApp-Ids", "x"), ("Remote-Users", "x"), ("X-Seraph-Trusted", "x"),
            ("Trustedapp-Nam", "x")]
    r = srv.signed("GET", "/echo/", plain, user="alice", headers=forged + kept)
    assert r.status == 200, r.error
    names = r.echo["hdr_names"].split(",")
    assert not [n for n, _ in forged if n.lower() in names], names
    assert all(n.lower() in names for n, _ in kept), names


def test_lookalike_in_a_merged_trailer_is_removed(httpd, app):
    # With MergeTrailers on, httpd adds the trailers to the headers while the
    # module reads a chunked body for its digest, after the headers were seen.
    srv = httpd(conf="MergeTrailers on\n" + PROTECTED_CONF, apps=[app])
    body = b"chunked body " * 10
    s = tasig.sign_request("POST", srv.url("/echo/c"), app.key, app.id, user="alice", body=body)
    head = "POST /echo/c HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nTransfer-Encoding: chunked\r\n" % srv.port
    head += "".join("%s: %s\r\n" % hv for hv in s.headers) + "Connection: close\r\n\r\n"
    chunked = b"%x\r\n%s\r\n0\r\nRemote-User: root\r\nX-Trailer-Seen: yes\r\n\r\n" % (len(body), body)
    status, resp = srv.raw(head.encode() + chunked)
    assert status == 200, resp[:300]
    names = re.search(rb"hdr_names=(.*)", resp).group(1).decode().split(",")
    assert "x-trailer-seen" in names and "remote-user" not in names, names


def test_seraph_credentials_never_reach_the_backend(srv, plain):
    # Sent beside a valid native signature they are not looked at (ta_verify.h),
    # but they are credentials: the module consumes them.
    r = srv.signed("GET", "/echo/", plain, user="alice",
                   headers=[("X-Seraph-Trusted-App-Cert", "c2VjcmV0"),
                            ("X-Seraph-Trusted-App-ID", "plain")])
    assert r.status == 200
    assert r.echo["hdr_seraph_cert"] == ""


def test_lookalike_environment_is_overwritten(httpd, app):
    conf = 'SetEnvIf X-Evil "(.*)" TRUSTEDAPP_ID=$1 TRUSTEDAPP_NAME=$1\n' + PROTECTED_CONF
    srv = httpd(conf=conf, apps=[app])
    r = srv.signed("GET", "/echo/", app, headers=[("X-Evil", "forged")])
    assert r.status == 200
    assert r.echo["app_id"] == "app1" and r.echo["app_name"] == "app1"


def test_unauthenticated_request_gets_no_identity(httpd, app):
    conf = ('SetEnvIf X-Evil "(.*)" TRUSTEDAPP_ID=$1\n' + PROTECTED_CONF
            + '<Location "/echo">\n  Require all granted\n</Location>\n')
    srv = httpd(conf=conf, apps=[app])
    r = srv.request("GET", "/echo/", [("X-Evil", "forged"), ("TrustedApp-User", "root")])
    assert r.status == 200
    assert r.echo["user"] == "" and r.echo["auth_type"] == ""
