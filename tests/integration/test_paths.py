"""Path policy through httpd: an application limited to /rest must not reach
anything else by any spelling of the path, and TrustedAppPathPrefix narrows a
location further. httpd may refuse some spellings itself (400/404) before
authentication; what must never happen is a 200 outside /rest."""

import pytest

import tasig
from conftest import App, PROTECTED_CONF


@pytest.fixture(scope="module")
def rest_app():
    return App("rest-only", paths=["/rest"])


@pytest.fixture(scope="module")
def srv(shared_httpd, rest_app):
    server = shared_httpd(apps=[rest_app])
    # httpd's own refusals of paths above the root / malformed targets.
    server.expect_log(r"\[core:error\].*(AH10244: invalid URI path|AH00126: Invalid URI)")
    return server


@pytest.mark.parametrize("path", ["/rest", "/rest/", "/rest/api/", "/rest/api/index.html",
                                  "/rest//api/", "/rest/./api/", "/rest/api/../",
                                  "/rest;jsessionid=1/", "/rest/%61pi/"])
def test_allowed_spellings(srv, rest_app, path):
    r = srv.signed("GET", path, rest_app)
    # Authentication passes (httpd may still 404 a spelling it does not map, e.g. ;params).
    assert r.status not in (401, 403) and r.error is None, (path, r.status, r.error)


HOSTILE = [
    "/restricted/", "/REST/", "/secure/", "/", "/rest/../secure/", "/rest/%2e%2e/secure/",
    "/rest/%2E%2E/secure/", "/rest/.%2e/secure/", "//secure/", "/./secure/",
    "/rest;x=1/../secure/", "/rest/..;/secure/", "/rest%2f..%2fsecure/", "/rest/..%2fsecure/",
    "/rest/..%5csecure/", "/rest\\..\\secure/", "/rest/%252e%252e/secure/", "/rest/%00/",
    "/rest/%0a/", "/rest/..", "/rest/../", "/rest/../../../etc/passwd", "/%72est/../secure/",
    "/rest/%2e%2e%2f%2e%2e%2fsecure",
]


@pytest.mark.parametrize("path", HOSTILE)
def test_hostile_spellings_never_reach_other_paths(srv, rest_app, path):
    s = tasig.sign_request("GET", srv.url(path), rest_app.key, rest_app.id, user="alice")
    r = srv.request("GET", path, s.headers)
    assert r.status != 200, (path, r.body[:80])
    if r.status in (401, 403):
        assert r.error == "path-not-allowed", (path, r.status, r.error)


def test_location_prefix_intersects_app_prefixes(httpd):
    a = App("wide", paths=["/rest", "/secure"])
    conf = PROTECTED_CONF + '<Location "/">\n  TrustedAppPathPrefix /rest/api /public\n</Location>\n'
    srv = httpd(conf=conf, apps=[a])
    assert srv.signed("GET", "/rest/api/", a).status == 200
    r = srv.signed("GET", "/rest/", a)
    assert r.status == 403 and r.error == "path-not-allowed"
    r = srv.signed("GET", "/secure/", a)          # app allows it, the location does not
    assert r.status == 403 and r.error == "path-not-allowed"
    assert srv.wait_log(r"TA4002 path-not-allowed: app=wide client=127\.0\.0\.1 .*location")


def test_inner_location_replaces_outer_prefix_list(httpd):
    a = App("wide", paths=["/"])
    conf = (PROTECTED_CONF + '<Location "/">\n  TrustedAppPathPrefix /rest\n</Location>\n'
            '<Location "/secure">\n  TrustedAppPathPrefix /secure\n</Location>\n')
    srv = httpd(conf=conf, apps=[a])
    assert srv.signed("GET", "/secure/", a).status == 200
    assert srv.signed("GET", "/rest/", a).status == 200
    assert srv.signed("GET", "/other/", a).error == "path-not-allowed"


def test_app_without_paths_reaches_nothing(httpd):
    a = App("nopaths", paths=[])
    srv = httpd(apps=[a])
    r = srv.signed("GET", "/rest/", a)
    assert r.status == 403 and r.error == "path-not-allowed"


def test_directory_index_subrequest_keeps_authentication(srv, rest_app):
    # /rest/ is served through a DirectoryIndex sub-request for /rest/index.html.
    r = srv.signed("GET", "/rest/api/", rest_app)
    assert r.status == 200 and r.body == b"content of /rest/api\n"


def test_path_prefix_directive_rejects_relative(httpd, app):
    conf = PROTECTED_CONF + '<Location "/">\n  TrustedAppPathPrefix rest\n</Location>\n'
    srv = httpd(conf=conf, apps=[app], start=False)
    p = srv.configtest()
    assert p.returncode != 0 and "TrustedAppPathPrefix" in p.stderr and "'rest'" in p.stderr
