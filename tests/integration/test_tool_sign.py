"""trustapp-admin keygen -> sign round trip, verified independently with
python3-cryptography over a base rebuilt by tasig.py (written from RFC 9421,
not from the C library); request against a local server and the diagnosis
of every refusal from the server's TrustedApp-Error headers."""

import base64
import hashlib
import re

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

import tasig
from tls_pki import CA
from tool_helpers import HTTPSServer, run, run_json

ALGS = ["ed25519", "ecdsa-p256-sha256", "ecdsa-p384-sha384", "rsa-pss-sha512", "rsa-v1_5-sha256"]


@pytest.fixture(scope="module")
def keypairs(tmp_path_factory):
    d = tmp_path_factory.mktemp("signkeys")
    out = {}
    for alg in ALGS:
        extra = ["--bits", "2048"] if alg.startswith("rsa") else []
        r = run_json("keygen", "--alg", alg, "--out", d / (alg + ".key"), *extra)
        assert r.rc == 0, r
        out[alg] = (d / (alg + ".key"), r.json["public_key"], r.json["fingerprint"])
    return out


def verify(pub_pem, alg, data, sig):
    pub = serialization.load_pem_public_key(pub_pem.encode())
    if alg == "ed25519":
        pub.verify(sig, data)
    elif alg.startswith("ecdsa"):
        size = 32 if "p256" in alg else 48
        h = hashes.SHA256() if "p256" in alg else hashes.SHA384()
        der = encode_dss_signature(int.from_bytes(sig[:size], "big"), int.from_bytes(sig[size:], "big"))
        pub.verify(der, data, ec.ECDSA(h))
    elif alg == "rsa-pss-sha512":
        pub.verify(sig, data, padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64),
                   hashes.SHA512())
    else:
        pub.verify(sig, data, padding.PKCS1v15(), hashes.SHA256())


def parse_params(sig_input):
    label, rest = sig_input.split("=", 1)
    inner, params = rest[1:].split(")", 1)
    covered = re.findall(r'"([^"]*)"', inner)
    kv = []
    for m in re.finditer(r';([a-z]+)=("([^"]*)"|(\d+))', params):
        kv.append((m.group(1), m.group(3) if m.group(3) is not None else int(m.group(4))))
    return label, covered, kv


def test_keygen_fingerprint_matches_spki(keypairs):
    for alg in ALGS:
        _, pub_pem, fp = keypairs[alg]
        der = serialization.load_pem_public_key(pub_pem.encode()).public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        assert fp == "SHA256:" + base64.b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")


@pytest.mark.parametrize("alg", ALGS)
def test_sign_verifies_independently(keypairs, alg):
    key, pub_pem, _ = keypairs[alg]
    url = "https://wiki.example.com:8443/rest/api/content?spaceKey=DEV&limit=5"
    body = '{"title": "x"}'
    args = ["sign", "--key", key, "--id", "confluence:1", "--method", "POST", "--url", url,
            "--user", "alice", "--body", body]
    if alg.startswith("rsa"):
        args += ["--alg", alg]
    r = run_json(*args)
    assert r.rc == 0, r
    headers = {h["name"]: h["value"] for h in r.json["headers"]}
    assert headers["TrustedApp-User"] == "alice"
    assert headers["Content-Digest"] == tasig.content_digest(body.encode())
    label, covered, params = parse_params(headers["Signature-Input"])
    assert label == "ta"
    assert covered == ["@method", "@target-uri", "trustedapp-user", "content-digest"]
    p = dict(params)
    assert p["keyid"] == "confluence:1" and p["expires"] == p["created"] + 60 and p["nonce"]
    msg = tasig.Message("POST", url, [("TrustedApp-User", "alice"),
                                      ("Content-Digest", headers["Content-Digest"])])
    base, _ = tasig.signature_base(msg, covered, params)
    assert base == r.json["signature_base"]
    sig = base64.b64decode(headers["Signature"].split("=", 1)[1].strip(":"))
    verify(pub_pem, alg, base.encode(), sig)
    # a changed base must not verify (the check above can fail)
    with pytest.raises(Exception):
        verify(pub_pem, alg, base.replace("alice", "mallory").encode(), sig)


def test_sign_text_output_is_header_lines(keypairs):
    key = keypairs["ed25519"][0]
    r = run("sign", "--key", key, "--id", "a", "--url", "http://h/x", "--created", "1700000000",
            "--nonce", "n1", "--ttl", "0")
    assert r.rc == 0, r
    lines = r.out.strip().split("\n")
    assert lines[0] == 'Signature-Input: ta=("@method" "@target-uri");created=1700000000;keyid="a";nonce="n1"'
    assert lines[1].startswith("Signature: ta=:")


