"""trustapp-admin's Seraph side (the C signer and certificate document of
lib/ta_seraph_codec.c) checked by an independent Python verifier, and
accepted by apache2 with the module."""

import base64

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

import tasig
from test_seraph import MAGIC, rc4, seraph_app, seraph_conf
from tool_helpers import run


def write_key(tmp_path, key):
    path = tmp_path / "self.key"
    path.write_text(tasig.private_pem(key))
    path.chmod(0o600)
    return path


def raw_rsa_public(pub, data):
    nums = pub.public_numbers()
    size = (nums.n.bit_length() + 7) // 8
    out = pow(int.from_bytes(data, "big"), nums.e, nums.n).to_bytes(size, "big")
    return out.lstrip(b"\0")


def python_verify(pub, headers, url):
    """Independent Seraph v2/v3 verifier (PROTOCOL-NOTES.md section 5); returns the user."""
    h = {n.lower(): v for n, v in headers}
    version = int(h.get("x-seraph-trusted-app-version", "0"))
    cert = base64.b64decode(h["x-seraph-trusted-app-cert"], validate=True)
    if version == 3:
        plain = cert
    else:
        magic = raw_rsa_public(pub, base64.b64decode(h["x-seraph-trusted-app-magic"], validate=True))
        assert magic == MAGIC.encode()
        k = raw_rsa_public(pub, base64.b64decode(h["x-seraph-trusted-app-key"], validate=True))
        assert len(k) == 16
        plain = rc4(k, cert)
    created, user, magic_line = plain.decode().split("\n")
    assert magic_line == MAGIC
    assert created == str(int(created))
    signed = "%s\n%s" % (created, url) + ("\n%s" % user if version == 3 else "")
    pub.verify(base64.b64decode(h["x-seraph-trusted-app-signature"], validate=True), signed.encode(),
               padding.PKCS1v15(), hashes.SHA1())
    return user


def tool_sign(tmp_path, app, url, user="fred", version=2):
    r = run("sign", "--key", write_key(tmp_path, app.key), "--id", app.id, "--url", url, "--user", user,
            "--protocol", "seraph", "--alg", "rsa-v1_5-sha256", "--seraph-version", version, "--json")
    assert r.rc == 0, r
    return [(h["name"], h["value"]) for h in r.json["headers"]]


def test_tool_signature_verifies_independently_and_in_apache(httpd, tmp_path):
    app = seraph_app()
    srv = httpd(conf=seraph_conf(), apps=[app])
    for version in (2, 3):
        url = srv.url("/echo/tool?q=a%20b")
        headers = tool_sign(tmp_path, app, url, version=version)
        assert python_verify(app.key.public_key(), headers, url) == "fred"
        r = srv.request("GET", "/echo/tool?q=a%20b", headers)
        assert r.status == 200, (version, r, srv.error_log()[-2000:])
        assert r.echo["user"] == "fred"
        assert r.echo["protocol"] == "seraph"


def test_tool_certificate_document_is_the_legacy_text(tmp_path):
    app = seraph_app()
    r = run("cert", "--id", app.id, "--key", write_key(tmp_path, app.key), "--alg", "rsa-v1_5-sha256",
            "--protocol", "seraph", "--format", "seraph", "--out", tmp_path / "appTrustCertificate")
    assert r.rc == 0, r
    doc = (tmp_path / "appTrustCertificate").read_bytes()
    # The Java filter sends no trailing newline; Java clients drop blank lines, so one is harmless.
    lines = doc.decode().removesuffix("\n").split("\n")
    spki = app.key.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
    assert lines == [app.id, base64.b64encode(spki).decode(), "2", MAGIC]
