"""trustapp-admin tls-fetch: the chain is shown (and saved) and every TLS
failure is named by its root cause, with the certificates involved."""

import time
from pathlib import Path

import pytest

from tls_pki import CA, fingerprint_sha256, self_signed
from tool_helpers import HTTPSServer, OldTLSServer, RawServer, run, run_json

LOCAL_SANS = ["DNS:localhost", "IP:127.0.0.1"]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    root = tmp_path_factory.mktemp("pki")
    ca = CA(root, "Test Root CA")
    other = CA(root, "Unknown Other CA")
    p = {"root": root, "ca": ca, "other": other}
    p["good"] = ca.issue("good", LOCAL_SANS)
    p["expired"] = ca.issue("expired", LOCAL_SANS, start="-20d", end="-2d")
    p["future"] = ca.issue("future", LOCAL_SANS, start="+5d", end="+20d")
    p["wrongname"] = ca.issue("wrongname", ["DNS:other.example"])
    p["unknown"] = other.issue("unknown", LOCAL_SANS)
    p["selfsigned"] = self_signed(root, "selfsigned", LOCAL_SANS)
    p["client"] = ca.issue("client-app", ["DNS:client.example"])
    return p


def test_good_chain_verified_and_described(pki, tmp_path):
    cert, key = pki["good"]
    out = tmp_path / "chain.pem"
    with HTTPSServer(cert, key) as srv:
        r = run_json("tls-fetch", "localhost:%d" % srv.port, "--cacert", pki["ca"].cert,
                     "--out", out)
    assert r.rc == 0, r
    assert r.json["verified"] is True
    assert r.json["tls_version"] in ("TLSv1.2", "TLSv1.3") and r.json["cipher"]
    leaf = r.json["chain"][0]
    assert leaf["subject"] == "CN=good"
    assert leaf["issuer"] == "CN=Test Root CA"
    assert leaf["sha256"] == fingerprint_sha256(cert)
    assert "DNS:localhost" in leaf["names"]
    assert leaf["not_after"].endswith("Z")
    saved = out.read_text()
    assert saved.count("BEGIN CERTIFICATE") == 1
    assert saved.strip() == Path(cert).read_text().strip()


def test_text_output_shows_chain(pki):
    cert, key = pki["good"]
    with HTTPSServer(cert, key) as srv:
        r = run("tls-fetch", "127.0.0.1:%d" % srv.port, "--cacert", pki["ca"].cert)
    assert r.rc == 0, r
    assert "subject:  CN=good" in r.out
    colon = ":".join(fingerprint_sha256(cert).upper()[i:i + 2] for i in range(0, 64, 2))
    assert colon in r.out
    assert "verified: yes" in r.out


@pytest.mark.parametrize("case,token,needle", [
    ("expired", "expired", "expired on"),
    ("future", "not-yet-valid", "valid only from"),
    ("wrongname", "name-mismatch", "DNS:other.example"),
    ("unknown", "unknown-issuer", "Unknown Other CA"),
    ("selfsigned", "self-signed", "CN=selfsigned"),
])
def test_failure_root_cause(pki, tmp_path, case, token, needle):
    cert, key = pki[case]
    out = tmp_path / "presented.pem"
    with HTTPSServer(cert, key) as srv:
        r = run_json("tls-fetch", "localhost:%d" % srv.port, "--cacert", pki["ca"].cert,
                     "--out", out)
    assert r.rc == 4, r
    assert r.token == token, r
    assert needle in r.json["error"]["message"], r
    assert r.json["error"]["fix"]
    assert r.json["verified"] is False
    # the presented chain is shown and saved even though verification failed
    assert r.json["chain"][0]["sha256"] == fingerprint_sha256(cert)
    assert fingerprint_sha256(out) == fingerprint_sha256(cert)


def test_expired_message_gives_the_date(pki):
    cert, key = pki["expired"]
    with HTTPSServer(cert, key) as srv:
        r = run_json("tls-fetch", "localhost:%d" % srv.port, "--cacert", pki["ca"].cert)
    assert r.json["chain"][0]["not_after"] in r.json["error"]["message"]


def test_self_signed_trusted_explicitly(pki):
    cert, key = pki["selfsigned"]
    with HTTPSServer(cert, key) as srv:
        r = run_json("tls-fetch", "localhost:%d" % srv.port, "--cacert", cert)
    assert r.rc == 0, r


def test_untrusted_without_cacert_uses_system_store(pki):
    cert, key = pki["good"]
    with HTTPSServer(cert, key) as srv:
        r = run_json("tls-fetch", "localhost:%d" % srv.port)
    assert r.rc == 4 and r.token == "unknown-issuer", r