def test_sign_usage(keypairs):
    assert run_json("sign", "--id", "a", "--url", "http://h/").rc == 2
    assert run_json("sign", "--key", keypairs["ed25519"][0], "--id", "a", "--url", "ftp://h/").rc == 2
    r = run_json("sign", "--key", keypairs["rsa-pss-sha512"][0], "--id", "a", "--url", "http://h/",
                 "--alg", "ed25519")
    assert r.rc == 1 and r.token == "key-invalid", r


# ---------------------------------------------------------------- request

def refusal(status, token, detail=None):
    headers = {"TrustedApp-Error": token}
    if detail:
        headers["TrustedApp-Error-Detail"] = detail
    return (status, headers, "refused")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    root = tmp_path_factory.mktemp("reqpki")
    ca = CA(root, "Request CA")
    return {"ca": ca, "server": ca.issue("server", ["DNS:localhost", "IP:127.0.0.1"]),
            "client": ca.issue("client-app", ["DNS:client.example"])}


def request(srv, keypairs, path, *extra, scheme="https", pki=None, user="alice"):
    key = keypairs["ed25519"][0]
    args = ["request", "--key", key, "--id", "app1", "--user", user,
            "--url", "%s://localhost:%d%s" % (scheme, srv.port, path)]
    if pki:
        args += ["--cacert", pki["ca"].cert]
    return run_json(*args, *extra)


def test_request_success_and_signature_on_the_wire(pki, keypairs):
    cert, key = pki["server"]
    with HTTPSServer(cert, key, routes={"*": (200, {"Content-Type": "text/plain"}, "hello alice")}) as srv:
        r = request(srv, keypairs, "/rest/api?x=1", "--method", "PUT", "--body", "data", pki=pki)
        seen = srv.requests[0]
    assert r.rc == 0, r
    assert r.json["status"] == 200 and r.json["body"] == "hello alice"
    assert abs(r.json["server_clock_offset_sec"]) <= 2
    assert seen["method"] == "PUT" and seen["path"] == "/rest/api?x=1" and seen["body"] == b"data"
    h = seen["headers"]
    label, covered, params = parse_params(h["Signature-Input"])
    msg = tasig.Message("PUT", "https://localhost:%d/rest/api?x=1" % srv.port,
                        [("TrustedApp-User", h["TrustedApp-User"]),
                         ("Content-Digest", h["Content-Digest"])])
    base, _ = tasig.signature_base(msg, covered, params)
    sig = base64.b64decode(h["Signature"].split("=", 1)[1].strip(":"))
    verify(keypairs["ed25519"][1], "ed25519", base.encode(), sig)


@pytest.mark.parametrize("route,token,in_message,in_fix", [
    (refusal(401, "unknown-app"), "unknown-app", "no application 'app1'", "add --public-key"),
    (refusal(401, "bad-signature"), "bad-signature", "does not verify", "proxies"),
    (refusal(403, "ip-not-allowed", "address 10.9.8.7 is not allowed for application 'app1'"),
     "ip-not-allowed", "10.9.8.7", "set app1 --add-ip 10.9.8.7"),
    (refusal(403, "path-not-allowed", "path /admin/x is outside the prefixes of application 'app1'"),
     "path-not-allowed", "/admin/x", "--add-path /admin"),
    (refusal(401, "replay"), "replay", "nonce", "fresh"),
    (refusal(403, "user-denied"), "user-denied", "'alice'", "allow/deny"),
    (refusal(401, "app-disabled"), "app-disabled", "disabled", "enable app1"),
])
def test_request_refusal_root_cause(pki, keypairs, route, token, in_message, in_fix):
    cert, key = pki["server"]
    with HTTPSServer(cert, key, routes={"*": route}) as srv:
        r = request(srv, keypairs, "/admin/x", pki=pki)
    assert r.rc == 5, r
    assert r.token == token, r
    assert in_message in r.json["error"]["message"], r
    assert in_fix in r.json["error"]["fix"], r


@pytest.mark.parametrize("offset,direction", [(3600, "ahead of"), (-7200, "behind")])
def test_clock_skew_measured_from_date(pki, keypairs, offset, direction):
    cert, key = pki["server"]
    with HTTPSServer(cert, key, routes={"*": refusal(401, "clock-skew-past")}) as srv:
        srv.httpd.date_offset = offset
        r = request(srv, keypairs, "/rest", pki=pki)
    assert r.rc == 5 and r.token == "clock-skew-past", r
    assert abs(r.json["server_clock_offset_sec"] - offset) <= 2
    assert "%d s %s" % (abs(offset), direction) in r.json["error"]["message"] or \
        "%d s %s" % (abs(offset) - 1, direction) in r.json["error"]["message"] or \
        "%d s %s" % (abs(offset) + 1, direction) in r.json["error"]["message"], r
    assert "NTP" in r.json["error"]["fix"]


