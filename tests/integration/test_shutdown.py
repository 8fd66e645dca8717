"""Stopping apache2 (SIGTERM: the event MPM's ungraceful stop) right after the
module accepted requests, with keep-alive connections still open, after a
registry reload in the child, and while the module is reading a signed body:
no child may crash (the harness fails a test on any "exit signal" line or a
bad parent exit status, and checks every error-log line).

httpd's own race at an ungraceful stop (conftest.STOP_SETTLE_SECONDS: a child
segfaults in close_worker_sockets when a worker has only just handed its
finished connection to the listener) needs no module at all; stop() waits
for the last request to settle so that these tests see only the module."""

import http.client
import socket
import threading
import time

import tasig
from conftest import STOP_SETTLE_SECONDS, App, registry_xml

KEEPALIVE_CONF = """
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 30
TrustedAppRegistry "@REGISTRY@"
<Location "/">
  AuthType TrustedApp
  Require valid-user
</Location>
"""

SERVERS = 6


def signed_on(conn, srv, app, path="/echo/k", user="bob"):
    """One signed GET on an open keep-alive connection; returns the status."""
    s = tasig.sign_request("GET", srv.url(path), app.key, app.id, user=user)
    conn.putrequest("GET", path, skip_accept_encoding=True)
    for n, v in s.headers:
        conn.putheader(n, v)
    conn.endheaders()
    r = conn.getresponse()
    r.read()
    return r.status


def exit_signals(srv):
    return [line for line in srv.error_log().splitlines() if "exit signal" in line]


def test_stop_with_open_keepalive_connections_after_accepted_requests(httpd):
    apps = [App("app-rsa", alg="rsa-pss-sha512"), App("app-ed", alg="ed25519"),
            App("app-ec", alg="ecdsa-p256-sha256")]
    for _ in range(SERVERS):
        srv = httpd(conf=KEEPALIVE_CONF, apps=apps)
        conns = [http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10) for _ in range(4)]
        for i, conn in enumerate(conns):
            for _ in range(3):
                assert signed_on(conn, srv, apps[i % len(apps)]) == 200
        srv.last_io = time.time()
        srv.stop()      # the four connections are still open, idle in keep-alive
        for conn in conns:
            conn.close()
        assert srv.exit_status == 0, srv.error_log()
        assert not exit_signals(srv), srv.error_log()
        assert srv.error_log().count("TA0000 ok: app=") == 12


def test_stop_after_a_registry_reload_in_the_child(httpd):
    """The child swapped generations (the first one is destroyed with its last
    reference) before the stop; a request still holds the new one at times."""
    a, b = App("app-a", alg="rsa-pss-sha512"), App("app-b")
    for _ in range(SERVERS // 2):
        srv = httpd(apps=[a])
        assert srv.signed("GET", "/echo/1", a).status == 200
        srv.write_registry(registry_xml(a, b))
        time.sleep(1.1)   # the module looks at the file at most once a second
        assert srv.signed("GET", "/echo/2", b).status == 200
        assert srv.wait_log(r"registry .* reloaded: 2 application")
        assert srv.signed("GET", "/echo/3", a).status == 200
        srv.stop()
        assert srv.exit_status == 0, srv.error_log()
        assert not exit_signals(srv), srv.error_log()


def restart_ungracefully(srv, timeout=20):
    """apache2 -k restart (SIGHUP): children are stopped as by SIGTERM, the
    parent destroys its configuration pool (the registry generations and their
    OpenSSL keys), unloads and reloads the module."""
    before = srv.generation()
    time.sleep(STOP_SETTLE_SECONDS)
    srv.ctl("-k", "restart")
    deadline = time.time() + timeout
    while srv.generation() == before:
        assert time.time() < deadline, srv.error_log()
        time.sleep(0.05)
    srv._wait_up()


def test_ungraceful_restarts_after_accepted_requests(httpd):
    apps = [App("app-rsa", alg="rsa-pss-sha512"), App("app-ec", alg="ecdsa-p384-sha384")]
    srv = httpd(apps=apps)
    first = tasig.sign_request("GET", srv.url("/echo/r"), apps[0].key, apps[0].id, user="bob")
    assert srv.request("GET", "/echo/r", first.headers).status == 200
    for n in range(3):
        for a in apps:
            assert srv.signed("GET", "/echo/%d" % n, a).status == 200
        restart_ungracefully(srv)
        # The replay cache lives in the process pool: a restart forgets nothing.
        r = srv.request("GET", "/echo/r", first.headers)
        assert (r.status, r.error) == (401, "replay")
    assert srv.signed("GET", "/echo/end", apps[1]).status == 200
    srv.stop()
    assert srv.exit_status == 0, srv.error_log()
    assert not exit_signals(srv), srv.error_log()
    assert srv.generation() == 4


def test_stop_while_the_module_reads_a_signed_body(httpd):
    """SIGTERM while a worker is inside the module's body check (past the 64 KiB
    kept in memory, so spooling to the temporary file): the child closes the
    connection under the worker and must exit cleanly."""
    app = App("app-body")
    body = b"x" * (2 * 1024 * 1024)
    for _ in range(SERVERS // 2):
        srv = httpd(apps=[app])
        s = tasig.sign_request("POST", srv.url("/echo/body"), app.key, app.id, user="bob",
                               body=body)
        head = ["POST /echo/body HTTP/1.1", "Host: 127.0.0.1:%d" % srv.port,
                "Content-Length: %d" % len(body)] + ["%s: %s" % hv for hv in s.headers]
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        # A worker blocked reading a body is not woken by the stop (httpd closes
        # the socket under it; true of any handler, seen with mod_lua alone):
        # the client goes away soon after, as a real one would when cut off.
        hang_up = threading.Timer(0.3, sock.close)
        try:
            sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body[:300 * 1024])
            time.sleep(0.3)   # the worker now waits in the module for the rest
            hang_up.start()
            srv.stop(settle=False)
        finally:
            hang_up.join()
        assert srv.exit_status == 0, srv.error_log()
        assert not exit_signals(srv), srv.error_log()
        assert "TA0000 ok: app=" not in srv.error_log()
