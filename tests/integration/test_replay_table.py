"""The built-in replay store (TrustedAppReplayCache table[:BYTES], the default):
a shared-memory nonce table with constant-time insert-if-absent, shared by the
worker processes, kept across graceful restarts, and honest when it is too
small (warn, or with TrustedAppReplayCacheOverflow refuse never accept a
nonce it evicted)."""

import re
import time

import pytest

import tasig
from replay_helpers import (OVERFLOW_REFUSE_CONF, TWO_PROCESSES, assert_never_accepted_again,
                            assert_one_winner_across_processes, send_until_overflow)
from conftest import PROTECTED_CONF


DEFAULT_BYTES = 16 * 1024 * 1024
# The smallest table (4 KiB) has 96 slots: it overflows after about 80 nonces.
TINY = "TrustedAppReplayCache table:4K\n"
NEW_TABLE = r"TA0000 ok: replay cache 'table:(\d+)': new table of (\d+) nonce slots"
OVERFLOW_WARNING = (r"\[trustedapp:warn\].*TA9003 config: replay cache 'table:4096' is too small: "
                    r"it dropped nonces before they expired \(\d+ so far\).*"
                    r"TrustedAppReplayCache table:BYTES")


def _table_cache(value):
    return "TrustedAppReplayCache %s\n" % value + PROTECTED_CONF



def test_default_is_the_table_and_refuses_a_replay(httpd, app):
    srv = httpd(apps=[app])
    m = srv.wait_log(NEW_TABLE)
    assert m and int(m.group(1)) == DEFAULT_BYTES, srv.error_log()
    # 320-byte buckets of 7 slots after a header and the bucket locks (256
    # process-shared mutexes, about 10 KB): the fixed part takes under 64 buckets.
    slots = int(m.group(2))
    assert DEFAULT_BYTES // 320 * 7 - 64 * 7 <= slots <= DEFAULT_BYTES // 320 * 7, slots
    s = tasig.sign_request("GET", srv.url("/rest/"), app.key, app.id, user="alice")
    assert srv.request("GET", "/rest/", s.headers).status == 200
    r = srv.request("GET", "/rest/", s.headers)
    assert (r.status, r.error) == (401, "replay")
    assert srv.wait_log(r"TA3004 replay: app=app1 ")
    assert "is too small" not in srv.error_log()


def test_default_table_needs_no_socache_module(httpd, app):
    srv = httpd(apps=[app], start=False)
    conf = srv.conf_path.read_text()
    assert "mod_socache_shmcb.so" in conf
    srv.conf_path.write_text("\n".join(l for l in conf.splitlines() if "mod_socache_" not in l))
    p = srv.start()
    assert p is None or p.returncode == 0, p
    assert srv.wait_log(NEW_TABLE)
    s = tasig.sign_request("GET", srv.url("/rest/"), app.key, app.id, user="alice")
    assert srv.request("GET", "/rest/", s.headers).status == 200
    assert srv.request("GET", "/rest/", s.headers).error == "replay"


@pytest.mark.parametrize("value,size", [("table", DEFAULT_BYTES), ("table:64M", 64 << 20),
                                        ("table:1048576", 1 << 20), ("table:4k", 4096)])
def test_table_sizes_are_accepted(httpd, app, value, size):
    srv = httpd(conf=_table_cache(value), apps=[app])
    m = srv.wait_log(NEW_TABLE)
    assert m and int(m.group(1)) == size, srv.error_log()
    s = tasig.sign_request("GET", srv.url("/rest/"), app.key, app.id, user="alice")
    assert srv.request("GET", "/rest/", s.headers).status == 200
    assert srv.request("GET", "/rest/", s.headers).error == "replay"


def test_largest_table_passes_the_configuration_test(httpd, app):
    srv = httpd(conf=_table_cache("table:4G"), apps=[app], start=False)
    p = srv.configtest()
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize("value,why", [
    ("table:0", "too small"),
    ("table:10", "too small"),
    ("table:4095", "too small"),
    ("table:abc", "BYTES or a number with K, M or G"),
    ("table:", "BYTES or a number with K, M or G"),
    ("table:-1", "BYTES or a number with K, M or G"),
    ("table:64MB", "BYTES or a number with K, M or G"),
    ("table:1.5G", "BYTES or a number with K, M or G"),
    ("table:5G", "too large"),
    ("table:4294967297", "too large"),
    ("table:99999999999999999999999999", "too large"),
])
def test_bad_table_size_stops_the_configuration_test(httpd, app, value, why):
    srv = httpd(conf=_table_cache(value), apps=[app], start=False)
    p = srv.configtest()
    assert p.returncode != 0
    line = srv.conf_path.read_text().splitlines().index("TrustedAppReplayCache " + value) + 1
    assert ("TrustedAppReplayCache: invalid value '%s' (%s:%d): " % (value, srv.conf_path, line)
            in p.stderr), p.stderr
    assert why in p.stderr, p.stderr


def test_two_worker_processes_share_the_table(httpd, app):
    srv = httpd(conf=_table_cache("table:1M"), apps=[app], global_conf=TWO_PROCESSES)
    assert_one_winner_across_processes(srv, app)


def test_table_survives_graceful_restarts(httpd, app):
    srv = httpd(apps=[app], global_conf=TWO_PROCESSES)
    s = tasig.sign_request("GET", srv.url("/rest/"), app.key, app.id, user="alice")
    assert srv.request("GET", "/rest/", s.headers).status == 200
    for _ in range(2):
        srv.reload()
        r = srv.request("GET", "/rest/", s.headers)
        assert (r.status, r.error) == (401, "replay")
    # The default spelled out is the same table: still kept.
    srv.conf_body = _table_cache("table:16M")
    srv.write_conf()
    srv.reload()
    r = srv.request("GET", "/rest/", s.headers)
    assert (r.status, r.error) == (401, "replay")
    assert len(re.findall(NEW_TABLE, srv.error_log())) == 1, srv.error_log()
    assert srv.signed("GET", "/rest/", app).status == 200