def test_intermediate_sent_in_chain_is_listed(pki):
    cert, key = pki["unknown"]
    with HTTPSServer(cert, key, chain_extra=pki["other"].cert) as srv:
        r = run_json("tls-fetch", "localhost:%d" % srv.port, "--cacert", pki["ca"].cert)
    assert r.rc == 4 and r.token == "unknown-issuer", r
    subjects = [c["subject"] for c in r.json["chain"]]
    assert subjects == ["CN=unknown", "CN=Unknown Other CA"]


def test_timeout(tmp_path):
    with RawServer("silent") as srv:
        t0 = time.monotonic()
        r = run_json("--connect-timeout", "1", "tls-fetch", "127.0.0.1:%d" % srv.port)
        elapsed = time.monotonic() - t0
    assert r.rc == 4 and r.token == "timeout", r
    assert elapsed < 10


def test_handshake_reset():
    with RawServer("reset") as srv:
        r = run_json("tls-fetch", "127.0.0.1:%d" % srv.port)
    assert r.rc == 4 and r.token == "handshake-reset", r
    assert "--cert" in r.json["error"]["fix"]


def test_connection_refused():
    with RawServer("reset") as srv:
        port = srv.port
    r = run_json("tls-fetch", "127.0.0.1:%d" % port)
    assert r.rc == 4 and r.token == "connection-refused", r


def test_proxy_407(pki):
    with RawServer("proxy407") as proxy:
        r = run_json("tls-fetch", "localhost:9", "--cacert", pki["ca"].cert,
                     env={"https_proxy": "http://user@127.0.0.1:%d" % proxy.port})
        assert proxy.seen and proxy.seen[0].startswith("CONNECT localhost:9 ")
    assert r.rc == 4 and r.token == "proxy-auth-required", r
    assert "no_proxy" in r.json["error"]["fix"]


def test_plain_http_port_is_not_tls():
    with HTTPSServer() as srv:
        r = run_json("tls-fetch", "127.0.0.1:%d" % srv.port)
    assert r.rc == 4 and r.token == "not-tls", r


def test_text_mode_error_on_stderr(pki):
    cert, key = pki["expired"]
    with HTTPSServer(cert, key) as srv:
        r = run("tls-fetch", "localhost:%d" % srv.port, "--cacert", pki["ca"].cert)
    assert r.rc == 4
    assert "error (expired)" in r.err and "fix:" in r.err
    assert "subject:  CN=expired" in r.out


def test_bad_target_is_usage_error():
    r = run_json("tls-fetch", "http://x/y")
    assert r.rc == 2 and r.token == "usage", r


def test_server_asking_for_client_certificate_is_reported(pki):
    cert, key = pki["good"]
    with HTTPSServer(cert, key, client_ca=pki["ca"].cert) as srv:
        r = run_json("tls-fetch", "localhost:%d" % srv.port, "--cacert", pki["ca"].cert)
        ccert, ckey = pki["client"]
        r2 = run_json("tls-fetch", "localhost:%d" % srv.port, "--cacert", pki["ca"].cert,
                      "--cert", ccert, "--cert-key", ckey)
    assert r.json["client_cert_requested"] is True, r
    assert r2.rc == 0 and r2.json["client_cert_requested"] is False, r2


def test_through_a_working_proxy(pki):
    cert, key = pki["good"]
    with HTTPSServer(cert, key) as srv, RawServer("tunnel") as proxy:
        r = run_json("tls-fetch", "localhost:%d" % srv.port, "--cacert", pki["ca"].cert,
                     env={"https_proxy": "http://127.0.0.1:%d" % proxy.port})
        assert proxy.seen and proxy.seen[0].startswith("CONNECT localhost:%d " % srv.port)
    assert r.rc == 0, r
    assert r.json["chain"][0]["subject"] == "CN=good"


def test_no_proxy_bypasses_the_proxy(pki):
    cert, key = pki["good"]
    with HTTPSServer(cert, key) as srv, RawServer("proxy407") as proxy:
        r = run_json("tls-fetch", "localhost:%d" % srv.port, "--cacert", pki["ca"].cert,
                     env={"https_proxy": "http://127.0.0.1:%d" % proxy.port, "no_proxy": "localhost"})
        assert proxy.seen == []
    assert r.rc == 0, r


def test_tls_below_1_2_is_refused(pki):
    cert, key = pki["good"]
    with OldTLSServer(cert, key) as srv:
        r = run_json("tls-fetch", "localhost:%d" % srv.port, "--cacert", pki["ca"].cert)
    assert r.rc == 4 and r.token == "tls-version", r
