"""The Python signer (tasig.py) against the RFC 9421 Appendix B material, so
that interop failures against the module point at the right side. No httpd."""

import json
import re
from pathlib import Path

import pytest

import tasig

RFC = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "rfc9421"


def component_names(covered):
    """The vectors list component identifiers serialized ('"@method"'); unquote plain ones."""
    if isinstance(covered, str):
        covered = eval(covered, {})   # a list printed by Python
    return [c[1:-1] if c.startswith('"') and c.endswith('"') else c for c in covered]


def load_cases():
    if not (RFC / "vectors.json").is_file():
        return []
    data = json.loads((RFC / "vectors.json").read_text())
    out = []
    for c in data["cases"]:
        if c.get("message_type") != "request" or c.get("expect_valid") not in (True, "True"):
            continue
        covered = c["covered_components"]
        covered = component_names(covered)
        # This signer supports plain components only (no ;sf, ;key, ;req, @query-param).
        if any((";" in x) or x == "@query-param" or not isinstance(x, str) for x in covered):
            continue
        out.append(c)
    return out


def parse_message(text):
    head = text.split("\n\n", 1)[0].split("\n")
    method, target, _ = head[0].split(" ")
    fields = [tuple(line.split(": ", 1)) for line in head[1:]]
    host = dict((k.lower(), v) for k, v in fields)["host"]
    return method, "https://%s%s" % (host, target), fields


@pytest.mark.parametrize("case", load_cases(), ids=lambda c: c["rfc_section"] + " " + c["label"])
def test_signature_base_matches_rfc(case):
    method, url, fields = parse_message(case["message"])
    covered = component_names(case["covered_components"])
    params = case["params"]
    params = eval(params, {}) if isinstance(params, str) else params  # a dict printed by Python
    # The RFC prints the parameters in the order of Signature-Input.
    members = re.split(r", (?=[a-z*][a-z0-9_.*-]*=\()", case["signature_input"])
    member = [m for m in members if m.startswith(case["label"] + "=")][0].split("=", 1)[1]
    order = sorted(params, key=lambda k: member.index(";" + k + "="))
    msg = tasig.Message(method, url, fields)
    base, sp = tasig.signature_base(msg, covered, [(k, params[k]) for k in order])
    assert sp == member
    assert base == case["signature_base"]


def test_ed25519_signature_is_rfc_bytes():
    cases = [c for c in load_cases() if c["alg"] == "ed25519"]
    assert cases, "no ed25519 request vector found"
    pem = (RFC / "keys" / "test-key-ed25519.priv.pem").read_bytes()
    key = tasig.load_private_key(pem)
    for c in cases:
        sig = tasig.raw_sign(key, "ed25519", c["signature_base"].encode())
        assert sig.hex() == c["signature_bytes_hex"]


@pytest.mark.parametrize("alg", tasig.ALGORITHMS)
def test_profile_signature_verifies(alg):
    key = tasig.generate_key(alg)
    s = tasig.sign_request("POST", "http://Example.COM:80/a%2Fb?x=1", key, "app1",
                           user="alice", body=b"{}", created=1700000000, nonce="n1", alg=alg)
    h = s.as_dict()
    assert h["Signature-Input"] == (
        'ta=("@method" "@target-uri" "trustedapp-user" "content-digest");created=1700000000;'
        'expires=1700000060;nonce="n1";keyid="app1"')
    assert s.base.splitlines()[1] == '"@target-uri": http://example.com/a%2Fb?x=1'
    assert h["Content-Digest"] == tasig.content_digest(b"{}")
    # Verify with the public key (independent path through `cryptography`).
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    pub = key.public_key()
    data = s.base.encode()
    if alg == "ed25519":
        pub.verify(s.signature, data)
    elif alg.startswith("ecdsa"):
        n = len(s.signature) // 2
        der = encode_dss_signature(int.from_bytes(s.signature[:n], "big"),
                                   int.from_bytes(s.signature[n:], "big"))
        pub.verify(der, data, ec.ECDSA(hashes.SHA256() if n == 32 else hashes.SHA384()))
    elif alg == "rsa-pss-sha512":
        pub.verify(s.signature, data, padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64),
                   hashes.SHA512())
    else:
        pub.verify(s.signature, data, padding.PKCS1v15(), hashes.SHA256())