def _children(pid):
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        return [int(c) for c in f.read().split()]


def _shared_anonymous_rss_kib(pid, size):
    """Rss of pid's shared anonymous mapping of about `size` bytes (APR's segment)."""
    rss, current = None, None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)", line)
            if m:
                length = int(m.group(2), 16) - int(m.group(1), 16)
                current = ("s" in m.group(3) and m.group(4).startswith("/dev/zero")
                           and size <= length <= size + 8192)
            elif current and line.startswith("Rss:"):
                rss = int(line.split()[1])
    return rss


def _assert_children_map_the_whole_table(srv, size, children):
    deadline = time.time() + 10
    while True:
        kids = _children(srv.pid())
        rss = {k: _shared_anonymous_rss_kib(k, size) for k in kids}
        if len(kids) >= children and all(v is not None and v * 1024 >= size for v in rss.values()):
            return
        if time.time() > deadline:
            raise AssertionError("children's Rss of the %d-byte table (KiB): %r" % (size, rss))
        time.sleep(0.1)


def test_children_map_the_whole_table_before_any_request(httpd, app):
    # Lazily mapped, a table of hundreds of megabytes costs a page fault in
    # most requests for as long as each child takes to touch every page.
    size = 64 << 20
    srv = httpd(conf=_table_cache("table:64M"), apps=[app], global_conf=TWO_PROCESSES)
    _assert_children_map_the_whole_table(srv, size, 2)
    srv.reload()
    # The MPM may run a single new child until more are needed.
    _assert_children_map_the_whole_table(srv, size, 1)
    assert len(re.findall(NEW_TABLE, srv.error_log())) == 1, srv.error_log()
    assert srv.signed("GET", "/rest/", app).status == 200


def test_changed_table_size_starts_a_new_table(httpd, app):
    srv = httpd(apps=[app])
    assert srv.signed("GET", "/rest/", app).status == 200
    srv.conf_body = _table_cache("table:1M")
    srv.write_conf()
    srv.reload()
    assert [int(m.group(1)) for m in re.finditer(NEW_TABLE, srv.error_log())] == [DEFAULT_BYTES,
                                                                                 1 << 20]
    s = tasig.sign_request("GET", srv.url("/rest/"), app.key, app.id, user="alice")
    assert srv.request("GET", "/rest/", s.headers).status == 200
    assert srv.request("GET", "/rest/", s.headers).error == "replay"


def test_switching_between_table_and_shmcb_on_graceful_restart(httpd, app):
    srv = httpd(apps=[app])
    assert srv.signed("GET", "/rest/", app).status == 200
    srv.conf_body = 'TrustedAppReplayCache "shmcb:@ROOT@/run/replay(262144)"\n' + PROTECTED_CONF
    srv.write_conf()
    srv.reload()
    s = tasig.sign_request("GET", srv.url("/rest/"), app.key, app.id, user="alice")
    assert srv.request("GET", "/rest/", s.headers).status == 200
    assert srv.request("GET", "/rest/", s.headers).error == "replay"
    srv.conf_body = PROTECTED_CONF
    srv.write_conf()
    srv.reload()
    assert len(re.findall(NEW_TABLE, srv.error_log())) == 2
    s = tasig.sign_request("GET", srv.url("/rest/"), app.key, app.id, user="alice")
    assert srv.request("GET", "/rest/", s.headers).status == 200
    assert srv.request("GET", "/rest/", s.headers).error == "replay"


def _fill(srv, app, n):
    """n accepted requests with unique nonces; returns their signed headers, oldest first."""
    out = []
    for _ in range(n):
        s = tasig.sign_request("GET", srv.url("/rest/"), app.key, app.id, user="alice")
        r = srv.request("GET", "/rest/", s.headers)
        assert (r.status, r.error) == (200, None)
        out.append(s.headers)
    return out


def test_overflowing_tiny_table_is_reported(httpd, app):
    """Warn mode: a full table evicts the nonce expiring soonest, keeps
    accepting new requests (no 503), still finds a nonce just stored, and tells
    the operator once a minute for the whole server (two processes here)."""
    srv = httpd(conf=TINY + PROTECTED_CONF, apps=[app], global_conf=TWO_PROCESSES)
    for _ in range(200):
        s = tasig.sign_request("GET", srv.url("/rest/"), app.key, app.id, user="alice")
        assert srv.request("GET", "/rest/", s.headers).status == 200
        r = srv.request("GET", "/rest/", s.headers)
        assert (r.status, r.error) == (401, "replay")
    assert srv.wait_log(OVERFLOW_WARNING)
    assert len(re.findall(r"is too small", srv.error_log())) == 1
    assert "TA3005" not in srv.error_log()


def test_adequate_table_reports_no_overflow(httpd, app):
    srv = httpd(conf=_table_cache("table:64K"), apps=[app])
    _fill(srv, app, 200)
    assert "is too small" not in srv.error_log()


def test_overflow_refuse_mode_never_accepts_an_evicted_nonce(httpd, app):
    srv = httpd(conf=TINY + PROTECTED_CONF + OVERFLOW_REFUSE_CONF, apps=[app])
    srv.expect_log(r"TA3005 replay-cache-unavailable: .*replay cache 'table:4096' overflowed")
    sent = send_until_overflow(srv, app)
    assert len(sent) >= 50       # the 96 slots held ~64-90 nonces before the first eviction
    assert srv.wait_log(OVERFLOW_WARNING)
    assert_never_accepted_again(srv, sent)
