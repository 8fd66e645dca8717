"""Client address policy: the immediate peer, our own trusted-proxy walk of
X-Forwarded-For / Forwarded, mod_remoteip's result, Seraph's every-hop rule,
and a real mod_proxy in front. Loopback has a whole /8, so clients connect
from 127.0.0.5 and proxies from 127.0.0.1."""

import pytest

from conftest import App, PROTECTED_CONF


def conf_with(extra):
    return PROTECTED_CONF + '<Location "/">\n%s\n</Location>\n' % extra


def test_peer_outside_app_ips(httpd):
    a = App("lan", ips=["10.0.0.0/8"])
    srv = httpd(apps=[a])
    r = srv.signed("GET", "/rest/", a)
    assert r.status == 403 and r.error == "ip-not-allowed"
    assert srv.wait_log(r"TA4001 ip-not-allowed: app=lan client=127\.0\.0\.1 ")


def test_peer_matches_seraph_wildcard(httpd):
    a = App("wild", ips=["127.0.*.*"])
    srv = httpd(apps=[a])
    assert srv.signed("GET", "/rest/", a, source="127.0.0.5").status == 200
    b = App("wild2", ips=["127.1.*.*"])
    srv2 = httpd(apps=[b])
    assert srv2.signed("GET", "/rest/", b, source="127.0.0.5").error == "ip-not-allowed"


def test_forwarded_for_from_untrusted_peer_is_ignored(httpd):
    a = App("lan", ips=["10.0.0.0/8"])
    srv = httpd(apps=[a])
    r = srv.signed("GET", "/rest/", a, headers=[("X-Forwarded-For", "10.1.2.3")])
    assert r.status == 403 and r.error == "ip-not-allowed"


def test_trusted_proxy_walk_xff(httpd):
    a = App("lan", ips=["10.0.0.0/8"])
    srv = httpd(conf=conf_with("TrustedAppTrustedProxy 127.0.0.1"), apps=[a])
    r = srv.signed("GET", "/echo/", a, headers=[("X-Forwarded-For", "10.1.2.3")])
    assert r.status == 200, (r.error, srv.error_log())
    assert srv.wait_log(r"TA0000 ok: app=lan client=10\.1\.2\.3 ")


def test_trusted_proxy_walk_stops_at_untrusted_hop(httpd):
    a = App("lan", ips=["10.0.0.0/8"])
    srv = httpd(conf=conf_with("TrustedAppTrustedProxy 127.0.0.1"), apps=[a])
    # 192.168.1.1 is not a trusted proxy, so its claim (10.1.2.3) is not believed.
    r = srv.signed("GET", "/rest/", a, headers=[("X-Forwarded-For", "10.1.2.3, 192.168.1.1")])
    assert r.status == 403 and r.error == "ip-not-allowed"
    assert srv.wait_log(r"client=192\.168\.1\.1 ")


def test_trusted_proxy_chain_of_two(httpd):
    a = App("lan", ips=["10.0.0.0/8"])
    srv = httpd(conf=conf_with("TrustedAppTrustedProxy 127.0.0.1 192.168.0.0/16"), apps=[a])
    r = srv.signed("GET", "/rest/", a, headers=[("X-Forwarded-For", "10.1.2.3, 192.168.1.1")])
    assert r.status == 200


def test_forwarded_header(httpd):
    a = App("v6", ips=["2001:db8::/32"])
    srv = httpd(conf=conf_with("TrustedAppTrustedProxy 127.0.0.1\n  TrustedAppProxyHeader Forwarded"),
                apps=[a])
    r = srv.signed("GET", "/rest/", a, headers=[("Forwarded", 'for="[2001:db8::17]";proto=https')])
    assert r.status == 200, (r.error, srv.error_log())
    # X-Forwarded-For is not consulted in Forwarded mode.
    r = srv.signed("GET", "/rest/", a, headers=[("X-Forwarded-For", "2001:db8::17")])
    assert r.status == 403 and r.error == "ip-not-allowed"


def test_malformed_chain_from_trusted_proxy(httpd):
    a = App("lan", ips=["10.0.0.0/8"])
    srv = httpd(conf=conf_with("TrustedAppTrustedProxy 127.0.0.1"), apps=[a])
    for bad in ["10.1.2.3, not-an-ip", "10.1.2.3;", "1.2.3.4" + ", 1.2.3.4" * 40]:
        r = srv.signed("GET", "/rest/", a, headers=[("X-Forwarded-For", bad)])
        assert r.status == 403 and r.error == "proxy-chain-invalid", bad


