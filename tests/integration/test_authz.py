"""Require trusted-app: which authenticated applications a location admits."""

import pytest

from conftest import App

AUTHZ_CONF = """
TrustedAppRegistry "@REGISTRY@"
<Location "/">
  AuthType TrustedApp
  AuthName "apps"
  Require trusted-app *
</Location>
<Location "/rest">
  Require trusted-app app1 app3
</Location>
<Location "/secure">
  AuthzSendForbiddenOnFailure On
  Require trusted-app app1
</Location>
<Location "/other">
  <RequireAll>
    Require trusted-app app2
    Require ip 127.0.0.0/8
  </RequireAll>
</Location>
"""


@pytest.fixture(scope="module")
def apps():
    return App("app1"), App("app2")


@pytest.fixture(scope="module")
def srv(shared_httpd, apps):
    server = shared_httpd(conf=AUTHZ_CONF, apps=list(apps))
    # mod_authz_core's own line for an authenticated user it refuses.
    server.expect_log(r"\[authz_core:error\].*AH01631: user \S+: authorization failure")
    return server


def test_star_admits_every_registered_app(srv, apps):
    for a in apps:
        r = srv.signed("GET", "/echo/", a)
        assert r.status == 200 and r.echo["app_id"] == a.id


def test_listed_app_admitted(srv, apps):
    assert srv.signed("GET", "/rest/", apps[0]).status == 200


def test_unlisted_app_refused_with_token(srv, apps):
    r = srv.signed("GET", "/rest/", apps[1])
    assert r.status == 401 and r.error == "app-not-authorized"
    assert srv.wait_log(r"TA4006 app-not-authorized: app=app2 client=127\.0\.0\.1 id=\S+ "
                        r"application not in 'Require trusted-app app1 app3'")


def test_forbidden_on_failure(srv, apps):
    r = srv.signed("GET", "/secure/", apps[1])
    assert r.status == 403 and r.error == "app-not-authorized"


def test_unsigned_request_triggers_authentication(srv):
    r = srv.request("GET", "/rest/")
    assert r.status == 401 and r.error == "no-credentials"


def test_require_all_combination(srv, apps):
    assert srv.signed("GET", "/other/", apps[1]).status == 200
    assert srv.signed("GET", "/other/", apps[0]).error == "app-not-authorized"


def test_authentication_failure_beats_authorization(srv, apps):
    # A bad signature is reported as such, not as an authorization problem.
    import tasig
    other = tasig.generate_key("ed25519")
    s = tasig.sign_request("GET", srv.url("/rest/"), other, "app1", user="alice")
    r = srv.request("GET", "/rest/", s.headers)
    assert r.status == 401 and r.error == "bad-signature"


@pytest.mark.parametrize("line,message", [
    ("Require trusted-app", "needs application ids or *"),
    ('Require trusted-app "a b"', "invalid application id"),
    ("Require trusted-app * app1", "cannot be combined"),
])
def test_require_line_is_checked_at_config_time(httpd, app, line, message):
    conf = 'TrustedAppRegistry "@REGISTRY@"\n<Location "/">\n  AuthType TrustedApp\n  %s\n</Location>\n' % line
    srv = httpd(conf=conf, apps=[app], start=False)
    p = srv.configtest()
    assert p.returncode != 0 and message in p.stderr, p.stderr
