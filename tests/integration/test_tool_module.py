"""trustapp-admin against the real module: the registry it writes is what
apache2 loads, `request` is accepted, and the module's refusals are
diagnosed by root cause. Uses the module engineer's `httpd` fixture."""

import time

import pytest

from tool_helpers import run, run_json

CONF = """
TrustedAppRegistry "@REGISTRY@"
<Location "/">
  AuthType TrustedApp
  AuthName "trusted applications"
  TrustedAppErrorDetail on
  Require valid-user
</Location>
"""


@pytest.fixture
def setup(httpd, tmp_path):
    key = tmp_path / "app.key"
    assert run_json("keygen", "--out", key, "--public-out", tmp_path / "app.pub").rc == 0
    reg = tmp_path / "seed.xml"
    r = run_json("--registry", reg, "add", "--public-key", tmp_path / "app.pub", "--id", "tool:1",
                 "--name", "Tool", "--ip", "127.0.0.1", "--path", "/rest", "--timeout", "60s")
    assert r.rc == 0, r
    srv = httpd(conf=CONF, registry=reg.read_text())
    return srv, key


def request(srv, key, path, *extra, app_id="tool:1"):
    return run_json("request", "--key", key, "--id", app_id, "--user", "alice",
                    "--url", "http://127.0.0.1:%d%s" % (srv.port, path), *extra)


def until(fn, done=lambda r: r.rc == 0, timeout=8):
    """Calls fn until its result is done (by default: the tool succeeded) or
    the timeout passes (the module picks registry edits up asynchronously);
    returns the last result."""
    deadline = time.time() + timeout
    while True:
        r = fn()
        if done(r) or time.time() > deadline:
            return r
        time.sleep(0.3)


def test_accepted_and_refused_paths(setup):
    srv, key = setup
    ok = request(srv, key, "/rest/")
    assert ok.rc == 0 and ok.json["status"] == 200, ok
    assert "content of /rest" in ok.json["body"]
    r = request(srv, key, "/secure/")
    srv.expect_log(r"path-not-allowed")
    assert r.rc == 5 and r.token == "path-not-allowed", r
    assert "--add-path /secure" in r.json["error"]["fix"]
    # apply the fix on the live registry; the module notices the change
    fix = run_json("--registry", srv.registry_path, "set", "tool:1", "--add-path", "/secure")
    assert fix.rc == 0, fix
    after = until(lambda: request(srv, key, "/secure/"))
    assert after.rc == 0, after


def test_unknown_app(setup):
    srv, key = setup
    r = request(srv, key, "/rest/", app_id="nobody")
    srv.expect_log(r"unknown-app")
    assert r.rc == 5 and r.token == "unknown-app", r
    assert "no application 'nobody'" in r.json["error"]["message"]


def test_ip_not_allowed_names_the_address(setup):
    srv, key = setup
    assert run_json("--registry", srv.registry_path, "set", "tool:1", "--ip", "10.0.0.1").rc == 0
    r = until(lambda: request(srv, key, "/rest/"), done=lambda r: r.rc != 0)
    srv.expect_log(r"ip-not-allowed")
    assert r.rc == 5 and r.token == "ip-not-allowed", r
    assert "127.0.0.1" in r.json["error"]["message"]
    assert "--add-ip 127.0.0.1" in r.json["error"]["fix"]


def test_clock_skew(setup):
    srv, key = setup
    r = request(srv, key, "/rest/", "--created", str(int(time.time()) - 3600), "--ttl", "0")
    srv.expect_log(r"clock-skew-past")
    assert r.rc == 5 and r.token == "clock-skew-past", r
    assert "NTP" in r.json["error"]["fix"]
    assert abs(r.json["server_clock_offset_sec"]) <= 2


def test_disabled_app(setup):
    srv, key = setup
    assert run_json("--registry", srv.registry_path, "disable", "tool:1").rc == 0
    r = until(lambda: request(srv, key, "/rest/"), done=lambda r: r.rc != 0)
    srv.expect_log(r"app-disabled")
    assert r.rc == 5 and r.token == "app-disabled", r
    assert "trustapp-admin enable tool:1" in r.json["error"]["fix"]


SERAPH_CONF = """
TrustedAppRegistry "@REGISTRY@"
<Location "/">
  AuthType TrustedApp
  AuthName "trusted applications"
  TrustedAppProtocols seraph
  TrustedAppErrorDetail on
  Require valid-user
</Location>
"""


def test_seraph_peer_added_from_its_legacy_document(httpd, tmp_path):
    """A legacy peer: its /admin/appTrustCertificate text (made by `cert
    --format seraph`) registered with `add`, then `request --protocol seraph`."""
    key = tmp_path / "rsa.key"
    assert run_json("keygen", "--alg", "rsa-v1_5-sha256", "--bits", "2048", "--out", key,
                    "--public-out", tmp_path / "rsa.pub").rc == 0
    reg = tmp_path / "seed.xml"
    r = run_json("--registry", reg, "add", "--public-key", tmp_path / "rsa.pub", "--id",
                 "confluence:1", "--alg", "rsa-v1_5-sha256", "--protocols", "seraph",
                 "--ip", "127.0.0.1", "--path", "/rest", "--timeout", "10000")
    assert r.rc == 0, r
    srv = httpd(conf=SERAPH_CONF, registry=reg.read_text())
    url = "http://127.0.0.1:%d/rest/" % srv.port
    ok = run_json("request", "--protocol", "seraph", "--key", key, "--id", "confluence:1",
                  "--user", "alice", "--url", url)
    assert ok.rc == 0 and ok.json["status"] == 200, ok
    bad = run_json("request", "--protocol", "seraph", "--key", key, "--id", "confluence:1",
                   "--user", "alice", "--url", "http://127.0.0.1:%d/secure/" % srv.port)
    srv.expect_log(r"path-not-allowed")
    assert bad.rc == 5 and bad.token == "path-not-allowed", bad