def test_bad_signature_shows_the_signed_base(pki, keypairs):
    cert, key = pki["server"]
    with HTTPSServer(cert, key, routes={"*": refusal(401, "bad-signature")}) as srv:
        r = run("request", "--key", keypairs["ed25519"][0], "--id", "app1",
                "--url", "https://localhost:%d/rest/x" % srv.port, "--cacert", pki["ca"].cert)
    assert r.rc == 5, r
    assert '"@target-uri": https://localhost:%d/rest/x' % srv.port in r.out


def test_refusal_without_our_header(pki, keypairs):
    cert, key = pki["server"]
    with HTTPSServer(cert, key, routes={"*": (401, {"WWW-Authenticate": "Basic"}, "no")}) as srv:
        r = request(srv, keypairs, "/", pki=pki)
    assert r.rc == 5 and r.token == "refused-without-reason", r


def test_seraph_legacy_error_header(pki, keypairs):
    cert, key = pki["server"]
    route = (401, {"X-Seraph-Trusted-App-Status": "ERROR",
                   "X-Seraph-Trusted-App-Error": "BAD_REMOTE_IP;\tRequest not allowed from IP address: {0};\t[\"10.1.1.1\"]"},
             "no")
    with HTTPSServer(cert, key, routes={"*": route}) as srv:
        r = request(srv, keypairs, "/", pki=pki)
    assert r.rc == 5 and r.token == "ip-not-allowed", r


def test_request_tls_failure_is_network_error(pki, keypairs):
    cert, key = pki["server"]
    with HTTPSServer(cert, key) as srv:
        r = request(srv, keypairs, "/")  # no --cacert: the test CA is unknown
    assert r.rc == 4 and r.token == "unknown-issuer", r
    assert r.json["tls_chain"][0]["subject"] == "CN=server"


def test_mutual_tls(pki, keypairs):
    cert, key = pki["server"]
    ccert, ckey = pki["client"]
    with HTTPSServer(cert, key, client_ca=pki["ca"].cert) as srv:
        without = request(srv, keypairs, "/", pki=pki)
        with_cert = request(srv, keypairs, "/", "--cert", ccert, "--cert-key", ckey, pki=pki)
    assert without.rc == 4 and without.token == "client-cert-required", without
    assert with_cert.rc == 0, with_cert


def test_plain_http_request(keypairs):
    with HTTPSServer(routes={"*": (204, {}, "")}) as srv:
        r = request(srv, keypairs, "/x", scheme="http")
    assert r.rc == 0 and r.json["status"] == 204, r


def test_hostile_response_headers_are_neutralised(pki, keypairs):
    cert, key = pki["server"]
    route = (403, {"TrustedApp-Error": "path-not-allowed",
                   "TrustedApp-Error-Detail": "path /x\x1b[2J is outside"}, "no")
    with HTTPSServer(cert, key, routes={"*": route}) as srv:
        r = run("request", "--key", keypairs["ed25519"][0], "--id", "app1",
                "--url", "https://localhost:%d/x" % srv.port, "--cacert", pki["ca"].cert)
    assert r.rc == 5, r
    assert "\x1b" not in r.out and "\x1b" not in r.err
    assert "path-not-allowed" in r.err


@pytest.mark.parametrize("alg", ["ed25519", "ecdsa-p384-sha384", "rsa-pss-sha512"])
def test_keygen_cert_sign_round_trip(tmp_path, alg):
    """The public key a peer learns from `cert` verifies what `sign` produces."""
    key = tmp_path / "self.key"
    extra = ["--bits", "2048"] if alg.startswith("rsa") else []
    assert run_json("keygen", "--alg", alg, "--out", key, *extra).rc == 0
    alg_opt = ["--alg", alg] if alg.startswith("rsa") else []
    doc = run_json("cert", "--id", "self:1", "--key", key, *alg_opt)
    assert doc.rc == 0, doc
    published = doc.json["document"]["keys"][0]
    assert published["alg"] == alg
    url = "https://peer.example/rest/api?x=1"
    s = run_json("sign", "--key", key, "--id", "self:1", "--url", url, "--user", "bob", *alg_opt)
    assert s.rc == 0, s
    h = {x["name"]: x["value"] for x in s.json["headers"]}
    label, covered, params = parse_params(h["Signature-Input"])
    assert dict(params)["keyid"] == doc.json["document"]["id"]
    base, _ = tasig.signature_base(tasig.Message("GET", url, [("TrustedApp-User", "bob")]), covered, params)
    sig = base64.b64decode(h["Signature"].split("=", 1)[1].strip(":"))
    verify(published["public_key"], alg, base.encode(), sig)
