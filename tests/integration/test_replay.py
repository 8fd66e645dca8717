"""Replay protection: one (application, nonce) is accepted once, across the
worker processes of the server, and the cache's failure mode is explicit."""

import re
import socket

import pytest

import tasig
from replay_helpers import (OVERFLOW_REFUSE_CONF, TWO_PROCESSES, assert_never_accepted_again,
                            assert_one_winner_across_processes, send_until_overflow)
from conftest import App, PROTECTED_CONF



def test_same_request_twice_is_a_replay(httpd, app):
    srv = httpd(apps=[app])
    s = tasig.sign_request("GET", srv.url("/rest/"), app.key, app.id, user="alice")
    assert srv.request("GET", "/rest/", s.headers).status == 200
    r = srv.request("GET", "/rest/", s.headers)
    assert r.status == 401 and r.error == "replay"
    assert srv.wait_log(r"TA3004 replay: app=app1 client=127\.0\.0\.1 ")


def test_nonce_reuse_with_another_signature_is_a_replay(httpd, app):
    srv = httpd(apps=[app])
    assert srv.signed("GET", "/rest/", app, nonce="fixed-nonce-0123456789").status == 200
    r = srv.signed("GET", "/secure/", app, nonce="fixed-nonce-0123456789")
    assert r.status == 401 and r.error == "replay"


def test_same_nonce_for_two_apps_is_not_a_replay(httpd):
    a, b = App("a1"), App("b1")
    srv = httpd(apps=[a, b])
    assert srv.signed("GET", "/rest/", a, nonce="shared-nonce-0123456789").status == 200
    assert srv.signed("GET", "/rest/", b, nonce="shared-nonce-0123456789").status == 200


def test_short_nonce_is_refused(httpd, app):
    srv = httpd(apps=[app])
    r = srv.signed("GET", "/rest/", app, nonce="short")
    assert r.status == 401 and r.error == "parameter-invalid"


def test_replay_protection_off_accepts_repeats_and_no_nonce(httpd, app):
    conf = PROTECTED_CONF + '<Location "/">\n  TrustedAppReplayProtection off\n</Location>\n'
    srv = httpd(conf=conf, apps=[app])
    s = tasig.sign_request("GET", srv.url("/rest/"), app.key, app.id, user="alice", nonce=False)
    assert srv.request("GET", "/rest/", s.headers).status == 200
    assert srv.request("GET", "/rest/", s.headers).status == 200



def test_two_worker_processes_share_the_cache(httpd, app):
    srv = httpd(apps=[app], global_conf=TWO_PROCESSES)
    assert_one_winner_across_processes(srv, app)


def test_replay_seen_by_the_other_process(httpd, app):
    srv = httpd(apps=[app], global_conf=TWO_PROCESSES)
    # Send the original, then repeat until a different process answered the repeat.
    s = tasig.sign_request("GET", srv.url("/rest/"), app.key, app.id, user="alice")
    assert srv.request("GET", "/rest/", s.headers).status == 200
    first_pid = re.findall(r"pid=(\d+)", srv.wait_access(1)[-1])[0]
    for i in range(200):
        r = srv.request("GET", "/rest/", s.headers)
        assert r.status == 401 and r.error == "replay"
        if re.findall(r"pid=(\d+)", srv.wait_access(i + 2)[-1])[0] != first_pid:
            return
    pytest.skip("the kernel never handed a connection to the second process")


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cache_unavailable_fails_closed(httpd, app):
    conf = "TrustedAppReplayCache memcache:127.0.0.1:%d\n" % _closed_port() + PROTECTED_CONF
    srv = httpd(conf=conf, apps=[app], modules=["socache_memcache"])
    srv.expect_log(r"TA3005 replay-cache-unavailable")
    srv.expect_log(r"socache_memcache|memcache|apr_memcache")
    r = srv.signed("GET", "/rest/", app)
    assert r.status == 503 and r.error == "replay-cache-unavailable"
    assert srv.wait_log(r"\[trustedapp:error\].*TA3005 replay-cache-unavailable: app=app1 ")


