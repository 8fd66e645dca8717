"""trustapp-admin cert and add --url: a peer's certificate document is
published by `cert`, fetched over verified HTTPS and registered; the legacy
/admin/appTrustCertificate document is recognised; every failure leaves the
registry untouched."""

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization

from tls_pki import CA
from tool_helpers import HTTPSServer, run, run_json, write_registry

NATIVE = "/.well-known/trustedapp-certificate"
LEGACY = "/admin/appTrustCertificate"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("certdoc")
    ca = CA(d, "Doc CA")
    e = {"dir": d, "ca": ca, "server": ca.issue("peer", ["DNS:localhost", "IP:127.0.0.1"])}
    for alg, extra in (("ed25519", []), ("rsa-v1_5-sha256", ["--bits", "2048"])):
        r = run_json("keygen", "--alg", alg, "--out", d / (alg + ".key"), *extra)
        assert r.rc == 0, r
        e[alg] = (d / (alg + ".key"), r.json["public_key"], r.json["fingerprint"])
    return e


def serve(env, routes):
    cert, key = env["server"]
    return HTTPSServer(cert, key, routes=routes)


def test_cert_from_self_entry(env, tmp_path):
    key, pub, fp = env["ed25519"]
    reg = write_registry(tmp_path / "r.xml", self_xml='<self id="jira:42" name="Jira" key-file="%s"/>\n' % key)
    r = run("--registry", reg, "cert")
    assert r.rc == 0, r
    doc = json.loads(r.out)
    assert doc["format"] == "trustedapp-certificate/1"
    assert doc["id"] == "jira:42" and doc["name"] == "Jira"
    assert doc["keys"][0]["fingerprint"] == fp and doc["keys"][0]["public_key"] == pub
    assert doc["protocols"] == ["rfc9421"]


def test_cert_without_self_says_how(env, tmp_path):
    reg = write_registry(tmp_path / "r.xml")
    r = run_json("--registry", reg, "cert")
    assert r.rc == 1 and r.token == "no-self" and "--key" in r.json["error"]["fix"], r


def test_cert_seraph_format_is_the_legacy_document(env):
    key, pub, _ = env["rsa-v1_5-sha256"]
    r = run("cert", "--id", "confluence:1", "--key", key, "--alg", "rsa-v1_5-sha256", "--format", "seraph")
    assert r.rc == 0, r
    lines = r.out.strip().split("\n")
    assert lines[0] == "confluence:1" and lines[2] == "2" and lines[3] == "-1159983122"
    der = serialization.load_pem_public_key(pub.encode()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert base64.b64decode(lines[1]) == der


def test_add_url_native_document(env, tmp_path):
    key, pub, fp = env["ed25519"]
    doc = run("cert", "--id", "wiki:7", "--key", key, "--name", "Wiki").out
    reg = tmp_path / "r.xml"
    with serve(env, {NATIVE: (200, {"Content-Type": "application/json"}, doc)}) as srv:
        r = run_json("--registry", reg, "--cacert", env["ca"].cert, "add",
                     "--url", "https://localhost:%d/" % srv.port, "--ip", "127.0.0.1", "--path", "/rest")
    assert r.rc == 0, r
    assert r.json["document"] == "trustedapp-certificate/1"
    a = r.json["application"]
    assert a["id"] == "wiki:7" and a["name"] == "Wiki"
    assert [k["fingerprint"] for k in a["keys"]] == [fp]
    assert a["protocols"].strip() == "rfc9421"
    assert r.json["tls_chain"][0]["subject"] == "CN=peer"


def test_add_url_legacy_document(env, tmp_path):
    key, pub, fp = env["rsa-v1_5-sha256"]
    legacy = run("cert", "--id", "confluence:5749012", "--key", key, "--alg", "rsa-v1_5-sha256",
                 "--format", "seraph").out.strip()
    reg = tmp_path / "r.xml"
    with serve(env, {LEGACY: (200, {"Content-Type": "text/plain"}, legacy)}) as srv:
        r = run_json("--registry", reg, "--cacert", env["ca"].cert, "add",
                     "--url", "https://localhost:%d" % srv.port)
        paths = [q["path"] for q in srv.requests]
    assert r.rc == 0, r
    assert paths == [NATIVE, LEGACY]
    a = r.json["application"]
    assert a["id"] == "confluence:5749012"
    assert a["keys"][0]["fingerprint"] == fp and a["keys"][0]["alg"] == "rsa-v1_5-sha256"
    assert a["protocols"].strip() == "seraph"
    assert a["name"] == "https://localhost:%d" % srv.port


@pytest.mark.parametrize("routes,rc,token", [
    ({}, 5, "no-certificate-document"),
    ({NATIVE: (200, {}, '{"format": "trustedapp-certificate/1", "id": 5}')}, 1, "certificate-document-invalid"),
    ({LEGACY: (200, {}, "only-one-line")}, 1, "seraph-bad-certificate-document"),
])
def test_add_url_failures_change_nothing(env, tmp_path, routes, rc, token):
    reg = write_registry(tmp_path / "r.xml")
    before = reg.read_bytes()
    with serve(env, routes) as srv:
        r = run_json("--registry", reg, "--cacert", env["ca"].cert, "add",
                     "--url", "https://localhost:%d" % srv.port)
    assert r.rc == rc and r.token == token, r
    assert reg.read_bytes() == before


def test_add_url_untrusted_peer_is_tls_error(env, tmp_path):
    reg = write_registry(tmp_path / "r.xml")
    before = reg.read_bytes()
    with serve(env, {}) as srv:
        r = run_json("--registry", reg, "add", "--url", "https://127.0.0.1:%d" % srv.port)
    assert r.rc == 4 and r.token == "unknown-issuer", r
    assert reg.read_bytes() == before


def test_add_url_requires_https(tmp_path):
    r = run_json("--registry", tmp_path / "r.xml", "add", "--url", "http://peer.example")
    assert r.rc == 2, r


def test_add_url_id_mismatch(env, tmp_path):
    key = env["ed25519"][0]
    doc = run("cert", "--id", "wiki:7", "--key", key).out
    with serve(env, {NATIVE: (200, {}, doc)}) as srv:
        r = run_json("--registry", tmp_path / "r.xml", "--cacert", env["ca"].cert, "add",
                     "--url", "https://localhost:%d" % srv.port, "--id", "other")
    assert r.rc == 1 and r.token == "id-mismatch", r
