"""Registry life cycle: a broken file stops the first start with a clear
message; later a changed file is picked up by running workers (checked at most
once a second), a broken or missing file keeps the last good registry, and a
graceful restart with a broken file keeps serving the last good one."""

import threading
import time

import pytest

from conftest import App, registry_xml

BROKEN = '<?xml version="1.0"?>\n<registry xmlns="urn:mod-trustedapp:registry:1" version="1">\n  <application id="x">\n'


def wait_status(srv, app, status, timeout=6, path="/rest/"):
    deadline = time.time() + timeout
    while True:
        r = srv.signed("GET", path, app)
        if r.status == status or time.time() > deadline:
            return r
        time.sleep(0.2)


def test_broken_registry_stops_first_start(httpd):
    a = App("app1")
    srv = httpd(registry=BROKEN, start=False)
    p = srv.start()
    assert p.returncode != 0
    out = p.stdout + p.stderr + srv.error_log()
    assert "TrustedAppRegistry at %s:" % srv.conf_path in out
    assert str(srv.registry_path) in out
    srv.expect_log(r"TA9003 config: TrustedAppRegistry")


def test_missing_registry_stops_first_start(httpd):
    srv = httpd(registry=None, start=False)
    p = srv.start()
    assert p.returncode != 0
    assert "cannot open" in p.stdout + p.stderr + srv.error_log()
    srv.expect_log(r"TA9003 config: TrustedAppRegistry")


def test_configtest_reports_broken_registry(httpd):
    srv = httpd(registry=BROKEN, start=False)
    p = srv.configtest()
    assert p.returncode != 0
    assert "TA9003" in p.stderr and str(srv.registry_path) in p.stderr


def test_invalid_application_names_file_and_line(httpd):
    a = App("app1", ips=["10.0.0.300"])
    srv = httpd(apps=[a], start=False)
    p = srv.start()
    assert p.returncode != 0
    out = p.stdout + p.stderr + srv.error_log()
    assert "%s:" % srv.registry_path in out and "10.0.0.300" in out
    srv.expect_log(r"TA9003 config: TrustedAppRegistry")


def test_changed_file_is_picked_up_without_restart(httpd):
    a, b = App("app1"), App("app2")
    srv = httpd(apps=[a])
    assert srv.signed("GET", "/rest/", b).error == "unknown-app"
    srv.write_registry(registry_xml(a, b))
    assert wait_status(srv, b, 200).status == 200
    assert srv.wait_log(r"TA0000 ok: registry \S+ reloaded: 2 application\(s\)")
    # Removing an application takes effect the same way.
    srv.write_registry(registry_xml(b))
    assert wait_status(srv, a, 401).error == "unknown-app"


def test_broken_file_keeps_last_good(httpd):
    a, b = App("app1"), App("app2")
    srv = httpd(apps=[a])
    srv.write_registry(BROKEN)
    assert srv.wait_log(r"TA9003 config: registry \S+ changed but is unusable, keeping", timeout=1) is None
    time.sleep(1.1)
    assert srv.signed("GET", "/rest/", a).status == 200
    assert srv.wait_log(r"\[trustedapp:warn\].*TA9003 config: registry \S+ changed but is unusable, "
                        r"keeping the registry loaded before: \S+registry.xml:\d+")
    srv.write_registry(registry_xml(a, b))
    assert wait_status(srv, b, 200).status == 200


def test_deleted_file_keeps_last_good(httpd):
    a = App("app1")
    srv = httpd(apps=[a])
    srv.registry_path.unlink()
    time.sleep(1.1)
    assert srv.signed("GET", "/rest/", a).status == 200
    assert srv.wait_log(r"TA9003 config: registry \S+ changed but is unusable.*cannot open")


def test_graceful_restart_picks_up_new_file(httpd):
    a, b = App("app1"), App("app2")
    srv = httpd(apps=[a])
    srv.write_registry(registry_xml(a, b))
    srv.reload()
    assert srv.signed("GET", "/rest/", b).status == 200


def test_graceful_restart_with_broken_file_keeps_serving(httpd):
    a = App("app1")
    srv = httpd(apps=[a])
    srv.write_registry(BROKEN)
    srv.reload()
    assert srv.signed("GET", "/rest/", a).status == 200
    assert srv.wait_log(r"\[trustedapp:warn\].*TA9003 config: registry \S+ \(TrustedAppRegistry at "
                        r"\S+httpd.conf:\d+\) is unusable, keeping the last good registry")


def test_graceful_restart_keeps_newest_good_file(httpd):
    # good1 at start, good2 picked up while running, then broken + graceful:
    # the parent must fall back to good2, not to good1.
    a, b = App("app1"), App("app2")
    srv = httpd(apps=[a])
    srv.write_registry(registry_xml(a, b))
    assert wait_status(srv, b, 200).status == 200
    # The parent's monitor hook (run by the MPM about every 10 s) records good2.
    assert srv.wait_log(r"last good copy updated", timeout=15)
    srv.write_registry(BROKEN)
    srv.reload()
    assert srv.signed("GET", "/rest/", b).status == 200


def test_reload_under_load(httpd):
    a, b = App("app1"), App("app2")
    srv = httpd(apps=[a])
    stop = time.time() + 4
    results = []

    def client():
        while time.time() < stop:
            r = srv.signed("GET", "/rest/", a)
            results.append(r.status)

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    flip = 0
    while time.time() < stop:
        flip += 1
        srv.write_registry(registry_xml(a, b) if flip % 2 else registry_xml(b, a))
        time.sleep(0.3)
    for t in threads:
        t.join()
    assert results and set(results) == {200}, set(results)
    assert srv.wait_log(r"reloaded: 2 application")