def test_forwarded_unknown_is_refused(httpd):
    a = App("lan", ips=["10.0.0.0/8"])
    srv = httpd(conf=conf_with("TrustedAppTrustedProxy 127.0.0.1\n  TrustedAppProxyHeader Forwarded"),
                apps=[a])
    r = srv.signed("GET", "/rest/", a, headers=[("Forwarded", "for=unknown")])
    assert r.status == 403 and r.error == "proxy-chain-invalid"


def test_every_hop_must_match(httpd):
    a = App("seraphlike", ips=["127.0.0.1", "10.*.*.*"])
    srv = httpd(conf=conf_with("TrustedAppEveryHopMustMatch on"), apps=[a])
    assert srv.signed("GET", "/rest/", a, headers=[("X-Forwarded-For", "10.9.9.9")]).status == 200
    r = srv.signed("GET", "/rest/", a, headers=[("X-Forwarded-For", "10.9.9.9, 192.168.5.5")])
    assert r.status == 403 and r.error in ("ip-not-allowed", "proxy-chain-invalid")


def test_remoteip_mode_uses_mod_remoteip_result(httpd):
    a = App("lan", ips=["10.0.0.0/8"])
    conf = ("RemoteIPHeader X-Forwarded-For\nRemoteIPInternalProxy 127.0.0.1\n"
            + conf_with("TrustedAppProxyHeader remoteip"))
    srv = httpd(conf=conf, apps=[a], modules=["remoteip"])
    r = srv.signed("GET", "/rest/", a, headers=[("X-Forwarded-For", "10.7.7.7")])
    assert r.status == 200, (r.error, srv.error_log())
    # Without mod_remoteip's trust (peer 127.0.0.5 is no internal proxy) the claim is ignored.
    r = srv.signed("GET", "/rest/", a, headers=[("X-Forwarded-For", "10.7.7.7")], source="127.0.0.5")
    assert r.status == 403 and r.error == "ip-not-allowed"


def test_trusted_proxy_directive_rejects_bad_pattern(httpd, app):
    srv = httpd(conf=conf_with("TrustedAppTrustedProxy 10.0.0.0/33"), apps=[app], start=False)
    p = srv.configtest()
    assert p.returncode != 0
    assert "TrustedAppTrustedProxy" in p.stderr and "10.0.0.0/33" in p.stderr


FRONT_CONF = """
ProxyRequests Off
ProxyPreserveHost On
ProxyPass "/" "http://127.0.0.1:%d/"
ProxyPassReverse "/" "http://127.0.0.1:%d/"
"""


def _behind_front(httpd, app, backend_extra):
    back = httpd(conf=conf_with(backend_extra), apps=[app], name="backend")
    front = httpd(conf=FRONT_CONF % (back.port, back.port), modules=["proxy", "proxy_http"],
                  name="front")
    return front, back


def _signed_via(front, app, path, source):
    # The client signs the URL it uses: the front's authority (ProxyPreserveHost keeps it).
    return front.signed("GET", path, app, source=source)


def test_real_proxy_in_front_with_trusted_proxy(httpd):
    a = App("client5", ips=["127.0.0.5"])
    front, back = _behind_front(httpd, a, "TrustedAppTrustedProxy 127.0.0.1")
    r = _signed_via(front, a, "/rest/", "127.0.0.5")
    assert r.status == 200, (r.error, back.error_log())
    assert r.body == b"content of /rest\n"
    assert back.wait_log(r"TA0000 ok: app=client5 client=127\.0\.0\.5 ")


def test_real_proxy_in_front_without_trusted_proxy(httpd):
    a = App("client5", ips=["127.0.0.5"])
    front, back = _behind_front(httpd, a, "")
    r = _signed_via(front, a, "/rest/", "127.0.0.5")
    assert r.status == 403 and r.error == "ip-not-allowed"
    assert back.wait_log(r"TA4001 ip-not-allowed: app=client5 client=127\.0\.0\.1 ")


def test_real_proxy_every_hop_needs_the_proxy_listed(httpd):
    a = App("client5", ips=["127.0.0.5"])
    front, back = _behind_front(httpd, a, "TrustedAppEveryHopMustMatch on")
    assert _signed_via(front, a, "/rest/", "127.0.0.5").error == "ip-not-allowed"
    b = App("client5b", ips=["127.0.0.5", "127.0.0.1"])
    front2, back2 = _behind_front(httpd, b, "TrustedAppEveryHopMustMatch on")
    assert _signed_via(front2, b, "/rest/", "127.0.0.5").status == 200