def test_cache_unavailable_fail_open_accepts_and_logs(httpd, app):
    conf = ("TrustedAppReplayCache memcache:127.0.0.1:%d\n" % _closed_port() + PROTECTED_CONF
            + '<Location "/">\n  TrustedAppReplayCacheFailure open\n</Location>\n')
    srv = httpd(conf=conf, apps=[app], modules=["socache_memcache"])
    srv.expect_log(r"socache_memcache|memcache|apr_memcache")
    r = srv.signed("GET", "/rest/", app)
    assert r.status == 200
    assert srv.wait_log(r"\[trustedapp:warn\].*TA3005 .*WITHOUT replay protection")


def test_replay_cache_directive_only_global(httpd, app):
    conf = PROTECTED_CONF + "<VirtualHost 127.0.0.1:*>\n  TrustedAppReplayCache shmcb\n</VirtualHost>\n"
    srv = httpd(conf=conf, apps=[app], start=False)
    p = srv.configtest()
    assert p.returncode != 0
    assert "TrustedAppReplayCache" in p.stderr and "cannot occur within" in p.stderr


def test_unknown_cache_provider_is_a_config_error(httpd, app):
    conf = "TrustedAppReplayCache nosuchcache\n" + PROTECTED_CONF
    srv = httpd(conf=conf, apps=[app], start=False)
    p = srv.configtest()
    assert p.returncode != 0
    assert "unknown socache provider 'nosuchcache'" in p.stderr


def test_replay_refused_after_graceful_restart(httpd, app):
    srv = httpd(apps=[app], global_conf=TWO_PROCESSES)
    s = tasig.sign_request("GET", srv.url("/rest/"), app.key, app.id, user="alice")
    assert srv.request("GET", "/rest/", s.headers).status == 200
    srv.reload()
    r = srv.request("GET", "/rest/", s.headers)
    assert (r.status, r.error) == (401, "replay")
    srv.reload()
    r = srv.request("GET", "/rest/", s.headers)
    assert (r.status, r.error) == (401, "replay")
    # New requests still work after the restarts.
    assert srv.signed("GET", "/rest/", app).status == 200


def test_overflowing_shmcb_is_reported(httpd, app):
    conf = 'TrustedAppReplayCache "shmcb:@ROOT@/run/tiny(8192)"\n' + PROTECTED_CONF
    srv = httpd(conf=conf, apps=[app])
    for _ in range(150):
        assert srv.signed("GET", "/rest/", app).status == 200
    assert srv.wait_log(r"\[trustedapp:warn\].*TA9003 config: replay cache 'shmcb:\S+' is too small: "
                        r"it dropped nonces before they expired")


def test_adequate_cache_reports_no_overflow(httpd, app):
    srv = httpd(apps=[app])
    for _ in range(150):
        assert srv.signed("GET", "/rest/", app).status == 200
    assert "is too small" not in srv.error_log()


def test_overflow_refuse_mode_never_accepts_a_dropped_nonce(httpd, app):
    conf = 'TrustedAppReplayCache "shmcb:@ROOT@/run/tiny(8192)"\n' + PROTECTED_CONF + OVERFLOW_REFUSE_CONF
    srv = httpd(conf=conf, apps=[app])
    srv.expect_log(r"TA3005 replay-cache-unavailable: .*overflowed")
    assert_never_accepted_again(srv, send_until_overflow(srv, app))


def test_overflow_directive_values(httpd, app):
    conf = PROTECTED_CONF + '<Location "/">\n  TrustedAppReplayCacheOverflow sometimes\n</Location>\n'
    srv = httpd(conf=conf, apps=[app], start=False)
    p = srv.configtest()
    assert p.returncode != 0 and "TrustedAppReplayCacheOverflow" in p.stderr
